package collector

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/surveyguard/surveyguard/internal/collectorapi"
	"github.com/surveyguard/surveyguard/internal/crypto"
	"github.com/surveyguard/surveyguard/internal/redact"
	"github.com/surveyguard/surveyguard/internal/store"
)

// MaxBodyBytes is the largest request body either listener reads.
const MaxBodyBytes = 16 << 10

// Limits on the fields of a response.
const (
	maxComment        = 4000
	maxEmail          = 320
	maxCustomerID     = 256
	maxIdempotencyKey = 200
)

// responseRequest is the body of POST /v1/responses.
type responseRequest struct {
	Score      json.RawMessage   `json:"score"`
	Consent    *consentBody      `json:"consent"`
	Comment    *string           `json:"comment"`
	Email      *string           `json:"email"`
	CustomerID *string           `json:"customerID"`
	Segments   map[string]string `json:"segments"`
}

type consentBody struct {
	Given         bool   `json:"given"`
	NoticeVersion string `json:"noticeVersion"`
}

// submission is a checked response, ready to be sealed and stored.
type submission struct {
	score                      int
	comment, email, customerID *string
	segments                   map[string]string
	idempotencyKey             string
}

// apiError is a refusal: its status and a JSON body naming the problem.
type apiError struct {
	Status int `json:"-"`
	// RetryAfter, when set, is sent as the Retry-After header.
	RetryAfter time.Duration `json:"-"`
	Message    string        `json:"error"`
	Field      string        `json:"field,omitempty"`
}

func (e *apiError) Error() string { return e.Message }

func unprocessable(field, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusUnprocessableEntity, Field: field, Message: fmt.Sprintf(format, args...)}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = &apiError{Status: http.StatusInternalServerError, Message: "internal error"}
	}
	if ae.RetryAfter > 0 {
		w.Header().Set("Retry-After", retryAfter(ae.RetryAfter))
	}
	writeJSON(w, ae.Status, ae)
}

// readBody reads at most MaxBodyBytes; more is a 413.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, &apiError{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("the body is larger than %d bytes", MaxBodyBytes)}
	}
	if err != nil {
		return nil, &apiError{Status: http.StatusBadRequest, Message: "the body could not be read"}
	}
	return body, nil
}

// parseResponse checks a JSON response against the campaign's rules.
func (s *Server) parseResponse(body []byte, idempotencyKey string) (*submission, error) {
	var req responseRequest
	if string(bytes.TrimSpace(body)) == "null" {
		// encoding/json reads null into an object as nothing at all.
		return nil, unprocessable("", "the body must be a JSON object")
	}
	if err := decodeStrict(body, &req); err != nil {
		return nil, err
	}
	score, err := parseScore(req.Score)
	if err != nil {
		return nil, err
	}
	return s.check(score, req.Consent, req.Comment, req.Email, req.CustomerID, req.Segments, idempotencyKey)
}

func parseScore(raw json.RawMessage) (int, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, unprocessable("score", "score is required: an integer from 0 to 10")
	}
	if c := raw[0]; c == '"' || c == '[' || c == '{' || c == 't' || c == 'f' {
		return 0, unprocessable("score", "score must be a JSON integer from 0 to 10")
	}
	n, err := strconv.Atoi(string(raw))
	if err != nil || n < 0 || n > 10 {
		return 0, unprocessable("score", "score must be an integer from 0 to 10, got %s", truncate(string(raw), 20))
	}
	return n, nil
}

// check applies the campaign's rules shared by the JSON API and the form:
// consent, data minimization, segment keys and lengths.
func (s *Server) check(score int, consent *consentBody, comment, email, customerID *string,
	segments map[string]string, idempotencyKey string) (*submission, error) {
	c := s.cfg
	if consent != nil {
		if r, bad := collectorapi.ControlCharacter(consent.NoticeVersion, false); bad {
			return nil, unprocessable("consent.noticeVersion", "consent.noticeVersion holds the control character %U, which is not accepted", r)
		}
	}
	if c.Consent.Required {
		switch {
		case consent == nil || !consent.Given:
			return nil, unprocessable("consent", "consent is required: send consent.given true with noticeVersion %q", c.Consent.NoticeVersion)
		case consent.NoticeVersion != c.Consent.NoticeVersion:
			return nil, unprocessable("consent.noticeVersion", "consent was given to notice version %q, but the current notice is %q",
				truncate(consent.NoticeVersion, 64), c.Consent.NoticeVersion)
		}
	}
	fields := []struct {
		name    string
		value   *string
		allowed bool
		max     int
	}{
		{"comment", comment, c.Collect.Comment, maxComment},
		{"email", email, c.Collect.Email, maxEmail},
		{"customerID", customerID, c.Collect.CustomerID, maxCustomerID},
	}
	for _, f := range fields {
		if f.value == nil {
			continue
		}
		if !f.allowed {
			return nil, unprocessable(f.name, "this campaign does not collect %s", f.name)
		}
		if !utf8.ValidString(*f.value) {
			return nil, unprocessable(f.name, "%s is not valid UTF-8", f.name)
		}
		if r, bad := collectorapi.ControlCharacter(*f.value, f.name == "comment"); bad {
			return nil, unprocessable(f.name, "%s holds the control character %U, which is not accepted", f.name, r)
		}
		if n := utf8.RuneCountInString(*f.value); n > f.max {
			return nil, unprocessable(f.name, "%s is %d characters; at most %d are accepted", f.name, n, f.max)
		}
	}
	if email != nil && !emailShape(*email) {
		return nil, unprocessable("email", "email is not an email address: one @ with something on both sides, and no spaces")
	}
	if customerID != nil && strings.TrimSpace(*customerID) == "" {
		return nil, unprocessable("customerID", "customerID is empty")
	}
	keys := make([]string, 0, len(segments))
	for k := range segments {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		allowed, ok := c.Collect.Segments[k]
		if !ok {
			return nil, unprocessable("segments."+truncate(k, 64), "segment %q is not allowed; this campaign accepts %s",
				truncate(k, 64), allowedList(collectorapi.SortedSegmentKeys(c.Collect.Segments)))
		}
		if v := segments[k]; !slices.Contains(allowed, v) {
			return nil, unprocessable("segments."+k, "segment %s must be one of %s", k, allowedList(allowed))
		}
	}
	if len(idempotencyKey) > maxIdempotencyKey || strings.ContainsFunc(idempotencyKey, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
		return nil, unprocessable("Idempotency-Key", "the Idempotency-Key header must be at most %d visible ASCII characters", maxIdempotencyKey)
	}
	return &submission{score: score, comment: comment, email: email, customerID: customerID,
		segments: segments, idempotencyKey: idempotencyKey}, nil
}

func allowedList(segs []string) string {
	if len(segs) == 0 {
		return "no segments"
	}
	return strings.Join(segs, ", ")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// seal turns a checked submission into a record: the comment scrubbed, the
// personal fields encrypted under the active key, the identifiers replaced
// by pseudonyms.
func (s *Server) seal(sub *submission) (*store.Record, error) {
	now := s.now().UTC()
	kr := s.secrets.keys.Load()
	rec := &store.Record{ID: store.NewID(now), ReceivedAt: now, Score: sub.score, Segments: sub.segments}
	if sub.idempotencyKey != "" {
		// Kept only as a keyed hash: a client's key may carry anything.
		rec.IdempotencyKey = kr.Pseudonym(crypto.KindIdempotencyKey, sub.idempotencyKey)
	}
	seal := func(field, value string) ([]byte, error) { return kr.Encrypt(field, rec.ID, []byte(value)) }
	var err error
	if sub.comment != nil {
		text := *sub.comment
		if s.cfg.Privacy.RedactComments {
			red := redact.Comment(text)
			text, rec.Redactions = red.Text, red.Counts
		}
		if rec.Comment, err = seal("comment", text); err != nil {
			return nil, err
		}
	}
	if sub.email != nil {
		if rec.Email, err = seal("email", *sub.email); err != nil {
			return nil, err
		}
		rec.SubjectEmail = kr.Pseudonym(crypto.KindEmail, *sub.email)
	}
	if sub.customerID != nil {
		if rec.CustomerID, err = seal("customerID", *sub.customerID); err != nil {
			return nil, err
		}
		rec.SubjectCustomerID = kr.Pseudonym(crypto.KindCustomerID, *sub.customerID)
	}
	if rec.Email != nil || rec.CustomerID != nil || rec.Comment != nil {
		rec.KeyID = kr.ActiveKeyID()
	}
	return rec, nil
}

// errStorageFull refuses ingest while the storage budget is reached.
func errStorageFull(reason string) *apiError {
	return &apiError{Status: http.StatusServiceUnavailable, RetryAfter: storageRetryAfter,
		Message: "the survey is not accepting answers right now: " + reason}
}

// storageRetryAfter is what a client is told to wait while storage is full.
const storageRetryAfter = 60 * time.Second

// save seals and stores a submission and returns its ID once durable.
func (s *Server) save(r *http.Request, sub *submission) (store.InsertResult, error) {
	if full, reason := s.budget.refusing(); full {
		// A retry of an answer already stored still gets the first answer.
		if sub.idempotencyKey != "" && !s.secrets.hmacUnusable.Load() {
			key := s.secrets.keys.Load().Pseudonym(crypto.KindIdempotencyKey, sub.idempotencyKey)
			if id, err := s.store.FindKey(r.Context(), key); err == nil {
				return store.InsertResult{ID: id, Duplicate: true}, nil
			}
		}
		return store.InsertResult{}, errStorageFull(reason)
	}
	if s.secrets.hmacUnusable.Load() && (sub.email != nil || sub.customerID != nil || sub.idempotencyKey != "") {
		return store.InsertResult{}, &apiError{Status: http.StatusServiceUnavailable, RetryAfter: storageRetryAfter,
			Message: "answers with identifiers cannot be stored until the collector's pseudonym key is restored"}
	}
	if s.secrets.activeUnusable.Load() && (sub.email != nil || sub.customerID != nil || sub.comment != nil) {
		return store.InsertResult{}, &apiError{Status: http.StatusServiceUnavailable, RetryAfter: storageRetryAfter,
			Message: "answers with an email, customer ID or comment cannot be stored until the collector's active data key file is restored"}
	}
	rec, err := s.seal(sub)
	if err != nil {
		return store.InsertResult{}, err
	}
	res, err := s.store.Insert(r.Context(), rec)
	if errors.Is(err, store.ErrNoSpace) {
		s.budget.markFull()
		s.log.Error(err, "the store's volume is full; ingest stops until there is room")
		return res, errStorageFull("the storage volume is full")
	}
	if err != nil {
		s.log.Error(err, "storing a response failed")
		return res, &apiError{Status: http.StatusServiceUnavailable, Message: "the response could not be stored; retry with the same Idempotency-Key"}
	}
	if !res.Duplicate {
		s.metrics.responses.Inc()
	}
	return res, nil
}

// idempotencyKeyOf is the request's Idempotency-Key: "" when it sends
// none; one that is empty, or sent twice, is refused (an empty one would
// otherwise read as none, and the retry it was meant for be stored twice).
func idempotencyKeyOf(r *http.Request) (string, error) {
	vals := r.Header.Values("Idempotency-Key")
	switch {
	case len(vals) == 0:
		return "", nil
	case len(vals) > 1 || vals[0] == "":
		return "", unprocessable("Idempotency-Key", "the Idempotency-Key header must be sent once, with 1 to %d visible ASCII characters", maxIdempotencyKey)
	}
	return vals[0], nil
}

// handleResponses is POST /v1/responses.
func (s *Server) handleResponses(w http.ResponseWriter, r *http.Request) {
	if err := requireJSON(r); err != nil {
		writeError(w, err)
		return
	}
	body, err := readBody(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	key, err := idempotencyKeyOf(r)
	if err != nil {
		writeError(w, err)
		return
	}
	sub, err := s.parseResponse(body, key)
	if err != nil {
		writeError(w, err)
		return
	}
	res, err := s.save(r, sub)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, created{Duplicate: res.Duplicate, ID: res.ID})
}

// created is the body of a 201. Its fields are in the order a map's sorted
// keys had, so the bytes are the same as before it was a struct.
type created struct {
	Duplicate bool   `json:"duplicate"`
	ID        string `json:"id"`
}

// emailShape says whether s has an email address's shape as an
// ErasureRequest accepts it (^[^@\s]+@[^@\s]+$): one @, something on both
// sides, no white space. What is stored must be erasable.
func emailShape(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	return ok && local != "" && domain != "" && !strings.Contains(domain, "@") &&
		strings.IndexFunc(s, unicode.IsSpace) < 0
}
