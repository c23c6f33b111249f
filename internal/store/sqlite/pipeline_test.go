package sqlite_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/surveyguard/surveyguard/internal/store"
	"github.com/surveyguard/surveyguard/internal/store/sqlite"
	"github.com/surveyguard/surveyguard/internal/store/sqlite/sqlitetest"
	"github.com/surveyguard/surveyguard/internal/store/sqlstore"
)

// gate is a sync hook that, once armed, holds every fsync of the WAL until
// released, or fails it.
type gate struct {
	armed   atomic.Bool
	fail    atomic.Bool
	entered chan struct{} // a sync is being held
	release chan struct{}
	once    sync.Once
}

func newGate() *gate {
	return &gate{entered: make(chan struct{}, 1), release: make(chan struct{})}
}

func (g *gate) hook() error {
	if !g.armed.Load() {
		return nil
	}
	if g.fail.Load() {
		return errors.New("injected fsync failure")
	}
	select {
	case g.entered <- struct{}{}:
	default:
	}
	<-g.release
	return nil
}

func (g *gate) open(t *testing.T) *sqlstore.Store {
	t.Helper()
	s, err := sqlite.OpenWithSyncHook(context.Background(), filepath.Join(t.TempDir(), "responses.db"), sqlstore.Options{}, g.hook)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		g.once.Do(func() { close(g.release) })
		_ = s.Close()
	})
	return s
}

func sealed(i int) *store.Record {
	return &store.Record{ID: fmt.Sprintf("%s%04d", store.NewID(time.Now()), i), ReceivedAt: time.Now(), Score: i % 11,
		KeyID: "k1", CustomerID: []byte("ct"), SubjectCustomerID: fmt.Sprintf("sub-%d", i%7), Segments: map[string]string{}}
}

// waitVisible waits until a reader sees what the writer committed.
func waitVisible(t *testing.T, what string, visible func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !visible() {
		if time.Now().After(deadline) {
			t.Fatalf("%s was never committed", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestNoAnswerBeforeSync: the writer commits a group without waiting for
// the disk, but the insert is answered only once the fsync of the WAL after
// that commit has returned; the same for other writes (SetMeta here).
func TestNoAnswerBeforeSync(t *testing.T) {
	g := newGate()
	s := g.open(t)
	ctx := context.Background()
	g.armed.Store(true)

	r := sealed(1)
	inserted := make(chan error, 1)
	go func() { _, err := s.Insert(ctx, r); inserted <- err }()
	<-g.entered
	waitVisible(t, "the insert", func() bool { _, err := s.Get(ctx, r.ID); return err == nil })
	metaSet := make(chan error, 1)
	go func() { metaSet <- s.SetMeta(ctx, "k", "v") }()
	waitVisible(t, "the meta write", func() bool { _, ok, _ := s.Meta(ctx, "k"); return ok })
	noAnswerUntilReleased(t, g, map[string]chan error{"insert": inserted, "SetMeta": metaSet})
}

// TestReadsConfirmOnlyWhatIsDurable: a reader sees what the writer has
// committed before the fsync after it returns, but what it finds is
// confirmed only after that fsync: the response an idempotency key names
// (FindKey, a duplicate's 201), an erasure's receipt (a replay says the
// deletes are done) and the figures (the operator retires keys by them).
func TestReadsConfirmOnlyWhatIsDurable(t *testing.T) {
	g := newGate()
	s := g.open(t)
	ctx := context.Background()
	erased := sealed(2)
	if _, err := s.Insert(ctx, erased); err != nil {
		t.Fatal(err)
	}
	g.armed.Store(true)

	// The insert's fsync is held; the erasure commits behind it.
	r := sealed(1)
	r.IdempotencyKey = "hashed-key"
	inserted := make(chan error, 1)
	go func() { _, err := s.Insert(ctx, r); inserted <- err }()
	<-g.entered
	waitVisible(t, "the insert", func() bool { _, err := s.Get(ctx, r.ID); return err == nil })
	req := store.EraseRequest{Subjects: []string{erased.SubjectCustomerID}, RequestID: "uid-1"}
	erasure := make(chan error, 1)
	go func() { _, err := s.Erase(ctx, req); erasure <- err }()
	waitVisible(t, "the erasure", func() bool { _, err := s.Get(ctx, erased.ID); return errors.Is(err, store.ErrNotFound) })

	found := make(chan error, 1)
	go func() {
		id, err := s.FindKey(ctx, r.IdempotencyKey)
		if err == nil && id != r.ID {
			err = fmt.Errorf("FindKey named %s, want %s", id, r.ID)
		}
		found <- err
	}()
	replay := make(chan error, 1)
	go func() {
		rc, err := s.Erase(ctx, req)
		if err == nil && (!rc.Replayed || rc.Erased != 1) {
			err = fmt.Errorf("the repeat gave %+v, want the first receipt, replayed", rc)
		}
		replay <- err
	}()
	stats := make(chan error, 1)
	go func() {
		st, err := s.Stats(ctx)
		if err == nil && st.Counts.Total() != 1 {
			err = fmt.Errorf("Stats counts %d responses, want 1 (the insert, not the erased one)", st.Counts.Total())
		}
		stats <- err
	}()
	noAnswerUntilReleased(t, g, map[string]chan error{"insert": inserted, "erasure": erasure, "FindKey": found, "the erasure's replay": replay, "Stats": stats})
}

// noAnswerUntilReleased checks that none of calls returns while g holds
// the fsync, then releases it and checks that each returns without an error.
func noAnswerUntilReleased(t *testing.T, g *gate, calls map[string]chan error) {
	t.Helper()
	cases := []reflect.SelectCase{{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(time.After(200 * time.Millisecond))}}
	var names []string
	for name, ch := range calls {
		names = append(names, name)
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ch)})
	}
	if i, v, _ := reflect.Select(cases); i > 0 {
		t.Fatalf("%s returned (%v) while the fsync after the commit had not returned", names[i-1], v.Interface())
	}
	g.once.Do(func() { close(g.release) })
	for name, ch := range calls {
		select {
		case err := <-ch:
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s was not answered after the fsync", name)
		}
	}
}

// TestSyncFailureFailsWrites: when the fsync after a commit fails, the
// writes it covered are answered with the error, and so is every write
// after it: what the store commits can no longer be known to be on disk.
func TestSyncFailureFailsWrites(t *testing.T) {
	g := newGate()
	s := g.open(t)
	ctx := context.Background()
	if _, err := s.Insert(ctx, sealed(1)); err != nil {
		t.Fatal(err)
	}
	g.armed.Store(true)
	g.fail.Store(true)
	if _, err := s.Insert(ctx, sealed(2)); !errors.Is(err, store.ErrSyncFailed) {
		t.Fatalf("insert whose fsync failed: %v, want ErrSyncFailed", err)
	}
	g.fail.Store(false)
	g.armed.Store(false)
	if _, err := s.Insert(ctx, sealed(3)); !errors.Is(err, store.ErrSyncFailed) {
		t.Errorf("insert after a failed fsync: %v, want ErrSyncFailed", err)
	}
	if err := s.SetMeta(ctx, "k", "v"); !errors.Is(err, store.ErrSyncFailed) {
		t.Errorf("SetMeta after a failed fsync: %v, want ErrSyncFailed", err)
	}
	if err := s.Ping(ctx); !errors.Is(err, store.ErrSyncFailed) {
		t.Errorf("Ping after a failed fsync: %v, want ErrSyncFailed (readyz fails)", err)
	}
}

// TestSyncFailureConfirmsNothing: what a failed fsync covered is visible to
// readers, but may not be on disk: a duplicate's lookup (FindKey), an
// erasure's replay and the figures do not confirm it.
func TestSyncFailureConfirmsNothing(t *testing.T) {
	g := newGate()
	s := g.open(t)
	ctx := context.Background()
	erased := sealed(1)
	if _, err := s.Insert(ctx, erased); err != nil {
		t.Fatal(err)
	}
	g.armed.Store(true)
	g.fail.Store(true)
	req := store.EraseRequest{Subjects: []string{erased.SubjectCustomerID}, RequestID: "uid-1"}
	if _, err := s.Erase(ctx, req); !errors.Is(err, store.ErrSyncFailed) {
		t.Fatalf("erasure whose fsync failed: %v, want ErrSyncFailed", err)
	}
	if rc, err := s.Erase(ctx, req); !errors.Is(err, store.ErrSyncFailed) {
		t.Errorf("the retry of an erasure whose fsync failed: %+v, %v; want ErrSyncFailed, not a replay", rc, err)
	}
	if st, err := s.Stats(ctx); !errors.Is(err, store.ErrSyncFailed) {
		t.Errorf("Stats after a failed fsync: %d responses, %v; want ErrSyncFailed (the operator retires keys by them)", st.Counts.Total(), err)
	}
	r := sealed(2)
	r.IdempotencyKey = "hashed-key"
	if _, err := s.Insert(ctx, r); !errors.Is(err, store.ErrSyncFailed) {
		t.Fatalf("insert after a failed fsync: %v, want ErrSyncFailed", err)
	}
	g2 := newGate()
	s2 := g2.open(t)
	r2 := sealed(3)
	r2.IdempotencyKey = "hashed-key-2"
	g2.armed.Store(true)
	g2.fail.Store(true)
	if _, err := s2.Insert(ctx, r2); !errors.Is(err, store.ErrSyncFailed) {
		t.Fatalf("insert whose fsync failed: %v, want ErrSyncFailed", err)
	}
	if id, err := s2.FindKey(ctx, r2.IdempotencyKey); !errors.Is(err, store.ErrSyncFailed) {
		t.Errorf("FindKey of an insert whose fsync failed: %q, %v; want ErrSyncFailed (a duplicate's 201 would name it)", id, err)
	}
}

const killChildEnv = "SURVEYGUARD_TEST_KILL_IN_SYNC"

// TestKillBetweenCommitAndSync kills a process writing to the store with
// SIGKILL from inside the fsync hook: a group is committed to the WAL and
// not yet fsync'd, and the writer may be committing the next. Every insert
// the process answered must be in the database it leaves, with its score,
// and the running counters must equal a recount. (SIGKILL keeps the page
// cache, so this checks the order of commit, fsync and answer and the
// recovery of a WAL cut at any point, not a power cut; TestNoAnswerBeforeSync
// checks that no answer precedes the fsync.)
func TestKillBetweenCommitAndSync(t *testing.T) {
	if db := os.Getenv(killChildEnv); db != "" {
		killChild(db)
		return
	}
	for round := range 3 {
		db := filepath.Join(t.TempDir(), "responses.db")
		cmd := exec.Command(os.Args[0], "-test.run", "^TestKillBetweenCommitAndSync$") //nolint:gosec // G204: this test binary
		cmd.Env = append(os.Environ(), killChildEnv+"="+db, fmt.Sprintf("SURVEYGUARD_TEST_KILL_AT=%d", 20+40*round))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		acked := map[string]int{}
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == 3 && f[0] == "ack" {
				score, _ := strconv.Atoi(f[2])
				acked[f[1]] = score
			}
		}
		err = cmd.Wait()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: the writer was not killed in the fsync hook: %v\n%s", round, err, stderr.String())
		}
		if len(acked) == 0 {
			t.Fatalf("round %d: nothing was acknowledged before the kill", round)
		}
		stored := sqlitetest.VerifyAcked(t, db, acked)
		if stored <= int64(len(acked)) {
			t.Errorf("round %d: %d stored, %d acknowledged: the kill should have left a committed, unacknowledged group", round, stored, len(acked))
		}
		t.Logf("round %d: %d acknowledged, %d stored, counters agree with a recount", round, len(acked), stored)
	}
}

// killChild inserts from 32 goroutines, printing each answered insert, and
// kills itself in the n-th fsync of the WAL.
func killChild(db string) {
	at, _ := strconv.Atoi(os.Getenv("SURVEYGUARD_TEST_KILL_AT"))
	var syncs atomic.Int64
	hook := func() error {
		if syncs.Add(1) == int64(at) {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
		return nil
	}
	s, err := sqlite.OpenWithSyncHook(context.Background(), db, sqlstore.Options{}, hook)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var mu sync.Mutex
	var n atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				r := sealed(int(n.Add(1)))
				if _, err := s.Insert(context.Background(), r); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(3)
				}
				mu.Lock()
				fmt.Printf("ack %s %d\n", r.ID, r.Score)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}
