package sqlstore

import (
	"context"
	"database/sql"
	"sync"
)

// maxPreparedRows is the most rows a kept statement carries: the groups of
// 64 connections are smaller, and a larger group's parse is shared by more
// rows. So at most 2 × maxPreparedRows statements are kept.
const maxPreparedRows = 64

// preparedStmts keeps the group commit's statements prepared, by their SQL
// text, for a dialect that asks for it (Dialect.PrepareGroupCommit):
// SQLite otherwise parses and plans the multi-row INSERT of every group
// commit anew. The texts differ only in how many rows they carry
// (1..maxPreparedRows responses or respondents).
//
// A statement is prepared on the writer pool outside any transaction
// (before the group's transaction begins: with SQLite's single writer
// connection, preparing inside it would wait for the connection it holds)
// and used inside the transaction through tx.StmtContext, which reuses it on
// the same connection. A text not prepared beforehand is run as it is.
type preparedStmts struct {
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

// prepare prepares q on db unless it already is.
func (p *preparedStmts) prepare(ctx context.Context, db *sql.DB, q string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.m[q]; ok {
		return nil
	}
	st, err := db.PrepareContext(ctx, q)
	if err != nil {
		return err
	}
	if p.m == nil {
		p.m = map[string]*sql.Stmt{}
	}
	p.m[q] = st
	return nil
}

// stmt is q prepared, bound to tx, or nil when q was not prepared.
func (p *preparedStmts) stmt(ctx context.Context, tx *sql.Tx, q string) *sql.Stmt {
	p.mu.Lock()
	st, ok := p.m[q]
	p.mu.Unlock()
	if !ok {
		return nil
	}
	return tx.StmtContext(ctx, st)
}

// query runs q in tx, prepared when it was.
func (p *preparedStmts) query(ctx context.Context, tx *sql.Tx, q string, args ...any) (*sql.Rows, error) {
	if st := p.stmt(ctx, tx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return tx.QueryContext(ctx, q, args...)
}

// exec runs q in tx, prepared when it was.
func (p *preparedStmts) exec(ctx context.Context, tx *sql.Tx, q string, args ...any) (sql.Result, error) {
	if st := p.stmt(ctx, tx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, q, args...)
}

// close releases every prepared statement.
func (p *preparedStmts) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var first error
	for q, st := range p.m {
		if err := st.Close(); err != nil && first == nil {
			first = err
		}
		delete(p.m, q)
	}
	return first
}

// sqlTexts keeps the statements whose text depends on a row count (a group
// commit's, the counters' upsert, the respondents' uncount), built once per
// kind and count.
type sqlTexts struct {
	mu sync.Mutex
	m  map[textKey]string
}

type textKey struct {
	kind string
	n    int
}

// text is the statement of kind for n rows, made by build the first time.
func (t *sqlTexts) text(kind string, n int, build func() string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := textKey{kind, n}
	if q, ok := t.m[k]; ok {
		return q
	}
	if t.m == nil {
		t.m = map[textKey]string{}
	}
	q := build()
	t.m[k] = q
	return q
}

// maxPreparedCounters is the most counters a kept upsert of the counters
// adds to: a group commit changes a few (its buckets, keys, redaction
// kinds and customers); a purge or an erasure that changes more runs its
// upsert unprepared.
const maxPreparedCounters = 16

// countersText is the upsert adding to n counters (countersSQL).
func (s *Store) countersText(n int) string {
	return s.texts.text("counters", n, func() string {
		return s.bind(`INSERT INTO counters (name, n) VALUES ` + repeated("(?, CAST(? AS BIGINT))", n) +
			` ON CONFLICT (name) DO UPDATE SET n = counters.n + excluded.n`)
	})
}

// prepareCounters prepares, once, the upserts of 1..maxPreparedCounters
// counters, for a dialect that keeps statements prepared: every
// transaction ends with one; and the UPDATE and DELETE that take references
// away from a chunk of respondents (uncountSubjectValues), which every
// purge and erasure runs.
func (s *Store) prepareCounters(ctx context.Context) error {
	if !s.d.PrepareGroupCommit {
		return nil
	}
	update, remove := s.uncountSubjectsSQL(subjectChunk)
	for _, q := range []string{update, remove} {
		if err := s.prepared.prepare(ctx, s.writer, q); err != nil {
			return err
		}
	}
	for n := 1; n <= maxPreparedCounters; n++ {
		if err := s.prepared.prepare(ctx, s.writer, s.countersText(n)); err != nil {
			return err
		}
	}
	return nil
}

// insertSQL is the multi-row INSERT of n responses.
func (s *Store) insertSQL(n int) string {
	return s.texts.text("insert", n, func() string {
		return s.bind(s.d.InsertResponses + ` responses (id, idempotency_key, received_at, score, segments, key_id,
			email, customer_id, comment, subject_customer, subject_email) VALUES ` +
			repeated("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", n) +
			" " + s.d.ConflictClause + " RETURNING id")
	})
}

// countSubjectsSQL is the upsert adding references to n respondents.
func (s *Store) countSubjectsSQL(n int) string {
	return s.texts.text("subjects", n, func() string {
		return s.bind(`INSERT INTO subjects (pseudonym, refs) VALUES ` + repeated("(?, ?)", n) +
			` ON CONFLICT (pseudonym) DO UPDATE SET refs = subjects.refs + excluded.refs RETURNING pseudonym, refs`)
	})
}

// prepareGroup prepares, before a group's transaction, the statements it
// will run when the group is small (up to maxPreparedRows): its INSERT and
// the respondents' upsert for as many respondents as the group names (a
// group with repeated idempotency keys may end up naming fewer: that
// statement then runs unprepared).
func (s *Store) prepareGroup(ctx context.Context, n int, subjects int) error {
	if !s.d.PrepareGroupCommit {
		return nil
	}
	if n <= maxPreparedRows {
		if err := s.prepared.prepare(ctx, s.writer, s.insertSQL(n)); err != nil {
			return err
		}
	}
	if subjects > 0 && subjects <= maxPreparedRows {
		return s.prepared.prepare(ctx, s.writer, s.countSubjectsSQL(subjects))
	}
	return nil
}
