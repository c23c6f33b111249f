package collector

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// The collector's JSON is strict, because a lenient parser lets two
// readers of one body disagree (a proxy or log shipper takes the first of
// two "score" keys, Go's decoder the last) and lets a field in another case
// ("Email") slip past a check for "email":
//
//   - the Content-Type is application/json (parameters such as charset allowed);
//   - every object key is exactly one of the fields the target declares, once;
//   - a value of the wrong type is named by its field and its JSON type;
//   - every string is valid UTF-8 as sent: encoding/json would turn a
//     stray byte, or an escaped lone surrogate ("\ud800"), into U+FFFD, and
//     two different customer IDs into one pseudonym;
//   - the body is one JSON value.

// requireJSON refuses a request whose Content-Type is not application/json.
func requireJSON(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || mt != "application/json" {
		return &apiError{Status: http.StatusUnsupportedMediaType, Field: "Content-Type",
			Message: fmt.Sprintf("send Content-Type: application/json, got %q", truncate(ct, 64))}
	}
	return nil
}

// readAdminJSON reads an admin API body (Content-Type checked, at most
// MaxBodyBytes) and decodes it strictly into v, also refusing a field
// given as null: "dryRun": null read as absent would run a purge
// its caller meant as a dry run. A null is 422 naming the field and the
// JSON type it must be.
func readAdminJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if err := requireJSON(r); err != nil {
		return err
	}
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	if err := decodeStrict(body, v); err != nil {
		return err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return malformed(err)
	}
	t := reflect.TypeOf(v).Elem()
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		if string(fields[name]) != "null" {
			continue
		}
		for i := range t.NumField() {
			if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); tag == name {
				return unprocessable(name, "%s must be a JSON %s, not null", name, jsonType(t.Field(i).Type))
			}
		}
	}
	return nil
}

// decodeStrict decodes one JSON value into v: keys must match v's fields
// exactly and appear once (422), types must fit (422), and the JSON must be
// well formed and alone in the body (400).
//
// A body that json.Unmarshal takes and strictKeys then finds strict is
// done: strictKeys accepts only what checkKeys accepts (see its comment).
// Anything else, every refusal included, goes through decodeStrictSlow,
// which words the error; v is zeroed before it does.
func decodeStrict(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err == nil && validText(body) {
		if i, ok := strictKeys(body, 0, reflect.TypeOf(v)); ok && skipSpace(body, i) == len(body) {
			return nil
		}
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && !rv.IsNil() {
		rv.Elem().SetZero()
	}
	return decodeStrictSlow(body, v)
}

// decodeStrictSlow is decodeStrict's walk of every token beside the Go
// type, then json.Unmarshal: the path that finds and words each refusal.
func decodeStrictSlow(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := checkKeys(dec, body, reflect.TypeOf(v), ""); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &apiError{Status: http.StatusBadRequest, Message: "malformed JSON: more than one value in the body"}
	}
	if err := json.Unmarshal(body, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return typeError(typeErr.Field, typeErr.Type)
		}
		return &apiError{Status: http.StatusBadRequest, Message: "malformed JSON: " + err.Error()}
	}
	return nil
}

func malformed(err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return &apiError{Status: http.StatusBadRequest, Message: "malformed JSON: " + err.Error()}
}

// checkKeys walks the next JSON value in dec, which reads body, beside the
// Go type t, refusing keys t does not declare (compared exactly, not
// case-insensitively as encoding/json does), keys given twice, strings that
// are not valid UTF-8, and an array or object where t is neither. path
// names the value in errors.
func checkKeys(dec *json.Decoder, body []byte, t reflect.Type, path string) error {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == rawMessageType {
		t = nil
	}
	start := dec.InputOffset()
	tok, err := dec.Token()
	if err != nil {
		return malformed(err)
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		if _, isString := tok.(string); isString && !validText(body[start:dec.InputOffset()]) && path != "" {
			return unprocessable(truncate(path, 80), "%s is not valid UTF-8", truncate(path, 80))
		}
		return checkScalar(tok, t, path)
	}
	switch delim {
	case '[':
		var elem reflect.Type
		switch {
		case t == nil || t.Kind() == reflect.Interface:
		case t.Kind() == reflect.Slice || t.Kind() == reflect.Array:
			elem = t.Elem()
		default:
			return typeError(path, t)
		}
		for dec.More() {
			if err := checkKeys(dec, body, elem, path+"[]"); err != nil {
				return err
			}
		}
	case '{':
		var fields map[string]reflect.Type
		var elem reflect.Type
		switch {
		case t == nil || t.Kind() == reflect.Interface:
		case t.Kind() == reflect.Struct && t != timeType:
			fields = jsonFields(t)
		case t.Kind() == reflect.Map:
			elem = t.Elem()
		default:
			return typeError(path, t)
		}
		seen := map[string]bool{}
		for dec.More() {
			start := dec.InputOffset()
			tok, err := dec.Token()
			if err != nil {
				return malformed(err)
			}
			key, _ := tok.(string)
			field := joinPath(path, key)
			if !validText(body[start:dec.InputOffset()]) {
				return unprocessable(truncate(field, 80), "%s is not valid UTF-8", truncate(field, 80))
			}
			if seen[key] {
				return unprocessable(truncate(field, 80), "%s is given twice", truncate(field, 80))
			}
			seen[key] = true
			next := elem
			if fields != nil {
				ft, ok := fields[key]
				if !ok {
					return unknownField(fields, field, key)
				}
				next = ft
			}
			if err := checkKeys(dec, body, next, field); err != nil {
				return err
			}
		}
	}
	if _, err := dec.Token(); err != nil { // the closing ] or }
		return malformed(err)
	}
	return nil
}

// validText says whether raw JSON holds only valid UTF-8, as sent: no
// invalid byte, and no \u escape of a surrogate that is not one of a pair.
func validText(raw []byte) bool {
	if !utf8.Valid(raw) {
		return false
	}
	for i := 0; ; {
		j := bytes.IndexByte(raw[i:], '\\')
		if j < 0 || i+j+1 >= len(raw) {
			return true
		}
		i += j
		switch {
		case raw[i+1] != 'u' || i+6 > len(raw):
			i += 2 // \" \\ \n ...: the escaped character starts no escape (a short \u is not JSON)
		case !utf16.IsSurrogate(hex4(raw[i+2 : i+6])):
			i += 6
		case i+12 > len(raw) || raw[i+6] != '\\' || raw[i+7] != 'u' ||
			utf16.DecodeRune(hex4(raw[i+2:i+6]), hex4(raw[i+8:i+12])) == utf8.RuneError:
			return false // a surrogate that is not half of a pair
		default:
			i += 12
		}
	}
}

// hex4 is the value of four hexadecimal digits, -1 when they are not.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return -1
		}
	}
	return r
}

var (
	rawMessageType = reflect.TypeFor[json.RawMessage]()
	timeType       = reflect.TypeFor[time.Time]()
)

// checkScalar checks a JSON scalar against a string, boolean or time field
// here, where its full path (a map key included) is known; numbers are
// checked when decoding. null is always allowed.
func checkScalar(tok json.Token, t reflect.Type, path string) error {
	if t == nil || tok == nil {
		return nil
	}
	str, isString := tok.(string)
	_, isBool := tok.(bool)
	switch {
	case t == timeType:
		if _, err := time.Parse(time.RFC3339, str); !isString || err != nil {
			return unprocessable(path, "%s must be a JSON string holding an RFC 3339 time, such as 2026-11-23T10:00:00Z", path)
		}
	case t.Kind() == reflect.String && !isString, t.Kind() == reflect.Bool && !isBool:
		return typeError(path, t)
	case t.Kind() == reflect.Struct || t.Kind() == reflect.Map || t.Kind() == reflect.Slice:
		if t != rawMessageType {
			return typeError(path, t)
		}
	}
	return nil
}

// fieldCache holds jsonFields' answers: the request types are few, and
// reflection on every request would be work on the ingest path.
var fieldCache sync.Map // reflect.Type → map[string]reflect.Type

// jsonFields maps a struct's JSON names to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-" || !f.IsExported():
		case f.Anonymous && name == "":
			for k, v := range jsonFields(f.Type) {
				out[k] = v
			}
		case name == "":
			out[f.Name] = f.Type
		default:
			out[name] = f.Type
		}
	}
	fieldCache.Store(t, out)
	return out
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// unknownField refuses a key the target does not declare, pointing at the
// right spelling when only the case differs.
func unknownField(fields map[string]reflect.Type, field, key string) error {
	f := truncate(field, 80)
	for name := range fields {
		if strings.EqualFold(name, key) {
			return unprocessable(f, "unknown field %q: field names are case-sensitive; did you mean %q?", f, name)
		}
	}
	return unprocessable(f, "unknown field %q", f)
}

// typeError words a type mismatch in JSON terms, never Go's.
func typeError(field string, t reflect.Type) error {
	if field == "" {
		return unprocessable("", "the body must be a JSON %s", jsonType(t))
	}
	return unprocessable(field, "%s must be a JSON %s", field, jsonType(t))
}

func jsonType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "boolean"
	case reflect.String:
		return "string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Struct:
		if t.Name() == "Time" {
			return "string holding an RFC 3339 time"
		}
		return "object"
	case reflect.Map:
		return "object"
	}
	return "value"
}

// strictKeys is checkKeys' fast path, for a body json.Unmarshal has
// already taken (so well-formed, one value): it reads the value at data[i:]
// beside the Go type t and returns where the value ends, and false
// whenever checkKeys might refuse it or it is not sure. So it accepts only
// keys t declares, spelled exactly, without escapes, each once per object
// (at most maxFastKeys of them: longer objects take the slow path), and
// scalars only where checkScalar takes them without a second look: null
// anywhere; strings, booleans and numbers where t is unknown (a
// json.RawMessage, or inside one) or of their own kind. Keys must be
// printable ASCII (plainKey). A type with its
// own UnmarshalJSON (time.Time) is never fast.
func strictKeys(data []byte, i int, t reflect.Type) (int, bool) {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == rawMessageType {
		t = nil
	}
	if t != nil && customJSON(t) {
		return i, false
	}
	i = skipSpace(data, i)
	if i >= len(data) {
		return i, false
	}
	switch c := data[i]; {
	case c == '{':
		var fields map[string]reflect.Type
		var elem reflect.Type
		switch {
		case t == nil:
		case t.Kind() == reflect.Struct:
			fields = jsonFields(t)
		case t.Kind() == reflect.Map:
			elem = t.Elem()
		default:
			return i, false
		}
		var seen [maxFastKeys][]byte
		n := 0
		i = skipSpace(data, i+1)
		if i < len(data) && data[i] == '}' {
			return i + 1, true
		}
		for {
			i = skipSpace(data, i)
			if i >= len(data) || data[i] != '"' {
				return i, false
			}
			end := bytes.IndexByte(data[i+1:], '"')
			if end < 0 {
				return i, false
			}
			key := data[i+1 : i+1+end]
			if n == maxFastKeys || !plainKey(key) {
				return i, false
			}
			for _, k := range seen[:n] {
				if bytes.Equal(k, key) {
					return i, false
				}
			}
			seen[n] = key
			n++
			next := elem
			if fields != nil {
				ft, ok := fields[string(key)]
				if !ok {
					return i, false
				}
				next = ft
			}
			i = skipSpace(data, i+end+2)
			if i >= len(data) || data[i] != ':' {
				return i, false
			}
			var ok bool
			if i, ok = strictKeys(data, i+1, next); !ok {
				return i, false
			}
			i = skipSpace(data, i)
			if i >= len(data) {
				return i, false
			}
			if data[i] == '}' {
				return i + 1, true
			}
			if data[i] != ',' {
				return i, false
			}
			i++
		}
	case c == '[':
		var elem reflect.Type
		switch {
		case t == nil:
		case t.Kind() == reflect.Slice || t.Kind() == reflect.Array:
			elem = t.Elem()
		default:
			return i, false
		}
		i = skipSpace(data, i+1)
		if i < len(data) && data[i] == ']' {
			return i + 1, true
		}
		for {
			var ok bool
			if i, ok = strictKeys(data, i, elem); !ok {
				return i, false
			}
			i = skipSpace(data, i)
			if i >= len(data) {
				return i, false
			}
			if data[i] == ']' {
				return i + 1, true
			}
			if data[i] != ',' {
				return i, false
			}
			i++
		}
	case c == '"':
		if t != nil && t.Kind() != reflect.String {
			return i, false
		}
		for j := i + 1; j < len(data); j++ {
			switch data[j] {
			case '\\':
				j++
			case '"':
				return j + 1, true
			}
		}
		return i, false
	case c == 'n':
		return literal(data, i, "null")
	case c == 't' || c == 'f':
		if t != nil && t.Kind() != reflect.Bool {
			return i, false
		}
		if c == 't' {
			return literal(data, i, "true")
		}
		return literal(data, i, "false")
	case c == '-' || c >= '0' && c <= '9':
		if t != nil {
			switch t.Kind() {
			case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
				reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
				reflect.Float32, reflect.Float64:
			default:
				return i, false
			}
		}
		j := i + 1
		for j < len(data) && (data[j] >= '0' && data[j] <= '9' || data[j] == '.' || data[j] == 'e' || data[j] == 'E' || data[j] == '+' || data[j] == '-') {
			j++
		}
		return j, true
	}
	return i, false
}

// plainKey says whether a key reads the same raw as decoded: printable
// ASCII without escapes (a decoder turns invalid UTF-8 into U+FFFD, which
// can make two different raw keys one).
func plainKey(key []byte) bool {
	for _, c := range key {
		if c < 0x20 || c >= 0x7f || c == '\\' {
			return false
		}
	}
	return true
}

// maxFastKeys is the most keys an object may have on strictKeys' fast path.
const maxFastKeys = 16

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

func literal(data []byte, i int, word string) (int, bool) {
	if !bytes.HasPrefix(data[i:], []byte(word)) {
		return i, false
	}
	return i + len(word), true
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// customJSONCache holds customJSON's answers.
var customJSONCache sync.Map // reflect.Type → bool

// customJSON says whether t decodes itself (json.Unmarshaler), which
// strictKeys leaves to the slow path.
func customJSON(t reflect.Type) bool {
	if v, ok := customJSONCache.Load(t); ok {
		return v.(bool)
	}
	c := t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType)
	customJSONCache.Store(t, c)
	return c
}
