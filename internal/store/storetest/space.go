package storetest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/surveyguard/surveyguard/internal/store"
)

// bulky is a response with an incompressible comment of n bytes, so that a
// few of them take measurable room.
func bulky(i, n int) *store.Record {
	r := rec(i, i%11, base.Add(time.Duration(i)*time.Second), fmt.Sprintf("b%d", i))
	r.Comment = make([]byte, n)
	_, _ = rand.Read(r.Comment)
	return r
}

// testSize: the size grows with what is stored, by at least half the
// ciphertext bytes inserted.
func testSize(t *testing.T, open Opener) {
	s, _ := open(t)
	defer closeStore(t, s)
	ctx := context.Background()
	before, err := s.Size(ctx)
	if err != nil || before <= 0 {
		t.Fatalf("size of an empty store = %d, %v; want the schema's bytes", before, err)
	}
	const rows, comment = 400, 1024
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < rows; i += 8 {
				if _, err := s.Insert(ctx, bulky(i, comment)); err != nil {
					t.Errorf("insert: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	after, err := s.Size(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after-before < rows*comment/2 {
		t.Errorf("size went from %d to %d bytes after storing %d bytes of comments", before, after, rows*comment)
	}
}

// RunNoSpace is the contract on a full disk. open must give a store whose
// data lives on a small file system (see Tmpfs). Inserts fill it until they
// fail; every failure must be store.ErrNoSpace with the database's own
// message, nothing unacknowledged may be stored, and every acknowledged
// response must be readable, and counted, after a restart on the still
// full disk. There, the other writes either work or fail with
// store.ErrNoSpace, and leave the counters true.
func RunNoSpace(t *testing.T, open Opener) {
	s, reopen := open(t)
	acked, errs := fill(t, s)
	if len(errs) == 0 {
		closeStore(t, s)
		t.Fatalf("%d responses were stored and the file system never filled up", len(acked))
	}
	for _, err := range errs {
		if !errors.Is(err, store.ErrNoSpace) {
			t.Errorf("an insert on a full disk failed with %v, want ErrNoSpace", err)
		} else if err.Error() == store.ErrNoSpace.Error() {
			t.Errorf("ErrNoSpace hides the database's message")
		}
	}
	t.Logf("%d responses stored before the disk was full; the first failure: %v", len(acked), errs[0])
	closeStore(t, s)
	s = reopen(t)
	defer closeStore(t, s)
	stored := listAll(t, s)
	if len(stored) != len(acked) {
		t.Errorf("after a restart %d responses are stored, want the %d acknowledged", len(stored), len(acked))
	}
	for _, r := range stored {
		delete(acked, r.ID)
	}
	if len(acked) != 0 {
		t.Errorf("%d acknowledged responses were lost", len(acked))
	}
	checkCounted(t, s, "after a restart")
	if len(stored) > 0 {
		writesWhenFull(t, s, stored[0].SubjectCustomerID)
	}
}

// checkCounted asserts that the counters agree with the table.
func checkCounted(t *testing.T, s store.Store, when string) {
	t.Helper()
	if st, n := stats(t, s), len(listAll(t, s)); st.Counts.Total() != int64(n) {
		t.Errorf("%s: the counters say %d responses, the table holds %d", when, st.Counts.Total(), n)
	}
}

// writesWhenFull tries every other kind of write on a full disk: each must
// work (a database may find room) or fail with store.ErrNoSpace.
func writesWhenFull(t *testing.T, s store.Store, subject string) {
	t.Helper()
	ctx := context.Background()
	writes := []struct {
		name string
		fn   func() error
	}{
		{"SetMeta", func() error { return s.SetMeta(ctx, "keyFingerprint", strings.Repeat("f", 64)) }},
		{"Rewrap", func() error {
			_, err := s.Rewrap(ctx, "k2", 50, func(r *store.Record) error { r.KeyID = "k2"; return nil })
			return err
		}},
		{"Erase", func() error { return eraseWhenFull(t, s, subject) }},
		{"Purge", func() error {
			_, err := s.Purge(ctx, store.PurgeRequest{Cutoff: base.Add(24 * time.Hour), Action: store.ActionDelete, BatchSize: 100})
			return err
		}},
	}
	for _, w := range writes {
		err := w.fn()
		if err != nil && !errors.Is(err, store.ErrNoSpace) {
			t.Errorf("%s on a full disk: %v, want ErrNoSpace or success", w.name, err)
		}
		t.Logf("%s on a full disk: %v", w.name, err)
		checkCounted(t, s, "after "+w.name+" on a full disk")
	}
}

// eraseWhenFull runs a named erasure of subject on a full disk: it either
// fails, leaving no receipt, or stores its receipt; never one without the
// other.
func eraseWhenFull(t *testing.T, s store.Store, subject string) error {
	t.Helper()
	ctx := context.Background()
	rc, err := s.Erase(ctx, store.EraseRequest{Subjects: []string{subject}, RequestID: "full-disk"})
	_, stored, merr := s.Meta(ctx, "erasure/full-disk")
	switch {
	case merr != nil:
		t.Errorf("reading the erasure's receipt: %v", merr)
	case err != nil && stored:
		t.Errorf("a failed erasure (%v) left its receipt", err)
	case err == nil && (!stored || rc.Erased == 0):
		t.Errorf("erasure on a full disk = %+v, receipt stored %v; want the subject's responses erased and the receipt kept", rc, stored)
	}
	return err
}

// fill inserts bulky responses from a few writers until inserts fail, and
// returns the acknowledged IDs and the errors of the failed inserts.
func fill(t *testing.T, s store.Store) (acked map[string]bool, errs []error) {
	t.Helper()
	const writers, most = 8, 100000
	acked = map[string]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < most; i += writers {
				r := bulky(i, 1024)
				_, err := s.Insert(context.Background(), r)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					acked[r.ID] = true
				}
				full := len(errs) > 0
				mu.Unlock()
				if full {
					return
				}
			}
		}()
	}
	wg.Wait()
	return acked, errs
}

// Tmpfs mounts a tmpfs of size bytes (mount's syntax, such as "4m"), with
// any further mount options (such as "uid=105"), on a new directory, and
// returns the directory; the test unmounts and removes it at its end. A
// test that needs a genuinely full disk uses it. The test is skipped when
// mounting is not permitted: not root, or a container without
// CAP_SYS_ADMIN.
func Tmpfs(t *testing.T, size string, options ...string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("a full disk is simulated with a small tmpfs, and mounting one needs root: run the tests as root to cover it")
	}
	dir, err := os.MkdirTemp("", "storetest-full-")
	if err != nil {
		t.Fatal(err)
	}
	opts := strings.Join(append([]string{"size=" + size}, options...), ",")
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "tmpfs", dir).CombinedOutput(); err != nil {
		_ = os.Remove(dir)
		t.Skipf("a full disk is simulated with a small tmpfs, and mount is not permitted here: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("unmounting %s: %v: %s", dir, err, out)
			return
		}
		if err := os.Remove(dir); err != nil {
			t.Error(err)
		}
	})
	return dir
}
