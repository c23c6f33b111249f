package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/surveyguard/surveyguard/internal/store"
)

// rowColumns are the columns scanRows reads.
const rowColumns = `id, score, key_id, subject_customer, subject_email, anonymized, received_at`

// row is what purge and erase need to know of a response.
type row struct {
	id         string
	score      int
	keyID      sql.NullString
	subCust    sql.NullString
	subEmail   sql.NullString
	anonymous  bool
	receivedAt int64
	segments   string // read only by anonymizing purges
}

func (r row) subject() string {
	if r.subCust.Valid && r.subCust.String != "" {
		return r.subCust.String
	}
	return r.subEmail.String
}

// scanRows reads rows of rowColumns, followed by the segments when
// withSegments.
func scanRows(rows *sql.Rows, withSegments bool) ([]row, error) {
	defer func() { _ = rows.Close() }()
	var out []row
	for rows.Next() {
		var r row
		var anon int
		dest := []any{&r.id, &r.score, &r.keyID, &r.subCust, &r.subEmail, &anon, &r.receivedAt, &r.segments}
		if !withSegments {
			dest = dest[:len(dest)-1]
		}
		if err := rows.Scan(dest...); err != nil {
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

// uncount takes a deleted row out of every counter.
func uncount(r row, d *deltas) {
	d.counters[bucketCounter(r.score)]--
	forget(r, d)
}

// changeByID runs stmt (built for n IDs, ending in RETURNING id, key_id) on
// rows, in chunks, and returns the rows it really changed: another replica
// may have deleted or anonymized some first, and those must not be
// uncounted twice. Each returned row holds the key it was sealed by when
// it was changed, not when rows were read: a re-wrap that committed since
// moved its count to the new key, which is the one to take it from.
func (s *Store) changeByID(ctx context.Context, tx *sql.Tx, rows []row, stmt func(n int) string) ([]row, error) {
	byID := make(map[string]row, len(rows))
	var done []row
	for start := 0; start < len(rows); start += changeChunk {
		chunk := rows[start:min(start+changeChunk, len(rows))]
		args := make([]any, len(chunk))
		for i, r := range chunk {
			args[i] = r.id
			byID[r.id] = r
		}
		res, err := tx.QueryContext(ctx, s.bind(stmt(len(chunk))), args...)
		if err != nil {
			return nil, fmt.Errorf("%s: changing responses: %w", s.d.Name, err)
		}
		for res.Next() {
			var id string
			var key sql.NullString
			if err := res.Scan(&id, &key); err != nil {
				_ = res.Close()
				return nil, err
			}
			r := byID[id]
			r.keyID = key
			done = append(done, r)
		}
		if err := res.Close(); err != nil {
			return nil, fmt.Errorf("%s: changing responses: %w", s.d.Name, err)
		}
	}
	return done, nil
}

// changeChunk is how many IDs one statement names: well under SQLite's and
// PostgreSQL's bind-parameter limits.
const changeChunk = 500

func deleteByID(n int) string {
	return `DELETE FROM responses WHERE id IN (` + placeholders(n) + `) RETURNING id, key_id`
}

// anonymizeBatch replaces one transaction's worth of raw old responses by
// anonymous copies and returns the rows it replaced. Clearing the personal
// columns in place would not do: the ID holds the millisecond the response
// arrived, and the idempotency key may be known to the client, so either
// would link the copy back to the person. The rows are deleted (one
// statement, as a Delete purge does; RETURNING says which rows this
// transaction really took, should another replica take some first) and
// stored again keeping only the score, segments and day, under new IDs.
func (s *Store) anonymizeBatch(ctx context.Context, tx *sql.Tx, cutoff time.Time, batch int, d *deltas) ([]row, error) {
	rows, err := tx.QueryContext(ctx, s.q.anonymizeOld, store.CutoffMilli(cutoff), store.CutoffMilli(cutoff), batch)
	if err != nil {
		return nil, fmt.Errorf("%s: anonymizing old responses: %w", s.d.Name, err)
	}
	done, err := scanRows(rows, true)
	if err != nil {
		return nil, fmt.Errorf("%s: anonymizing old responses: %w", s.d.Name, err)
	}
	if err := s.insertAnonymous(ctx, tx, done); err != nil {
		return nil, err
	}
	for _, r := range done {
		forget(r, d) // the NPS counts stay: the copies keep the scores
	}
	return done, nil
}

// insertAnonymous stores the anonymous copies of rows, in multi-row
// INSERTs: each has a new ID made from the start of the row's UTC day (IDs
// still sort by time, to the day), that day as received_at, the score and
// the segments; nothing else.
func (s *Store) insertAnonymous(ctx context.Context, tx *sql.Tx, rows []row) error {
	for start := 0; start < len(rows); start += changeChunk {
		chunk := rows[start:min(start+changeChunk, len(rows))]
		args := make([]any, 0, 4*len(chunk))
		for _, r := range chunk {
			day := dayStart(time.UnixMilli(r.receivedAt))
			args = append(args, store.NewID(day), day.UnixMilli(), r.score, r.segments)
		}
		q := `INSERT INTO responses (id, received_at, score, segments, anonymized) VALUES ` +
			repeated("(?, ?, ?, ?, 1)", len(chunk))
		if _, err := tx.ExecContext(ctx, s.bind(q), args...); err != nil {
			return fmt.Errorf("%s: storing anonymized responses: %w", s.d.Name, err)
		}
	}
	return nil
}

// dayStart is the start of t's day in UTC: all an anonymized response
// keeps of when it arrived.
func dayStart(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
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
	receipt := store.PurgeReceipt{Cutoff: req.Cutoff.UTC(), Action: req.Action, DryRun: req.DryRun, Job: req.Job, StartedAt: time.Now().UTC()}
	digest := sha256.New()
	// Raw responses first, then (Delete only) the anonymized ones: each pass
	// walks the (anonymized, received_at, id) index in order.
	passes := []int{0, 1}
	if req.Action == store.ActionAnonymize {
		passes = passes[:1]
	}
	for _, anonymized := range passes {
		var err error
		switch {
		case req.DryRun:
			var n int64
			n, err = s.hashOld(ctx, anonymized, req.Cutoff, digest)
			s.tally(&receipt, req.Action, n)
		case s.d.Partitioned && req.Action == store.ActionDelete:
			// A partitioned store takes the days wholly before the
			// cutoff a partition at a time; the batches then find only
			// the cutoff's day.
			err = s.wholeDays(ctx, anonymized, req.Cutoff, batch, digest, &receipt)
		default:
			err = s.batches(ctx, req.Action, anonymized, req.Cutoff, batch, digest, &receipt)
		}
		if err != nil {
			return receipt, err
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

// batches runs one pass of a purge (the raw responses, or the anonymized
// ones) before cutoff in transactions of batch responses, adding each
// batch's IDs to digest and its count to the receipt.
func (s *Store) batches(ctx context.Context, action store.Action, anonymized int, cutoff time.Time, batch int, digest hash.Hash, receipt *store.PurgeReceipt) error {
	var pass purgePass
	for {
		var ids []string
		var err error
		switch {
		case action == store.ActionDelete && s.d.SnapshotPurge:
			ids, err = s.snapshotNext(ctx, anonymized, cutoff, &pass, batch)
		case action == store.ActionDelete:
			ids, err = s.deleteBatch(ctx, anonymized, cutoff, batch)
		default:
			var list []row
			list, err = s.anonymizeNext(ctx, cutoff, batch)
			ids = rowIDs(list)
		}
		for _, id := range ids {
			_, _ = digest.Write([]byte(id + "\n"))
		}
		// A failed call may still have deleted a batch (a snapshot
		// batch before the sweep that failed): it is counted.
		s.tally(receipt, action, int64(len(ids)))
		if err != nil || len(ids) < batch {
			return err
		}
	}
}

func (s *Store) tally(r *store.PurgeReceipt, a store.Action, n int64) {
	if a == store.ActionAnonymize {
		r.Anonymized += n
	} else {
		r.Purged += n
	}
}

// hashOld is a dry run's pass: the IDs of the responses before cutoff, in
// (received_at, id) order, go into digest as they are read, so that no
// list of them is held; it returns how many there were.
func (s *Store) hashOld(ctx context.Context, anonymized int, cutoff time.Time, digest hash.Hash) (int64, error) {
	rows, err := s.reader.QueryContext(ctx, s.q.idsOld, anonymized, store.CutoffMilli(cutoff))
	if err != nil {
		return 0, fmt.Errorf("%s: listing old responses: %w", s.d.Name, err)
	}
	n, err := hashIDs(rows, digest)
	if err != nil {
		return 0, fmt.Errorf("%s: listing old responses: %w", s.d.Name, err)
	}
	return n, nil
}

var newline = []byte{'\n'}

// hashIDs writes rows' IDs (one column) into digest, each followed by a
// line feed, and closes rows; it returns how many there were.
func hashIDs(rows *sql.Rows, digest hash.Hash) (int64, error) {
	defer func() { _ = rows.Close() }()
	var n int64
	var id sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&id); err != nil {
			return n, err
		}
		_, _ = digest.Write(id)
		_, _ = digest.Write(newline)
		n++
	}
	return n, rows.Err()
}

// anonymizeNext anonymizes one transaction's worth of old raw responses and
// returns those it changed, in (received_at, id) order.
func (s *Store) anonymizeNext(ctx context.Context, cutoff time.Time, batch int) ([]row, error) {
	var done []row
	err := s.purgeTx(ctx, func(tx *sql.Tx, d *deltas) error {
		var err error
		done, err = s.anonymizeBatch(ctx, tx, cutoff, batch, d)
		return err
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(done, func(i, j int) bool {
		if done[i].receivedAt != done[j].receivedAt {
			return done[i].receivedAt < done[j].receivedAt
		}
		return done[i].id < done[j].id
	})
	return done, nil
}

func rowIDs(rows []row) []string {
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.id
	}
	return ids
}

// purgeTx runs one purge transaction: beside the group commits when the
// dialect allows it (Dialect.PurgeBesideIngest), else on the writer between
// them.
func (s *Store) purgeTx(ctx context.Context, fn func(tx *sql.Tx, d *deltas) error) error {
	if s.d.PurgeBesideIngest {
		if err := s.batcher.Err(); err != nil {
			return err
		}
		return s.inTx(ctx, fn)
	}
	return s.write(ctx, fn)
}

// deleteBatch deletes one transaction's worth of old responses (the first
// batch of the pass in (received_at, id) order) and returns their IDs in
// that order. The database itself counts what leaves: one grouped query
// gives the IDs, joined by newlines in byte order, and how many responses
// each score, key and respondent loses, so no row crosses to Go and the
// counters take one change per score, key and respondent.
func (s *Store) deleteBatch(ctx context.Context, anonymized int, cutoff time.Time, batch int) ([]string, error) {
	var ids []string
	err := s.purgeTx(ctx, func(tx *sql.Tx, d *deltas) error {
		var rows *sql.Rows
		var err error
		if s.d.PurgeBesideIngest {
			// PostgreSQL deletes and counts in one statement.
			rows, err = tx.QueryContext(ctx, s.q.deleteOld, store.CutoffMilli(cutoff), anonymized, store.CutoffMilli(cutoff), batch)
		} else {
			rows, err = s.stageBatch(ctx, tx, anonymized, cutoff, batch)
		}
		if err != nil {
			return fmt.Errorf("%s: deleting old responses: %w", s.d.Name, err)
		}
		if ids, _, err = s.scanGone(rows, d); err != nil {
			return fmt.Errorf("%s: deleting old responses: %w", s.d.Name, err)
		}
		if !s.d.PurgeBesideIngest {
			// Keep nothing of the deleted rows, not even in memory.
			if _, err := tx.ExecContext(ctx, `DELETE FROM temp.purge_batch`); err != nil {
				return fmt.Errorf("%s: deleting old responses: %w", s.d.Name, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err // the transaction rolled back: nothing was deleted
	}
	return ids, nil
}

// stageBatch is deleteBatch for a database without data-modifying WITH
// (SQLite): the batch is copied into a temporary table, grouped from
// there, and deleted by its IDs.
func (s *Store) stageBatch(ctx context.Context, tx *sql.Tx, anonymized int, cutoff time.Time, batch int) (*sql.Rows, error) {
	for _, q := range []string{stageCreate, `DELETE FROM temp.purge_batch`} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return nil, err
		}
	}
	if _, err := tx.ExecContext(ctx, s.q.stageOld, anonymized, store.CutoffMilli(cutoff), batch); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM responses WHERE id IN (SELECT id FROM temp.purge_batch)`); err != nil {
		return nil, err
	}
	return tx.QueryContext(ctx, s.q.groupStaged)
}

// stageCreate is the temporary table of stageBatch: a connection's own,
// in memory (temp_store), holding what the counters need of a batch.
const stageCreate = `CREATE TEMP TABLE IF NOT EXISTS purge_batch (id TEXT PRIMARY KEY, received_at INTEGER NOT NULL,
	score INTEGER NOT NULL, key_id TEXT, subject_customer TEXT, subject_email TEXT, anonymized INTEGER NOT NULL) WITHOUT ROWID`

// groupGone is the grouped query over the deleted rows of src: the IDs
// (kind 0: joined by newlines, in (received_at, id) byte order, their
// number and the last one's receive time), then the responses lost by each
// score (kind 1), by each key (kind 2) and by each respondent of a raw
// response (kind 3), as forget and uncount count them.
func (s *Store) groupGone(src string) string {
	return `SELECT 0, string_agg(id, ` + s.d.Newline + ` ORDER BY received_at, id ` + s.d.ByteOrder + `), count(*),
			COALESCE(max(received_at), 0) FROM ` + src + `
		UNION ALL SELECT 1, CAST(score AS TEXT), count(*), 0 FROM ` + src + ` GROUP BY score
		UNION ALL SELECT 2, key_id, count(*), 0 FROM ` + src + ` WHERE key_id IS NOT NULL GROUP BY key_id
		UNION ALL SELECT 3, sub, count(*), 0 FROM (SELECT CASE WHEN subject_customer <> '' THEN subject_customer
			ELSE subject_email END AS sub FROM ` + src + ` WHERE anonymized = 0) AS subs WHERE sub <> '' GROUP BY sub`
}

// scanGone reads groupGone's rows into d and returns the IDs and the last
// one's receive time.
func (s *Store) scanGone(rows *sql.Rows, d *deltas) ([]string, int64, error) {
	defer func() { _ = rows.Close() }()
	var ids []string
	var last int64
	for rows.Next() {
		var kind int
		var name sql.NullString
		var n, at int64
		if err := rows.Scan(&kind, &name, &n, &at); err != nil {
			return nil, 0, err
		}
		switch kind {
		case 0:
			if n > 0 {
				ids, last = strings.Split(name.String, "\n"), at
			}
			if int64(len(ids)) != n {
				return nil, 0, fmt.Errorf("%d IDs for %d responses", len(ids), n)
			}
		default:
			if err := countGone(kind, name.String, n, d); err != nil {
				return nil, 0, err
			}
		}
	}
	return ids, last, rows.Err()
}

// countGone takes from d what n deleted responses of one group of
// groupGone (kinds 1 to 3) counted.
func countGone(kind int, name string, n int64, d *deltas) error {
	switch kind {
	case 1:
		score, err := strconv.Atoi(name)
		if err != nil {
			return err
		}
		d.counters[bucketCounter(score)] -= n
	case 2:
		d.counters[prefixKey+name] -= n
	case 3:
		d.subjects[name] -= n
	default:
		return fmt.Errorf("unknown group %d", kind)
	}
	return nil
}

func (s *Store) saveReceipt(ctx context.Context, r store.PurgeReceipt) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return s.setMeta(ctx, metaLastPurge, string(data))
}

// rewrapCursor is where the current re-wrap pass has got to: the last
// response ID it handled, under which active key.
type rewrapCursor struct {
	mu         sync.Mutex
	key, after string
}

// Rewrap implements store.Store. Nothing is read unless the key counters
// say some response is still sealed by another key; then one pass walks the
// responses in ID order from where the last call stopped, reading on a
// snapshot and calling fn outside the writer, and writes the batch in one
// transaction. A response committed behind the cursor (several PostgreSQL
// replicas) is caught by the next pass, which starts when the counters still
// say something is pending at the end of this one.
func (s *Store) Rewrap(ctx context.Context, activeKeyID string, limit int, fn func(*store.Record) error) (int, error) {
	s.rewrap.mu.Lock()
	defer s.rewrap.mu.Unlock()
	if pending, err := s.pendingRewrap(ctx, activeKeyID); err != nil || pending == 0 {
		s.rewrap.key, s.rewrap.after = "", ""
		return 0, err
	}
	if s.rewrap.key != activeKeyID {
		s.rewrap.key, s.rewrap.after = activeKeyID, ""
	}
	rows, err := s.reader.QueryContext(ctx, s.q.selectRewrap, s.rewrap.after, activeKeyID, limit)
	if err != nil {
		return 0, fmt.Errorf("%s: listing responses to re-wrap: %w", s.d.Name, err)
	}
	type sealed struct {
		rec *store.Record
		old string
	}
	var recs []sealed
	for rows.Next() {
		r := &store.Record{}
		if err := rows.Scan(&r.ID, &r.KeyID, &r.Email, &r.CustomerID, &r.Comment); err != nil {
			_ = rows.Close()
			return 0, err
		}
		recs = append(recs, sealed{rec: r, old: r.KeyID})
	}
	if err := rows.Close(); err != nil {
		return 0, fmt.Errorf("%s: listing responses to re-wrap: %w", s.d.Name, err)
	}
	if len(recs) == 0 {
		s.rewrap.after = "" // end of a pass; the next call starts another
		return 0, nil
	}
	for _, r := range recs {
		if err := fn(r.rec); err != nil {
			return 0, fmt.Errorf("re-wrapping response %s: %w", r.rec.ID, err)
		}
	}
	err = s.write(ctx, func(tx *sql.Tx, d *deltas) error {
		for _, r := range recs {
			res, err := tx.ExecContext(ctx, s.q.updateRewrap, r.rec.KeyID, r.rec.Email, r.rec.CustomerID, r.rec.Comment, r.rec.ID, r.old)
			if err != nil {
				return fmt.Errorf("%s: storing a re-wrapped response: %w", s.d.Name, err)
			}
			if changed, err := res.RowsAffected(); err != nil || changed != 1 {
				continue // purged, erased or re-wrapped by another replica meanwhile
			}
			d.counters[prefixKey+r.old]--
			d.counters[prefixKey+r.rec.KeyID]++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	s.rewrap.after = recs[len(recs)-1].rec.ID
	return len(recs), nil
}

// pendingRewrap counts, from the key counters, the responses sealed by a
// key other than the active one. The counters table is small; it is read
// whole, so no collation decides what "starts with key:" means.
func (s *Store) pendingRewrap(ctx context.Context, activeKeyID string) (int64, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT name, n FROM counters`)
	if err != nil {
		return 0, fmt.Errorf("%s: counting responses to re-wrap: %w", s.d.Name, err)
	}
	defer func() { _ = rows.Close() }()
	var pending int64
	for rows.Next() {
		var name string
		var n int64
		if err := rows.Scan(&name, &n); err != nil {
			return 0, err
		}
		if id, ok := strings.CutPrefix(name, prefixKey); ok && id != activeKeyID && n > 0 {
			pending += n
		}
	}
	return pending, rows.Err()
}
