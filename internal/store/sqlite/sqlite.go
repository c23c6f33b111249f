// Package sqlite is the embedded store: one SQLite database file (pure Go,
// no cgo) in WAL mode with synchronous=FULL, so a commit is on disk when it
// returns. It serves one collector replica.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

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
	PurgeBatch:      1000,
}

// Open opens (creating if needed) the database file at path.
func Open(ctx context.Context, path string, o sqlstore.Options) (*sqlstore.Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: no database path")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: creating the data directory: %w", err)
	}
	pragmas := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(10000)", "foreign_keys(1)", "cache_size(-65536)", "temp_store(MEMORY)"} {
		pragmas.Add("_pragma", p)
	}
	base := "file:" + (&url.URL{Path: path}).EscapedPath()
	writer, err := sql.Open("sqlite", base+"?"+pragmas.Encode()+"&_txlock=immediate")
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
	reader, err := sql.Open("sqlite", base+"?"+pragmas.Encode()+"&mode=ro")
	if err != nil {
		_ = writer.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	reader.SetMaxOpenConns(4)
	s, err := sqlstore.New(ctx, Dialect, writer, reader, o)
	if err != nil {
		return nil, errors.Join(err, writer.Close(), reader.Close())
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return nil, errors.Join(fmt.Errorf("sqlite: restricting %s: %w", path, err), s.Close())
	}
	return s, nil
}
