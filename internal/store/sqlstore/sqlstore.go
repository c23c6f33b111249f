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
	"math"
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
	// LockSubjects, when set, is a statement (with one %s for the
	// placeholders) that locks the named subjects rows in sorted order.
	LockSubjects string
	// PurgeBatch is the default number of rows per purge transaction, at
	// most store.MaxPurgeBatch. SQLite has one writer, so its batches are
	// smaller: ingest waits for at most one of them.
	PurgeBatch int
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
	dupID, counter, selectOld, deleteOld,
	selectRewrap, updateRewrap string
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
		dupID:   s.bind(`SELECT id FROM responses WHERE idempotency_key = ?`),
		counter: s.bind(`INSERT INTO counters (name, n) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET n = counters.n + excluded.n`),
		selectOld: s.bind(`SELECT ` + rowColumns + ` FROM responses
			WHERE anonymized = ? AND received_at < ? ORDER BY received_at, id LIMIT ?`),
		deleteOld: s.bind(`DELETE FROM responses WHERE id IN (SELECT id FROM responses
			WHERE anonymized = ? AND received_at < ? ORDER BY received_at, id LIMIT ?) RETURNING ` + rowColumns),
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
	for start := 0; start < len(down); start += subjectChunk {
		if err := s.uncountSubjects(ctx, tx, down[start:min(start+subjectChunk, len(down))], d); err != nil {
			return err
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

// subjectChunk is how many respondents one statement updates.
const subjectChunk = 250

// countSubjects adds references to respondents in one upsert; a respondent
// whose count equals what was added is new, and counts as a customer.
func (s *Store) countSubjects(ctx context.Context, tx *sql.Tx, subs []string, d *deltas) error {
	marks := make([]string, len(subs))
	args := make([]any, 0, 2*len(subs))
	for i, sub := range subs {
		marks[i] = "(?, ?)"
		args = append(args, sub, d.subjects[sub])
	}
	q := s.bind(`INSERT INTO subjects (pseudonym, refs) VALUES ` + strings.Join(marks, ", ") +
		` ON CONFLICT (pseudonym) DO UPDATE SET refs = subjects.refs + excluded.refs RETURNING pseudonym, refs`)
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("%s: counting respondents: %w", s.d.Name, err)
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		var sub string
		var refs int64
		if err := rows.Scan(&sub, &refs); err != nil {
			return err
		}
		if refs == d.subjects[sub] {
			d.counters[counterCustomers]++
		}
	}
	return rows.Err()
}

// uncountSubjects removes references in one statement; a respondent left
// with none stops counting as a customer and their pseudonym is deleted.
func (s *Store) uncountSubjects(ctx context.Context, tx *sql.Tx, subs []string, d *deltas) error {
	marks := make([]string, len(subs))
	args := make([]any, 0, 2*len(subs))
	for i, sub := range subs {
		marks[i] = "(?, CAST(? AS BIGINT))"
		args = append(args, sub, -d.subjects[sub])
	}
	if s.d.LockSubjects != "" {
		// Lock in sorted order first, as inserts do, so that an UPDATE ... FROM
		// cannot deadlock with them.
		if _, err := tx.ExecContext(ctx, s.bind(fmt.Sprintf(s.d.LockSubjects, placeholders(len(subs)))), anys(subs)...); err != nil {
			return fmt.Errorf("%s: locking respondents: %w", s.d.Name, err)
		}
	}
	q := s.bind(`UPDATE subjects SET refs = subjects.refs - v.column2 FROM (VALUES ` + strings.Join(marks, ", ") +
		`) AS v WHERE subjects.pseudonym = v.column1 RETURNING subjects.pseudonym, subjects.refs`)
	rows, err := tx.QueryContext(ctx, q, args...)
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
	q = s.bind(`DELETE FROM subjects WHERE refs <= 0 AND pseudonym IN (` + placeholders(len(gone)) + `)`)
	if _, err := tx.ExecContext(ctx, q, anys(gone)...); err != nil {
		return fmt.Errorf("%s: removing respondents: %w", s.d.Name, err)
	}
	return nil
}

func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }

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

// flush writes one group commit.
func (s *Store) flush(batch []*store.Pending) error {
	ctx := context.Background()
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: begin: %w", s.d.Name, err)
	}
	defer func() { _ = tx.Rollback() }()
	d := newDeltas()
	for start := 0; start < len(batch); start += insertChunk {
		if err := s.insertChunk(ctx, tx, batch[start:min(start+insertChunk, len(batch))], d); err != nil {
			return err
		}
	}
	if err := s.apply(ctx, tx, d); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: commit: %w", s.d.Name, err)
	}
	return nil
}

// insertChunk is how many responses one INSERT statement carries.
const insertChunk = 200

const insertColumns = 11

// insertChunk writes a chunk of responses with one multi-row INSERT. Rows
// whose idempotency key is already stored (or repeated earlier in the same
// chunk) are skipped by ON CONFLICT; RETURNING says which rows went in, and
// the others are answered with the ID stored first.
func (s *Store) insertChunk(ctx context.Context, tx *sql.Tx, chunk []*store.Pending, d *deltas) error {
	var q strings.Builder
	q.WriteString(`INSERT INTO responses (id, idempotency_key, received_at, score, segments, key_id,
		email, customer_id, comment, subject_customer, subject_email) VALUES `)
	args := make([]any, 0, len(chunk)*insertColumns)
	for i, p := range chunk {
		r := p.Record
		segments := []byte("{}")
		if r.Segments != nil {
			var err error
			if segments, err = json.Marshal(r.Segments); err != nil {
				return err
			}
		}
		keyID := sql.NullString{}
		if hasPersonal(r) {
			keyID = nullString(r.KeyID)
		}
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
		args = append(args, r.ID, nullString(r.IdempotencyKey), r.ReceivedAt.UnixMilli(), r.Score, string(segments),
			keyID, r.Email, r.CustomerID, r.Comment, nullString(r.SubjectCustomerID), nullString(r.SubjectEmail))
	}
	q.WriteString(" ON CONFLICT (idempotency_key) DO NOTHING RETURNING id")
	rows, err := tx.QueryContext(ctx, s.bind(q.String()), args...)
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
	return nil
}

func hasPersonal(r *store.Record) bool {
	return r.Email != nil || r.CustomerID != nil || r.Comment != nil
}

// row is what purge and erase need to know of a response.
// rowColumns are the columns scanRows reads.
const rowColumns = `id, score, key_id, subject_customer, subject_email, anonymized, received_at`

type row struct {
	id         string
	score      int
	keyID      sql.NullString
	subCust    sql.NullString
	subEmail   sql.NullString
	anonymous  bool
	receivedAt int64
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
		if err := rows.Scan(&r.id, &r.score, &r.keyID, &r.subCust, &r.subEmail, &anon, &r.receivedAt); err != nil {
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
	byID := make(map[string]row, len(rows))
	for _, r := range rows {
		byID[r.id] = r
	}
	// One statement per chunk of IDs; RETURNING says which rows this
	// transaction really deleted (another replica may have been first), so
	// only those are taken out of the counters.
	for start := 0; start < len(rows); start += deleteChunk {
		chunk := rows[start:min(start+deleteChunk, len(rows))]
		args := make([]any, len(chunk))
		marks := make([]string, len(chunk))
		for i, r := range chunk {
			args[i], marks[i] = r.id, "?"
		}
		q := s.bind(`DELETE FROM responses WHERE id IN (` + strings.Join(marks, ", ") + `) RETURNING id`)
		res, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("%s: deleting responses: %w", s.d.Name, err)
		}
		for res.Next() {
			var id string
			if err := res.Scan(&id); err != nil {
				_ = res.Close()
				return err
			}
			r := byID[id]
			d.counters[bucketCounter(r.score)]--
			forget(r, d)
		}
		if err := res.Close(); err != nil {
			return fmt.Errorf("%s: deleting responses: %w", s.d.Name, err)
		}
	}
	return nil
}

// deleteChunk is how many IDs one DELETE names: well under SQLite's and
// PostgreSQL's bind-parameter limits.
const deleteChunk = 500

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
	if batch <= 0 {
		batch = s.d.PurgeBatch
	}
	if batch <= 0 || batch > store.MaxPurgeBatch {
		batch = store.MaxPurgeBatch
	}
	receipt := store.PurgeReceipt{Cutoff: req.Cutoff.UTC(), Action: req.Action, DryRun: req.DryRun, StartedAt: time.Now().UTC()}
	digest := sha256.New()
	// Raw responses first, then (Delete only) the anonymized ones: each pass
	// walks the (anonymized, received_at, id) index in order.
	passes := []int{0, 1}
	if req.Action == store.ActionAnonymize {
		passes = passes[:1]
	}
	for _, anonymized := range passes {
		for {
			var list []row
			var err error
			if req.DryRun {
				list, err = s.listOld(ctx, s.reader, anonymized, req.Cutoff, -1)
			} else {
				list, err = s.purgeBatch(ctx, anonymized, req, batch)
			}
			if err != nil {
				return receipt, err
			}
			for _, r := range list {
				_, _ = digest.Write([]byte(r.id + "\n"))
			}
			s.tally(&receipt, req.Action, int64(len(list)))
			if req.DryRun || len(list) < batch {
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

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// listOld lists up to limit (all when negative) responses received before
// cutoff, in (received_at, id) order.
func (s *Store) listOld(ctx context.Context, q querier, anonymized int, cutoff time.Time, limit int) ([]row, error) {
	if limit < 0 {
		limit = math.MaxInt32
	}
	rows, err := q.QueryContext(ctx, s.q.selectOld, anonymized, cutoff.UnixMilli(), limit)
	if err != nil {
		return nil, fmt.Errorf("%s: listing old responses: %w", s.d.Name, err)
	}
	return scanRows(rows)
}

// purgeBatch deletes or anonymizes one transaction's worth of old
// responses and returns those it changed, in (received_at, id) order.
func (s *Store) purgeBatch(ctx context.Context, anonymized int, req store.PurgeRequest, batch int) (done []row, err error) {
	err = s.batcher.Exclusive(ctx, func() error {
		done, err = s.purgeBatchTx(ctx, anonymized, req, batch)
		return err
	})
	return done, err
}

func (s *Store) purgeBatchTx(ctx context.Context, anonymized int, req store.PurgeRequest, batch int) ([]row, error) {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: begin: %w", s.d.Name, err)
	}
	defer func() { _ = tx.Rollback() }()
	d := newDeltas()
	var done []row
	if req.Action == store.ActionDelete {
		// One statement: pick the batch through the index and delete it;
		// RETURNING gives what the counters need.
		rows, err := tx.QueryContext(ctx, s.q.deleteOld, anonymized, req.Cutoff.UnixMilli(), batch)
		if err != nil {
			return nil, fmt.Errorf("%s: deleting old responses: %w", s.d.Name, err)
		}
		if done, err = scanRows(rows); err != nil {
			return nil, err
		}
		for _, r := range done {
			d.counters[bucketCounter(r.score)]--
			forget(r, d)
		}
	} else {
		list, err := s.listOld(ctx, tx, anonymized, req.Cutoff, batch)
		if err != nil {
			return nil, err
		}
		if done, err = s.anonymizeRows(ctx, tx, list, d); err != nil {
			return nil, err
		}
	}
	if err := s.apply(ctx, tx, d); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("%s: commit: %w", s.d.Name, err)
	}
	sort.Slice(done, func(i, j int) bool {
		if done[i].receivedAt != done[j].receivedAt {
			return done[i].receivedAt < done[j].receivedAt
		}
		return done[i].id < done[j].id
	})
	return done, nil
}

// anonymizeRows drops the personal fields of rows, in chunks; RETURNING
// says which this transaction changed (another replica may have been first).
func (s *Store) anonymizeRows(ctx context.Context, tx *sql.Tx, list []row, d *deltas) ([]row, error) {
	byID := make(map[string]row, len(list))
	var done []row
	for start := 0; start < len(list); start += deleteChunk {
		chunk := list[start:min(start+deleteChunk, len(list))]
		ids := make([]string, len(chunk))
		for i, r := range chunk {
			ids[i] = r.id
			byID[r.id] = r
		}
		q := s.bind(`UPDATE responses SET email = NULL, customer_id = NULL, comment = NULL, key_id = NULL,
			subject_customer = NULL, subject_email = NULL, anonymized = 1,
			received_at = received_at - (received_at % 86400000)
			WHERE anonymized = 0 AND id IN (` + placeholders(len(ids)) + `) RETURNING id`)
		rows, err := tx.QueryContext(ctx, q, anys(ids)...)
		if err != nil {
			return nil, fmt.Errorf("%s: anonymizing responses: %w", s.d.Name, err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				_ = rows.Close()
				return nil, err
			}
			r := byID[id]
			forget(r, d)
			done = append(done, r)
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("%s: anonymizing responses: %w", s.d.Name, err)
		}
	}
	return done, nil
}

func (s *Store) saveReceipt(ctx context.Context, r store.PurgeReceipt) error {
	return s.batcher.Exclusive(ctx, func() error { return s.saveReceiptTx(ctx, r) })
}

func (s *Store) saveReceiptTx(ctx context.Context, r store.PurgeReceipt) error {
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
func (s *Store) Erase(ctx context.Context, subjects ...string) (n int64, err error) {
	err = s.batcher.Exclusive(ctx, func() error {
		n, err = s.erase(ctx, subjects)
		return err
	})
	return n, err
}

func (s *Store) erase(ctx context.Context, subjects []string) (int64, error) {
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
	sel := s.bind(`SELECT ` + rowColumns + ` FROM responses
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
func (s *Store) Rewrap(ctx context.Context, activeKeyID string, limit int, fn func(*store.Record) error) (n int, err error) {
	err = s.batcher.Exclusive(ctx, func() error {
		n, err = s.rewrap(ctx, activeKeyID, limit, fn)
		return err
	})
	return n, err
}

func (s *Store) rewrap(ctx context.Context, activeKeyID string, limit int, fn func(*store.Record) error) (int, error) {
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
