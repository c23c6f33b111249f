package sqlstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/surveyguard/surveyguard/internal/store"
)

// Statement is one statement of a round trip (Dialect.RoundTrip).
type Statement struct {
	SQL  string
	Args []any
	// Scan, when set, reads the statement's rows.
	Scan func(rows Rows) error
}

// Rows are a statement's rows, as Statement.Scan reads them.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// errDuplicate says that a group sent in two round trips met an idempotency key already
// stored: its respondents were counted for rows that did not go in, so the
// transaction is rolled back and the group written the ordinary way.
var errDuplicate = errors.New("a duplicate idempotency key")

// flushTwoTrips writes a group commit in two round trips (Dialect.RoundTrip)
// instead of one per statement: BEGIN, the INSERT of the responses and the
// upsert of their respondents go together, counting every row as inserted;
// then the counters and COMMIT. The statements, their order and their locks
// are those of the ordinary path (flush): rows, then respondents and
// counters in sorted order. If a row was not inserted (its idempotency key
// is stored), the transaction is rolled back and the group written the
// ordinary way, which looks the first response up; done is false then, as
// it is when the database aborted the transaction for another's sake.
func (s *Store) flushTwoTrips(ctx context.Context, batch []*store.Pending) (done bool, err error) {
	d := newDeltas()
	stmts := []Statement{{SQL: "BEGIN"}}
	if q := s.lockTimeout; q != "" {
		stmts = append(stmts, Statement{SQL: q})
	}
	inserted := make(map[string]bool, len(batch))
	scanIDs := func(rows Rows) error {
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			inserted[id] = true
		}
		return rows.Err()
	}
	for start := 0; start < len(batch); start += insertChunk {
		chunk := batch[start:min(start+insertChunk, len(batch))]
		args, err := insertArgs(chunk)
		if err != nil {
			return false, err
		}
		stmts = append(stmts, Statement{SQL: s.insertSQL(len(chunk)), Args: args, Scan: scanIDs})
		for _, p := range chunk {
			d.count(p.Record)
		}
	}
	subs := sortedKeys(d.subjects)
	for start := 0; start < len(subs); start += subjectChunk {
		chunk := subs[start:min(start+subjectChunk, len(subs))]
		stmts = append(stmts, Statement{SQL: s.countSubjectsSQL(len(chunk)), Args: subjectArgs(chunk, d), Scan: func(rows Rows) error {
			return s.scanCustomers(rows, d)
		}})
	}

	conn, err := s.writer.Conn(ctx)
	if err != nil {
		return false, fmt.Errorf("%s: begin: %w", s.d.Name, err)
	}
	defer func() { _ = conn.Close() }()
	err = conn.Raw(func(dc any) error {
		if err := s.d.RoundTrip(ctx, dc, stmts); err != nil {
			return s.rollback(ctx, dc, fmt.Errorf("%s: inserting responses: %w", s.d.Name, err))
		}
		for _, p := range batch {
			if !inserted[p.Record.ID] {
				return s.rollback(ctx, dc, errDuplicate)
			}
		}
		end := []Statement{{SQL: "COMMIT"}}
		if q, args := s.countersSQL(d); q != "" {
			end = append([]Statement{{SQL: q, Args: args}}, end...)
		}
		if err := s.d.RoundTrip(ctx, dc, end); err != nil {
			// The outcome of a COMMIT whose answer was lost is unknown;
			// the group fails, as a failed commit does on the ordinary path.
			return s.rollback(ctx, dc, fmt.Errorf("%s: commit: %w", s.d.Name, err))
		}
		return nil
	})
	if errors.Is(err, errDuplicate) || (s.d.Retry != nil && s.d.Retry(err)) {
		// A duplicate, or a transaction the database aborted for
		// another's sake (which changed nothing): the ordinary path
		// writes the group, and runs it again should that recur.
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, p := range batch {
		p.Result = store.InsertResult{ID: p.Record.ID}
	}
	return true, nil
}

// subjectArgs are the arguments of the respondents' upsert
// (countSubjectsSQL): each pseudonym and the references it gains.
func subjectArgs(subs []string, d *deltas) []any {
	args := make([]any, 0, 2*len(subs))
	for _, sub := range subs {
		args = append(args, sub, d.subjects[sub])
	}
	return args
}

// scanCustomers reads the respondents' upsert: a respondent whose count
// equals what was added is new, and counts as a customer.
func (s *Store) scanCustomers(rows Rows, d *deltas) error {
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

// rollback ends the transaction on dc after err and returns err. It has a
// context of its own: err may be ctx's end (the group commit's deadline),
// and a ROLLBACK never sent would leave the connection in the transaction
// for the next group to commit along with its own. Should the rollback
// fail, the error also says driver.ErrBadConn, so that the pool closes the
// connection instead of reusing it.
func (s *Store) rollback(ctx context.Context, dc any, err error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer cancel()
	if rerr := s.d.RoundTrip(ctx, dc, []Statement{{SQL: "ROLLBACK"}}); rerr != nil {
		return errors.Join(err, fmt.Errorf("rollback: %w", rerr), driver.ErrBadConn)
	}
	return err
}

// rollbackTimeout bounds a ROLLBACK after a failed group commit.
const rollbackTimeout = 5 * time.Second
