// Package postgres is the PostgreSQL store, for campaigns whose collector
// runs several replicas: they share one database, and the running counters
// stay correct because every replica updates them in its own transactions.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/surveyguard/surveyguard/internal/store/sqlstore"
)

var schema = []string{
	// Replicas starting together wait for each other here instead of racing.
	`SELECT pg_advisory_xact_lock(7262652000)`,
	`CREATE TABLE IF NOT EXISTS responses (
		id TEXT PRIMARY KEY,
		idempotency_key TEXT UNIQUE,
		received_at BIGINT NOT NULL,
		score SMALLINT NOT NULL CHECK (score BETWEEN 0 AND 10),
		segments TEXT NOT NULL,
		key_id TEXT,
		email BYTEA,
		customer_id BYTEA,
		comment BYTEA,
		subject_customer TEXT,
		subject_email TEXT,
		anonymized SMALLINT NOT NULL DEFAULT 0
	)`,
	`CREATE INDEX IF NOT EXISTS responses_raw_age ON responses (anonymized, received_at, id)`,
	`CREATE INDEX IF NOT EXISTS responses_subject_customer ON responses (subject_customer) WHERE subject_customer IS NOT NULL`,
	`CREATE INDEX IF NOT EXISTS responses_subject_email ON responses (subject_email) WHERE subject_email IS NOT NULL`,
	`CREATE INDEX IF NOT EXISTS responses_key ON responses (key_id) WHERE key_id IS NOT NULL`,
	`CREATE TABLE IF NOT EXISTS subjects (pseudonym TEXT PRIMARY KEY, refs BIGINT NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, n BIGINT NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)`,
}

// Dialect is PostgreSQL's.
var Dialect = sqlstore.Dialect{
	Name: "postgres", Schema: schema, Placeholder: sqlstore.Dollar, PurgeBatch: 2000,
	PurgeBesideIngest: true, SubjectArrays: true, Newline: "chr(10)", ByteOrder: `COLLATE "C"`,
	InsertResponses: "INSERT INTO", ConflictClause: "ON CONFLICT (idempotency_key) DO NOTHING",
	LockSubjects: `SELECT 1 FROM subjects WHERE pseudonym IN (%s) ORDER BY pseudonym FOR UPDATE`,
	NoSpace:      noSpace,
	Size:         size,
	RoundTrip:    roundTrip,
}

// roundTrip sends stmts in one round trip, as a pgx batch, and hands each
// statement's rows to its Scan (sqlstore.Dialect.RoundTrip).
func roundTrip(ctx context.Context, dc any, stmts []sqlstore.Statement) error {
	c, ok := dc.(*stdlib.Conn)
	if !ok {
		return fmt.Errorf("postgres: a %T is not a pgx connection", dc)
	}
	b := &pgx.Batch{}
	for _, st := range stmts {
		q := b.Queue(st.SQL, st.Args...)
		if st.Scan != nil {
			scan := st.Scan
			q.Query(func(rows pgx.Rows) error { return scan(rows) })
		}
	}
	return c.Conn().SendBatch(ctx, b).Close()
}

// diskFull is the SQLSTATE of disk_full: the server could not extend a
// file of the database.
const diskFull = "53100"

// noSpace says whether err is PostgreSQL's disk_full.
func noSpace(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == diskFull
}

// size is the database's size as the server counts it: every table,
// index and TOAST file of it.
func size(ctx context.Context, db *sql.DB) (int64, error) {
	var n int64
	err := db.QueryRowContext(ctx, `SELECT pg_database_size(current_database())`).Scan(&n)
	return n, err
}

// Open connects to the database named by dsn (a libpq keyword string or a
// postgres:// URL) and creates the schema if needed.
func Open(ctx context.Context, dsn string, o sqlstore.Options) (*sqlstore.Store, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// The DSN holds a password: say what is wrong without echoing it.
		return nil, errors.New("postgres: the connection string cannot be parsed")
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("postgres: connecting to %s:%d/%s: %w", cfg.Host, cfg.Port, cfg.Database, err)
	}
	// Reads and writes share the pool; PostgreSQL serves both at once.
	s, err := sqlstore.New(ctx, Dialect, db, nil, o)
	if err != nil {
		return nil, errors.Join(err, db.Close())
	}
	return s, nil
}
