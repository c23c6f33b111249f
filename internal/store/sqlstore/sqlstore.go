// Package sqlstore is the store logic shared by the SQL backends: the schema,
// group-committed inserts, running counters, purge, erasure and re-wrap, in
// SQL that SQLite and PostgreSQL both speak. A backend supplies the
// connections and a Dialect.
package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
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
}

// Counter names in the counters table.
const (
	counterPromoters  = "promoters"
	counterPassives   = "passives"
	counterDetractors = "detractors"
	counterCustomers  = "customers"
	prefixRedaction   = "redaction:"
	prefixKey         = "key:"
	metaLastPurge     = "lastPurge"
)

// Store is a store.Store over database/sql.
type Store struct {
	d       Dialect
	writer  *sql.DB // every write goes through here (one connection for SQLite)
	reader  *sql.DB
	batcher *store.Batcher
	q       queries
}

type queries struct {
	insert, dupID, subjectUp, subjectDown, subjectGone, counter, selectOld, selectOldRaw,
	deleteID, anonymizeID, selectRewrap, updateRewrap string
}

// Options tune a Store.
type Options struct {
	// MaxBatch is the most inserts one group commit takes.
	MaxBatch int
	// ObserveCommit, when set, is told each group commit's size and duration.
	ObserveCommit func(size int, took time.Duration)
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
	s := &Store{d: d, writer: writer, reader: reader}
	s.q = queries{
		insert: s.bind(`INSERT INTO responses (id, idempotency_key, received_at, score, segments, key_id,
			email, customer_id, comment, subject_customer, subject_email, anonymized)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0) ON CONFLICT (idempotency_key) DO NOTHING`),
		dupID:       s.bind(`SELECT id FROM responses WHERE idempotency_key = ?`),
		subjectUp:   s.bind(`INSERT INTO subjects (pseudonym, refs) VALUES (?, ?) ON CONFLICT (pseudonym) DO UPDATE SET refs = subjects.refs + excluded.refs RETURNING refs`),
		subjectDown: s.bind(`UPDATE subjects SET refs = refs - ? WHERE pseudonym = ? RETURNING refs`),
		subjectGone: s.bind(`DELETE FROM subjects WHERE pseudonym = ? AND refs <= 0`),
		counter:     s.bind(`INSERT INTO counters (name, n) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET n = counters.n + excluded.n`),
		selectOld: s.bind(`SELECT id, score, key_id, subject_customer, subject_email, anonymized FROM responses
			WHERE received_at < ? ORDER BY received_at, id LIMIT ?`),
		selectOldRaw: s.bind(`SELECT id, score, key_id, subject_customer, subject_email, anonymized FROM responses
			WHERE anonymized = 0 AND received_at < ? ORDER BY received_at, id LIMIT ?`),
		deleteID:    s.bind(`DELETE FROM responses WHERE id = ?`),
		anonymizeID: s.bind(`UPDATE responses SET email = NULL, customer_id = NULL, comment = NULL, key_id = NULL, subject_customer = NULL, subject_email = NULL, anonymized = 1, received_at = received_at - (received_at % 86400000) WHERE id = ? AND anonymized = 0`),
		selectRewrap: s.bind(`SELECT id, key_id, email, customer_id, comment FROM responses
			WHERE key_id IS NOT NULL AND key_id <> ? ORDER BY id LIMIT ?`),
		updateRewrap: s.bind(`UPDATE responses SET key_id = ?, email = ?, customer_id = ?, comment = ? WHERE id = ? AND key_id = ?`),
	}
	s.batcher = store.NewBatcher(o.MaxBatch, s.flush, o.ObserveCommit)
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
			return fmt.Errorf("%s: creating the schema: %w", d.Name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: creating the schema: %w", d.Name, err)
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
	for _, sub := range sortedKeys(d.subjects) {
		n := d.subjects[sub]
		switch {
		case n > 0:
			var refs int64
			if err := tx.QueryRowContext(ctx, s.q.subjectUp, sub, n).Scan(&refs); err != nil {
				return fmt.Errorf("%s: counting a respondent: %w", s.d.Name, err)
			}
			if refs == n {
				d.counters[counterCustomers]++
			}
		case n < 0:
			var refs int64
			err := tx.QueryRowContext(ctx, s.q.subjectDown, -n, sub).Scan(&refs)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return fmt.Errorf("%s: uncounting a respondent: %w", s.d.Name, err)
			}
			if refs <= 0 {
				d.counters[counterCustomers]--
				// Keep no pseudonym of someone who has no response left.
				if _, err := tx.ExecContext(ctx, s.q.subjectGone, sub); err != nil {
					return fmt.Errorf("%s: removing a respondent: %w", s.d.Name, err)
				}
			}
		}
	}
	for _, name := range sortedKeys(d.counters) {
		if n := d.counters[name]; n != 0 {
			if _, err := tx.ExecContext(ctx, s.q.counter, name, n); err != nil {
				return fmt.Errorf("%s: updating counter %s: %w", s.d.Name, name, err)
			}
		}
	}
	return nil
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

// flush writes one group commit.
func (s *Store) flush(batch []*store.Pending) error {
	ctx := context.Background()
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: begin: %w", s.d.Name, err)
	}
	defer func() { _ = tx.Rollback() }()
	d := newDeltas()
	for _, p := range batch {
		res, err := s.insertOne(ctx, tx, p.Record, d)
		if err != nil {
			return err
		}
		p.Result = res
	}
	if err := s.apply(ctx, tx, d); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: commit: %w", s.d.Name, err)
	}
	return nil
}

func (s *Store) insertOne(ctx context.Context, tx *sql.Tx, r *store.Record, d *deltas) (store.InsertResult, error) {
	segments, err := json.Marshal(r.Segments)
	if err != nil {
		return store.InsertResult{}, err
	}
	if r.Segments == nil {
		segments = []byte("{}")
	}
	hasPersonal := r.Email != nil || r.CustomerID != nil || r.Comment != nil
	keyID := nullString(r.KeyID)
	if !hasPersonal {
		keyID = sql.NullString{}
	}
	res, err := tx.ExecContext(ctx, s.q.insert, r.ID, nullString(r.IdempotencyKey), r.ReceivedAt.UnixMilli(),
		r.Score, string(segments), keyID, r.Email, r.CustomerID, r.Comment,
		nullString(r.SubjectCustomerID), nullString(r.SubjectEmail))
	if err != nil {
		return store.InsertResult{}, fmt.Errorf("%s: inserting a response: %w", s.d.Name, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return store.InsertResult{}, err
	} else if n == 0 {
		var id string
		if err := tx.QueryRowContext(ctx, s.q.dupID, r.IdempotencyKey).Scan(&id); err != nil {
			return store.InsertResult{}, fmt.Errorf("%s: reading the first response for an idempotency key: %w", s.d.Name, err)
		}
		return store.InsertResult{ID: id, Duplicate: true}, nil
	}
	d.counters[bucketCounter(r.Score)]++
	if hasPersonal {
		d.counters[prefixKey+r.KeyID]++
	}
	for kind, n := range r.Redactions {
		d.counters[prefixRedaction+kind] += int64(n)
	}
	if sub := r.Subject(); sub != "" {
		d.subjects[sub]++
	}
	return store.InsertResult{ID: r.ID}, nil
}

// row is what purge and erase need to know of a response.
type row struct {
	id        string
	score     int
	keyID     sql.NullString
	subCust   sql.NullString
	subEmail  sql.NullString
	anonymous bool
}

func (r row) subject() string {
	if r.subCust.Valid && r.subCust.String != "" {
		return r.subCust.String
	}
	return r.subEmail.String
}

func scanRows(rows *sql.Rows) ([]row, error) {
	defer func() { _ = rows.Close() }()
	var out []row
	for rows.Next() {
		var r row
		var anon int
		if err := rows.Scan(&r.id, &r.score, &r.keyID, &r.subCust, &r.subEmail, &anon); err != nil {
			return nil, err
		}
		r.anonymous = anon != 0
		out = append(out, r)
	}
	return out, rows.Err()
}

// forget drops what a row contributes to the identity counters: its key's
// count and its respondent's reference.
func forget(r row, d *deltas) {
	if r.keyID.Valid {
		d.counters[prefixKey+r.keyID.String]--
	}
	if sub := r.subject(); sub != "" && !r.anonymous {
		d.subjects[sub]--
	}
}

// deleteRows deletes rows and takes them out of every counter.
func (s *Store) deleteRows(ctx context.Context, tx *sql.Tx, rows []row, d *deltas) error {
	for _, r := range rows {
		gone, err := s.execOne(ctx, tx, s.q.deleteID, r.id)
		if err != nil {
			return fmt.Errorf("%s: deleting a response: %w", s.d.Name, err)
		}
		if !gone { // another replica deleted it first: it is not ours to uncount
			continue
		}
		d.counters[bucketCounter(r.score)]--
		forget(r, d)
	}
	return nil
}

// execOne runs a statement that targets one row and reports whether it did.
func (s *Store) execOne(ctx context.Context, tx *sql.Tx, q string, args ...any) (bool, error) {
	res, err := tx.ExecContext(ctx, q, args...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// Purge implements store.Store.
func (s *Store) Purge(ctx context.Context, req store.PurgeRequest) (store.PurgeReceipt, error) {
	if req.Action != store.ActionDelete && req.Action != store.ActionAnonymize {
		return store.PurgeReceipt{}, fmt.Errorf("unknown purge action %q: want Delete or Anonymize", req.Action)
	}
	batch := req.BatchSize
	if batch <= 0 || batch > store.MaxPurgeBatch {
		batch = store.MaxPurgeBatch
	}
	receipt := store.PurgeReceipt{Cutoff: req.Cutoff.UTC(), Action: req.Action, DryRun: req.DryRun, StartedAt: time.Now().UTC()}
	digest := sha256.New()
	sel := s.q.selectOld
	if req.Action == store.ActionAnonymize {
		sel = s.q.selectOldRaw
	}
	if req.DryRun {
		n, err := s.countPurge(ctx, sel, req.Cutoff, digest)
		if err != nil {
			return receipt, err
		}
		s.tally(&receipt, req.Action, n)
	} else {
		for {
			n, err := s.purgeBatch(ctx, sel, req, batch, digest)
			if err != nil {
				return receipt, err
			}
			s.tally(&receipt, req.Action, int64(n))
			if n < batch {
				break
			}
		}
	}
	receipt.Digest = hex.EncodeToString(digest.Sum(nil))
	receipt.FinishedAt = time.Now().UTC()
	if !req.DryRun {
		if err := s.saveReceipt(ctx, receipt); err != nil {
			return receipt, err
		}
	}
	return receipt, nil
}

func (s *Store) tally(r *store.PurgeReceipt, a store.Action, n int64) {
	if a == store.ActionAnonymize {
		r.Anonymized += n
	} else {
		r.Purged += n
	}
}

// countPurge walks what a purge would touch without changing anything.
func (s *Store) countPurge(ctx context.Context, sel string, cutoff time.Time, digest interface{ Write([]byte) (int, error) }) (int64, error) {
	rows, err := s.reader.QueryContext(ctx, sel, cutoff.UnixMilli(), int64(1)<<62)
	if err != nil {
		return 0, fmt.Errorf("%s: listing old responses: %w", s.d.Name, err)
	}
	list, err := scanRows(rows)
	if err != nil {
		return 0, err
	}
	for _, r := range list {
		_, _ = digest.Write([]byte(r.id + "\n"))
	}
	return int64(len(list)), nil
}

func (s *Store) purgeBatch(ctx context.Context, sel string, req store.PurgeRequest, batch int, digest interface{ Write([]byte) (int, error) }) (int, error) {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("%s: begin: %w", s.d.Name, err)
	}
	defer func() { _ = tx.Rollback() }()
	rows, err := tx.QueryContext(ctx, sel, req.Cutoff.UnixMilli(), batch)
	if err != nil {
		return 0, fmt.Errorf("%s: listing old responses: %w", s.d.Name, err)
	}
	list, err := scanRows(rows)
	if err != nil {
		return 0, err
	}
	d := newDeltas()
	if req.Action == store.ActionDelete {
		err = s.deleteRows(ctx, tx, list, d)
	} else {
		for _, r := range list {
			var done bool
			if done, err = s.execOne(ctx, tx, s.q.anonymizeID, r.id); err != nil {
				break
			}
			if done {
				forget(r, d)
			}
		}
	}
	if err != nil {
		return 0, fmt.Errorf("%s: purging: %w", s.d.Name, err)
	}
	if err := s.apply(ctx, tx, d); err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("%s: commit: %w", s.d.Name, err)
	}
	for _, r := range list {
		_, _ = digest.Write([]byte(r.id + "\n"))
	}
	return len(list), nil
}

func (s *Store) saveReceipt(ctx context.Context, r store.PurgeReceipt) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	q := s.bind(`INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v`)
	if _, err := s.writer.ExecContext(ctx, q, metaLastPurge, string(data)); err != nil {
		return fmt.Errorf("%s: saving the purge receipt: %w", s.d.Name, err)
	}
	return nil
}

// Erase implements store.Store.
func (s *Store) Erase(ctx context.Context, subjects ...string) (int64, error) {
	if len(subjects) == 0 {
		return 0, nil
	}
	marks := make([]string, len(subjects))
	args := make([]any, 0, 2*len(subjects))
	for i, sub := range subjects {
		marks[i] = "?"
		args = append(args, sub)
	}
	for _, sub := range subjects {
		args = append(args, sub)
	}
	in := strings.Join(marks, ", ")
	sel := s.bind(`SELECT id, score, key_id, subject_customer, subject_email, anonymized FROM responses
		WHERE subject_customer IN (` + in + `) OR subject_email IN (` + in + `)`)
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("%s: begin: %w", s.d.Name, err)
	}
	defer func() { _ = tx.Rollback() }()
	rows, err := tx.QueryContext(ctx, sel, args...)
	if err != nil {
		return 0, fmt.Errorf("%s: finding the subject's responses: %w", s.d.Name, err)
	}
	list, err := scanRows(rows)
	if err != nil {
		return 0, err
	}
	d := newDeltas()
	if err := s.deleteRows(ctx, tx, list, d); err != nil {
		return 0, err
	}
	if err := s.apply(ctx, tx, d); err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("%s: commit: %w", s.d.Name, err)
	}
	return int64(len(list)), nil
}

// Rewrap implements store.Store.
func (s *Store) Rewrap(ctx context.Context, activeKeyID string, limit int, fn func(*store.Record) error) (int, error) {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("%s: begin: %w", s.d.Name, err)
	}
	defer func() { _ = tx.Rollback() }()
	rows, err := tx.QueryContext(ctx, s.q.selectRewrap, activeKeyID, limit)
	if err != nil {
		return 0, fmt.Errorf("%s: listing responses to re-wrap: %w", s.d.Name, err)
	}
	var recs []*store.Record
	for rows.Next() {
		r := &store.Record{}
		if err := rows.Scan(&r.ID, &r.KeyID, &r.Email, &r.CustomerID, &r.Comment); err != nil {
			_ = rows.Close()
			return 0, err
		}
		recs = append(recs, r)
	}
	if err := rows.Close(); err != nil {
		return 0, err
	}
	d := newDeltas()
	for _, r := range recs {
		old := r.KeyID
		if err := fn(r); err != nil {
			return 0, fmt.Errorf("re-wrapping response %s: %w", r.ID, err)
		}
		done, err := s.execOne(ctx, tx, s.q.updateRewrap, r.KeyID, r.Email, r.CustomerID, r.Comment, r.ID, old)
		if err != nil {
			return 0, fmt.Errorf("%s: storing a re-wrapped response: %w", s.d.Name, err)
		}
		if !done { // purged, erased or re-wrapped by another replica meanwhile
			continue
		}
		d.counters[prefixKey+old]--
		d.counters[prefixKey+r.KeyID]++
	}
	if err := s.apply(ctx, tx, d); err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("%s: commit: %w", s.d.Name, err)
	}
	return len(recs), nil
}

// Stats implements store.Store. It reads the counters, one index lookup for
// the oldest raw response and the last receipt: no table scan.
func (s *Store) Stats(ctx context.Context) (store.Stats, error) {
	st := store.Stats{Redactions: map[string]int64{}, KeyIDs: map[string]int64{}}
	rows, err := s.reader.QueryContext(ctx, `SELECT name, n FROM counters`)
	if err != nil {
		return st, fmt.Errorf("%s: reading counters: %w", s.d.Name, err)
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		var name string
		var n int64
		if err := rows.Scan(&name, &n); err != nil {
			return st, err
		}
		switch {
		case name == counterPromoters:
			st.Counts.Promoters = n
		case name == counterPassives:
			st.Counts.Passives = n
		case name == counterDetractors:
			st.Counts.Detractors = n
		case name == counterCustomers:
			st.DistinctCustomers = n
		case strings.HasPrefix(name, prefixRedaction) && n != 0:
			st.Redactions[strings.TrimPrefix(name, prefixRedaction)] = n
		case strings.HasPrefix(name, prefixKey) && n != 0:
			st.KeyIDs[strings.TrimPrefix(name, prefixKey)] = n
		}
	}
	if err := rows.Err(); err != nil {
		return st, err
	}
	var oldest sql.NullInt64
	if err := s.reader.QueryRowContext(ctx, `SELECT MIN(received_at) FROM responses WHERE anonymized = 0`).Scan(&oldest); err != nil {
		return st, fmt.Errorf("%s: reading the oldest response: %w", s.d.Name, err)
	}
	if oldest.Valid {
		t := time.UnixMilli(oldest.Int64).UTC()
		st.OldestRecordTime = &t
	}
	var receipt sql.NullString
	err = s.reader.QueryRowContext(ctx, s.bind(`SELECT v FROM meta WHERE k = ?`), metaLastPurge).Scan(&receipt)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return st, fmt.Errorf("%s: reading the last purge: %w", s.d.Name, err)
	}
	if receipt.Valid {
		st.LastPurge = &store.PurgeReceipt{}
		if err := json.Unmarshal([]byte(receipt.String), st.LastPurge); err != nil {
			return st, fmt.Errorf("%s: decoding the last purge: %w", s.d.Name, err)
		}
	}
	return st, nil
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, id string) (*store.Record, error) {
	r := &store.Record{ID: id}
	var idem, keyID, subCust, subEmail sql.NullString
	var received int64
	var segments string
	var anon int
	err := s.reader.QueryRowContext(ctx, s.bind(`SELECT idempotency_key, received_at, score, segments, key_id,
		email, customer_id, comment, subject_customer, subject_email, anonymized FROM responses WHERE id = ?`), id).
		Scan(&idem, &received, &r.Score, &segments, &keyID, &r.Email, &r.CustomerID, &r.Comment, &subCust, &subEmail, &anon)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("%s: reading response %s: %w", s.d.Name, id, err)
	}
	r.IdempotencyKey, r.KeyID, r.SubjectCustomerID, r.SubjectEmail = idem.String, keyID.String, subCust.String, subEmail.String
	r.ReceivedAt = time.UnixMilli(received).UTC()
	r.Anonymized = anon != 0
	if err := json.Unmarshal([]byte(segments), &r.Segments); err != nil {
		return nil, fmt.Errorf("%s: decoding the segments of %s: %w", s.d.Name, id, err)
	}
	return r, nil
}

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error { return s.writer.PingContext(ctx) }

// Close implements store.Store: pending inserts are committed first.
func (s *Store) Close() error {
	s.batcher.Close()
	if s.reader == s.writer {
		return s.writer.Close()
	}
	return errors.Join(s.writer.Close(), s.reader.Close())
}

func nullString(v string) sql.NullString { return sql.NullString{String: v, Valid: v != ""} }

// Placeholder functions for the dialects.
var (
	// QuestionMark is SQLite's "?".
	QuestionMark = func(int) string { return "?" }
	// Dollar is PostgreSQL's "$n".
	Dollar = func(n int) string { return "$" + strconv.Itoa(n) }
)
