// Package postgres is the PostgreSQL store, for campaigns whose collector
// runs several replicas: they share one database, and the running counters
// stay correct because every replica updates them in its own transactions.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/surveyguard/surveyguard/internal/store/sqlstore"
)

var schema = []string{
	// Replicas starting together wait for each other here instead of racing.
	`SELECT pg_advisory_xact_lock(7262652000)`,
	// A database made before responses were partitioned keeps its rows in
	// a plain table: it is set aside, its index and constraint names freed,
	// and its rows are moved into the partitioned table below
	// (moveUnpartitioned), all in the schema's one transaction.
	`DO $$ BEGIN
		IF EXISTS (SELECT 1 FROM pg_class WHERE oid = to_regclass('responses') AND relkind = 'r') THEN
			ALTER TABLE responses RENAME TO responses_unpartitioned;
			ALTER TABLE responses_unpartitioned RENAME CONSTRAINT responses_pkey TO responses_unpartitioned_pkey;
			ALTER TABLE responses_unpartitioned RENAME CONSTRAINT responses_idempotency_key_key TO responses_unpartitioned_idempotency_key_key;
			DROP INDEX IF EXISTS responses_raw_age, responses_subject_customer, responses_subject_email, responses_key;
		END IF;
	END $$`,
	// Responses are partitioned by the UTC day they were received (see
	// sqlstore.Dialect.Partitioned): one table per day, "responses_d" and
	// the day's number since 1970-01-01, created as writes need them. A
	// partitioned table's unique constraints must hold its partition key,
	// so the primary key is (id, received_at) and an idempotency key's
	// uniqueness is the idempotency table's.
	`CREATE TABLE IF NOT EXISTS responses (
		id TEXT NOT NULL,
		idempotency_key TEXT,
		received_at BIGINT NOT NULL,
		score SMALLINT NOT NULL CHECK (score BETWEEN 0 AND 10),
		segments TEXT NOT NULL,
		key_id TEXT,
		email BYTEA,
		customer_id BYTEA,
		comment BYTEA,
		subject_customer TEXT,
		subject_email TEXT,
		anonymized SMALLINT NOT NULL DEFAULT 0,
		PRIMARY KEY (id, received_at)
	) PARTITION BY RANGE (received_at)`,
	`CREATE INDEX IF NOT EXISTS responses_raw_age ON responses (anonymized, received_at, id)`,
	`CREATE INDEX IF NOT EXISTS responses_subject_customer ON responses (subject_customer) WHERE subject_customer IS NOT NULL`,
	`CREATE INDEX IF NOT EXISTS responses_subject_email ON responses (subject_email) WHERE subject_email IS NOT NULL`,
	`CREATE INDEX IF NOT EXISTS responses_key ON responses (key_id) WHERE key_id IS NOT NULL`,
	// Every stored idempotency key, with the response that holds it. The
	// triggers keep it in step with the responses: an insert whose key is
	// taken is skipped (the BEFORE trigger returns no row, so the INSERT's
	// RETURNING leaves it out and the store answers with the ID stored
	// first), and a deleted response frees its key. Emptying a whole
	// partition fires no trigger: the purge frees those keys itself.
	`CREATE TABLE IF NOT EXISTS idempotency (k TEXT PRIMARY KEY, id TEXT NOT NULL)`,
	`CREATE OR REPLACE FUNCTION responses_claim_key() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		INSERT INTO idempotency (k, id) VALUES (NEW.idempotency_key, NEW.id) ON CONFLICT (k) DO NOTHING;
		IF FOUND THEN
			RETURN NEW;
		END IF;
		RETURN NULL;
	END $$`,
	`CREATE OR REPLACE FUNCTION responses_free_key() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		DELETE FROM idempotency WHERE k = OLD.idempotency_key AND id = OLD.id;
		RETURN NULL;
	END $$`,
	`CREATE OR REPLACE TRIGGER responses_claim_key BEFORE INSERT ON responses
		FOR EACH ROW WHEN (NEW.idempotency_key IS NOT NULL) EXECUTE FUNCTION responses_claim_key()`,
	`CREATE OR REPLACE TRIGGER responses_free_key AFTER DELETE ON responses
		FOR EACH ROW WHEN (OLD.idempotency_key IS NOT NULL) EXECUTE FUNCTION responses_free_key()`,
	moveUnpartitioned,
	`CREATE TABLE IF NOT EXISTS subjects (pseudonym TEXT PRIMARY KEY, refs BIGINT NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, n BIGINT NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)`,
}

// moveUnpartitioned finishes the migration of a database made before
// responses were partitioned: a partition for each day the old table has
// rows of, every row moved (the trigger claims their idempotency keys,
// unique already), and the old table dropped. The counters, respondents and
// meta tables are unchanged: they describe the same rows. It takes time in
// proportion to the rows, once, while the replicas starting wait on the
// schema's lock.
const moveUnpartitioned = `DO $$ DECLARE day BIGINT;
BEGIN
	IF to_regclass('responses_unpartitioned') IS NULL THEN
		RETURN;
	END IF;
	FOR day IN SELECT DISTINCT floor(received_at / 86400000.0)::BIGINT FROM responses_unpartitioned LOOP
		EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF responses FOR VALUES FROM (%s) TO (%s)',
			'responses_d' || day, day * 86400000, (day + 1) * 86400000);
	END LOOP;
	INSERT INTO responses (id, idempotency_key, received_at, score, segments, key_id, email, customer_id, comment,
		subject_customer, subject_email, anonymized)
		SELECT id, idempotency_key, received_at, score, segments, key_id, email, customer_id, comment,
		subject_customer, subject_email, anonymized FROM responses_unpartitioned;
	DROP TABLE responses_unpartitioned;
END $$`

// Dialect is PostgreSQL's.
var Dialect = sqlstore.Dialect{
	Name: "postgres", Schema: schema, Placeholder: sqlstore.Dollar, PurgeBatch: 2000,
	PurgeBesideIngest: true, SubjectArrays: true, Newline: "chr(10)", ByteOrder: `COLLATE "C"`,
	// The triggers skip a response whose idempotency key is taken.
	InsertResponses: "INSERT INTO",
	DupID:           `SELECT id FROM idempotency WHERE k = $1`,
	Partitioned:     true,
	NoSpace:         noSpace,
	NoPartition:     noPartition,
	Retry:           retry,
	LockTimeout:     func(ms int64) string { return fmt.Sprintf("SET LOCAL lock_timeout = %d", ms) },
	Size:            size,
	RoundTrip:       roundTrip,
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

// noPartition says whether err is an insert that found no partition for a
// row (check_violation: "no partition of relation ... found for row").
func noPartition(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == "23514" && strings.Contains(e.Message, "no partition")
}

// retry says whether err is a transaction PostgreSQL aborted so that
// another could go on: deadlock_detected (two transactions waiting for
// each other's row locks, such as a purge and an erasure of one person's
// old responses, or two replicas' group commits) or serialization_failure.
// Either changed nothing; the store runs it again.
func retry(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && (e.Code == "40P01" || e.Code == "40001")
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

// connectTimeout bounds opening a connection whose connection string sets
// no connect_timeout, or 0 (pgx reads both as none).
var connectTimeout = 30 * time.Second

// Open connects to the database named by dsn (a libpq keyword string or a
// postgres:// URL) and creates the schema if needed.
func Open(ctx context.Context, dsn string, o sqlstore.Options) (*sqlstore.Store, error) {
	db, err := openDB(ctx, dsn)
	if err != nil {
		return nil, err
	}
	// Reads and writes share the pool; PostgreSQL serves both at once.
	s, err := sqlstore.New(ctx, Dialect, db, nil, o)
	if err != nil {
		return nil, errors.Join(err, db.Close())
	}
	return s, nil
}

// openDB opens the pool of connections to dsn, each made durable
// (durableCommits), and checks that one can be opened.
func openDB(ctx context.Context, dsn string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// The DSN holds a password: say what is wrong without echoing it.
		return nil, errors.New("postgres: the connection string cannot be parsed")
	}
	if cfg.ConnectTimeout == 0 {
		// Without connect_timeout a database behind a firewall that drops
		// the packets holds every connection for minutes, and the start
		// with it.
		cfg.ConnectTimeout = connectTimeout
	}
	db := stdlib.OpenDB(*cfg, stdlib.OptionAfterConnect(durableCommits))
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("postgres: connecting to %s:%d/%s: %w", cfg.Host, cfg.Port, cfg.Database, err)
	}
	return db, nil
}

// durableCommits makes a new connection's commits wait for the server's
// WAL flush: a response is answered 201 only after its COMMIT returns, so
// synchronous_commit=off, which a server's configuration, the role, the
// database or the DSN's options may set, would answer responses a crash of
// the server can still lose. It is set back to on (PostgreSQL's default);
// local, remote_write, on and remote_apply all wait for the local flush and
// are kept. Either way the value is pinned for the session, so that a later
// change of the server's configuration (ALTER SYSTEM and a reload) does not
// turn it off under a pooled connection. (A pooler that shares sessions
// between transactions, PgBouncer's transaction mode, does not keep it.)
func durableCommits(ctx context.Context, conn *pgx.Conn) error {
	if _, err := conn.Exec(ctx, `SELECT set_config('synchronous_commit', CASE current_setting('synchronous_commit')
		WHEN 'off' THEN 'on' ELSE current_setting('synchronous_commit') END, false)`); err != nil {
		return fmt.Errorf("postgres: setting synchronous_commit: %w", err)
	}
	return nil
}
