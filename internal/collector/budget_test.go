package collector_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/surveyguard/surveyguard/internal/collector"
	"github.com/surveyguard/surveyguard/internal/collector/collectortest"
)

// storage returns stats.storage.
func storage(t testing.TB, f *collectortest.Fixture) map[string]any {
	t.Helper()
	st, _ := f.Stats(t)["storage"].(map[string]any)
	if st == nil {
		t.Fatalf("stats without storage: %v", f.Stats(t))
	}
	return st
}

// fileSizes lists the files of dir with their sizes, for failure messages.
func fileSizes(dir string) string {
	entries, _ := os.ReadDir(dir)
	var out []string
	for _, e := range entries {
		if fi, err := e.Info(); err == nil {
			out = append(out, fmt.Sprintf("%s=%d", e.Name(), fi.Size()))
		}
	}
	return strings.Join(out, " ")
}

const longComment = "the checkout page kept spinning after I pressed pay and then asked me to log in again. "

// fillToBudget starts a collector with limits.maxStoreSize 1Mi and posts
// answers with 3000-character comments until one is refused; it returns
// the fixture, how many were stored, and the refusal.
func fillToBudget(t *testing.T) (*collectortest.Fixture, int, *http.Response, string) {
	t.Helper()
	f := collectortest.StartWith(t, t.TempDir(), withLimits("{requestsPerSecond: 1000000, burst: 1000000, maxStoreSize: 1Mi}"),
		collector.Options{BudgetInterval: 20 * time.Millisecond})
	if used, _ := storage(t, f)["usedBytes"].(float64); used <= 0 || used >= 1<<20 {
		t.Fatalf("a new store uses %v bytes; the test needs 0 < used < 1 MiB (%s)", used, fileSizes(f.DBDir))
	}
	comment := strings.Repeat(longComment, 3000/len(longComment)+1)[:3000]
	body := fmt.Sprintf(`{"score":7,%s,"comment":%q}`, consentOK, comment)
	for stored := 0; stored <= 5000; {
		req, _ := http.NewRequest(http.MethodPost, f.Public+"/v1/responses", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", fmt.Sprintf("fill-%d", stored))
		resp, err := f.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw := readAll(resp)
		switch resp.StatusCode {
		case http.StatusCreated:
			stored++
		case http.StatusServiceUnavailable:
			return f, stored, resp, raw
		default:
			t.Fatalf("post %d: %d %s", stored, resp.StatusCode, raw)
		}
	}
	t.Fatalf("5000 answers of 3000 characters fit in a 1 MiB budget: %v (%s)", storage(t, f), fileSizes(f.DBDir))
	return nil, 0, nil, ""
}

// TestStoreSizeBudgetStopsIngest fills a store past limits.maxStoreSize:
// ingest answers 503 with Retry-After, saying which limit was reached,
// while the admin API keeps working.
func TestStoreSizeBudgetStopsIngest(t *testing.T) {
	f, stored, refused, raw := fillToBudget(t)
	if !strings.Contains(raw, "maxStoreSize") || !strings.Contains(raw, `"error"`) {
		t.Errorf("the 503 does not say which limit was reached: %s", raw)
	}
	if ra, err := strconv.Atoi(refused.Header.Get("Retry-After")); err != nil || ra < 1 {
		t.Errorf("Retry-After = %q, want whole seconds", refused.Header.Get("Retry-After"))
	}
	st := storage(t, f) // f.Stats fails the test unless the admin API answers 200
	if st["full"] != true || !strings.Contains(fmt.Sprint(st["reason"]), "maxStoreSize") {
		t.Errorf("stats.storage = %v; want full with the reason", st)
	}
	eventually(t, 5*time.Second, "surveyguard_collector_storage_full 1", func() (bool, string) {
		v, ok := metric(t, f, "surveyguard_collector_storage_full", nil)
		return ok && v == 1, fmt.Sprint(v)
	})
	if a := f.Post(t, `{"score":9,`+consentOK+`}`); a.Status != 503 {
		t.Errorf("a small answer while full: %d %s; want 503", a.Status, a.Raw)
	}
	// A retry of an answer stored before the budget was reached still gets
	// the first answer; a new key does not get in.
	first := f.Post(t, `{"score":9,`+consentOK+`}`, "Idempotency-Key", "fill-0")
	second := f.Post(t, `{"score":9,`+consentOK+`}`, "Idempotency-Key", "fill-1")
	if first.Status != 201 || first.Body["duplicate"] != true || second.Status != 201 || first.Body["id"] == second.Body["id"] {
		t.Errorf("retries while full: %d %s and %d %s; want 201 duplicates of two different answers", first.Status, first.Raw, second.Status, second.Raw)
	}
	if a := f.Post(t, `{"score":9,`+consentOK+`}`, "Idempotency-Key", "never-stored"); a.Status != 503 {
		t.Errorf("a new key while full: %d %s; want 503", a.Status, a.Raw)
	}
	if n := responsesStored(t, f); n != float64(stored) {
		t.Errorf("responses = %v, want the %d acknowledged", n, stored)
	}
}

// TestStoreSizeBudgetResumesAfterPurge purges every answer of a store that
// reached limits.maxStoreSize: ingest must resume.
func TestStoreSizeBudgetResumesAfterPurge(t *testing.T) {
	f, stored, _, _ := fillToBudget(t)
	before := fmt.Sprintf("stats.storage %v\nfiles: %s\ndatabase: %s", storage(t, f), fileSizes(f.DBDir), pages(t, f))
	p := f.AdminDo(t, http.MethodPost, "/admin/v1/purge", `{"everything":true,"action":"Delete"}`)
	if p.Status != 200 || p.Body["purged"] != float64(stored) {
		t.Fatalf("purge while full: %d %s; want %d purged", p.Status, p.Raw, stored)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		a := f.Post(t, `{"score":9,`+consentOK+`}`)
		if a.Status == http.StatusCreated {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ingest did not resume after purging all %d answers: %d %s\nbefore the purge:\n%s\nafter:\nstats.storage %v\nfiles: %s\ndatabase: %s",
				stored, a.Status, a.Raw, before, storage(t, f), fileSizes(f.DBDir), pages(t, f))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pages describes the database's pages as SQLite counts them (read from a
// read-only connection, which sees the WAL): what the data takes, against
// what its files take.
func pages(t testing.TB, f *collectortest.Fixture) string {
	t.Helper()
	db := openDB(t, f)
	var size, count, free, rows int64
	for _, q := range []struct {
		sql string
		v   *int64
	}{{"PRAGMA page_size", &size}, {"PRAGMA page_count", &count}, {"PRAGMA freelist_count", &free}, {"SELECT COUNT(*) FROM responses", &rows}} {
		if err := db.QueryRow(q.sql).Scan(q.v); err != nil {
			return err.Error()
		}
	}
	return fmt.Sprintf("%d rows; %d pages of %d bytes (%d bytes), %d of them free: %d bytes in use",
		rows, count, size, count*size, free, (count-free)*size)
}

// readAll reads and closes a response's body.
func readAll(resp *http.Response) string {
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestPurgeAndEraseOnAFullVolume runs the collector on a 24 MiB tmpfs and
// fills the volume to the last byte from outside: ingest stops, and the
// erasure and the purge still work (the collector gives up its reserve
// file for them); once there is room again ingest resumes.
func TestPurgeAndEraseOnAFullVolume(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=24m,mode=0700", "tmpfs", data).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v: %s", err, out)
	}
	// Registered before the fixture's own cleanup, so it runs after the
	// collector has stopped (cleanups run last in, first out).
	t.Cleanup(func() {
		if out, err := exec.Command("umount", data).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", data, err, out)
		}
	})
	f := collectortest.StartWith(t, dir, withLimits("{requestsPerSecond: 1000000, burst: 1000000, minFreeDisk: 1Mi}"),
		collector.Options{BudgetInterval: 20 * time.Millisecond})
	reserve := filepath.Join(data, ".surveyguard-reserve")
	eventually(t, 10*time.Second, "the 8 MiB reserve file", func() (bool, string) {
		fi, err := os.Stat(reserve)
		return err == nil && fi.Size() == 8<<20, fileSizes(data)
	})
	for _, c := range []string{"C-1", "C-1", "C-2", "C-3"} {
		if a := f.Post(t, fmt.Sprintf(`{"score":8,%s,"customerID":%q,"comment":"room for this"}`, consentOK, c)); a.Status != 201 {
			t.Fatal(a.Raw)
		}
	}

	filler := filepath.Join(data, "filler")
	fill(t, filler)
	eventually(t, 10*time.Second, "stats.storage.full on a full volume", func() (bool, string) {
		st := storage(t, f)
		return st["full"] == true, fmt.Sprint(st)
	})
	a := f.Post(t, `{"score":9,`+consentOK+`,"comment":"no room"}`)
	if a.Status != 503 || a.Body["error"] == nil {
		t.Fatalf("ingest on a full volume: %d %s; want 503", a.Status, a.Raw)
	}
	req, _ := http.NewRequest(http.MethodPost, f.Public+"/v1/responses", strings.NewReader(`{"score":9,`+consentOK+`}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = readAll(resp)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("ingest on a full volume: %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}

	e := f.AdminDo(t, http.MethodPost, "/admin/v1/erase", `{"customerID":"C-1"}`)
	if e.Status != 200 || e.Body["erased"] != 2.0 {
		t.Fatalf("erase on a full volume: %d %s; want 2 erased (files: %s)", e.Status, e.Raw, fileSizes(data))
	}
	p := f.AdminDo(t, http.MethodPost, "/admin/v1/purge", `{"everything":true,"action":"Delete"}`)
	if p.Status != 200 || p.Body["purged"] != 2.0 {
		t.Fatalf("purge on a full volume: %d %s; want 2 purged (files: %s)", p.Status, p.Raw, fileSizes(data))
	}
	if st := f.Stats(t); st["responses"] != 0.0 || st["distinctCustomers"] != 0.0 {
		t.Fatalf("after erase and purge: %v", st)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "ingest once the filler is gone", func() (bool, string) {
		a := f.Post(t, `{"score":10,`+consentOK+`}`)
		return a.Status == 201, fmt.Sprint(a.Status, " ", a.Raw)
	})
	eventually(t, 10*time.Second, "the reserve laid down again", func() (bool, string) {
		fi, err := os.Stat(reserve)
		return err == nil && fi.Size() == 8<<20, fileSizes(data)
	})
}

// fill writes path until the volume has no byte left.
func fill(t testing.TB, path string) {
	t.Helper()
	fh, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = fh.Close() }()
	for _, size := range []int{1 << 20, 64 << 10, 4 << 10, 512, 1} {
		chunk := make([]byte, size)
		for {
			if _, err := fh.Write(chunk); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("filling the volume: %v", err)
				}
				break
			}
		}
	}
}
