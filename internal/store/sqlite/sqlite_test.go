package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/surveyguard/surveyguard/internal/store"
	"github.com/surveyguard/surveyguard/internal/store/sqlite"
	"github.com/surveyguard/surveyguard/internal/store/sqlstore"
	"github.com/surveyguard/surveyguard/internal/store/storetest"
)

// opener opens the database at path, as a restart would.
func opener(path string) func(t *testing.T) store.Store {
	return func(t *testing.T) store.Store {
		t.Helper()
		s, err := sqlite.Open(context.Background(), path, sqlstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (store.Store, func(*testing.T) store.Store) {
		open := opener(filepath.Join(t.TempDir(), "responses.db"))
		return open(t), open
	})
}

// TestNoSpace fills a 4 MiB file system: see storetest.RunNoSpace.
func TestNoSpace(t *testing.T) {
	storetest.RunNoSpace(t, func(t *testing.T) (store.Store, func(*testing.T) store.Store) {
		open := opener(filepath.Join(storetest.Tmpfs(t, "4m"), "responses.db"))
		return open(t), open
	})
}

// TestFilesArePrivate: under the most permissive umask, the data directory
// Open creates is 0700 and the database, -wal and -shm files are 0600; files
// left with a broader mode are restricted when a store opens them.
func TestFilesArePrivate(t *testing.T) {
	old := syscall.Umask(0)
	t.Cleanup(func() { syscall.Umask(old) })
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "responses.db")
	s := opener(path)(t)
	defer func() { _ = s.Close() }()
	if err := s.SetMeta(context.Background(), "k", "v"); err != nil {
		t.Fatal(err)
	}
	checkMode(t, dir, fs.ModeDir|0o700)
	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		checkMode(t, name, 0o600)
	}
	// An earlier version restricted only the database file, after opening it.
	for _, name := range []string{path + "-wal", path + "-shm"} {
		if err := os.Chmod(name, 0o644); err != nil { //nolint:gosec // G302: the test widens them on purpose
			t.Fatal(err)
		}
	}
	again := opener(path)(t)
	defer func() { _ = again.Close() }()
	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		checkMode(t, name, 0o600)
	}
}

func checkMode(t *testing.T, name string, want fs.FileMode) {
	t.Helper()
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != want {
		t.Errorf("%s has mode %s, want %s", name, fi.Mode(), want)
	}
}

// TestWALShrinksBack: a write transaction larger than 4 MiB makes the WAL
// file larger than that; once it is checkpointed (automatically, after the
// commit), the next commit truncates the file back to the 4 MiB
// journal_size_limit instead of leaving it at its peak.
func TestWALShrinksBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "responses.db")
	s := opener(path)(t)
	defer func() { _ = s.Close() }()
	ctx := context.Background()
	const limit = 4 << 20
	if err := s.SetMeta(ctx, "big", strings.Repeat("x", 6<<20)); err != nil {
		t.Fatal(err)
	}
	if peak := fileSize(t, path+"-wal"); peak <= limit {
		t.Fatalf("the WAL holds %d bytes after a 6 MiB write, want more than %d", peak, limit)
	}
	// Replacing the value frees its pages, which secure_delete overwrites
	// with zeros: that commit is large too. The one after it is small.
	if err := s.SetMeta(ctx, "big", "small now"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetMeta(ctx, "small", "small"); err != nil {
		t.Fatal(err)
	}
	if after := fileSize(t, path+"-wal"); after > limit {
		t.Errorf("the WAL kept %d bytes after a checkpoint and a small commit, want at most %d", after, limit)
	}
}

func fileSize(t *testing.T, name string) int64 {
	t.Helper()
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestFullDatabaseIsErrNoSpace: SQLITE_FULL, here from a database capped by
// max_page_count rather than a full disk (so it needs no root, unlike
// TestNoSpace), reaches the caller as store.ErrNoSpace with SQLite's message.
func TestFullDatabaseIsErrNoSpace(t *testing.T) {
	ctx := context.Background()
	dsn := "file:" + filepath.Join(t.TempDir(), "capped.db") + "?_pragma=journal_mode(WAL)&_pragma=max_page_count(64)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	s, err := sqlstore.New(ctx, sqlite.Dialect, db, nil, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	for i := range 1000 { // 64 pages of 4 KiB hold far fewer than this
		r := &store.Record{ID: fmt.Sprintf("%s%04d", store.NewID(time.Now()), i), ReceivedAt: time.Now(), Score: 5,
			KeyID: "k1", Comment: make([]byte, 2048)}
		_, err = s.Insert(ctx, r)
		if err != nil {
			break
		}
	}
	if !errors.Is(err, store.ErrNoSpace) || !strings.Contains(err.Error(), "full") {
		t.Errorf("insert into a full database: %v, want ErrNoSpace with SQLite's message", err)
	}
}

// TestErasedBytesLeaveTheFile: an erased response's ciphertexts are
// overwritten in the page that held them (secure_delete), instead of
// staying in its free space where the live key could still open them. The
// responses here fit one page: in a larger table a row may also live on as
// a b-tree divider key, which only the key's retirement makes unreadable
// (docs/compliance-guide.md).
func TestErasedBytesLeaveTheFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "responses.db")
	s := opener(path)(t)
	marker := []byte(strings.Repeat("ERASE-ME-", 20))
	for i := range 3 {
		r := &store.Record{ID: store.NewID(time.Now()), ReceivedAt: time.Now(), Score: 9, KeyID: "k1",
			Comment: []byte(strings.Repeat("keep-", 20)), SubjectCustomerID: fmt.Sprintf("other-%d", i)}
		if i == 1 {
			r.Comment, r.SubjectCustomerID = marker, "subject-1"
		}
		if _, err := s.Insert(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if rc, err := s.Erase(ctx, store.EraseRequest{Subjects: []string{"subject-1"}}); err != nil || rc.Erased != 1 {
		t.Fatalf("erase: %+v %v", rc, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// The WAL still holds the frames that inserted it, until a checkpoint
	// copies each page's last version into the file and empties the WAL.
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "ERASE-ME-") {
		t.Error("the erased comment's bytes are still in the database file")
	}
	if !strings.Contains(string(data), "keep-keep-") {
		t.Error("the other comments are not in the file: the test reads the wrong file")
	}
}
