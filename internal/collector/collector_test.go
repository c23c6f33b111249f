package collector_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/surveyguard/surveyguard/internal/collector"
	"github.com/surveyguard/surveyguard/internal/collector/collectortest"
)

const consentOK = `"consent":{"given":true,"noticeVersion":"2026-01"}`

func TestResponsesAndStats(t *testing.T) {
	f := collectortest.Start(t, nil)
	for i, score := range []int{10, 9, 9, 8, 3} {
		a := f.Post(t, fmt.Sprintf(`{"score":%d,%s,"customerID":"C-%d","segments":{"plan":"pro"}}`, score, consentOK, i%4))
		if a.Status != http.StatusCreated || a.Body["id"] == "" {
			t.Fatalf("post %d: %d %s", i, a.Status, a.Raw)
		}
	}
	st := f.Stats(t)
	want := map[string]any{"responses": 5.0, "promoters": 3.0, "passives": 1.0, "detractors": 1.0,
		"score": 40.0, "suppressed": false, "distinctCustomers": 4.0, "activeKeyID": "k1", "rewrapPending": 0.0}
	for k, v := range want {
		if st[k] != v {
			t.Errorf("stats.%s = %v, want %v (all: %v)", k, st[k], v, st)
		}
	}
	if moe, _ := st["marginOfError"].(float64); moe <= 0 {
		t.Errorf("stats.marginOfError = %v", st["marginOfError"])
	}
}

func TestSuppressedBelowMinGroupSize(t *testing.T) {
	f := collectortest.Start(t, nil)
	for range 4 {
		if a := f.Post(t, `{"score":10,`+consentOK+`}`); a.Status != http.StatusCreated {
			t.Fatal(a.Raw)
		}
	}
	st := f.Stats(t)
	if st["suppressed"] != true || st["responses"] != 4.0 {
		t.Fatalf("4 responses with minGroupSize 5: %v", st)
	}
	for _, k := range []string{"score", "promoters", "passives", "detractors", "marginOfError"} {
		if _, ok := st[k]; ok {
			t.Errorf("a suppressed result publishes %s: %v", k, st)
		}
	}
}

func TestBadInputIsRefusedAndStoresNothing(t *testing.T) {
	f := collectortest.Start(t, func(s string) string {
		return strings.Replace(s, "collect: {comment: true, email: true,", "collect: {comment: true, email: false,", 1)
	})
	cases := []struct {
		name, body string
		hdr        []string
		status     int
		field      string
	}{
		{"malformed JSON", `{"score":`, nil, 400, ""},
		{"two JSON values", `{"score":1,` + consentOK + `} {}`, nil, 400, ""},
		{"score missing", `{` + consentOK + `}`, nil, 422, "score"},
		{"score too high", `{"score":11,` + consentOK + `}`, nil, 422, "score"},
		{"score negative", `{"score":-1,` + consentOK + `}`, nil, 422, "score"},
		{"score not an integer", `{"score":7.5,` + consentOK + `}`, nil, 422, "score"},
		{"score a string", `{"score":"7",` + consentOK + `}`, nil, 422, "score"},
		{"unknown field", `{"score":7,` + consentOK + `,"phone":"123"}`, nil, 422, "phone"},
		{"field not collected", `{"score":7,` + consentOK + `,"email":"a@example.com"}`, nil, 422, "email"},
		{"segment not allowed", `{"score":7,` + consentOK + `,"segments":{"country":"IN"}}`, nil, 422, "segments.country"},
		{"segment value too long", `{"score":7,` + consentOK + `,"segments":{"plan":"` + strings.Repeat("x", 65) + `"}}`, nil, 422, "segments.plan"},
		{"consent missing", `{"score":7}`, nil, 422, "consent"},
		{"consent not given", `{"score":7,"consent":{"given":false,"noticeVersion":"2026-01"}}`, nil, 422, "consent"},
		{"consent to an old notice", `{"score":7,"consent":{"given":true,"noticeVersion":"2025-01"}}`, nil, 422, "consent.noticeVersion"},
		{"consent of the wrong type", `{"score":7,"consent":true}`, nil, 422, "consent"},
		{"comment too long", `{"score":7,` + consentOK + `,"comment":"` + strings.Repeat("y", 4001) + `"}`, nil, 422, "comment"},
		{"body over 16 KiB", `{"score":7,` + consentOK + `,"comment":"` + strings.Repeat("z", 17<<10) + `"}`, nil, 413, ""},
		{"not JSON", `score=7`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, ""},
		{"idempotency key too long", `{"score":7,` + consentOK + `}`, []string{"Idempotency-Key", strings.Repeat("k", 201)}, 422, "Idempotency-Key"},
		{"idempotency key with a space", `{"score":7,` + consentOK + `}`, []string{"Idempotency-Key", "a b"}, 422, "Idempotency-Key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := f.Post(t, tc.body, tc.hdr...)
			if a.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", a.Status, tc.status, a.Raw)
			}
			if msg, _ := a.Body["error"].(string); msg == "" {
				t.Fatalf("no JSON error naming the problem: %s", a.Raw)
			}
			if tc.field != "" && a.Body["field"] != tc.field {
				t.Fatalf("field = %v, want %s: %s", a.Body["field"], tc.field, a.Raw)
			}
		})
	}
	if st := f.Stats(t); st["responses"] != 0.0 {
		t.Fatalf("refused requests changed the store: %v", st)
	}
}

// TestEmailShape: what is stored as an email can be named by an
// ErasureRequest (one @, something on both sides, no white space).
func TestEmailShape(t *testing.T) {
	f := collectortest.Start(t, nil)
	for email, want := range map[string]int{
		"ana@example.com":      201,
		"ana@localhost":        201,
		"jane doe@example.com": 422,
		"ab@":                  422,
		"@example.com":         422,
		"a@b@example.com":      422,
		"ana@example.com ":     422,
		"ana@exa mple.com":     422,
	} {
		a := f.Post(t, fmt.Sprintf(`{"score":7,%s,"email":"%s"}`, consentOK, email))
		if a.Status != want || (want == 422 && a.Body["field"] != "email") {
			t.Errorf("email %q: %d %s, want %d", email, a.Status, a.Raw, want)
		}
	}
	if st := f.Stats(t); st["responses"] != 2.0 {
		t.Errorf("%v responses stored, want the 2 accepted", st["responses"])
	}
}

func TestIdempotencyKey(t *testing.T) {
	f := collectortest.Start(t, nil)
	first := f.Post(t, `{"score":9,`+consentOK+`}`, "Idempotency-Key", "abc-1")
	again := f.Post(t, `{"score":9,`+consentOK+`}`, "Idempotency-Key", "abc-1")
	if first.Status != 201 || again.Status != 201 || first.Body["id"] != again.Body["id"] || again.Body["duplicate"] != true {
		t.Fatalf("first %s, retry %s: want the same ID twice", first.Raw, again.Raw)
	}
	if st := f.Stats(t); st["responses"] != 1.0 {
		t.Fatalf("a retry was counted twice: %v", st)
	}
}

func TestAdminNeedsTheToken(t *testing.T) {
	f := collectortest.Start(t, nil)
	for _, hdr := range []map[string]string{nil, {"Authorization": "Bearer wrong"}, {"Authorization": collectortest.Token}} {
		for _, p := range []string{"/admin/v1/stats", "/metrics"} {
			a := f.Do(t, http.MethodGet, f.Admin+p, nil, hdr)
			if a.Status != http.StatusUnauthorized || a.Body["error"] == nil {
				t.Errorf("GET %s with %v: %d %s; want 401", p, hdr, a.Status, a.Raw)
			}
		}
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if a := f.Do(t, http.MethodGet, f.Admin+p, nil, nil); a.Status != http.StatusOK {
			t.Errorf("GET %s: %d %s", p, a.Status, a.Raw)
		}
	}
	if a := f.Do(t, http.MethodGet, f.Public+"/admin/v1/stats", nil, map[string]string{"Authorization": "Bearer " + collectortest.Token}); a.Status != http.StatusNotFound {
		t.Errorf("the admin API answers on the public listener: %d", a.Status)
	}
	m := f.AdminDo(t, http.MethodGet, "/metrics", "")
	if !strings.Contains(m.Raw, "surveyguard_collector_requests_total") || !strings.Contains(m.Raw, "surveyguard_collector_commit_seconds") {
		t.Errorf("metrics lack the collector's series:\n%.500s", m.Raw)
	}
	if a := f.Do(t, http.MethodGet, f.Admin+"/admin/v1/stats", nil, map[string]string{"Authorization": "bearer " + collectortest.Token}); a.Status != http.StatusOK {
		t.Errorf("the scheme in lower case: %d %s; want 200 (schemes are case-insensitive)", a.Status, a.Raw)
	}
}

// TestStatsOfAFreshStore: what the stats hold before anything happened:
// the lists and flags the docs name are there, empty or false; what has no
// value yet (lastPurge, oldestRecordTime, a budget not set) is absent.
func TestStatsOfAFreshStore(t *testing.T) {
	f := collectortest.Start(t, nil)
	st := f.Stats(t)
	if ids, ok := st["missingKeyIDs"].([]any); !ok || len(ids) != 0 {
		t.Errorf("missingKeyIDs = %#v, want []", st["missingKeyIDs"])
	}
	if v, ok := st["hmacKeyRejected"].(bool); !ok || v {
		t.Errorf("hmacKeyRejected = %#v, want false", st["hmacKeyRejected"])
	}
	for _, absent := range []string{"lastPurge", "oldestRecordTime", "adminOnly"} {
		if v, ok := st[absent]; ok {
			t.Errorf("%s = %#v on a fresh store, want it absent", absent, v)
		}
	}
	storage, _ := st["storage"].(map[string]any)
	if _, ok := storage["maxBytes"]; ok || storage["full"] != false || storage["reason"] != nil {
		t.Errorf("storage = %v, want no maxBytes (none set), full false, no reason", storage)
	}
}

// TestAdminUnknownRoutesNeedTheTokenToo: any /admin/ request without the
// token is 401, whatever its path or method; with it, an endpoint asked
// with the wrong method is 405 naming the right one, and no endpoint 404.
func TestAdminUnknownRoutesNeedTheTokenToo(t *testing.T) {
	f := collectortest.Start(t, nil)
	auth := map[string]string{"Authorization": "Bearer " + collectortest.Token}
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{http.MethodGet, "/admin/v1/purge", http.StatusMethodNotAllowed, "POST"},
		{http.MethodPost, "/admin/v1/stats", http.StatusMethodNotAllowed, "GET"},
		{http.MethodDelete, "/admin/v1/erase", http.StatusMethodNotAllowed, "POST"},
		{http.MethodGet, "/admin/v1/nothing", http.StatusNotFound, ""},
		{http.MethodGet, "/admin/", http.StatusNotFound, ""},
	} {
		if a := f.Do(t, tc.method, f.Admin+tc.path, nil, nil); a.Status != http.StatusUnauthorized || a.Body["error"] == nil {
			t.Errorf("%s %s without the token: %d %s; want 401", tc.method, tc.path, a.Status, a.Raw)
		}
		a := f.Do(t, tc.method, f.Admin+tc.path, nil, auth)
		if a.Status != tc.status || a.Body["error"] == nil || a.Header.Get("Allow") != tc.allow {
			t.Errorf("%s %s with the token: %d Allow %q %s; want %d Allow %q", tc.method, tc.path, a.Status, a.Header.Get("Allow"), a.Raw, tc.status, tc.allow)
		}
	}
}

func TestPurgeAndErase(t *testing.T) {
	f := collectortest.Start(t, nil)
	for i := range 6 {
		f.Post(t, fmt.Sprintf(`{"score":%d,%s,"customerID":"C-%d","email":"p%d@example.com"}`, i, consentOK, i%2, i))
	}
	if e := f.AdminDo(t, http.MethodPost, "/admin/v1/erase", `{"customerID":"c-1"}`); e.Status != 200 || e.Body["erased"] != 0.0 {
		t.Fatalf("erase c-1: %d %s; want 0 erased: customer IDs keep their case", e.Status, e.Raw)
	}
	e := f.AdminDo(t, http.MethodPost, "/admin/v1/erase", `{"customerID":" C-1 "}`)
	if e.Status != 200 || e.Body["erased"] != 3.0 {
		t.Fatalf("erase C-1: %d %s; want 3 erased", e.Status, e.Raw)
	}
	if st := f.Stats(t); st["responses"] != 3.0 || st["distinctCustomers"] != 1.0 {
		t.Fatalf("after erase: %v", st)
	}
	for _, bad := range []string{`{}`, `{"customerID":"a","email":"b@c.d"}`, `{"name":"x"}`} {
		if a := f.AdminDo(t, http.MethodPost, "/admin/v1/erase", bad); a.Status != 422 {
			t.Errorf("erase %s: %d %s; want 422", bad, a.Status, a.Raw)
		}
	}

	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if a := f.AdminDo(t, http.MethodPost, "/admin/v1/purge", `{"cutoff":"`+future+`","action":"Delete"}`); a.Status != 422 || a.Body["field"] != "cutoff" {
		t.Errorf("a cutoff in the future: %d %s; want 422", a.Status, a.Raw)
	}
	for _, job := range []string{"a..b", "a.-b", "-a", "a.", "A"} {
		if a := f.AdminDo(t, http.MethodPost, "/admin/v1/purge", `{"everything":true,"action":"Delete","dryRun":true,"job":"`+job+`"}`); a.Status != 422 || a.Body["field"] != "job" {
			t.Errorf("job %q, not a Kubernetes object name: %d %s; want 422 naming job", job, a.Status, a.Raw)
		}
	}
	if a := f.AdminDo(t, http.MethodPost, "/admin/v1/purge", `{"everything":true,"action":"Delete","dryRun":true,"job":"retention.checkout-nps-29391"}`); a.Status != 200 {
		t.Errorf("a job named as a DNS subdomain: %d %s; want 200", a.Status, a.Raw)
	}
	if a := f.AdminDo(t, http.MethodPost, "/admin/v1/purge", `{"cutoff":"2026-01-01T00:00:00Z","action":"Shred"}`); a.Status != 422 {
		t.Errorf("an unknown action: %d %s; want 422", a.Status, a.Raw)
	}
	if a := f.AdminDo(t, http.MethodPost, "/admin/v1/purge", `{"cutoff":"2026-01-01T00:00:00Z","action":"Delete","job":"`+strings.Repeat("j", 254)+`"}`); a.Status != 422 || a.Body["field"] != "job" {
		t.Errorf("a 254-character job name: %d %s; want 422", a.Status, a.Raw)
	}
	// A null is not "absent": a dry run sent as null must not purge.
	for body, field := range map[string]string{
		`{"everything":true,"action":"Delete","dryRun":null}`: "dryRun",
		`{"everything":null,"cutoff":null,"action":"Delete"}`: "cutoff",
		`{"everything":true,"action":"Delete","job":null}`:    "job",
	} {
		if a := f.AdminDo(t, http.MethodPost, "/admin/v1/purge", body); a.Status != 422 || a.Body["field"] != field || !strings.Contains(a.Body["error"].(string), "not null") {
			t.Errorf("purge %s: %d %s; want 422 naming %s", body, a.Status, a.Raw, field)
		}
	}
	if a := f.AdminDo(t, http.MethodPost, "/admin/v1/erase", `{"customerID":"C-1","requestID":null}`); a.Status != 422 || a.Body["field"] != "requestID" {
		t.Errorf("erase with requestID null: %d %s; want 422 naming requestID", a.Status, a.Raw)
	}
	if st := f.Stats(t); st["responses"] != 3.0 {
		t.Fatalf("a refused purge changed the store: %v", st)
	}
	cutoff := time.Now().UTC().Format(time.RFC3339Nano)
	time.Sleep(10 * time.Millisecond)
	dry := f.AdminDo(t, http.MethodPost, "/admin/v1/purge", `{"cutoff":"`+cutoff+`","action":"Delete","dryRun":true}`)
	if dry.Status != 200 || dry.Body["purged"] != 3.0 || f.Stats(t)["responses"] != 3.0 {
		t.Fatalf("dry run: %d %s", dry.Status, dry.Raw)
	}
	real := f.AdminDo(t, http.MethodPost, "/admin/v1/purge", `{"cutoff":"`+cutoff+`","action":"Delete"}`)
	if real.Status != 200 || real.Body["purged"] != 3.0 || real.Body["digest"] != dry.Body["digest"] {
		t.Fatalf("purge: %d %s", real.Status, real.Raw)
	}
	again := f.AdminDo(t, http.MethodPost, "/admin/v1/purge", `{"cutoff":"`+cutoff+`","action":"Delete"}`)
	if again.Body["purged"] != 0.0 {
		t.Fatalf("the same cutoff twice: %s", again.Raw)
	}
	st := f.Stats(t)
	if st["responses"] != 0.0 || st["lastPurge"] == nil {
		t.Fatalf("after purge: %v", st)
	}

	// "everything" purges up to the collector's own clock.
	f.Post(t, fmt.Sprintf(`{"score":9,%s}`, consentOK))
	if a := f.AdminDo(t, http.MethodPost, "/admin/v1/purge", `{"everything":true,"action":"Delete","cutoff":"`+cutoff+`"}`); a.Status != 422 {
		t.Errorf("everything with a cutoff: %d %s; want 422", a.Status, a.Raw)
	}
	all := f.AdminDo(t, http.MethodPost, "/admin/v1/purge", `{"everything":true,"action":"Delete"}`)
	if all.Status != 200 || all.Body["purged"] != 1.0 || f.Stats(t)["responses"] != 0.0 {
		t.Fatalf("purge everything: %d %s", all.Status, all.Raw)
	}
}

// TestNoPlaintextAtRestAndKeyRotation checks the raw database files for the
// personal data sent, then rotates the key and waits for the re-wrap.
func TestNoPlaintextAtRestAndKeyRotation(t *testing.T) {
	f := collectortest.Start(t, nil)
	secrets := []string{"zebra.quokka@example.org", "CUST-7781-SECRET", "the checkout button hid behind the banner"}
	for i := range 20 {
		a := f.Post(t, fmt.Sprintf(`{"score":%d,%s,"email":%q,"customerID":%q,"comment":%q}`,
			i%11, consentOK, secrets[0], secrets[1], secrets[2]+" call +91 98765 43210"))
		if a.Status != 201 {
			t.Fatal(a.Raw)
		}
	}
	if red := f.Stats(t)["redactions"].(map[string]any); red["phone"] != 20.0 {
		t.Errorf("redactions = %v, want phone: 20", red)
	}

	collectortest.WriteKeys(t, f.KeysDir, "k2", "k1", "k2")
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := f.Stats(t)
		if st["activeKeyID"] == "k2" && st["rewrapPending"] == 0.0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the rotation to k2 did not finish: %v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Old key gone: everything must still be readable by the erase path
	// (pseudonyms) and the store must hold only k2 ciphertexts.
	if err := os.Remove(filepath.Join(f.KeysDir, "key-k1")); err != nil {
		t.Fatal(err)
	}
	f.Stop()
	files, _ := filepath.Glob(filepath.Join(f.DBDir, "*"))
	if len(files) == 0 {
		t.Fatal("no database files")
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range append(secrets, "98765 43210", "zebra.quokka", "CUST-7781") {
			if bytes.Contains(data, []byte(s)) || bytes.Contains(bytes.ToLower(data), []byte(strings.ToLower(s))) {
				t.Errorf("%s contains the plaintext %q", filepath.Base(file), s)
			}
		}
	}
}

func TestSurveyPageForm(t *testing.T) {
	f := collectortest.Start(t, nil)
	page := f.Do(t, http.MethodGet, f.Public+"/s/checkout-nps?plan=pro&evil=1", nil, nil)
	if page.Status != 200 || !strings.Contains(page.Raw, "How likely are you to recommend Acme Checkout") ||
		!strings.Contains(page.Raw, `name="seg.plan" value="pro"`) || strings.Contains(page.Raw, "evil") {
		t.Fatalf("survey page: %d\n%s", page.Status, page.Raw)
	}
	if a := f.Do(t, http.MethodGet, f.Public+"/s/other", nil, nil); a.Status != 404 {
		t.Errorf("another campaign's page: %d", a.Status)
	}
	token := regexp.MustCompile(`name="token" value="([^"]+)"`).FindStringSubmatch(page.Raw)
	if token == nil {
		t.Fatalf("the page carries no form token:\n%s", page.Raw)
	}
	form := url.Values{"score": {"9"}, "comment": {"fast"}, "seg.plan": {"pro"}, "token": {token[1]}, "noticeVersion": {"2026-01"}}
	hdr := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	noConsent := f.Do(t, http.MethodPost, f.Public+"/s/checkout-nps", []byte(form.Encode()), hdr)
	if noConsent.Status != 422 || !strings.Contains(noConsent.Raw, "tick the consent box") || !strings.Contains(noConsent.Raw, "fast") {
		t.Fatalf("form without consent: %d\n%s", noConsent.Status, noConsent.Raw)
	}
	form.Set("consent", "yes")
	ok := f.Do(t, http.MethodPost, f.Public+"/s/checkout-nps", []byte(form.Encode()), hdr)
	twice := f.Do(t, http.MethodPost, f.Public+"/s/checkout-nps", []byte(form.Encode()), hdr)
	if ok.Status != 201 || !strings.Contains(ok.Raw, "Thank you") || twice.Status != 201 {
		t.Fatalf("form with consent: %d / %d\n%s", ok.Status, twice.Status, ok.Raw)
	}
	if st := f.Stats(t); st["responses"] != 1.0 {
		t.Fatalf("a double submit was counted twice: %v", st)
	}
}

// TestLongCallsAnswer: a purge or an erasure that takes longer than the
// server's write timeout still gets its answer (a purge of millions of
// responses takes minutes). The test holds SQLite's write lock from
// another connection while both calls wait for it, well past a 2 s write
// timeout; the calls then finish and answer. (Holding the lock longer
// could only make this pass wrongly, never fail wrongly.)
func TestLongCallsAnswer(t *testing.T) {
	const writeTimeout = 2 * time.Second
	f := collectortest.StartWith(t, t.TempDir(), nil, collector.Options{WriteTimeout: writeTimeout})
	for i := range 4 {
		f.Post(t, fmt.Sprintf(`{"score":%d,%s,"customerID":"L-%d"}`, i+6, consentOK, i%2))
	}
	if st := f.Stats(t); st["responses"] != 4.0 {
		t.Fatalf("stats: %v", st)
	}
	db, err := sql.Open("sqlite", filepath.Join(f.DBDir, "responses.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	type answer struct {
		status int
		body   string
		err    error
	}
	call := func(path, body string, out chan<- answer) {
		req, err := http.NewRequest(http.MethodPost, f.Admin+path, strings.NewReader(body))
		if err != nil {
			out <- answer{err: err}
			return
		}
		req.Header.Set("Authorization", "Bearer "+collectortest.Token)
		req.Header.Set("Content-Type", "application/json")
		client := &http.Client{Transport: f.Client.Transport} // no client timeout
		resp, err := client.Do(req)
		if err != nil {
			out <- answer{err: err}
			return
		}
		defer func() { _ = resp.Body.Close() }()
		raw, err := io.ReadAll(resp.Body)
		out <- answer{status: resp.StatusCode, body: string(raw), err: err}
	}
	erased, purged := make(chan answer, 1), make(chan answer, 1)
	go call("/admin/v1/erase", `{"customerID":"L-1"}`, erased)
	go call("/admin/v1/purge", `{"everything":true,"action":"Delete"}`, purged)
	time.Sleep(2*writeTimeout + writeTimeout/4)
	if _, err := conn.ExecContext(ctx, `ROLLBACK`); err != nil {
		t.Fatal(err)
	}
	// Whichever runs first takes the responses they both name.
	var gone int64
	for _, a := range []struct {
		name  string
		got   answer
		count string
	}{{"erase", <-erased, "erased"}, {"purge", <-purged, "purged"}} {
		var receipt map[string]any
		if a.got.err != nil || a.got.status != http.StatusOK || json.Unmarshal([]byte(a.got.body), &receipt) != nil || receipt["digest"] == nil {
			t.Errorf("%s held past the write timeout = %d %s (%v), want 200 and its receipt", a.name, a.got.status, a.got.body, a.got.err)
			continue
		}
		n, _ := receipt[a.count].(float64)
		gone += int64(n)
	}
	if gone != 4 {
		t.Errorf("the erasure and the purge took %d responses between them, want all 4", gone)
	}
	if st := f.Stats(t); st["responses"] != 0.0 {
		t.Errorf("after the erasure and the purge: %v", st)
	}
}

// TestTLS12OffersAEADOnly: a TLS 1.2 client offering only a CBC suite gets
// no connection; one offering GCM does. TLS 1.3 is untouched.
func TestTLS12OffersAEADOnly(t *testing.T) {
	f := collectortest.Start(t, nil)
	base := f.Client.Transport.(*http.Transport).TLSClientConfig
	for name, tc := range map[string]struct {
		suites []uint16
		ok     bool
	}{
		"CBC":            {[]uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA}, false},
		"CBC SHA-256":    {[]uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256}, false},
		"static RSA GCM": {[]uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256}, false},
		"ECDHE GCM":      {[]uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}, true},
	} {
		cfg := base.Clone()
		cfg.MaxVersion, cfg.CipherSuites = tls.VersionTLS12, tc.suites
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
		resp, err := c.Get(f.Admin + "/healthz")
		if err == nil {
			_ = resp.Body.Close()
		}
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v, want a connection %v", name, err, tc.ok)
		}
	}
}
