package collector

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/surveyguard/surveyguard/internal/crypto"
)

const testToken = "test-admin-token-0123456789"

// fixture is a collector running in this process on loopback, over TLS.
type fixture struct {
	dir            string
	cfg            *Config
	public, admin  string
	client         *http.Client
	stop           func()
	keysDir, dbDir string
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// selfSigned writes a certificate for localhost/127.0.0.1 and returns a pool that trusts it.
func selfSigned(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "collector"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "tls.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	writeFile(t, filepath.Join(dir, "tls.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}))
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
}

// writeKeys writes a key directory with data keys ids, the first active.
func writeKeys(t *testing.T, dir string, active string, ids ...string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if _, err := os.Stat(filepath.Join(dir, "key-"+id)); err == nil {
			continue
		}
		k, _ := crypto.NewKey()
		writeFile(t, filepath.Join(dir, "key-"+id), k)
	}
	if _, err := os.Stat(filepath.Join(dir, "hmac")); err != nil {
		h, _ := crypto.NewKey()
		writeFile(t, filepath.Join(dir, "hmac"), h)
	}
	writeFile(t, filepath.Join(dir, "active"), []byte(active))
}

func baseConfig(dir string) string {
	return fmt.Sprintf(`
campaign: checkout-nps
question: "How likely are you to recommend Acme Checkout to a friend or colleague?"
consent: {required: true, noticeVersion: "2026-01", purpose: "Improve checkout", lawfulBasis: Consent}
collect: {comment: true, email: true, customerID: true, segments: [plan, region]}
privacy: {minGroupSize: 5, redactComments: true}
retention: {maxAge: 2160h}
store: {driver: sqlite, path: %[1]s/data/responses.db}
listen: {public: "127.0.0.1:0", admin: "127.0.0.1:0"}
tls: {certFile: %[1]s/tls.crt, keyFile: %[1]s/tls.key}
keysDir: %[1]s/keys
adminTokenFile: %[1]s/token
`, dir)
}

func start(t *testing.T, edit func(string) string) *fixture {
	t.Helper()
	dir := t.TempDir()
	pool := selfSigned(t, dir)
	writeKeys(t, filepath.Join(dir, "keys"), "k1", "k1")
	writeFile(t, filepath.Join(dir, "token"), []byte(testToken+"\n"))
	text := baseConfig(dir)
	if edit != nil {
		text = edit(text)
	}
	cfg, err := ParseConfig([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan [2]string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, cfg, Options{ReloadInterval: 100 * time.Millisecond, Ready: func(p, a net.Addr) {
			addrs <- [2]string{p.String(), a.String()}
		}})
	}()
	f := &fixture{dir: dir, cfg: cfg, keysDir: filepath.Join(dir, "keys"), dbDir: filepath.Join(dir, "data"),
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}}
	select {
	case a := <-addrs:
		f.public, f.admin = "https://"+a[0], "https://"+a[1]
	case err := <-done:
		cancel()
		t.Fatalf("the collector did not start: %v", err)
	}
	stopped := false
	f.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("collector shutdown: %v", err)
		}
	}
	t.Cleanup(f.stop)
	return f
}

type answer struct {
	status int
	body   map[string]any
	raw    string
}

func (f *fixture) do(t *testing.T, method, u string, body []byte, hdr map[string]string) answer {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, raw: string(raw)}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

func (f *fixture) post(t *testing.T, body string, hdr ...string) answer {
	t.Helper()
	h := map[string]string{"Content-Type": "application/json"}
	for i := 0; i+1 < len(hdr); i += 2 {
		h[hdr[i]] = hdr[i+1]
	}
	return f.do(t, http.MethodPost, f.public+"/v1/responses", []byte(body), h)
}

func (f *fixture) adminDo(t *testing.T, method, path, body string) answer {
	t.Helper()
	return f.do(t, method, f.admin+path, []byte(body), map[string]string{"Authorization": "Bearer " + testToken})
}

func (f *fixture) stats(t *testing.T) map[string]any {
	t.Helper()
	a := f.adminDo(t, http.MethodGet, "/admin/v1/stats", "")
	if a.status != http.StatusOK {
		t.Fatalf("stats: %d %s", a.status, a.raw)
	}
	return a.body
}

const consentOK = `"consent":{"given":true,"noticeVersion":"2026-01"}`

func TestResponsesAndStats(t *testing.T) {
	f := start(t, nil)
	for i, score := range []int{10, 9, 9, 8, 3} {
		a := f.post(t, fmt.Sprintf(`{"score":%d,%s,"customerID":"C-%d","segments":{"plan":"pro"}}`, score, consentOK, i%4))
		if a.status != http.StatusCreated || a.body["id"] == "" {
			t.Fatalf("post %d: %d %s", i, a.status, a.raw)
		}
	}
	st := f.stats(t)
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
	f := start(t, nil)
	for range 4 {
		if a := f.post(t, `{"score":10,`+consentOK+`}`); a.status != http.StatusCreated {
			t.Fatal(a.raw)
		}
	}
	st := f.stats(t)
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
	f := start(t, func(s string) string {
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
		{"idempotency key too long", `{"score":7,` + consentOK + `}`, []string{"Idempotency-Key", strings.Repeat("k", 201)}, 400, "Idempotency-Key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := f.post(t, tc.body, tc.hdr...)
			if a.status != tc.status {
				t.Fatalf("status %d, want %d: %s", a.status, tc.status, a.raw)
			}
			if msg, _ := a.body["error"].(string); msg == "" {
				t.Fatalf("no JSON error naming the problem: %s", a.raw)
			}
			if tc.field != "" && a.body["field"] != tc.field {
				t.Fatalf("field = %v, want %s: %s", a.body["field"], tc.field, a.raw)
			}
		})
	}
	if st := f.stats(t); st["responses"] != 0.0 {
		t.Fatalf("refused requests changed the store: %v", st)
	}
}

func TestIdempotencyKey(t *testing.T) {
	f := start(t, nil)
	first := f.post(t, `{"score":9,`+consentOK+`}`, "Idempotency-Key", "abc-1")
	again := f.post(t, `{"score":9,`+consentOK+`}`, "Idempotency-Key", "abc-1")
	if first.status != 201 || again.status != 201 || first.body["id"] != again.body["id"] || again.body["duplicate"] != true {
		t.Fatalf("first %s, retry %s: want the same ID twice", first.raw, again.raw)
	}
	if st := f.stats(t); st["responses"] != 1.0 {
		t.Fatalf("a retry was counted twice: %v", st)
	}
}

func TestAdminNeedsTheToken(t *testing.T) {
	f := start(t, nil)
	for _, hdr := range []map[string]string{nil, {"Authorization": "Bearer wrong"}, {"Authorization": testToken}} {
		for _, p := range []string{"/admin/v1/stats", "/metrics"} {
			a := f.do(t, http.MethodGet, f.admin+p, nil, hdr)
			if a.status != http.StatusUnauthorized || a.body["error"] == nil {
				t.Errorf("GET %s with %v: %d %s; want 401", p, hdr, a.status, a.raw)
			}
		}
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if a := f.do(t, http.MethodGet, f.admin+p, nil, nil); a.status != http.StatusOK {
			t.Errorf("GET %s: %d %s", p, a.status, a.raw)
		}
	}
	if a := f.do(t, http.MethodGet, f.public+"/admin/v1/stats", nil, map[string]string{"Authorization": "Bearer " + testToken}); a.status != http.StatusNotFound {
		t.Errorf("the admin API answers on the public listener: %d", a.status)
	}
	m := f.adminDo(t, http.MethodGet, "/metrics", "")
	if !strings.Contains(m.raw, "surveyguard_collector_requests_total") || !strings.Contains(m.raw, "surveyguard_collector_commit_seconds") {
		t.Errorf("metrics lack the collector's series:\n%.500s", m.raw)
	}
}

func TestPurgeAndErase(t *testing.T) {
	f := start(t, nil)
	for i := range 6 {
		f.post(t, fmt.Sprintf(`{"score":%d,%s,"customerID":"C-%d","email":"p%d@example.com"}`, i, consentOK, i%2, i))
	}
	e := f.adminDo(t, http.MethodPost, "/admin/v1/erase", `{"customerID":" c-1 "}`)
	if e.status != 200 || e.body["erased"] != 3.0 {
		t.Fatalf("erase C-1: %d %s; want 3 erased", e.status, e.raw)
	}
	if st := f.stats(t); st["responses"] != 3.0 || st["distinctCustomers"] != 1.0 {
		t.Fatalf("after erase: %v", st)
	}
	for _, bad := range []string{`{}`, `{"customerID":"a","email":"b@c.d"}`, `{"name":"x"}`} {
		if a := f.adminDo(t, http.MethodPost, "/admin/v1/erase", bad); a.status != 422 {
			t.Errorf("erase %s: %d %s; want 422", bad, a.status, a.raw)
		}
	}

	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if a := f.adminDo(t, http.MethodPost, "/admin/v1/purge", `{"cutoff":"`+future+`"}`); a.status != 422 || a.body["field"] != "cutoff" {
		t.Errorf("a cutoff in the future: %d %s; want 422", a.status, a.raw)
	}
	if a := f.adminDo(t, http.MethodPost, "/admin/v1/purge", `{"cutoff":"2026-01-01T00:00:00Z","action":"Shred"}`); a.status != 422 {
		t.Errorf("an unknown action: %d %s; want 422", a.status, a.raw)
	}
	cutoff := time.Now().UTC().Format(time.RFC3339Nano)
	time.Sleep(10 * time.Millisecond)
	dry := f.adminDo(t, http.MethodPost, "/admin/v1/purge", `{"cutoff":"`+cutoff+`","dryRun":true}`)
	if dry.status != 200 || dry.body["purged"] != 3.0 || f.stats(t)["responses"] != 3.0 {
		t.Fatalf("dry run: %d %s", dry.status, dry.raw)
	}
	real := f.adminDo(t, http.MethodPost, "/admin/v1/purge", `{"cutoff":"`+cutoff+`","action":"Delete"}`)
	if real.status != 200 || real.body["purged"] != 3.0 || real.body["digest"] != dry.body["digest"] {
		t.Fatalf("purge: %d %s", real.status, real.raw)
	}
	again := f.adminDo(t, http.MethodPost, "/admin/v1/purge", `{"cutoff":"`+cutoff+`","action":"Delete"}`)
	if again.body["purged"] != 0.0 {
		t.Fatalf("the same cutoff twice: %s", again.raw)
	}
	st := f.stats(t)
	if st["responses"] != 0.0 || st["lastPurge"] == nil {
		t.Fatalf("after purge: %v", st)
	}
}

// TestNoPlaintextAtRestAndKeyRotation checks the raw database files for the
// personal data sent, then rotates the key and waits for the re-wrap.
func TestNoPlaintextAtRestAndKeyRotation(t *testing.T) {
	f := start(t, nil)
	secrets := []string{"zebra.quokka@example.org", "CUST-7781-SECRET", "the checkout button hid behind the banner"}
	for i := range 20 {
		a := f.post(t, fmt.Sprintf(`{"score":%d,%s,"email":%q,"customerID":%q,"comment":%q}`,
			i%11, consentOK, secrets[0], secrets[1], secrets[2]+" call +91 98765 43210"))
		if a.status != 201 {
			t.Fatal(a.raw)
		}
	}
	if red := f.stats(t)["redactions"].(map[string]any); red["phone"] != 20.0 {
		t.Errorf("redactions = %v, want phone: 20", red)
	}

	writeKeys(t, f.keysDir, "k2", "k1", "k2")
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := f.stats(t)
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
	if err := os.Remove(filepath.Join(f.keysDir, "key-k1")); err != nil {
		t.Fatal(err)
	}
	f.stop()
	files, _ := filepath.Glob(filepath.Join(f.dbDir, "*"))
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
	f := start(t, nil)
	page := f.do(t, http.MethodGet, f.public+"/s/checkout-nps?plan=pro&evil=1", nil, nil)
	if page.status != 200 || !strings.Contains(page.raw, "How likely are you to recommend Acme Checkout") ||
		!strings.Contains(page.raw, `name="seg.plan" value="pro"`) || strings.Contains(page.raw, "evil") {
		t.Fatalf("survey page: %d\n%s", page.status, page.raw)
	}
	if a := f.do(t, http.MethodGet, f.public+"/s/other", nil, nil); a.status != 404 {
		t.Errorf("another campaign's page: %d", a.status)
	}
	form := url.Values{"score": {"9"}, "comment": {"fast"}, "seg.plan": {"pro"}, "token": {"tok-1"}, "noticeVersion": {"2026-01"}}
	hdr := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	noConsent := f.do(t, http.MethodPost, f.public+"/s/checkout-nps", []byte(form.Encode()), hdr)
	if noConsent.status != 422 || !strings.Contains(noConsent.raw, "tick the consent box") || !strings.Contains(noConsent.raw, "fast") {
		t.Fatalf("form without consent: %d\n%s", noConsent.status, noConsent.raw)
	}
	form.Set("consent", "yes")
	ok := f.do(t, http.MethodPost, f.public+"/s/checkout-nps", []byte(form.Encode()), hdr)
	twice := f.do(t, http.MethodPost, f.public+"/s/checkout-nps", []byte(form.Encode()), hdr)
	if ok.status != 201 || !strings.Contains(ok.raw, "Thank you") || twice.status != 201 {
		t.Fatalf("form with consent: %d / %d\n%s", ok.status, twice.status, ok.raw)
	}
	if st := f.stats(t); st["responses"] != 1.0 {
		t.Fatalf("a double submit was counted twice: %v", st)
	}
}
