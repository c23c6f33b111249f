package collector_test

import (
	"bytes"
	"crypto/tls"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	_ "modernc.org/sqlite" // the "sqlite" driver, to read the database as it lies on disk

	"github.com/surveyguard/surveyguard/internal/collector"
	"github.com/surveyguard/surveyguard/internal/collector/collectortest"
	"github.com/surveyguard/surveyguard/internal/collectorapi"
)

// The helpers below are shared by abuse_test.go, crosssite_test.go,
// keys_test.go and budget_test.go.

// fakeClock is a clock the test moves by hand: rate limits, form-token
// expiry, receive times and purge cutoffs all read it.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{now: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// logLines collects the collector's JSON log lines.
type logLines struct {
	mu  sync.Mutex
	buf []string
}

func (l *logLines) add(s string) {
	l.mu.Lock()
	l.buf = append(l.buf, s)
	l.mu.Unlock()
}

func (l *logLines) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.buf...)
}

// entries decodes every line; a line that is not JSON fails the test.
func (l *logLines) entries(t testing.TB) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, s := range l.lines() {
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatalf("a log line is not JSON: %v: %s", err, s)
		}
		out = append(out, m)
	}
	return out
}

// withMsg returns the decoded lines whose msg is msg.
func (l *logLines) withMsg(t testing.TB, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, m := range l.entries(t) {
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// captureLog returns options whose Log writes into a logLines.
func captureLog(o collector.Options) (collector.Options, *logLines) {
	l := &logLines{}
	o.Log = funcr.NewJSON(func(obj string) { l.add(obj) }, funcr.Options{})
	return o, l
}

// withLimits adds a limits line to the fixture's configuration.
func withLimits(limits string) func(string) string {
	return func(s string) string { return s + "\nlimits: " + limits + "\n" }
}

// eventually polls cond until it holds or the deadline passes; cond says
// what it saw, for the failure message.
func eventually(t testing.TB, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, saw := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s; last seen: %s", what, within, saw)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var sampleRE = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$`)
var labelRE = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)

// metric reads /metrics and returns the sample of name whose labels
// include labels, and whether there is one.
func metric(t testing.TB, f *collectortest.Fixture, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	a := f.AdminDo(t, http.MethodGet, "/metrics", "")
	if a.Status != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", a.Status, a.Raw)
	}
	return sample(a.Raw, name, labels)
}

func sample(text, name string, labels map[string]string) (float64, bool) {
	for _, line := range strings.Split(text, "\n") {
		m := sampleRE.FindStringSubmatch(line)
		if m == nil || m[1] != name {
			continue
		}
		got := map[string]string{}
		for _, l := range labelRE.FindAllStringSubmatch(m[2], -1) {
			got[l[1]] = l[2]
		}
		match := true
		for k, v := range labels {
			if got[k] != v {
				match = false
			}
		}
		if !match {
			continue
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			return 0, false
		}
		return v, true
	}
	return 0, false
}

// openDB opens the fixture's SQLite database read-only; stop the fixture first.
func openDB(t testing.TB, f *collectortest.Fixture) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(f.DBDir, "responses.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// clientFrom returns a copy of f whose HTTP client dials from ip, so the
// collector sees another client.
func clientFrom(f *collectortest.Fixture, ip string) *collectortest.Fixture {
	tr := f.Client.Transport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}).DialContext
	other := *f
	other.Client = &http.Client{Timeout: 10 * time.Second, Transport: tr}
	return &other
}

func responsesStored(t testing.TB, f *collectortest.Fixture) float64 {
	t.Helper()
	n, _ := f.Stats(t)["responses"].(float64)
	return n
}

// TestStrictJSON checks that a body two readers could read differently, or
// one whose keys differ from the documented ones only by case, is refused,
// and that type errors speak JSON, not Go.
func TestStrictJSON(t *testing.T) {
	f := collectortest.Start(t, withLimits("{requestsPerSecond: 1000, burst: 1000}"))
	jsonCT := map[string]string{"Content-Type": "application/json"}
	cases := []struct {
		name, body string
		hdr        map[string]string
		status     int
		field      string
		message    string // a part of the error message, when set
	}{
		{"duplicate key", `{"score":9,"score":1,` + consentOK + `}`, jsonCT, 422, "score", "twice"},
		{"duplicate nested key", `{"score":9,"consent":{"given":true,"given":false,"noticeVersion":"2026-01"}}`, jsonCT, 422, "consent.given", "twice"},
		{"key in another case", `{"Score":9,` + consentOK + `}`, jsonCT, 422, "Score", `"score"`},
		{"nested key in another case", `{"score":9,"consent":{"Given":true,"noticeVersion":"2026-01"}}`, jsonCT, 422, "consent.Given", `"given"`},
		{"email in another case", `{"score":9,` + consentOK + `,"Email":"a@example.com"}`, jsonCT, 422, "Email", ""},
		{"nested unknown field", `{"score":9,"consent":{"given":true,"noticeVersion":"2026-01","scope":"all"}}`, jsonCT, 422, "consent.scope", "unknown field"},
		{"consent a boolean", `{"score":9,"consent":true}`, jsonCT, 422, "consent", "consent must be a JSON object"},
		{"comment a number", `{"score":9,` + consentOK + `,"comment":5}`, jsonCT, 422, "comment", "comment must be a JSON string"},
		{"score a string", `{"score":"9",` + consentOK + `}`, jsonCT, 422, "score", "score must be a JSON integer"},
		{"score an array", `{"score":[9],` + consentOK + `}`, jsonCT, 422, "score", "score must be a JSON integer"},
		{"score a boolean", `{"score":true,` + consentOK + `}`, jsonCT, 422, "score", "score must be a JSON integer"},
		{"a null body", `null`, jsonCT, 422, "", "the body must be a JSON object"},
		{"an empty Idempotency-Key", `{"score":9,` + consentOK + `}`, map[string]string{"Content-Type": "application/json", "Idempotency-Key": ""}, 422, "Idempotency-Key", "1 to 200 visible ASCII characters"},
		{"two JSON values", `{"score":9,` + consentOK + `}{"score":1,` + consentOK + `}`, jsonCT, 400, "", "more than one value"},
		{"Content-Type missing", `{"score":9,` + consentOK + `}`, map[string]string{}, 415, "Content-Type", ""},
		{"Content-Type text/plain", `{"score":9,` + consentOK + `}`, map[string]string{"Content-Type": "text/plain"}, 415, "Content-Type", ""},
		{"Content-Type application/jsonx", `{"score":9,` + consentOK + `}`, map[string]string{"Content-Type": "application/jsonx"}, 415, "Content-Type", ""},
	}
	goTypes := regexp.MustCompile(`collector\.|consentBody|responseRequest|\bint\b|\bint64\b|\bbool\b|\*|map\[|\bfloat64\b|Go value`)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := f.Do(t, http.MethodPost, f.Public+"/v1/responses", []byte(tc.body), tc.hdr)
			if a.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", a.Status, tc.status, a.Raw)
			}
			msg, _ := a.Body["error"].(string)
			if msg == "" {
				t.Fatalf("no JSON error: %s", a.Raw)
			}
			if tc.field != "" && a.Body["field"] != tc.field {
				t.Errorf("field = %v, want %s: %s", a.Body["field"], tc.field, a.Raw)
			}
			if !strings.Contains(msg, tc.message) {
				t.Errorf("error %q does not say %q", msg, tc.message)
			}
			if goTypes.MatchString(msg) {
				t.Errorf("error %q names a Go type", msg)
			}
		})
	}
	t.Run("charset parameter accepted", func(t *testing.T) {
		a := f.Do(t, http.MethodPost, f.Public+"/v1/responses", []byte(`{"score":9,`+consentOK+`}`),
			map[string]string{"Content-Type": "application/json; charset=utf-8"})
		if a.Status != http.StatusCreated {
			t.Fatalf("application/json; charset=utf-8: %d %s", a.Status, a.Raw)
		}
	})
	if n := responsesStored(t, f); n != 1 {
		t.Fatalf("responses = %v, want only the charset one stored", n)
	}
}

// TestWrongTypeInSegmentsNamesTheSegment checks the type error of a value
// inside segments: it must name the segment, and not claim that segments
// itself must be a string.
func TestWrongTypeInSegmentsNamesTheSegment(t *testing.T) {
	f := collectortest.Start(t, nil)
	for _, value := range []string{`5`, `true`, `["pro"]`, `{"b":1}`} {
		a := f.Post(t, `{"score":9,`+consentOK+`,"segments":{"plan":`+value+`}}`)
		if a.Status != 422 || a.Body["field"] != "segments.plan" || a.Body["error"] != "segments.plan must be a JSON string" {
			t.Errorf("segments {\"plan\":%s}: %d %s; want 422 naming segments.plan: \"segments.plan must be a JSON string\"", value, a.Status, a.Raw)
		}
	}
	for _, tc := range []struct{ body, field, message string }{
		{`{"score":9,` + consentOK + `,"comment":["a"]}`, "comment", "comment must be a JSON string"},
		{`{"score":9,"consent":[true]}`, "consent", "consent must be a JSON object"},
		{`{"score":9,` + consentOK + `,"segments":["plan"]}`, "segments", "segments must be a JSON object"},
	} {
		if a := f.Post(t, tc.body); a.Status != 422 || a.Body["field"] != tc.field || a.Body["error"] != tc.message {
			t.Errorf("%s: %d %s; want 422 %q", tc.body, a.Status, a.Raw, tc.message)
		}
	}
}

// TestInvalidUTF8IsRefused: a text field must be valid UTF-8 as sent. A
// stray byte, or an escaped surrogate that is not half of a pair, is 422
// naming the field: decoded, both would become U+FFFD, and two different
// customer IDs one pseudonym. A pair, and U+FFFD itself, are accepted.
func TestInvalidUTF8IsRefused(t *testing.T) {
	f := collectortest.Start(t, withLimits("{requestsPerSecond: 1000, burst: 1000}"))
	for _, tc := range []struct{ name, extra, field string }{
		{"byte 0xff in customerID", "\"customerID\":\"U-\xffX\"", "customerID"},
		{"byte 0xfe in comment", "\"comment\":\"a\xfe\"", "comment"},
		{"truncated sequence in email", "\"email\":\"a\xe2\x82@example.com\"", "email"},
		{"lone high surrogate", `"customerID":"U-\ud800X"`, "customerID"},
		{"lone low surrogate", `"comment":"\uDC00"`, "comment"},
		{"high surrogate then a non-surrogate", `"comment":"\ud83d\u0041"`, "comment"},
		{"high surrogate at the end", `"comment":"x\ud83d"`, "comment"},
		{"invalid byte in a segment", "\"segments\":{\"plan\":\"pro\xff\"}", "segments.plan"},
		{"invalid byte in the notice version", "\"consent\":{\"given\":true,\"noticeVersion\":\"2026-01\xff\"}", "consent.noticeVersion"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"score":9,` + tc.extra + `}`
			if !strings.Contains(tc.extra, "consent") {
				body = `{"score":9,` + consentOK + `,` + tc.extra + `}`
			}
			a := f.Post(t, body)
			if a.Status != 422 || a.Body["field"] != tc.field || a.Body["error"] != tc.field+" is not valid UTF-8" {
				t.Errorf("%q: %d %s; want 422 %q naming %s", body, a.Status, a.Raw, tc.field+" is not valid UTF-8", tc.field)
			}
		})
	}
	// A key too: a lone surrogate in a segment's name.
	if a := f.Post(t, `{"score":9,`+consentOK+`,"segments":{"\ud800":"pro"}}`); a.Status != 422 || !strings.HasSuffix(fmt.Sprint(a.Body["error"]), "is not valid UTF-8") {
		t.Errorf("a segment key that is a lone surrogate: %d %s; want 422 not valid UTF-8", a.Status, a.Raw)
	}
	if n := responsesStored(t, f); n != 0 {
		t.Fatalf("%v responses stored, want none", n)
	}
	for _, extra := range []string{`"comment":"a pair \ud83d\ude00 and \\ud800 escaped"`, `"comment":"\ufffd as sent, and é"`} {
		if a := f.Post(t, `{"score":9,`+consentOK+`,`+extra+`}`); a.Status != http.StatusCreated {
			t.Errorf("%s: %d %s, want 201", extra, a.Status, a.Raw)
		}
	}
}

// TestControlCharactersAreRefused checks that text fields cannot carry NUL,
// C1 controls or bidirectional overrides, while a comment keeps its lines.
func TestControlCharactersAreRefused(t *testing.T) {
	f := collectortest.Start(t, withLimits("{requestsPerSecond: 1000, burst: 1000}"))
	cases := []struct{ name, extra, field string }{
		{"NUL in comment", `"comment":"fine\u0000hidden"`, "comment"},
		{"C1 control in comment", `"comment":"fine\u0085hidden"`, "comment"},
		{"CSI in comment", `"comment":"fine\u009b31mred"`, "comment"},
		{"escape in comment", `"comment":"fine\u001b[2J"`, "comment"},
		{"right-to-left override in customerID", `"customerID":"C-1\u202e42"`, "customerID"},
		{"left-to-right isolate in email", `"email":"a\u2066b@example.com"`, "email"},
		{"newline in customerID", `"customerID":"C-1\nC-2"`, "customerID"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := f.Post(t, `{"score":5,`+consentOK+`,`+tc.extra+`}`)
			if a.Status != 422 || a.Body["field"] != tc.field {
				t.Fatalf("status %d field %v, want 422 naming %s: %s", a.Status, a.Body["field"], tc.field, a.Raw)
			}
			if !strings.Contains(a.Body["error"].(string), "control character") {
				t.Errorf("the error does not say what is wrong: %s", a.Raw)
			}
		})
	}
	if n := responsesStored(t, f); n != 0 {
		t.Fatalf("refused answers were stored: %v", n)
	}
	a := f.Post(t, `{"score":5,`+consentOK+`,"comment":"first line\nsecond line\r\n\tindented"}`)
	if a.Status != http.StatusCreated {
		t.Fatalf("a comment with a newline and a tab: %d %s", a.Status, a.Raw)
	}

	// The notice version is text too, even where consent is not required.
	optional := collectortest.Start(t, func(s string) string {
		return strings.Replace(s, "consent: {required: true,", "consent: {required: false,", 1)
	})
	for _, c := range []string{`{"given":false,"noticeVersion":"bad\u0000"}`, `{"given":true,"noticeVersion":"2026-01\u202e"}`} {
		if a := optional.Post(t, `{"score":5,"consent":`+c+`}`); a.Status != 422 || a.Body["field"] != "consent.noticeVersion" {
			t.Errorf("consent %s where consent is optional: %d %s; want 422 naming consent.noticeVersion", c, a.Status, a.Raw)
		}
	}
	if a := optional.Post(t, `{"score":5}`); a.Status != http.StatusCreated {
		t.Fatalf("no consent where it is optional: %d %s", a.Status, a.Raw)
	}
}

// TestSegmentsAreAnAllowList checks that segments carry only the values
// the campaign lists, so no free text travels outside the encrypted fields.
func TestSegmentsAreAnAllowList(t *testing.T) {
	f := collectortest.Start(t, withLimits("{requestsPerSecond: 1000, burst: 1000}"))
	if a := f.Post(t, `{"score":8,`+consentOK+`,"segments":{"plan":"pro","region":"in"}}`); a.Status != http.StatusCreated {
		t.Fatalf("allowed segments: %d %s", a.Status, a.Raw)
	}
	for _, tc := range []struct{ segments, field string }{
		{`{"plan":"john.smith@example.com"}`, "segments.plan"},
		{`{"plan":"Pro"}`, "segments.plan"},
		{`{"region":""}`, "segments.region"},
		{`{"country":"in"}`, "segments.country"},
		{`{"Plan":"pro"}`, "segments.Plan"},
	} {
		a := f.Post(t, `{"score":8,`+consentOK+`,"segments":`+tc.segments+`}`)
		if a.Status != 422 || a.Body["field"] != tc.field {
			t.Errorf("segments %s: %d %s; want 422 naming %s", tc.segments, a.Status, a.Raw, tc.field)
		}
		if strings.Contains(a.Raw, "john.smith") {
			t.Errorf("the refusal echoes the value: %s", a.Raw)
		}
	}
	if n := responsesStored(t, f); n != 1 {
		t.Fatalf("responses = %v, want 1", n)
	}
	page := f.Do(t, http.MethodGet, f.Public+"/s/checkout-nps?plan=bogus&region=eu", nil, nil)
	if page.Status != 200 || strings.Contains(page.Raw, "bogus") || strings.Contains(page.Raw, `name="seg.plan"`) ||
		!strings.Contains(page.Raw, `name="seg.region" value="eu"`) {
		t.Fatalf("page for ?plan=bogus&region=eu: %d; want region kept and plan dropped:\n%s", page.Status, page.Raw)
	}
}

// TestIdempotencyKeyIsNotStoredInClear checks that a client's key is kept
// only as a keyed hash, while retries still find the first answer.
func TestIdempotencyKeyIsNotStoredInClear(t *testing.T) {
	f := collectortest.Start(t, nil)
	const key = "idem-PLAINTEXT-7781"
	first := f.Post(t, `{"score":9,`+consentOK+`}`, "Idempotency-Key", key)
	again := f.Post(t, `{"score":9,`+consentOK+`}`, "Idempotency-Key", key)
	if first.Status != 201 || again.Status != 201 || first.Body["id"] != again.Body["id"] ||
		first.Body["duplicate"] != false || again.Body["duplicate"] != true {
		t.Fatalf("first %d %s, retry %d %s: want one ID, the retry a duplicate", first.Status, first.Raw, again.Status, again.Raw)
	}
	f.Stop()
	files, err := os.ReadDir(f.DBDir)
	if err != nil || len(files) == 0 {
		t.Fatalf("the data directory: %v %v", files, err)
	}
	for _, e := range files {
		data, err := os.ReadFile(filepath.Join(f.DBDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{key, "PLAINTEXT-7781"} {
			if bytes.Contains(data, []byte(s)) {
				t.Errorf("%s holds the Idempotency-Key %q in clear", e.Name(), s)
			}
		}
	}
}

// TestAnonymizeLeavesNothingLinkable checks, on disk, that an anonymizing
// purge keeps only the score, the segments and the day.
func TestAnonymizeLeavesNothingLinkable(t *testing.T) {
	clock := newFakeClock(time.Date(2026, 3, 14, 15, 9, 26, 535_000_000, time.UTC))
	o := collector.Options{Now: clock.Now}
	f := collectortest.StartWith(t, t.TempDir(), withLimits("{requestsPerSecond: 1000, burst: 1000}"), o)
	for i := range 6 {
		if i == 3 {
			clock.Advance(13*time.Hour + 7*time.Minute) // the next day, 04:16
		}
		a := f.Post(t, fmt.Sprintf(`{"score":%d,%s,"customerID":"C-%d","email":"p%d@example.com","comment":"slow page %d","segments":{"plan":"pro"}}`,
			i+3, consentOK, i, i, i), "Idempotency-Key", fmt.Sprintf("anon-key-%d", i))
		if a.Status != 201 {
			t.Fatalf("post %d: %d %s", i, a.Status, a.Raw)
		}
		clock.Advance(time.Minute)
	}
	p := f.AdminDo(t, http.MethodPost, "/admin/v1/purge", `{"everything":true,"action":"Anonymize"}`)
	if p.Status != 200 || p.Body["anonymized"] != 6.0 {
		t.Fatalf("anonymize: %d %s; want 6 anonymized", p.Status, p.Raw)
	}
	st := f.Stats(t)
	if st["responses"] != 6.0 || st["distinctCustomers"] != 0.0 {
		t.Fatalf("after anonymizing: %v; want 6 responses, no customers", st)
	}
	f.Stop()

	db := openDB(t, f)
	rows, err := db.Query(`SELECT id, received_at, anonymized, idempotency_key IS NULL, key_id IS NULL,
		email IS NULL, customer_id IS NULL, comment IS NULL, subject_customer IS NULL, subject_email IS NULL, segments FROM responses`)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rows.Close() }()
	days := map[int64]int{}
	n := 0
	for rows.Next() {
		var id, segments string
		var received, anonymized int64
		var noKey, noKeyID, noEmail, noCustomer, noComment, noSubjCust, noSubjEmail bool
		if err := rows.Scan(&id, &received, &anonymized, &noKey, &noKeyID, &noEmail, &noCustomer, &noComment, &noSubjCust, &noSubjEmail, &segments); err != nil {
			t.Fatal(err)
		}
		n++
		if anonymized != 1 || !noKey || !noKeyID || !noEmail || !noCustomer || !noComment || !noSubjCust || !noSubjEmail {
			t.Errorf("row %s: anonymized=%d, NULL idempotency_key=%v key_id=%v email=%v customer_id=%v comment=%v subject_customer=%v subject_email=%v",
				id, anonymized, noKey, noKeyID, noEmail, noCustomer, noComment, noSubjCust, noSubjEmail)
		}
		if received%86_400_000 != 0 {
			t.Errorf("row %s: received_at %d (%s) is not the start of a day", id, received, time.UnixMilli(received).UTC())
		}
		ms, err := strconv.ParseInt(id[:12], 16, 64)
		if err != nil || ms%86_400_000 != 0 || ms != received {
			t.Errorf("row %s: its ID holds the millisecond %d (%s), want the day %d", id, ms, time.UnixMilli(ms).UTC(), received)
		}
		if segments != `{"plan":"pro"}` {
			t.Errorf("row %s: segments %s, want them kept", id, segments)
		}
		days[received]++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	d1 := time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC).UnixMilli()
	d2 := time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC).UnixMilli()
	if n != 6 || days[d1] != 3 || days[d2] != 3 {
		t.Fatalf("%d rows by day %v; want 3 on 2026-03-14 and 3 on 2026-03-15", n, days)
	}
}

// TestCustomerIDsKeepTheirCase checks that C-1 and c-1 are two people.
func TestCustomerIDsKeepTheirCase(t *testing.T) {
	f := collectortest.Start(t, nil)
	for _, id := range []string{"C-1", "c-1", "C-1"} {
		if a := f.Post(t, fmt.Sprintf(`{"score":7,%s,"customerID":%q}`, consentOK, id)); a.Status != 201 {
			t.Fatalf("post %s: %d %s", id, a.Status, a.Raw)
		}
	}
	if st := f.Stats(t); st["distinctCustomers"] != 2.0 {
		t.Fatalf("distinctCustomers = %v, want 2 (C-1 and c-1)", st["distinctCustomers"])
	}
	e := f.AdminDo(t, http.MethodPost, "/admin/v1/erase", `{"customerID":"C-1"}`)
	if e.Status != 200 || e.Body["erased"] != 2.0 {
		t.Fatalf("erase C-1: %d %s; want 2 erased", e.Status, e.Raw)
	}
	if st := f.Stats(t); st["responses"] != 1.0 || st["distinctCustomers"] != 1.0 {
		t.Fatalf("after erasing C-1: %v; want c-1's response left", st)
	}
}

// TestPurgeRequestValidation checks that a purge must say what it does.
func TestPurgeRequestValidation(t *testing.T) {
	f := collectortest.Start(t, nil)
	for range 3 {
		f.Post(t, `{"score":9,`+consentOK+`}`)
	}
	for _, tc := range []struct{ body, field string }{
		{`{"cutoff":"2026-01-01T00:00:00Z"}`, "action"},
		{`{"everything":true}`, "action"},
		{`{"everything":true,"action":"Shred"}`, "action"},
		{`{"everything":true,"action":"delete"}`, "action"},
		{`{"everything":true,"action":"Delete","job":"Bad_Name"}`, "job"},
		{`{"everything":true,"action":"Delete","job":"-leading-dash"}`, "job"},
	} {
		a := f.AdminDo(t, http.MethodPost, "/admin/v1/purge", tc.body)
		if a.Status != 422 || a.Body["field"] != tc.field {
			t.Errorf("purge %s: %d %s; want 422 naming %s", tc.body, a.Status, a.Raw, tc.field)
		}
	}
	st := f.Stats(t)
	if st["responses"] != 3.0 || st["lastPurge"] != nil {
		t.Fatalf("a refused purge purged: %v", st)
	}
}

// TestPurgeCutoffErrorsNameTheField checks a cutoff that is not an RFC 3339
// time: like every other wrong value, a 422 naming the field in JSON terms,
// not a 400 quoting Go's time layout or method names.
func TestPurgeCutoffErrorsNameTheField(t *testing.T) {
	f := collectortest.Start(t, nil)
	for _, body := range []string{`{"cutoff":"yesterday","action":"Delete"}`, `{"cutoff":5,"action":"Delete"}`,
		// RFC 3339 as Kubernetes writes it only (docs/collector.md).
		`{"cutoff":"2026-01-01t00:00:00Z","action":"Delete"}`, `{"cutoff":"2026-01-01T00:00:00z","action":"Delete"}`,
		`{"cutoff":"2026-01-01 00:00:00Z","action":"Delete"}`, `{"cutoff":"2026-01-01T00:00:00","action":"Delete"}`} {
		a := f.AdminDo(t, http.MethodPost, "/admin/v1/purge", body)
		msg, _ := a.Body["error"].(string)
		if a.Status != 422 || a.Body["field"] != "cutoff" || strings.Contains(msg, "2006-01-02") || strings.Contains(msg, "UnmarshalJSON") {
			t.Errorf("purge %s: %d %s; want 422 naming cutoff, in JSON terms", body, a.Status, a.Raw)
		}
	}
	for _, cutoff := range []string{"2026-01-01T00:00:00Z", "2026-01-01T02:00:00.5+02:00"} {
		body := `{"cutoff":"` + cutoff + `","action":"Delete","dryRun":true}`
		if a := f.AdminDo(t, http.MethodPost, "/admin/v1/purge", body); a.Status != http.StatusOK {
			t.Errorf("purge %s: %d %s; want 200", body, a.Status, a.Raw)
		}
	}
}

// TestRateLimitPerClient checks the token bucket of one client, its
// Retry-After, its refill on the collector's clock, and that another
// client has its own bucket.
func TestRateLimitPerClient(t *testing.T) {
	clock := newFakeClock(time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC))
	f := collectortest.StartWith(t, t.TempDir(), withLimits("{requestsPerSecond: 1, burst: 3}"), collector.Options{Now: clock.Now})
	body := `{"score":9,` + consentOK + `}`
	for i := range 3 {
		if a := f.Post(t, body); a.Status != 201 {
			t.Fatalf("post %d within the burst: %d %s", i, a.Status, a.Raw)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, f.Public+"/v1/responses", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	var e map[string]any
	_ = json.Unmarshal(raw, &e)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" || e["error"] == nil ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("the 4th post: %d Retry-After %q Content-Type %q %s; want 429, Retry-After 1 and a JSON error",
			resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("Content-Type"), raw)
	}
	other := clientFrom(f, "127.0.0.2")
	if a := other.Post(t, body); a.Status != 201 {
		t.Fatalf("another client (127.0.0.2) while 127.0.0.1 is limited: %d %s", a.Status, a.Raw)
	}
	clock.Advance(time.Second)
	if a := f.Post(t, body); a.Status != 201 {
		t.Fatalf("a second later: %d %s", a.Status, a.Raw)
	}
	if a := f.Post(t, body); a.Status != 429 {
		t.Fatalf("a second later, the second post: %d %s; want 429", a.Status, a.Raw)
	}
	if v, ok := metric(t, f, "surveyguard_collector_rate_limited_total", nil); !ok || v != 2 {
		t.Fatalf("surveyguard_collector_rate_limited_total = %v (present %v), want 2", v, ok)
	}
	if n := responsesStored(t, f); n != 5 {
		t.Fatalf("responses = %v, want 5", n)
	}
}

// TestTrustedProxies checks that X-Forwarded-For names the client only
// when the peer is a trusted proxy.
//
// The clock is frozen, so a bucket never refills whatever the rate; the
// rate is high only because a refused request is held until its client's
// next token is due (at most 1 s) before its 429, and 1 ms is quicker.
func TestTrustedProxies(t *testing.T) {
	body := `{"score":9,` + consentOK + `}`
	t.Run("trusted", func(t *testing.T) {
		clock := newFakeClock(time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC))
		f := collectortest.StartWith(t, t.TempDir(), withLimits("{requestsPerSecond: 1000, burst: 1, trustedProxies: [127.0.0.1/32]}"),
			collector.Options{Now: clock.Now})
		for _, tc := range []struct {
			xff    string
			status int
		}{
			{"203.0.113.7", 201},
			{"198.51.100.9", 201},
			{"203.0.113.7", 429},
			{"192.0.2.1, 198.51.100.9", 429}, // the left-most entry is the client's to forge
			{"2001:db8::1", 201},
			{"2001:db8::2", 429}, // the same /64
		} {
			if a := f.Post(t, body, "X-Forwarded-For", tc.xff); a.Status != tc.status {
				t.Errorf("X-Forwarded-For %s: %d %s; want %d", tc.xff, a.Status, a.Raw, tc.status)
			}
		}
	})
	t.Run("not trusted", func(t *testing.T) {
		clock := newFakeClock(time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC))
		f := collectortest.StartWith(t, t.TempDir(), withLimits("{requestsPerSecond: 1000, burst: 1}"), collector.Options{Now: clock.Now})
		if a := f.Post(t, body, "X-Forwarded-For", "203.0.113.7"); a.Status != 201 {
			t.Fatalf("first: %d %s", a.Status, a.Raw)
		}
		if a := f.Post(t, body, "X-Forwarded-For", "198.51.100.9"); a.Status != 429 {
			t.Fatalf("second, with another X-Forwarded-For from an untrusted peer: %d %s; want 429", a.Status, a.Raw)
		}
	})
}

// TestConnectionsPerClient checks that a client's connections past
// maxConnectionsPerClient are closed at once, without touching others.
func TestConnectionsPerClient(t *testing.T) {
	f := collectortest.Start(t, withLimits("{maxConnectionsPerClient: 2}"))
	addr := strings.TrimPrefix(f.Public, "https://")
	tlsCfg := f.Client.Transport.(*http.Transport).TLSClientConfig
	var held []net.Conn
	defer func() {
		for _, c := range held {
			_ = c.Close()
		}
	}()
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	third, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = third.Close() }()
	// The server would wait 5 s for a TLS handshake on an accepted
	// connection; one it refuses is closed before that.
	_ = third.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := third.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("a third connection from 127.0.0.1: read %v; want it closed by the server at once", err)
	}
	for i, c := range held {
		_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); !isTimeout(err) {
			t.Fatalf("held connection %d: read %v; want it still open", i, err)
		}
	}
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 5 * time.Second}
	c2, err := tls.DialWithDialer(d, "tcp", addr, tlsCfg.Clone())
	if err != nil {
		t.Fatalf("a TLS handshake from 127.0.0.2: %v", err)
	}
	_ = c2.Close()

	_ = held[0].Close()
	held = held[1:]
	eventually(t, 5*time.Second, "a new connection once one of the two closed", func() (bool, string) {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, tlsCfg.Clone())
		if err != nil {
			return false, err.Error()
		}
		_ = c.Close()
		return true, ""
	})
	if v, ok := metric(t, f, "surveyguard_collector_connections_refused_total", nil); !ok || v < 1 {
		t.Fatalf("surveyguard_collector_connections_refused_total = %v (present %v), want at least 1", v, ok)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestAdminAuditTrail checks the "admin call" log lines and their metric:
// who called what, with what outcome, and never an identifier or a token.
func TestAdminAuditTrail(t *testing.T) {
	o, logs := captureLog(collector.Options{})
	f := collectortest.StartWith(t, t.TempDir(), nil, o)
	for _, c := range []string{"C-SECRET-42", "C-SECRET-42", "C-OTHER"} {
		if a := f.Post(t, fmt.Sprintf(`{"score":6,%s,"customerID":%q}`, consentOK, c)); a.Status != 201 {
			t.Fatal(a.Raw)
		}
	}
	auth := func(caller string) map[string]string {
		h := map[string]string{"Authorization": "Bearer " + collectortest.Token, "Content-Type": "application/json"}
		if caller != "" {
			h[collectorapi.CallerHeader] = caller
		}
		return h
	}
	if a := f.Do(t, http.MethodGet, f.Admin+"/admin/v1/stats", nil, auth("operator")); a.Status != 200 {
		t.Fatal(a.Raw)
	}
	if a := f.Do(t, http.MethodPost, f.Admin+"/admin/v1/erase", []byte(`{"customerID":"C-SECRET-42"}`), auth("purge")); a.Status != 200 || a.Body["erased"] != 2.0 {
		t.Fatalf("erase: %d %s", a.Status, a.Raw)
	}
	purge := f.Do(t, http.MethodPost, f.Admin+"/admin/v1/purge", []byte(`{"everything":true,"action":"Delete","job":"checkout-nps-retention-1"}`),
		auth("job/checkout-nps-retention-1"))
	if purge.Status != 200 || purge.Body["purged"] != 1.0 {
		t.Fatalf("purge: %d %s", purge.Status, purge.Raw)
	}
	const wrong = "wrong-token-5150-abcdefgh"
	if a := f.Do(t, http.MethodGet, f.Admin+"/admin/v1/stats", nil, map[string]string{"Authorization": "Bearer " + wrong, collectorapi.CallerHeader: "operator"}); a.Status != 401 {
		t.Fatalf("a wrong token: %d %s", a.Status, a.Raw)
	}
	if a := f.Do(t, http.MethodGet, f.Admin+"/admin/v1/stats", nil, auth("job/Not A Name")); a.Status != 200 {
		t.Fatal(a.Raw)
	}
	if a := f.Do(t, http.MethodGet, f.Admin+"/admin/v1/purge", nil, map[string]string{collectorapi.CallerHeader: "operator"}); a.Status != 401 {
		t.Fatalf("GET /admin/v1/purge without a token: %d %s", a.Status, a.Raw)
	}

	calls := logs.withMsg(t, "admin call")
	want := []map[string]any{
		{"action": "stats", "caller": "operator", "outcome": "ok", "status": 200.0},
		{"action": "erase", "caller": "purge", "outcome": "ok", "status": 200.0, "erased": 2.0},
		// The cutoff as the receipt writes it, so that the two can be matched.
		{"action": "purge", "caller": "job/checkout-nps-retention-1", "outcome": "ok", "status": 200.0, "purged": 1.0, "purgeAction": "Delete", "cutoff": purge.Body["cutoff"]},
		{"action": "stats", "caller": "operator", "outcome": "refused", "status": 401.0},
		{"action": "stats", "caller": "unknown", "outcome": "ok", "status": 200.0},
		{"action": "other", "caller": "operator", "outcome": "refused", "status": 401.0},
	}
	if len(calls) != len(want) {
		t.Fatalf("%d admin call lines, want %d:\n%s", len(calls), len(want), strings.Join(logs.lines(), "\n"))
	}
	for i, w := range want {
		for k, v := range w {
			if calls[i][k] != v {
				t.Errorf("admin call %d: %s = %v, want %v (line %v)", i, k, calls[i][k], v, calls[i])
			}
		}
		if r, _ := calls[i]["remote"].(string); !strings.HasPrefix(r, "127.0.0.1:") {
			t.Errorf("admin call %d: remote = %v", i, calls[i]["remote"])
		}
	}
	for _, line := range logs.lines() {
		for _, secret := range []string{"C-SECRET-42", collectortest.Token, wrong} {
			if strings.Contains(line, secret) {
				t.Errorf("a log line holds %q: %s", secret, line)
			}
		}
	}
	for _, tc := range []struct {
		labels map[string]string
		want   float64
	}{
		{map[string]string{"action": "purge", "caller": "job", "outcome": "ok", "campaign": "checkout-nps"}, 1},
		{map[string]string{"action": "erase", "caller": "purge", "outcome": "ok"}, 1},
		{map[string]string{"action": "stats", "caller": "operator", "outcome": "refused"}, 1},
		{map[string]string{"action": "stats", "caller": "operator", "outcome": "ok"}, 1},
		{map[string]string{"action": "stats", "caller": "unknown", "outcome": "ok"}, 1},
	} {
		if v, ok := metric(t, f, "surveyguard_collector_admin_calls_total", tc.labels); !ok || v != tc.want {
			t.Errorf("surveyguard_collector_admin_calls_total%v = %v (present %v), want %v", tc.labels, v, ok, tc.want)
		}
	}
}

// sendGarbage connects to addr, sends bytes that are neither TLS nor HTTP
// and waits for the server to close the connection.
func sendGarbage(t *testing.T, addr string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.WriteString(c, "hello there, this is not TLS\r\n\r\n")
	_, _ = io.ReadAll(c)
	_ = c.Close()
}

// TestHTTPServerErrorsAreStructured checks that net/http's own complaints
// reach the structured log as JSON lines, naming their listener but not
// the client's address.
func TestHTTPServerErrorsAreStructured(t *testing.T) {
	o, logs := captureLog(collector.Options{})
	f := collectortest.StartWith(t, t.TempDir(), nil, o)
	for _, base := range []string{f.Admin, f.Public} {
		addr := strings.TrimPrefix(base, "https://")
		// Plain HTTP to a TLS port: net/http answers it in words.
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		answer, _ := io.ReadAll(c)
		_ = c.Close()
		if !strings.HasPrefix(string(answer), "HTTP/1.0 400") || !strings.Contains(string(answer), "HTTPS server") {
			t.Errorf("plain HTTP to %s: %q; want a 400 saying this is an HTTPS server", addr, answer)
		}
		// Bytes that are neither TLS nor HTTP: a TLS handshake error, logged.
		sendGarbage(t, addr)
		listener := "admin"
		if base == f.Public {
			listener = "public"
		}
		eventually(t, 5*time.Second, "a structured TLS handshake error line of the "+listener+" listener", func() (bool, string) {
			for _, m := range logs.withMsg(t, "http server") {
				if e, _ := m["error"].(string); m["listener"] == listener && strings.Contains(e, "TLS handshake error from [address]") {
					return true, ""
				}
			}
			return false, strings.Join(logs.lines(), "\n")
		})
	}
	// The client's address is personal data: masked.
	for _, m := range logs.withMsg(t, "http server") {
		if e, _ := m["error"].(string); strings.Contains(e, "127.0.0.1") {
			t.Errorf("an http server line names the client's address: %s", e)
		}
	}
}

// TestDataFilesArePrivate checks the modes of the data directory and of
// every file in it.
func TestDataFilesArePrivate(t *testing.T) {
	f := collectortest.Start(t, nil)
	for i := range 5 {
		if a := f.Post(t, fmt.Sprintf(`{"score":%d,%s,"email":"p%d@example.com"}`, i, consentOK, i)); a.Status != 201 {
			t.Fatal(a.Raw)
		}
	}
	fi, err := os.Stat(f.DBDir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("%s has mode %v, want 0700", f.DBDir, fi.Mode().Perm())
	}
	for _, name := range []string{"responses.db", "responses.db-wal", "responses.db-shm"} {
		fi, err := os.Stat(filepath.Join(f.DBDir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", name, fi.Mode().Perm())
		}
	}
	err = filepath.WalkDir(f.DBDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v: readable beyond its owner", path, info.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
