// Package sqlstore is the store logic shared by the SQL backends: the schema,
// group-committed inserts, running counters, purge, erasure, re-wrap and the
// meta table, in SQL that SQLite and PostgreSQL both speak. A backend
// supplies the connections and a Dialect.
package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/surveyguard/surveyguard/internal/nps"
	"github.com/surveyguard/surveyguard/internal/store"
)

// Dialect is what differs between the SQL backends.
type Dialect struct {
	// Name names the backend in errors.
	Name string
	// Schema creates the tables if they do not exist.
	Schema []string
	// Placeholder returns the n-th (1-based) bind parameter: "?" or "$n".
	Placeholder func(n int) string
	// InsertResponses begins the multi-row INSERT of responses, and
	// ConflictClause ends it: together they must skip a row whose
	// idempotency key is already stored. SQLite's "INSERT OR IGNORE" lets it
	// skip the statement journal a possibly-aborting multi-row INSERT needs.
	InsertResponses, ConflictClause string
	// PrepareGroupCommit keeps the group commit's statements prepared
	// (see preparedStmts): SQLite does not cache statements itself.
	PrepareGroupCommit bool
	// PurgeBesideIngest runs a purge's transactions beside the group
	// commits instead of between them, and deletes and counts each batch
	// in one statement (a data-modifying WITH). Row locks keep them apart;
	// a SQLite database has one writer.
	PurgeBesideIngest bool
	// Newline is the SQL expression of "\n", and ByteOrder the collation
	// that orders text by its bytes, as Go compares strings.
	Newline, ByteOrder string
	// SubjectArrays has the references a transaction removes from
	// respondents taken away in one statement, the pseudonyms and counts
	// bound as two arrays, instead of in chunks of VALUES.
	SubjectArrays bool
	// RoundTrip, when set, sends stmts in one round trip on the driver
	// connection dc and hands each statement's rows to its Scan, in order;
	// an error stops it. The group commit then takes two round trips
	// (flushTwoTrips) instead of one per statement: PostgreSQL, a pgx
	// batch.
	RoundTrip func(ctx context.Context, dc any, stmts []Statement) error
	// PurgeBatch is the default number of rows per purge transaction, at
	// most store.MaxPurgeBatch. SQLite has one writer, so its batches are
	// smaller: ingest waits for at most one of them.
	PurgeBatch int
	// NoSpace says whether an error is the database reporting that it is
	// out of disk space; such errors are wrapped with store.ErrNoSpace.
	NoSpace func(err error) bool
	// Size returns how many bytes the database takes (store.Store.Size).
	Size func(ctx context.Context, db *sql.DB) (int64, error)
	// DupID, when set, finds the ID stored first under an idempotency key
	// (one bind parameter); by default the responses table is searched.
	DupID string
	// Partitioned says that responses is partitioned by the UTC day of
	// received_at, in PostgreSQL's declarative partitions named
	// "responses_d<day>": a group commit first makes sure its days have
	// partitions, and a Delete purge empties the days wholly before its
	// cutoff a partition at a time instead of row by row (partition.go).
	Partitioned bool
	// SnapshotPurge reads a Delete purge's batches on a reader snapshot
	// and deletes each by range on the writer (snapshot.go): SQLite, whose
	// one writer should not spend a purge's time reading.
	SnapshotPurge bool
	// NoPartition says whether an error is an insert that found no
	// partition for its row: another replica's purge dropped it.
	NoPartition func(err error) bool
	// LockTimeout, when set, is the statement that makes the current
	// transaction give up waiting for a lock after ms milliseconds: a
	// group commit waiting on a lock then fails in the database, which
	// rolls it back, before its own deadline (Options.FlushTimeout) passes
	// on the client, where the outcome of a COMMIT already sent would be
	// unknown.
	LockTimeout func(ms int64) string
	// Retry says whether an error is a transaction the database aborted
	// so that another could go on (a deadlock, a serialization failure):
	// it changed nothing, and inTx runs it again (txAttempts in all).
	Retry func(err error) bool
}

// noSpace wraps err with store.ErrNoSpace when the dialect says the
// database is out of disk space, and returns any other error unchanged.
func (d Dialect) noSpace(err error) error {
	if err == nil || d.NoSpace == nil || !d.NoSpace(err) {
		return err
	}
	return noSpaceError{err}
}

// noSpaceError is a write that failed for want of disk space: errors.Is
// finds store.ErrNoSpace and the database's own error, and the message is
// the database's.
type noSpaceError struct{ err error }

func (e noSpaceError) Error() string   { return e.err.Error() }
func (e noSpaceError) Unwrap() []error { return []error{store.ErrNoSpace, e.err} }

// Counter names in the counters table.
const (
	counterPromoters  = "promoters"
	counterPassives   = "passives"
	counterDetractors = "detractors"
	counterCustomers  = "customers"
	prefixRedaction   = "redaction:"
	prefixKey         = "key:"
	metaLastPurge     = "lastPurge"
	// metaErasure prefixes the key of a named erasure's receipt.
	metaErasure = "erasure/"
)

// Store is a store.Store over database/sql.
type Store struct {
	d       Dialect
	writer  *sql.DB // every write goes through here (one connection for SQLite)
	reader  *sql.DB
	batcher *store.Batcher
	q       queries
	rewrap  rewrapCursor
	// texts and prepared are the group commit's statements (prepared.go).
	texts    sqlTexts
	prepared preparedStmts
	// days are the partitions known to exist (Dialect.Partitioned).
	days partitionDays
	// flushTimeout is Options.FlushTimeout, and lockTimeout the statement
	// that bounds a group commit's lock waits to nine tenths of it ("" when
	// the dialect has none).
	flushTimeout time.Duration
	lockTimeout  string
	// writes counts the transactions run through write, each counted once
	// it has ended: a snapshot batch checks it (snapshot.go).
	writes atomic.Int64
}

type queries struct {
	dupID, idsOld, deleteOld, stageOld, groupStaged,
	selectRewrap, updateRewrap,
	anonymizeOld, list, setMeta, claimMeta,
	snapshotOld, deleteRange, checkRange string
}

// Options tune a Store.
type Options struct {
	// MaxBatch is the most inserts one group commit takes.
	MaxBatch int
	// ObserveCommit, when set, is told each group commit's size and how
	// long its transaction took (not counting Sync).
	ObserveCommit func(size int, took time.Duration)
	// Sync, when set, makes every transaction committed so far durable: the
	// backend's connections commit without waiting for the disk, and no
	// write is answered before a Sync that started after its commit has
	// returned (see store.BatcherOptions). The SQLite backend sets it.
	Sync func() error
	// FlushTimeout bounds one group commit; 30 s when zero. A group that
	// waits longer (a connection the network dropped without a word, a
	// lock held for ever) fails, its responses are answered with an
	// error, its connection is dropped, and the next group goes on,
	// instead of every later response waiting behind it.
	FlushTimeout time.Duration
}

// New creates the schema and starts the group-commit writer. reader may be
// nil, when one pool serves reads and writes.
func New(ctx context.Context, d Dialect, writer, reader *sql.DB, o Options) (*Store, error) {
	if reader == nil {
		reader = writer
	}
	if err := createSchema(ctx, writer, d); err != nil {
		return nil, err
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 512
	}
	if o.FlushTimeout <= 0 {
		o.FlushTimeout = 30 * time.Second
	}
	s := &Store{d: d, writer: writer, reader: reader, flushTimeout: o.FlushTimeout}
	if d.LockTimeout != nil {
		s.lockTimeout = d.LockTimeout(max(1, (o.FlushTimeout * 9 / 10).Milliseconds()))
	}
	s.q = queries{
		dupID: s.bind(`SELECT id FROM responses WHERE idempotency_key = ?`),
		// A partitioned table's unique constraints must hold the partition
		// key: on PostgreSQL an idempotency key is found, and kept unique,
		// in a table of its own.
		// A dry run's IDs, in the receipt's order.
		idsOld: s.bind(`SELECT id FROM responses
			WHERE anonymized = ? AND received_at < ? ORDER BY received_at, id ` + d.ByteOrder),
		// A Delete purge's batch: deleted and grouped in one statement
		// (PostgreSQL), or copied aside first (stageBatch).
		// The outer "received_at < ?" lets PostgreSQL leave out, when it
		// plans, the partitions of the days after the cutoff, which the
		// join would otherwise scan whole.
		deleteOld: s.bind(`WITH gone AS (DELETE FROM responses WHERE received_at < ? AND id IN (SELECT id FROM responses
			WHERE anonymized = ? AND received_at < ? ORDER BY received_at, id LIMIT ?) RETURNING `+rowColumns+`) `) +
			s.groupGone("gone"),
		stageOld: s.bind(`INSERT INTO temp.purge_batch (` + rowColumns + `) SELECT ` + rowColumns + ` FROM responses
			WHERE anonymized = ? AND received_at < ? ORDER BY received_at, id LIMIT ?`),
		groupStaged: s.groupGone("temp.purge_batch"),
		// A snapshot batch (snapshot.go): read and grouped as a staged
		// batch is; then deleted by range.
		snapshotOld: s.bind(`WITH b AS MATERIALIZED (SELECT `+rowColumns+` FROM responses
			WHERE anonymized = ? AND received_at < ? AND (received_at, id) > (?, ?) ORDER BY received_at, id LIMIT ?) `) +
			s.groupGone("b"),
		// Both bounds are row values, so that SQLite searches the index
		// between them; the batch's last response is before the cutoff.
		deleteRange: s.bind(`DELETE FROM responses WHERE anonymized = ? AND (received_at, id) > (?, ?) AND (received_at, id) <= (?, ?)`),
		// What the range holds, as the snapshot joined it: read from the
		// index alone.
		checkRange: s.bind(`SELECT COALESCE(string_agg(id, ` + d.Newline + ` ORDER BY received_at, id ` + d.ByteOrder + `), '')
			FROM responses WHERE anonymized = ? AND (received_at, id) > (?, ?) AND (received_at, id) <= (?, ?)`),
		selectRewrap: s.bind(`SELECT id, key_id, email, customer_id, comment FROM responses
			WHERE id > ? AND key_id IS NOT NULL AND key_id <> ? ORDER BY id LIMIT ?`),
		updateRewrap: s.bind(`UPDATE responses SET key_id = ?, email = ?, customer_id = ?, comment = ? WHERE id = ? AND key_id = ?`),
		// Anonymizing takes the raw rows out (see anonymizeBatch) and
		// returns what their anonymous copies keep.
		anonymizeOld: s.bind(`DELETE FROM responses WHERE received_at < ? AND id IN (SELECT id FROM responses
			WHERE anonymized = 0 AND received_at < ? ORDER BY received_at, id LIMIT ?) RETURNING ` + rowColumns + `, segments`),
		list:    s.bind(`SELECT ` + recordColumns + ` FROM responses WHERE id > ? ORDER BY id LIMIT ?`),
		setMeta: s.bind(`INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v`),
		// A key nobody holds yet, taken with a placeholder value that the
		// same transaction replaces (see Erase).
		claimMeta: s.bind(`INSERT INTO meta (k, v) VALUES (?, '') ON CONFLICT (k) DO NOTHING RETURNING k`),
	}
	if d.DupID != "" {
		s.q.dupID = d.DupID
	}
	if err := s.prepareCounters(ctx); err != nil {
		return nil, d.noSpace(fmt.Errorf("%s: preparing the counters' upsert: %w", d.Name, err))
	}
	s.batcher = store.NewBatcher(s.flush, store.BatcherOptions{Max: o.MaxBatch, Sync: o.Sync, Observe: o.ObserveCommit})
	return s, nil
}

// createSchema runs the dialect's schema statements in one transaction, so
// replicas starting together see all of it or none.
func createSchema(ctx context.Context, db *sql.DB, d Dialect) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: begin: %w", d.Name, err)
	}
	defer func() { _ = tx.Rollback() }()
	for _, stmt := range d.Schema {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return d.noSpace(fmt.Errorf("%s: creating the schema: %w", d.Name, err))
		}
	}
	if err := tx.Commit(); err != nil {
		return d.noSpace(fmt.Errorf("%s: creating the schema: %w", d.Name, err))
	}
	return nil
}

// bind rewrites "?" placeholders into the dialect's.
func (s *Store) bind(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString(s.d.Placeholder(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Insert implements store.Store.
func (s *Store) Insert(ctx context.Context, r *store.Record) (store.InsertResult, error) {
	if r.Score < 0 || r.Score > 10 {
		return store.InsertResult{}, fmt.Errorf("score %d is outside 0..10", r.Score)
	}
	return s.batcher.Insert(ctx, r)
}

// deltas accumulates the counter and respondent changes of one transaction.
// They are applied at its end, in sorted order, so that concurrent
// transactions (several PostgreSQL replicas, a purge beside ingest) take row
// locks in the same order and cannot deadlock.
type deltas struct {
	counters map[string]int64
	subjects map[string]int64
}

func newDeltas() *deltas {
	return &deltas{counters: map[string]int64{}, subjects: map[string]int64{}}
}

func (s *Store) apply(ctx context.Context, tx *sql.Tx, d *deltas) error {
	var up, down []string
	for _, sub := range sortedKeys(d.subjects) {
		switch n := d.subjects[sub]; {
		case n > 0:
			up = append(up, sub)
		case n < 0:
			down = append(down, sub)
		}
	}
	for start := 0; start < len(up); start += subjectChunk {
		if err := s.countSubjects(ctx, tx, up[start:min(start+subjectChunk, len(up))], d); err != nil {
			return err
		}
	}
	chunk := subjectChunk
	if s.d.SubjectArrays {
		chunk = max(len(down), 1) // one statement of two arrays
	}
	for start := 0; start < len(down); start += chunk {
		if err := s.uncountSubjects(ctx, tx, down[start:min(start+chunk, len(down))], d); err != nil {
			return err
		}
	}
	q, args := s.countersSQL(d)
	if q == "" {
		return nil
	}
	if _, err := s.prepared.exec(ctx, tx, q, args...); err != nil {
		return fmt.Errorf("%s: updating counters: %w", s.d.Name, err)
	}
	return nil
}

// countersSQL is the statement that adds the deltas' counters, every one
// in one statement, in sorted order, and its arguments; "" when no counter
// changes.
func (s *Store) countersSQL(d *deltas) (string, []any) {
	var args []any
	for _, name := range sortedKeys(d.counters) {
		if n := d.counters[name]; n != 0 {
			args = append(args, name, n)
		}
	}
	if len(args) == 0 {
		return "", nil
	}
	return s.countersText(len(args) / 2), args
}

// subjectChunk is how many respondents one statement updates.
const subjectChunk = 250

// countSubjects adds references to respondents in one upsert; a respondent
// whose count equals what was added is new, and counts as a customer.
func (s *Store) countSubjects(ctx context.Context, tx *sql.Tx, subs []string, d *deltas) error {
	rows, err := s.prepared.query(ctx, tx, s.countSubjectsSQL(len(subs)), subjectArgs(subs, d)...)
	if err != nil {
		return fmt.Errorf("%s: counting respondents: %w", s.d.Name, err)
	}
	defer func() { _ = rows.Close() }()
	return s.scanCustomers(rows, d)
}

// uncountSubjects removes references in one statement; a respondent left
// with none stops counting as a customer and their pseudonym is deleted.
func (s *Store) uncountSubjects(ctx context.Context, tx *sql.Tx, subs []string, d *deltas) error {
	if !s.d.SubjectArrays {
		return s.uncountSubjectValues(ctx, tx, subs, d)
	}
	// subs is sorted by bytes: the lock takes the rows in that order, as
	// inserts do, so that the UPDATE ... FROM cannot deadlock with them.
	// The order is the bytes', not the database's collation, which may
	// sort base64url's cases and punctuation otherwise.
	counts := make([]int64, len(subs))
	for i, sub := range subs {
		counts[i] = -d.subjects[sub]
	}
	if _, err := tx.ExecContext(ctx, s.bind(`SELECT 1 FROM subjects WHERE pseudonym = ANY(?) ORDER BY pseudonym `+s.d.ByteOrder+` FOR UPDATE`), subs); err != nil {
		return fmt.Errorf("%s: locking respondents: %w", s.d.Name, err)
	}
	rows, err := tx.QueryContext(ctx, s.bind(`UPDATE subjects SET refs = subjects.refs - v.n FROM unnest(CAST(? AS TEXT[]), CAST(? AS BIGINT[])) AS v (p, n)
		WHERE subjects.pseudonym = v.p RETURNING subjects.pseudonym, subjects.refs`), subs, counts)
	if err != nil {
		return fmt.Errorf("%s: uncounting respondents: %w", s.d.Name, err)
	}
	var gone []string
	for rows.Next() {
		var sub string
		var refs int64
		if err := rows.Scan(&sub, &refs); err != nil {
			_ = rows.Close()
			return err
		}
		if refs <= 0 {
			gone = append(gone, sub)
		}
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("%s: uncounting respondents: %w", s.d.Name, err)
	}
	if len(gone) == 0 {
		return nil
	}
	d.counters[counterCustomers] -= int64(len(gone))
	// Keep no pseudonym of someone who has no response left.
	if _, err := tx.ExecContext(ctx, s.bind(`DELETE FROM subjects WHERE refs <= 0 AND pseudonym = ANY(?)`), gone); err != nil {
		return fmt.Errorf("%s: removing respondents: %w", s.d.Name, err)
	}
	return nil
}

// uncountSubjectValues is uncountSubjects for a dialect without arrays
// (SQLite): one UPDATE of (pseudonym, count) VALUES takes the references
// away, then one DELETE removes the respondents left with none, who stop
// counting as customers (as many as it deleted). No row comes back to Go.
// Both statements are written for a whole chunk and kept prepared where
// the dialect keeps statements; a shorter chunk is padded with a pseudonym
// no respondent has: none is empty, since count, forget and groupGone
// never count an empty one. No respondent is left at 0 references by an
// earlier transaction (each removes those it takes to 0), so the DELETE
// counts only this chunk's.
func (s *Store) uncountSubjectValues(ctx context.Context, tx *sql.Tx, subs []string, d *deltas) error {
	pairs := make([]any, 0, 2*subjectChunk)
	names := make([]any, 0, subjectChunk)
	for _, sub := range subs {
		pairs = append(pairs, sub, -d.subjects[sub])
		names = append(names, sub)
	}
	n := len(subs)
	if n < subjectChunk && s.d.PrepareGroupCommit {
		for range subjectChunk - n {
			pairs = append(pairs, "", 0)
			names = append(names, "")
		}
		n = subjectChunk
	}
	update, remove := s.uncountSubjectsSQL(n)
	if _, err := s.prepared.exec(ctx, tx, update, pairs...); err != nil {
		return fmt.Errorf("%s: uncounting respondents: %w", s.d.Name, err)
	}
	res, err := s.prepared.exec(ctx, tx, remove, names...)
	if err != nil {
		return fmt.Errorf("%s: removing respondents: %w", s.d.Name, err)
	}
	gone, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: removing respondents: %w", s.d.Name, err)
	}
	d.counters[counterCustomers] -= gone
	return nil
}

// uncountSubjectsSQL is uncountSubjectValues' UPDATE and DELETE for n
// respondents.
func (s *Store) uncountSubjectsSQL(n int) (update, remove string) {
	update = s.texts.text("uncount", n, func() string {
		return s.bind(`UPDATE subjects SET refs = subjects.refs - v.column2 FROM (VALUES ` +
			repeated("(?, CAST(? AS BIGINT))", n) +
			`) AS v WHERE subjects.pseudonym = v.column1`)
	})
	remove = s.texts.text("unreference", n, func() string {
		return s.bind(`DELETE FROM subjects WHERE refs <= 0 AND pseudonym IN (` + placeholders(n) + `)`)
	})
	return update, remove
}

func placeholders(n int) string { return repeated("?", n) }

// repeated is n copies of item, separated by commas: the rows of a
// multi-row VALUES, or a list of placeholders.
func repeated(item string, n int) string {
	return strings.TrimSuffix(strings.Repeat(item+", ", n), ", ")
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func sortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func bucketCounter(score int) string {
	b, _ := nps.Classify(score)
	switch b {
	case nps.Promoter:
		return counterPromoters
	case nps.Passive:
		return counterPassives
	default:
		return counterDetractors
	}
}

// inTx runs fn in one transaction with fresh counter deltas, applies the
// deltas and commits. Every write goes through here, so this is where a
// full disk becomes store.ErrNoSpace (once per transaction, only on error),
// and where a transaction the database aborted for another's sake
// (Dialect.Retry) runs again, after a short pause that grows: fn must set
// everything it hands out afresh each time it runs.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx, d *deltas) error) error {
	for attempt := 1; ; attempt++ {
		err := s.runTx(ctx, fn)
		if err == nil || attempt == txAttempts || s.d.Retry == nil || !s.d.Retry(err) {
			return s.d.noSpace(err)
		}
		pause := time.NewTimer(time.Duration(attempt) * retryPause)
		select {
		case <-ctx.Done():
			pause.Stop()
			return err
		case <-pause.C:
		}
	}
}

// txAttempts is how many times inTx runs a transaction the database keeps
// aborting (Dialect.Retry), and retryPause the pause after the first.
const (
	txAttempts = 4
	retryPause = 5 * time.Millisecond
)

// runTx is inTx without the error classification.
func (s *Store) runTx(ctx context.Context, fn func(tx *sql.Tx, d *deltas) error) error {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: begin: %w", s.d.Name, err)
	}
	defer func() { _ = tx.Rollback() }()
	d := newDeltas()
	if err := fn(tx, d); err != nil {
		return err
	}
	if err := s.apply(ctx, tx, d); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: commit: %w", s.d.Name, err)
	}
	return nil
}

// write runs a transaction other than an insert on the writer goroutine,
// between group commits (see store.Batcher.Exclusive).
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx, d *deltas) error) error {
	return s.batcher.Exclusive(ctx, func() error {
		defer s.writes.Add(1)
		return s.inTx(ctx, fn)
	})
}

// flush writes one group commit: in two round trips where the dialect can
// send several statements at once (flushTwoTrips), else statement by
// statement.
func (s *Store) flush(batch []*store.Pending) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.flushTimeout)
	defer cancel()
	subjects := map[string]bool{}
	for _, p := range batch {
		if sub := p.Record.Subject(); sub != "" {
			subjects[sub] = true
		}
	}
	if err := s.prepareGroup(ctx, len(batch), len(subjects)); err != nil {
		return s.d.noSpace(fmt.Errorf("%s: preparing the group commit: %w", s.d.Name, err))
	}
	return s.inDays(ctx, batch, func() error {
		if s.d.RoundTrip != nil {
			done, err := s.flushTwoTrips(ctx, batch)
			if done || err != nil {
				return s.d.noSpace(err)
			}
		}
		return s.inTx(ctx, func(tx *sql.Tx, d *deltas) error {
			if q := s.lockTimeout; q != "" {
				if _, err := tx.ExecContext(ctx, q); err != nil {
					return fmt.Errorf("%s: %w", s.d.Name, err)
				}
			}
			for start := 0; start < len(batch); start += insertChunk {
				if err := s.insertChunk(ctx, tx, batch[start:min(start+insertChunk, len(batch))], d); err != nil {
					return err
				}
			}
			return nil
		})
	})
}

// insertChunk is how many responses one INSERT statement carries.
const insertChunk = 200

const insertColumns = 11

// insertChunk writes a chunk of responses with one multi-row INSERT. Rows
// whose idempotency key is already stored (or repeated earlier in the same
// chunk) are skipped by ON CONFLICT; RETURNING says which rows went in, and
// the others are answered with the ID stored first.
func (s *Store) insertChunk(ctx context.Context, tx *sql.Tx, chunk []*store.Pending, d *deltas) error {
	args, err := insertArgs(chunk)
	if err != nil {
		return err
	}
	rows, err := s.prepared.query(ctx, tx, s.insertSQL(len(chunk)), args...)
	if err != nil {
		return fmt.Errorf("%s: inserting responses: %w", s.d.Name, err)
	}
	inserted := make(map[string]bool, len(chunk))
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			_ = rows.Close()
			return err
		}
		inserted[id] = true
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("%s: inserting responses: %w", s.d.Name, err)
	}
	for _, p := range chunk {
		r := p.Record
		if !inserted[r.ID] {
			var id string
			if err := tx.QueryRowContext(ctx, s.q.dupID, r.IdempotencyKey).Scan(&id); err != nil {
				return fmt.Errorf("%s: reading the first response for an idempotency key: %w", s.d.Name, err)
			}
			p.Result = store.InsertResult{ID: id, Duplicate: true}
			continue
		}
		p.Result = store.InsertResult{ID: r.ID}
		d.count(r)
	}
	return nil
}

// insertArgs are the bind arguments of the INSERT of chunk (insertSQL).
func insertArgs(chunk []*store.Pending) ([]any, error) {
	args := make([]any, 0, len(chunk)*insertColumns)
	for _, p := range chunk {
		r := p.Record
		segments := []byte("{}")
		if r.Segments != nil {
			var err error
			if segments, err = json.Marshal(r.Segments); err != nil {
				return nil, err
			}
		}
		keyID := sql.NullString{}
		if hasPersonal(r) {
			keyID = nullString(r.KeyID)
		}
		args = append(args, r.ID, nullString(r.IdempotencyKey), r.ReceivedAt.UnixMilli(), r.Score, string(segments),
			keyID, r.Email, r.CustomerID, r.Comment, nullString(r.SubjectCustomerID), nullString(r.SubjectEmail))
	}
	return args, nil
}

// count adds an inserted response to the deltas.
func (d *deltas) count(r *store.Record) {
	d.counters[bucketCounter(r.Score)]++
	if hasPersonal(r) {
		d.counters[prefixKey+r.KeyID]++
	}
	for kind, n := range r.Redactions {
		d.counters[prefixRedaction+kind] += int64(n)
	}
	if sub := r.Subject(); sub != "" {
		d.subjects[sub]++
	}
}

func hasPersonal(r *store.Record) bool {
	return r.Email != nil || r.CustomerID != nil || r.Comment != nil
}

// Ping implements store.Store: a store whose fsync failed (store.ErrSyncFailed)
// is not reachable for writes any more.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.batcher.Err(); err != nil {
		return err
	}
	return s.writer.PingContext(ctx)
}

// Close implements store.Store: pending inserts are committed first.
func (s *Store) Close() error {
	s.batcher.Close()
	perr := s.prepared.close()
	if s.reader == s.writer {
		return errors.Join(perr, s.writer.Close())
	}
	return errors.Join(perr, s.writer.Close(), s.reader.Close())
}

func nullString(v string) sql.NullString { return sql.NullString{String: v, Valid: v != ""} }

// Placeholder functions for the dialects.
var (
	// QuestionMark is SQLite's "?".
	QuestionMark = func(int) string { return "?" }
	// Dollar is PostgreSQL's "$n".
	Dollar = func(n int) string { return "$" + strconv.Itoa(n) }
)
