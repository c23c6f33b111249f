package collector_test

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/surveyguard/surveyguard/internal/collector"
	"github.com/surveyguard/surveyguard/internal/collector/collectortest"
)

// The identifiers erased below: no log line and no answer may hold them.
const (
	eraseCustomer = "CUST-ERASE-7F3A"
	eraseEmail    = "erase.me.9q2@example.org"
)

// digestOf is what a receipt's digest must be for ids: the SHA-256 of the
// IDs in ID order, one a line.
func digestOf(ids ...string) string {
	sorted := append([]string(nil), ids...)
	sort.Strings(sorted)
	h := sha256.New()
	for _, id := range sorted {
		_, _ = h.Write([]byte(id + "\n"))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// postID stores a response and returns its ID.
func postID(t *testing.T, f *collectortest.Fixture, body string) string {
	t.Helper()
	a := f.Post(t, body)
	id, _ := a.Body["id"].(string)
	if a.Status != http.StatusCreated || id == "" {
		t.Fatalf("post %s: %d %s", body, a.Status, a.Raw)
	}
	return id
}

// checkReceipt compares an erase answer's receipt with what it must say.
func checkReceipt(t *testing.T, a collectortest.Answer, requestID string, erased int, digest string, replayed bool) {
	t.Helper()
	if a.Status != http.StatusOK {
		t.Fatalf("erase %s: %d %s", requestID, a.Status, a.Raw)
	}
	b := a.Body
	if b["erased"] != float64(erased) || b["digest"] != digest {
		t.Errorf("erase %s: erased %v, digest %v; want %d and %s", requestID, b["erased"], b["digest"], erased, digest)
	}
	if got, _ := b["requestID"].(string); got != requestID {
		t.Errorf("erase %s: requestID %q", requestID, got)
	}
	if got, _ := b["replayed"].(bool); got != replayed {
		t.Errorf("erase %s: replayed %v, want %v: %s", requestID, b["replayed"], replayed, a.Raw)
	}
	started, err1 := time.Parse(time.RFC3339Nano, fmt.Sprint(b["startedAt"]))
	finished, err2 := time.Parse(time.RFC3339Nano, fmt.Sprint(b["finishedAt"]))
	if err1 != nil || err2 != nil || finished.Before(started) || time.Since(started) > time.Minute {
		t.Errorf("erase %s: startedAt %v, finishedAt %v; want both RFC 3339, in order, just now", requestID, b["startedAt"], b["finishedAt"])
	}
}

// TestEraseReceipt: an erasure answers a receipt whose count and digest are
// of the subject's responses; the same requestID again answers that receipt,
// replayed, and erases nothing, not even what the person sent since;
// another requestID erases anew. The audit line records the receipt and
// neither log nor answers ever hold the identifier.
func TestEraseReceipt(t *testing.T) {
	o, logs := captureLog(collector.Options{})
	f := collectortest.StartWith(t, t.TempDir(), nil, o)
	var hers []string
	for i := range 3 {
		hers = append(hers, postID(t, f, fmt.Sprintf(`{"score":%d,%s,"customerID":%q,"email":%q}`, 7+i, consentOK, eraseCustomer, eraseEmail)))
	}
	for i := range 2 {
		postID(t, f, fmt.Sprintf(`{"score":4,%s,"customerID":"C-OTHER-%d"}`, consentOK, i))
	}
	const uid = "0b6f3f8e-5d2c-4f0a-9a61-3c2d7e8f9a10"
	erase := func(body string) collectortest.Answer {
		return f.AdminDo(t, http.MethodPost, "/admin/v1/erase", body)
	}
	first := erase(`{"customerID":"` + eraseCustomer + `","requestID":"` + uid + `"}`)
	checkReceipt(t, first, uid, 3, digestOf(hers...), false)
	if st := f.Stats(t); st["responses"] != 2.0 || st["distinctCustomers"] != 2.0 {
		t.Fatalf("after the erasure: %v; want everyone else's 2 responses", st)
	}

	later := postID(t, f, fmt.Sprintf(`{"score":10,%s,"customerID":%q}`, consentOK, eraseCustomer))
	replay := erase(`{"customerID":"` + eraseCustomer + `","requestID":"` + uid + `"}`)
	checkReceipt(t, replay, uid, 3, digestOf(hers...), true)
	if replay.Body["startedAt"] != first.Body["startedAt"] || replay.Body["finishedAt"] != first.Body["finishedAt"] {
		t.Errorf("the replay %s is not the first receipt %s", replay.Raw, first.Raw)
	}
	if st := f.Stats(t); st["responses"] != 3.0 {
		t.Fatalf("a replay erased something: %v", st)
	}
	checkReceipt(t, erase(`{"customerID":"`+eraseCustomer+`","requestID":"second-erasure"}`), "second-erasure", 1, digestOf(later), false)
	byEmail := postID(t, f, fmt.Sprintf(`{"score":2,%s,"email":%q}`, consentOK, strings.ToUpper(eraseEmail)))
	checkReceipt(t, erase(`{"email":"`+eraseEmail+`"}`), "", 1, digestOf(byEmail), false)
	if st := f.Stats(t); st["responses"] != 2.0 {
		t.Fatalf("after erasing everything of the person: %v", st)
	}

	var answers []string
	for _, id := range []string{strings.Repeat("a", 65), "has space", "under_score", "dots.and/slashes", "ünïcode", "uid-1\n"} {
		for _, ident := range []string{`"customerID":"` + eraseCustomer + `"`, `"email":"` + eraseEmail + `"`} {
			body := fmt.Sprintf(`{%s,"requestID":%q}`, ident, id)
			a := erase(body)
			if a.Status != http.StatusUnprocessableEntity || a.Body["field"] != "requestID" {
				t.Errorf("erase %s: %d %s; want 422 naming requestID", body, a.Status, a.Raw)
			}
			answers = append(answers, a.Raw)
		}
	}
	for _, body := range []string{
		`{"customerID":"` + eraseCustomer + strings.Repeat("X", 300) + `"}`,
		`{"customerID":"` + eraseCustomer + `","email":"` + eraseEmail + `"}`,
		`{"email":"` + eraseEmail + `\u0001"}`,
	} {
		a := erase(body)
		if a.Status != http.StatusUnprocessableEntity {
			t.Errorf("erase %s: %d %s; want 422", body, a.Status, a.Raw)
		}
		answers = append(answers, a.Raw)
	}
	for _, text := range append(answers, logs.lines()...) {
		for _, secret := range []string{eraseCustomer, eraseEmail} {
			if strings.Contains(strings.ToLower(text), strings.ToLower(secret)) {
				t.Errorf("%q reached a log line or an answer: %s", secret, text)
			}
		}
	}

	var erasures []map[string]any
	for _, m := range logs.withMsg(t, "admin call") {
		if m["action"] == "erase" && m["status"] == 200.0 {
			erasures = append(erasures, m)
		}
	}
	want := []map[string]any{
		{"requestID": uid, "erased": 3.0, "digest": digestOf(hers...), "replayed": false},
		{"requestID": uid, "erased": 3.0, "digest": digestOf(hers...), "replayed": true},
		{"requestID": "second-erasure", "erased": 1.0, "digest": digestOf(later), "replayed": false},
		{"requestID": "", "erased": 1.0, "digest": digestOf(byEmail), "replayed": false},
	}
	if len(erasures) != len(want) {
		t.Fatalf("%d audit lines of erasures, want %d:\n%s", len(erasures), len(want), strings.Join(logs.lines(), "\n"))
	}
	for i, w := range want {
		for k, v := range w {
			if erasures[i][k] != v {
				t.Errorf("erasure audit line %d: %s = %v, want %v (line %v)", i, k, erasures[i][k], v, erasures[i])
			}
		}
	}
}

// freeAddr returns a loopback address nothing listens on, for now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// withPublic puts the public listener on addr.
func withPublic(addr string) func(string) string {
	return func(s string) string {
		return strings.Replace(s, `listen: {public: "127.0.0.1:0",`, `listen: {public: "`+addr+`",`, 1)
	}
}

// TestAdminOnly: with AdminOnly nothing listens on the public address,
// while stats (saying adminOnly), erase, purge and the probes answer on the
// admin listener over TLS; the log says the public listener is off.
func TestAdminOnly(t *testing.T) {
	dir := t.TempDir()
	public := freeAddr(t)
	// Some data from an earlier, ordinary run on the same database.
	f := collectortest.StartIn(t, dir, withPublic(public))
	id := postID(t, f, fmt.Sprintf(`{"score":9,%s,"customerID":%q}`, consentOK, eraseCustomer))
	postID(t, f, fmt.Sprintf(`{"score":3,%s,"customerID":"C-STAYS"}`, consentOK))
	if st := f.Stats(t); st["adminOnly"] != nil {
		t.Errorf("an ordinary collector's stats say adminOnly: %v", st["adminOnly"])
	}
	f.Stop()

	o, logs := captureLog(collector.Options{AdminOnly: true})
	g := collectortest.StartWith(t, dir, withPublic(public), o)
	if g.Public != "" {
		t.Errorf("an admin-only collector reported a public listener at %s", g.Public)
	}
	if c, err := net.DialTimeout("tcp", public, 2*time.Second); err == nil {
		_ = c.Close()
		t.Fatalf("something listens on the public address %s of an admin-only collector", public)
	}
	if st := g.Stats(t); st["adminOnly"] != true || st["responses"] != 2.0 {
		t.Errorf("stats = %v; want adminOnly and the 2 stored responses", st)
	}
	a := g.AdminDo(t, http.MethodPost, "/admin/v1/erase", `{"customerID":"`+eraseCustomer+`","requestID":"while-paused"}`)
	checkReceipt(t, a, "while-paused", 1, digestOf(id), false)
	if a := g.AdminDo(t, http.MethodPost, "/admin/v1/purge", `{"everything":true,"action":"Delete","dryRun":true}`); a.Status != 200 || a.Body["purged"] != 1.0 {
		t.Errorf("a dry-run purge: %d %s", a.Status, a.Raw)
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if a := g.Do(t, http.MethodGet, g.Admin+p, nil, nil); a.Status != http.StatusOK {
			t.Errorf("GET %s: %d %s", p, a.Status, a.Raw)
		}
	}
	if a := g.AdminDo(t, http.MethodGet, "/metrics", ""); a.Status != http.StatusOK {
		t.Errorf("GET /metrics: %d", a.Status)
	}
	if len(logs.withMsg(t, "admin-only: public listener off")) != 1 {
		t.Errorf("no startup line saying the public listener is off:\n%s", strings.Join(logs.lines(), "\n"))
	}
	for _, m := range logs.withMsg(t, "collector serving") {
		if _, ok := m["public"]; ok {
			t.Errorf("the serving line names a public listener: %v", m)
		}
	}
}

// TestAdminOnlyFlag runs the command line, "surveyguard collector
// --admin-only": --help documents the flag, and with it the admin listener
// answers while nothing listens on the public one.
func TestAdminOnlyFlag(t *testing.T) {
	var help collectortest.SyncBuffer
	if err := collector.Main(context.Background(), []string{"--help"}, &help, &help); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(help.String(), "--admin-only") || !strings.Contains(help.String(), "-admin-only\n") {
		t.Errorf("--help does not document --admin-only:\n%s", help.String())
	}

	dir := t.TempDir()
	pool := collectortest.SelfSigned(t, dir)
	collectortest.WriteKeys(t, filepath.Join(dir, "keys"), "k1", "k1")
	collectortest.WriteFile(t, filepath.Join(dir, "token"), []byte(collectortest.Token))
	public, admin := freeAddr(t), freeAddr(t)
	cfg := strings.Replace(collectortest.Config(dir), `listen: {public: "127.0.0.1:0", admin: "127.0.0.1:0"}`,
		fmt.Sprintf(`listen: {public: %q, admin: %q}`, public, admin), 1)
	cfgPath := filepath.Join(dir, "collector.yaml")
	collectortest.WriteFile(t, cfgPath, []byte(cfg))

	ctx, cancel := context.WithCancel(context.Background())
	var stderr collectortest.SyncBuffer
	done := make(chan error, 1)
	go func() { done <- collector.Main(ctx, []string{"--config", cfgPath, "--admin-only"}, &stderr, &stderr) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("collector: %v", err)
		}
	}()
	f := &collectortest.Fixture{Admin: "https://" + admin, Client: &http.Client{Timeout: 10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}}
	eventually(t, 10*time.Second, "the admin listener answering", func() (bool, string) {
		if !strings.Contains(stderr.String(), "collector serving") {
			return false, stderr.String()
		}
		return true, ""
	})
	if st := f.Stats(t); st["adminOnly"] != true {
		t.Errorf("stats = %v; want adminOnly", st)
	}
	if c, err := net.DialTimeout("tcp", public, 2*time.Second); err == nil {
		_ = c.Close()
		t.Errorf("something listens on the public address %s of --admin-only", public)
	}
	if !strings.Contains(stderr.String(), `"msg":"admin-only: public listener off"`) {
		t.Errorf("the log does not say the public listener is off:\n%s", stderr.String())
	}
}
