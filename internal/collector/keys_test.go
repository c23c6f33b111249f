package collector_test

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/surveyguard/surveyguard/internal/collector"
	"github.com/surveyguard/surveyguard/internal/collector/collectortest"
	"github.com/surveyguard/surveyguard/internal/crypto"
)

func missingKeyIDs(st map[string]any) []string {
	var out []string
	list, _ := st["missingKeyIDs"].([]any)
	for _, v := range list {
		s, _ := v.(string)
		out = append(out, s)
	}
	return out
}

func readyz(t testing.TB, f *collectortest.Fixture) collectortest.Answer {
	t.Helper()
	return f.Do(t, http.MethodGet, f.Admin+"/readyz", nil, nil)
}

// secondKeysDir makes dir/keys2 with f's hmac key and a new key k2 active
// (no key-k1), and returns it with the configuration edit that uses it.
func secondKeysDir(t testing.TB, f *collectortest.Fixture, dir string) (string, func(string) string) {
	t.Helper()
	keys2 := filepath.Join(dir, "keys2")
	if err := os.MkdirAll(keys2, 0o700); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(f.KeysDir, "hmac"), filepath.Join(keys2, "hmac"))
	collectortest.WriteKeys(t, keys2, "k2", "k2")
	return keys2, func(s string) string { return strings.Replace(s, "keysDir: "+f.KeysDir, "keysDir: "+keys2, 1) }
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	collectortest.WriteFile(t, to, data)
}

// TestKeyRemovedWithRotationIsKeptUntilRewrapped removes key-k1 in the same
// step as k2 becomes active, so k1's file is never there under k2. The
// collector keeps k1 in memory (reporting it missing meanwhile), re-wraps
// every ciphertext under k2, and then needs k1 no more: the answers stay
// readable with the keys on disk.
func TestKeyRemovedWithRotationIsKeptUntilRewrapped(t *testing.T) {
	o, logs := captureLog(collector.Options{})
	f := collectortest.StartWith(t, t.TempDir(), nil, o)
	comments := map[string]string{}
	for i := range 12 {
		c := fmt.Sprintf("checkout answer number %d was slow", i)
		a := f.Post(t, fmt.Sprintf(`{"score":%d,%s,"comment":%q}`, i%11, consentOK, c))
		if a.Status != 201 {
			t.Fatal(a.Raw)
		}
		comments[a.Body["id"].(string)] = c
	}
	// Every intermediate state fails to load (the active key's file is
	// missing), so the collector never sees key-k1 beside an active k2.
	if err := os.Remove(filepath.Join(f.KeysDir, "key-k1")); err != nil {
		t.Fatal(err)
	}
	collectortest.WriteKeys(t, f.KeysDir, "k2", "k2")

	eventually(t, 20*time.Second, "k2 active, everything re-wrapped, no key missing", func() (bool, string) {
		st := f.Stats(t)
		return st["activeKeyID"] == "k2" && st["rewrapPending"] == 0.0 && len(missingKeyIDs(st)) == 0, fmt.Sprint(st)
	})
	var reported bool
	for _, m := range logs.withMsg(t, "data keys are missing while stored responses are sealed by them; kept in memory where loaded, restore the files") {
		if ids, _ := m["keyIDs"].([]any); len(ids) == 1 && ids[0] == "k1" {
			reported = true
		}
	}
	if !reported {
		t.Errorf("k1 was never reported missing while responses needed it:\n%s", strings.Join(logs.lines(), "\n"))
	}
	if a := readyz(t, f); a.Status != 200 {
		t.Errorf("/readyz after the re-wrap: %d %s", a.Status, a.Raw)
	}
	if v, ok := metric(t, f, "surveyguard_collector_keys_missing", nil); !ok || v != 0 {
		t.Errorf("surveyguard_collector_keys_missing = %v (present %v), want 0", v, ok)
	}
	f.Stop()

	kr, err := crypto.Load(f.KeysDir) // k2 and the hmac key only
	if err != nil {
		t.Fatal(err)
	}
	rows, err := openDB(t, f).Query(`SELECT id, key_id, comment FROM responses`)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rows.Close() }()
	n := 0
	for rows.Next() {
		var id, keyID string
		var ct []byte
		if err := rows.Scan(&id, &keyID, &ct); err != nil {
			t.Fatal(err)
		}
		n++
		pt, err := kr.Decrypt("comment", id, ct)
		if keyID != "k2" || err != nil || string(pt) != comments[id] {
			t.Errorf("response %s: key %s, comment %q, %v; want %q under k2", id, keyID, pt, err, comments[id])
		}
	}
	if err := rows.Err(); err != nil || n != len(comments) {
		t.Fatalf("%d rows (%v), want %d", n, err, len(comments))
	}
}

// TestMissingDataKeyFailsReadinessUntilRestored starts a collector whose key
// directory lacks a key stored responses are sealed by: it serves, says
// which key is missing (stats, /readyz, metrics), and recovers when the
// file comes back.
func TestMissingDataKeyFailsReadinessUntilRestored(t *testing.T) {
	dir := t.TempDir()
	f := collectortest.StartWith(t, dir, nil, collector.Options{})
	for i := range 3 {
		if a := f.Post(t, fmt.Sprintf(`{"score":%d,%s,"comment":"sealed by k1"}`, i, consentOK)); a.Status != 201 {
			t.Fatal(a.Raw)
		}
	}
	f.Stop()

	// A second key directory: the same hmac key, k2 active, no key-k1.
	keys2, withKeys2 := secondKeysDir(t, f, dir)
	g := collectortest.StartWith(t, dir, withKeys2, collector.Options{})

	st := g.Stats(t)
	if !slices.Equal(missingKeyIDs(st), []string{"k1"}) || st["activeKeyID"] != "k2" || st["rewrapPending"] != 3.0 {
		t.Fatalf("stats with key-k1 missing: %v; want missingKeyIDs [k1], k2 active, 3 awaiting re-wrap", st)
	}
	if a := readyz(t, g); a.Status != 503 || !strings.Contains(a.Raw, "k1") {
		t.Errorf("/readyz with key-k1 missing: %d %s; want 503 naming k1", a.Status, a.Raw)
	}
	if v, ok := metric(t, g, "surveyguard_collector_keys_missing", nil); !ok || v != 1 {
		t.Errorf("surveyguard_collector_keys_missing = %v (present %v), want 1", v, ok)
	}
	if a := g.Post(t, `{"score":10,`+consentOK+`,"comment":"sealed by k2"}`); a.Status != 201 {
		t.Errorf("ingest while k1 is missing: %d %s", a.Status, a.Raw)
	}

	copyFile(t, filepath.Join(f.KeysDir, "key-k1"), filepath.Join(keys2, "key-k1"))
	eventually(t, 20*time.Second, "key-k1 restored: nothing missing, everything re-wrapped, ready", func() (bool, string) {
		st := g.Stats(t)
		a := readyz(t, g)
		return len(missingKeyIDs(st)) == 0 && st["rewrapPending"] == 0.0 && a.Status == 200, fmt.Sprint(st, " readyz ", a.Status, a.Raw)
	})
	if v, ok := metric(t, g, "surveyguard_collector_keys_missing", nil); !ok || v != 0 {
		t.Errorf("surveyguard_collector_keys_missing = %v (present %v), want 0", v, ok)
	}
}

// TestActiveKeyFileRemovedKeepsThePreviousKeyring removes the active key's
// file: the key directory no longer loads, so the collector keeps its keys
// and serves, counts the failed reloads, and reports the key missing
// (stats, metric, /readyz) until the file is back. With the whole
// directory emptied, the same.
func TestActiveKeyFileRemovedKeepsThePreviousKeyring(t *testing.T) {
	f := collectortest.Start(t, nil)
	if a := f.Post(t, `{"score":9,`+consentOK+`,"comment":"before"}`); a.Status != 201 {
		t.Fatal(a.Raw)
	}
	keyFile := filepath.Join(f.KeysDir, "key-k1")
	saved, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{"secret": "keys"}
	eventually(t, 10*time.Second, "reload errors for the keys, k1 reported missing", func() (bool, string) {
		v, _ := metric(t, f, "surveyguard_collector_secret_reload_errors_total", keys)
		st := f.Stats(t)
		return v >= 1 && slices.Equal(missingKeyIDs(st), []string{"k1"}), fmt.Sprint(v, st)
	})
	if a := f.Post(t, `{"score":9,`+consentOK+`,"comment":"after"}`); a.Status != 201 {
		t.Fatalf("ingest after the active key's file went: %d %s", a.Status, a.Raw)
	}
	if st := f.Stats(t); st["activeKeyID"] != "k1" || st["responses"] != 2.0 {
		t.Fatalf("stats: %v", st)
	}
	if a := readyz(t, f); a.Status != http.StatusServiceUnavailable || !strings.Contains(a.Raw, "data keys missing: k1") {
		t.Fatalf("/readyz: %d %s, want 503 naming k1", a.Status, a.Raw)
	}
	if v, ok := metric(t, f, "surveyguard_collector_keys_missing", nil); !ok || v != 1 {
		t.Errorf("surveyguard_collector_keys_missing = %v (present %v), want 1", v, ok)
	}

	collectortest.WriteFile(t, keyFile, saved)
	eventually(t, 10*time.Second, "k1 restored: ready again", func() (bool, string) {
		a := readyz(t, f)
		return a.Status == 200 && len(missingKeyIDs(f.Stats(t))) == 0, a.Raw
	})

	// The whole directory emptied: every key stored answers need is missing.
	entries, err := os.ReadDir(f.KeysDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := os.Remove(filepath.Join(f.KeysDir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 10*time.Second, "k1 missing with the directory empty", func() (bool, string) {
		st := f.Stats(t)
		return slices.Equal(missingKeyIDs(st), []string{"k1"}) && readyz(t, f).Status == http.StatusServiceUnavailable, fmt.Sprint(st)
	})
	if a := f.Post(t, `{"score":9,`+consentOK+`,"comment":"still sealed by k1 in memory"}`); a.Status != 201 {
		t.Fatalf("ingest with the directory empty: %d %s", a.Status, a.Raw)
	}
}

func newHMAC(t testing.TB) []byte {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestChangedHMACKeyIsRefusedWhileCustomersAreStored changes the hmac file
// under stored pseudonyms: the previous key stays in use, so the same
// customer is still one person and can still be erased.
func TestChangedHMACKeyIsRefusedWhileCustomersAreStored(t *testing.T) {
	f := collectortest.Start(t, nil)
	for _, c := range []string{"C-1", "C-2"} {
		if a := f.Post(t, fmt.Sprintf(`{"score":9,%s,"customerID":%q}`, consentOK, c)); a.Status != 201 {
			t.Fatal(a.Raw)
		}
	}
	hmacFile := filepath.Join(f.KeysDir, "hmac")
	old, err := os.ReadFile(hmacFile)
	if err != nil {
		t.Fatal(err)
	}
	collectortest.WriteFile(t, hmacFile, newHMAC(t))
	eventually(t, 10*time.Second, "hmacKeyRejected", func() (bool, string) {
		st := f.Stats(t)
		return st["hmacKeyRejected"] == true, fmt.Sprint(st)
	})
	if v, ok := metric(t, f, "surveyguard_collector_hmac_key_rejected", nil); !ok || v != 1 {
		t.Errorf("surveyguard_collector_hmac_key_rejected = %v (present %v), want 1", v, ok)
	}
	if a := f.Post(t, `{"score":3,`+consentOK+`,"customerID":"C-1"}`); a.Status != 201 {
		t.Fatalf("ingest with a customer ID while the new key is refused: %d %s", a.Status, a.Raw)
	}
	if st := f.Stats(t); st["distinctCustomers"] != 2.0 {
		t.Fatalf("distinctCustomers = %v, want 2: C-1 must stay one person", st["distinctCustomers"])
	}
	if e := f.AdminDo(t, http.MethodPost, "/admin/v1/erase", `{"customerID":"C-1"}`); e.Status != 200 || e.Body["erased"] != 2.0 {
		t.Fatalf("erase C-1 under the previous key: %d %s; want 2 erased", e.Status, e.Raw)
	}
	if st := f.Stats(t); st["hmacKeyRejected"] != true {
		t.Fatalf("C-2 still needs the previous key, yet: %v", st)
	}
	collectortest.WriteFile(t, hmacFile, old)
	eventually(t, 10*time.Second, "the previous hmac restored", func() (bool, string) {
		st := f.Stats(t)
		return st["hmacKeyRejected"] == false, fmt.Sprint(st)
	})
	if v, ok := metric(t, f, "surveyguard_collector_hmac_key_rejected", nil); !ok || v != 0 {
		t.Errorf("surveyguard_collector_hmac_key_rejected = %v (present %v), want 0", v, ok)
	}
	if e := f.AdminDo(t, http.MethodPost, "/admin/v1/erase", `{"customerID":"C-2"}`); e.Status != 200 || e.Body["erased"] != 1.0 {
		t.Fatalf("erase C-2: %d %s; want 1 erased", e.Status, e.Raw)
	}
}

// TestChangedHMACKeyIsTakenOnAnEmptyStore changes the hmac file before any
// pseudonym is stored: the new key is the one used from then on.
func TestChangedHMACKeyIsTakenOnAnEmptyStore(t *testing.T) {
	f := collectortest.Start(t, nil)
	// The hmac file and a rotation to k2 in one step; k2 active tells that
	// the collector has read the new files.
	collectortest.WriteFile(t, filepath.Join(f.KeysDir, "hmac"), newHMAC(t))
	collectortest.WriteKeys(t, f.KeysDir, "k2", "k2")
	eventually(t, 10*time.Second, "k2 active", func() (bool, string) {
		st := f.Stats(t)
		return st["activeKeyID"] == "k2", fmt.Sprint(st)
	})
	if st := f.Stats(t); st["hmacKeyRejected"] != false {
		t.Fatalf("a new hmac key on an empty store was refused: %v", st)
	}
	if a := f.Post(t, `{"score":9,`+consentOK+`,"customerID":"C-1"}`); a.Status != 201 {
		t.Fatal(a.Raw)
	}
	f.Stop()
	kr, err := crypto.Load(f.KeysDir)
	if err != nil {
		t.Fatal(err)
	}
	var subject string
	if err := openDB(t, f).QueryRow(`SELECT subject_customer FROM responses`).Scan(&subject); err != nil {
		t.Fatal(err)
	}
	if want := kr.Pseudonym(crypto.KindCustomerID, "C-1"); subject != want {
		t.Fatalf("C-1's pseudonym on disk is %s, want %s (made with the new hmac key)", subject, want)
	}
}

// TestBadTokenFileDoesNotHoldBackKeys writes a token file that cannot load
// in the same step as a key rotation: the rotation is taken, the previous
// token stays valid, and the failed token reloads are counted.
func TestBadTokenFileDoesNotHoldBackKeys(t *testing.T) {
	f := collectortest.Start(t, nil)
	collectortest.WriteFile(t, f.TokenFile, []byte("abc"))
	collectortest.WriteKeys(t, f.KeysDir, "k2", "k1", "k2")
	eventually(t, 10*time.Second, "k2 active", func() (bool, string) {
		st := f.Stats(t) // with the previous token
		return st["activeKeyID"] == "k2", fmt.Sprint(st)
	})
	token := map[string]string{"secret": "token"}
	eventually(t, 10*time.Second, "token reload errors", func() (bool, string) {
		v, _ := metric(t, f, "surveyguard_collector_secret_reload_errors_total", token)
		return v >= 1, fmt.Sprint(v)
	})
	if a := f.Do(t, http.MethodGet, f.Admin+"/admin/v1/stats", nil, map[string]string{"Authorization": "Bearer abc"}); a.Status != 401 {
		t.Fatalf("the 3-byte token was accepted: %d %s", a.Status, a.Raw)
	}
}

// TestChangedHMACKeyAtStartStopsIdentifiedAnswers restarts a collector
// with a changed hmac file while pseudonyms are stored, so the previous key
// is nowhere at hand: answers with an identifier and erasure are refused
// with 503 (nothing can be stored under a pseudonym that would not match),
// anonymous answers are still taken, and /readyz says why.
func TestChangedHMACKeyAtStartStopsIdentifiedAnswers(t *testing.T) {
	dir := t.TempDir()
	f := collectortest.StartWith(t, dir, nil, collector.Options{})
	if a := f.Post(t, `{"score":9,`+consentOK+`,"customerID":"C-1"}`); a.Status != 201 {
		t.Fatal(a.Raw)
	}
	f.Stop()
	collectortest.WriteFile(t, filepath.Join(f.KeysDir, "hmac"), newHMAC(t))
	g := collectortest.StartWith(t, dir, nil, collector.Options{})

	if st := g.Stats(t); st["hmacKeyRejected"] != true {
		t.Errorf("stats: %v; want hmacKeyRejected", st)
	}
	if a := readyz(t, g); a.Status != 503 || !strings.Contains(a.Raw, "hmac") {
		t.Errorf("/readyz: %d %s; want 503 naming the hmac key", a.Status, a.Raw)
	}
	for _, extra := range []string{`"customerID":"C-1"`, `"email":"a@example.com"`} {
		req, _ := http.NewRequest(http.MethodPost, g.Public+"/v1/responses", strings.NewReader(`{"score":9,`+consentOK+`,`+extra+`}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := g.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw := readAll(resp)
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(raw, `"error"`) {
			t.Errorf("an answer with %s: %d Retry-After %q %s; want 503 with Retry-After", extra, resp.StatusCode, resp.Header.Get("Retry-After"), raw)
		}
	}
	if a := g.Post(t, `{"score":9,`+consentOK+`,"comment":"no identifier"}`); a.Status != 201 {
		t.Errorf("an anonymous answer: %d %s; want 201", a.Status, a.Raw)
	}
	if e := g.AdminDo(t, http.MethodPost, "/admin/v1/erase", `{"customerID":"C-1"}`); e.Status != 503 || !strings.Contains(e.Raw, "hmac") {
		t.Errorf("erase: %d %s; want 503 naming the hmac key", e.Status, e.Raw)
	}
	if st := g.Stats(t); st["responses"] != 2.0 || st["distinctCustomers"] != 1.0 {
		t.Errorf("stats: %v; want 2 responses, C-1 still stored", st)
	}
}

// TestRetryAfterHMACChangeIsStillADuplicate changes the hmac file while the
// store holds idempotency keys (kept as keyed hashes) but no customer: a
// client retrying with the same Idempotency-Key must still get its first
// answer back, not a second answer counted.
func TestRetryAfterHMACChangeIsStillADuplicate(t *testing.T) {
	f := collectortest.Start(t, nil)
	first := f.Post(t, `{"score":9,`+consentOK+`}`, "Idempotency-Key", "retry-me-1")
	if first.Status != 201 {
		t.Fatal(first.Raw)
	}
	collectortest.WriteFile(t, filepath.Join(f.KeysDir, "hmac"), newHMAC(t))
	collectortest.WriteKeys(t, f.KeysDir, "k2", "k1", "k2") // k2 active tells the files were read
	eventually(t, 10*time.Second, "k2 active", func() (bool, string) {
		st := f.Stats(t)
		return st["activeKeyID"] == "k2", fmt.Sprint(st)
	})
	again := f.Post(t, `{"score":9,`+consentOK+`}`, "Idempotency-Key", "retry-me-1")
	if again.Status != 201 || again.Body["id"] != first.Body["id"] || again.Body["duplicate"] != true {
		t.Errorf("the retry after the hmac change: %d %s; want the first answer's id %v, duplicate true", again.Status, again.Raw, first.Body["id"])
	}
	if n := responsesStored(t, f); n != 1 {
		t.Errorf("responses = %v, want 1: a retry was counted twice", n)
	}
}

// TestChangedDataKeyFileIsRefusedWhileItSealsResponses overwrites key-k1's
// file with other bytes while responses are sealed by k1. The collector
// keeps sealing and reading with the bytes it loaded and reports k1 (stats,
// /readyz) until the file is restored; a rotation to k2 then re-wraps every
// response, which it could not had one been sealed with the wrong bytes.
func TestChangedDataKeyFileIsRefusedWhileItSealsResponses(t *testing.T) {
	f := collectortest.Start(t, nil)
	for i := range 2 {
		if a := f.Post(t, fmt.Sprintf(`{"score":%d,%s,"comment":"sealed by k1"}`, i, consentOK)); a.Status != 201 {
			t.Fatal(a.Raw)
		}
	}
	keyFile := filepath.Join(f.KeysDir, "key-k1")
	saved, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	collectortest.WriteFile(t, keyFile, newHMAC(t))
	eventually(t, 20*time.Second, "k1 reported while its file holds other bytes", func() (bool, string) {
		st, a := f.Stats(t), readyz(t, f)
		return slices.Equal(missingKeyIDs(st), []string{"k1"}) && fmt.Sprint(st["changedKeyIDs"]) == "[k1]" && a.Status == 503 && strings.Contains(a.Raw, "other bytes"),
			fmt.Sprint(st, " readyz ", a.Status, a.Raw)
	})
	// Sealed with the bytes k1 sealed with before.
	if a := f.Post(t, `{"score":7,`+consentOK+`,"comment":"sealed meanwhile"}`); a.Status != 201 {
		t.Fatalf("ingest while key-k1 holds other bytes: %d %s", a.Status, a.Raw)
	}
	collectortest.WriteFile(t, keyFile, saved)
	eventually(t, 20*time.Second, "key-k1 restored: nothing reported, ready", func() (bool, string) {
		st, a := f.Stats(t), readyz(t, f)
		return len(missingKeyIDs(st)) == 0 && a.Status == 200, fmt.Sprint(st, " readyz ", a.Status, a.Raw)
	})
	collectortest.WriteKeys(t, f.KeysDir, "k2", "k2")
	eventually(t, 20*time.Second, "every response re-wrapped to k2", func() (bool, string) {
		st := f.Stats(t)
		return st["activeKeyID"] == "k2" && st["rewrapPending"] == 0.0 && len(missingKeyIDs(st)) == 0, fmt.Sprint(st)
	})
}

// TestChangedDataKeyFilesAtStart starts the collector on a store whose
// responses are sealed by k1 and k2 with both files changed: k1, no longer
// active, is left out (reported missing, its response waits to be
// re-wrapped), and k2, the active key, seals nothing: answers that need it
// are refused with 503 until its file is restored, anonymous ones stored.
// Restoring both files brings everything back.
func TestChangedDataKeyFilesAtStart(t *testing.T) {
	dir := t.TempDir()
	f := collectortest.StartWith(t, dir, nil, collector.Options{})
	if a := f.Post(t, `{"score":9,`+consentOK+`,"comment":"sealed by k1"}`); a.Status != 201 {
		t.Fatal(a.Raw)
	}
	f.Stop()
	// A second key directory, first without key-k1, so that k1's
	// response is not re-wrapped.
	keys2, withKeys2 := secondKeysDir(t, f, dir)
	g := collectortest.StartWith(t, dir, withKeys2, collector.Options{})
	if a := g.Post(t, `{"score":8,`+consentOK+`,"comment":"sealed by k2"}`); a.Status != 201 {
		t.Fatal(a.Raw)
	}
	g.Stop()
	k2, err := os.ReadFile(filepath.Join(keys2, "key-k2"))
	if err != nil {
		t.Fatal(err)
	}
	collectortest.WriteFile(t, filepath.Join(keys2, "key-k1"), newHMAC(t))
	collectortest.WriteFile(t, filepath.Join(keys2, "key-k2"), newHMAC(t))

	h := collectortest.StartWith(t, dir, withKeys2, collector.Options{})
	if st := h.Stats(t); !slices.Equal(missingKeyIDs(st), []string{"k1", "k2"}) || st["activeKeyID"] != "k2" || st["rewrapPending"] != 1.0 {
		t.Fatalf("stats with both key files changed: %v; want k1 and k2 reported, k2 active, k1's response waiting", st)
	}
	if a := readyz(t, h); a.Status != 503 || !strings.Contains(a.Raw, "other bytes") {
		t.Errorf("/readyz: %d %s; want 503 naming the changed files", a.Status, a.Raw)
	}
	if a := h.Post(t, `{"score":9,`+consentOK+`,"comment":"needs the active key"}`); a.Status != 503 || !strings.Contains(a.Raw, "active data key") {
		t.Errorf("an answer to seal with the changed active key: %d %s; want 503", a.Status, a.Raw)
	}
	if a := h.Post(t, `{"score":9,`+consentOK+`}`); a.Status != 201 {
		t.Errorf("an answer with nothing to seal: %d %s; want 201", a.Status, a.Raw)
	}
	copyFile(t, filepath.Join(f.KeysDir, "key-k1"), filepath.Join(keys2, "key-k1"))
	collectortest.WriteFile(t, filepath.Join(keys2, "key-k2"), k2)
	eventually(t, 20*time.Second, "key files restored: nothing reported, every response re-wrapped to k2", func() (bool, string) {
		st, a := h.Stats(t), readyz(t, h)
		return len(missingKeyIDs(st)) == 0 && st["rewrapPending"] == 0.0 && a.Status == 200, fmt.Sprint(st, " readyz ", a.Status, a.Raw)
	})
	if a := h.Post(t, `{"score":10,`+consentOK+`,"comment":"sealed by k2 again"}`); a.Status != 201 {
		t.Errorf("ingest after the restore: %d %s", a.Status, a.Raw)
	}
}

// TestChangedKeyThatSealsNothingYet: a key file changed while no stored
// response is sealed by it is refused all the same (another replica may be
// sealing with the old bytes), except by a collector that starts on a store
// holding no response at all (a database a deleted campaign emptied).
func TestChangedKeyThatSealsNothingYet(t *testing.T) {
	dir := t.TempDir()
	collectortest.WriteKeys(t, filepath.Join(dir, "keys"), "k1", "k1", "k2") // k2 not active: it seals nothing
	f := collectortest.StartWith(t, dir, nil, collector.Options{})
	if a := f.Post(t, `{"score":9,`+consentOK+`,"comment":"sealed by k1"}`); a.Status != 201 {
		t.Fatal(a.Raw)
	}
	k2File := filepath.Join(f.KeysDir, "key-k2")
	k2, err := os.ReadFile(k2File)
	if err != nil {
		t.Fatal(err)
	}
	collectortest.WriteFile(t, k2File, newHMAC(t))
	eventually(t, 20*time.Second, "k2 refused though it seals nothing", func() (bool, string) {
		st := f.Stats(t)
		return fmt.Sprint(st["changedKeyIDs"]) == "[k2]", fmt.Sprint(st)
	})
	collectortest.WriteFile(t, k2File, k2)
	eventually(t, 20*time.Second, "k2 restored", func() (bool, string) {
		st := f.Stats(t)
		return st["changedKeyIDs"] == nil && len(missingKeyIDs(st)) == 0, fmt.Sprint(st)
	})

	// An empty store: a new collector takes the file's bytes.
	empty := t.TempDir()
	g := collectortest.StartWith(t, empty, nil, collector.Options{})
	g.Stop()
	collectortest.WriteFile(t, filepath.Join(g.KeysDir, "key-k1"), newHMAC(t))
	h := collectortest.StartWith(t, empty, nil, collector.Options{})
	if st := h.Stats(t); st["changedKeyIDs"] != nil || len(missingKeyIDs(st)) != 0 {
		t.Errorf("a new key file on a store with no response: %v; want it taken", st)
	}
	if a := h.Post(t, `{"score":9,`+consentOK+`,"comment":"sealed by the new k1"}`); a.Status != 201 {
		t.Errorf("ingest: %d %s", a.Status, a.Raw)
	}
}
