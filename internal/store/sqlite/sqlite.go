// Package sqlite is the embedded store: one SQLite database file (pure Go,
// no cgo) in WAL mode. It serves one collector replica.
//
// Commits are pipelined: the writer commits with synchronous=NORMAL (the
// transaction's WAL frames are written, not fsync'd) and goes on with the
// next group, while the batcher's sync goroutine fsyncs the WAL file and
// only then answers the writes it covers. docs/collector.md gives the crash
// argument.
//
// The database file and its -wal and -shm companions are private to the
// collector's user (0600), and so is a data directory Open creates (0700).
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	driver "modernc.org/sqlite" // registers the "sqlite" driver; its Error type

	"github.com/surveyguard/surveyguard/internal/store/sqlstore"
)

var schema = []string{
	`CREATE TABLE IF NOT EXISTS responses (
		id TEXT PRIMARY KEY,
		idempotency_key TEXT UNIQUE,
		received_at INTEGER NOT NULL,
		score INTEGER NOT NULL CHECK (score BETWEEN 0 AND 10),
		segments TEXT NOT NULL,
		key_id TEXT,
		email BLOB,
		customer_id BLOB,
		comment BLOB,
		subject_customer TEXT,
		subject_email TEXT,
		anonymized INTEGER NOT NULL DEFAULT 0
	) WITHOUT ROWID`,
	`CREATE INDEX IF NOT EXISTS responses_raw_age ON responses (anonymized, received_at, id)`,
	// No index by respondent pseudonym or by key: their entries are random,
	// and with one writer each one costs ingest about a fifth of its rate.
	// Erasure and re-wrap, both rare, read a snapshot instead (see
	// sqlstore.Store.Erase and Rewrap) and never hold the writer while they
	// search. Databases made by an earlier version lose those indexes here.
	`DROP INDEX IF EXISTS responses_subject_customer`,
	`DROP INDEX IF EXISTS responses_subject_email`,
	`DROP INDEX IF EXISTS responses_key`,
	`CREATE TABLE IF NOT EXISTS subjects (pseudonym TEXT PRIMARY KEY, refs INTEGER NOT NULL) WITHOUT ROWID`,
	`CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID`,
	`CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID`,
}

// Dialect is SQLite's.
var Dialect = sqlstore.Dialect{
	Name:            "sqlite",
	Schema:          schema,
	Placeholder:     sqlstore.QuestionMark,
	InsertResponses: "INSERT OR IGNORE INTO",
	// The modernc driver caches no statement: without this, every group
	// commit parses its multi-row INSERT and upsert anew.
	PrepareGroupCommit: true,
	PurgeBatch:         1000,
	SnapshotPurge:      true,
	Newline:            "char(10)",
	ByteOrder:          "COLLATE BINARY",
	NoSpace:            noSpace,
	Size:               size,
}

// sqliteFull is SQLite's primary result code SQLITE_FULL: a write failed
// because the disk (or the file system) is full.
const sqliteFull = 13

// noSpace says whether err is SQLITE_FULL. The driver may report extended
// result codes, whose low byte is the primary one.
func noSpace(err error) bool {
	var e *driver.Error
	return errors.As(err, &e) && e.Code()&0xff == sqliteFull
}

// size is what the store holds: the database's pages in use, as the
// latest commit has them (the file less the free pages a delete leaves
// inside it, which later inserts reuse). A purge makes it smaller at once,
// though the file itself does not shrink. The WAL is not counted: it is
// bounded by checkpoints and journal_size_limit, and the free-disk reserve
// covers it.
func size(ctx context.Context, db *sql.DB) (int64, error) {
	var pages, free, pageSize int64
	err := db.QueryRowContext(ctx, `SELECT (SELECT page_count FROM pragma_page_count),
		(SELECT freelist_count FROM pragma_freelist_count), (SELECT page_size FROM pragma_page_size)`).Scan(&pages, &free, &pageSize)
	if err != nil {
		return 0, err
	}
	return (pages - free) * pageSize, nil
}

// files are the database file at path and its companions in WAL mode.
func files(path string) []string { return []string{path, path + "-wal", path + "-shm"} }

// pragmas are set on every connection. journal_size_limit makes a
// checkpoint that resets the WAL truncate it back to 4 MiB, so a burst of
// writes does not keep the WAL file at its peak size for ever.
//
// secure_delete(ON): what an erasure or a purge deletes is overwritten
// with zeros, in its page and in pages it frees, instead of staying in the
// file's free space, readable with the key it is sealed by for as long as
// that key lives (measured: 3-7% fewer purged rows a second).
//
// synchronous=NORMAL: a commit writes its WAL frames without fsync; the
// store's Sync (syncWAL) fsyncs them before any write is answered. A
// checkpoint still fsyncs the WAL before it copies frames into the
// database, and the database before the WAL may be reset.
var pragmas = []string{"journal_mode(WAL)", "synchronous(NORMAL)", "busy_timeout(10000)", "foreign_keys(1)",
	fmt.Sprintf("cache_size(-%d)", writerCacheKiB), "temp_store(MEMORY)", "journal_size_limit(4194304)", "secure_delete(ON)"}

// Page caches, in KiB. A reader's is smaller than the writer's: erasures
// and re-wraps scan the whole table on a reader, each scanning connection
// fills its cache, and with the writer's 64 MiB for each of the 4 readers
// two concurrent erasures of a store of a million responses took the
// process to 396 MB, past the collector's default memory limit of 256 MiB.
// The operating system's page cache still holds the file for them.
const (
	writerCacheKiB = 64 << 10
	readerCacheKiB = 8 << 10
	readers        = 4
)

// PageCacheBytes is the most the store's page caches hold, outside the Go
// heap: the collector leaves it out of the heap's share of its memory limit.
const PageCacheBytes = (writerCacheKiB + readers*readerCacheKiB) << 10

// readerCache is a reader connection's cache_size pragma.
var readerCache = fmt.Sprintf("cache_size(-%d)", readerCacheKiB)

// readerParams are the reader connections' pragmas: the writer's, with a
// smaller page cache.
func readerParams() url.Values {
	params := url.Values{}
	for _, p := range pragmas {
		if strings.HasPrefix(p, "cache_size(") {
			p = readerCache
		}
		params.Add("_pragma", p)
	}
	return params
}

// Open opens (creating if needed) the database file at path.
func Open(ctx context.Context, path string, o sqlstore.Options) (*sqlstore.Store, error) {
	return open(ctx, path, o, nil)
}

// open is Open; beforeSync, when set (by tests), runs before each fsync of
// the WAL, and an error it returns fails that sync.
func open(ctx context.Context, path string, o sqlstore.Options, beforeSync func() error) (*sqlstore.Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: no database path")
	}
	if err := makeDataDir(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("sqlite: creating the data directory: %w", err)
	}
	if err := createPrivate(path); err != nil {
		return nil, fmt.Errorf("sqlite: creating %s: %w", path, err)
	}
	params := url.Values{}
	for _, p := range pragmas {
		params.Add("_pragma", p)
	}
	base := "file:" + (&url.URL{Path: path}).EscapedPath()
	writer, err := sql.Open("sqlite", base+"?"+params.Encode()+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	// One writer connection: SQLite has one writer at a time anyway, and
	// the group commit gives it whole batches.
	writer.SetMaxOpenConns(1)
	writer.SetConnMaxLifetime(0)
	if err := writer.PingContext(ctx); err != nil {
		_ = writer.Close()
		return nil, fmt.Errorf("sqlite: opening %s: %w", path, err)
	}
	reader, err := sql.Open("sqlite", base+"?"+readerParams().Encode()+"&mode=ro")
	if err != nil {
		_ = writer.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	reader.SetMaxOpenConns(readers)
	w := &walSyncer{path: path + "-wal", dir: filepath.Dir(path)}
	o.Sync = func() error {
		if beforeSync != nil {
			if err := beforeSync(); err != nil {
				return err
			}
		}
		return w.sync()
	}
	s, err := sqlstore.New(ctx, Dialect, writer, reader, o)
	if err != nil {
		return nil, errors.Join(err, writer.Close(), reader.Close())
	}
	// Creating the schema has opened the WAL, so -wal and -shm exist now.
	// The schema's commit is made durable here, and so are the WAL's and
	// the database's names in the directory (walSyncer.sync): SQLite
	// fsyncs a new WAL's directory only at its own first fsync of it, which
	// with synchronous=NORMAL is a checkpoint's.
	if err := errors.Join(restrict(path), o.Sync()); err != nil {
		return nil, errors.Join(fmt.Errorf("sqlite: %w", err), s.Close())
	}
	return s, nil
}

// walSyncer makes the WAL durable. It is used by one goroutine at a time
// (the batcher's sync goroutine, or Open before it starts).
type walSyncer struct {
	path, dir string
	// ino is the WAL file whose name is known to be durable: SQLite deletes
	// the WAL when its last connection closes and creates it anew, and a
	// new file's directory entry must reach the disk too.
	ino uint64
}

// sync fdatasyncs the WAL, and its directory the first time it sees this
// WAL file.
func (w *walSyncer) sync() error {
	f, err := os.Open(w.path)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	if err := fdatasync(f); err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Ino != w.ino {
		if err := syncFile(w.dir); err != nil {
			return err
		}
		if ok {
			w.ino = st.Ino
		}
	}
	return nil
}

// syncFile flushes the file (or directory) at name to disk with
// fdatasync, as SQLite's own synchronous=FULL commits do: the data and the
// file's size, not its times, whose change would cost a journal commit of
// the file system each time. The WAL is opened anew each time rather than
// kept open: fdatasync flushes the file whichever descriptor asks, and a
// fresh open can never hold a WAL file SQLite has since replaced.
func syncFile(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	return errors.Join(fdatasync(f), f.Close())
}

func fdatasync(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			if serr = syscall.Fdatasync(int(fd)); !errors.Is(serr, syscall.EINTR) {
				return
			}
		}
	}); err != nil {
		return err
	}
	return serr
}

// makeDataDir creates dir, and the directories above it, when it does not
// exist, and makes it private (0700) whatever the umask. An existing
// directory, such as a volume's mount point, is left as it is.
func makeDataDir(dir string) error {
	_, err := os.Stat(dir)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.Chmod(dir, 0o700) //nolint:gosec // G302: a directory needs its x bit; 0700 is its owner's alone
}

// createPrivate creates the database file at path, empty, with mode 0600
// (SQLite takes an empty file for a new database), or restricts an existing
// one, before SQLite opens it: SQLite creates the -wal and -shm files with
// the database file's mode, so they are private from their first byte.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Chmod(path, 0o600)
}

// restrict sets mode 0600 on the database file and on its -wal and -shm
// files, which may have been left with another mode by an earlier version.
func restrict(path string) error {
	for _, name := range files(path) {
		if err := os.Chmod(name, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("restricting %s: %w", name, err)
		}
	}
	return nil
}
