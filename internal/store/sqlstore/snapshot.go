package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"math"
	"strings"
	"time"

	"github.com/surveyguard/surveyguard/internal/store"
)

// Snapshot batches (Dialect.SnapshotPurge, SQLite).
//
// SQLite has one writer, and every millisecond a purge holds it is a
// millisecond no response is stored. So a Delete purge's batch is read
// first, on a snapshot of the reader connections, beside ingest: the next
// responses of the pass in (received_at, ID) order, with their IDs joined
// for the receipt and what each score, key and respondent loses, grouped by
// the database. The writer then deletes every response of the pass from
// after the previous batch up to the batch's last (received_at, ID) with one
// range DELETE on the (anonymized, received_at, id) index, applies the
// counters the snapshot gave, and commits.
//
// The transaction checks that it deletes what the snapshot saw: the
// range's IDs, read first from the index inside the transaction, must be
// the snapshot's, no more and no fewer (another purge may have deleted
// some, and responses stored late may have taken their place); and
// no write that can change a stored response in place (a re-wrap) may have
// run since the snapshot: every write through Store.write bumps
// Store.writes once it has run. Otherwise the batch changes nothing and is
// taken the slower way, copied aside and grouped inside the write
// transaction (stageBatch). A pass ends with one such batch from its start
// (sweep), for a response stored late behind the batches already deleted.

// purgeCursor is the (received_at, ID) of the last response a pass has
// deleted; the zero cursor is before every response.
type purgeCursor struct {
	at int64
	id string
	ok bool
}

// purgePass is where a pass of a Delete purge has got to, and the read of
// its next batch when one is under way.
type purgePass struct {
	cur  purgeCursor
	next *prefetch
}

// prefetch is the snapshot read of the batch after a cursor, started while
// the batch before it is being deleted.
type prefetch struct {
	after purgeCursor
	done  chan struct{}
	sb    snapshotBatch
	err   error
}

// read starts reading the batch after cur on the reader's snapshot.
func (s *Store) prefetch(ctx context.Context, anonymized int, cutoff int64, cur purgeCursor, batch int) *prefetch {
	p := &prefetch{after: cur, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.sb, p.err = s.readSnapshotBatch(ctx, anonymized, cutoff, cur, batch)
	}()
	return p
}

// wait returns the batch p read.
func (p *prefetch) wait() (snapshotBatch, error) {
	<-p.done
	return p.sb, p.err
}

func (c purgeCursor) args() []any {
	if !c.ok {
		return []any{int64(math.MinInt64), ""}
	}
	return []any{c.at, c.id}
}

// snapshotBatch is what a snapshot found of a batch: its IDs in
// (received_at, ID) order, the last one's receive time, and what the
// counters lose.
type snapshotBatch struct {
	ids []string
	// joined is ids joined by newlines, as checkRange reads them.
	joined string
	last   purgeCursor
	d      *deltas
	// writes is Store.writes when the snapshot was read.
	writes int64
}

// testHookSnapshotRead, when set (by tests), runs after each snapshot batch
// is read and before it is deleted.
var testHookSnapshotRead func()

// errSnapshotStale rolls back a snapshot batch whose responses changed
// since the snapshot.
var errSnapshotStale = errors.New("the responses changed since the snapshot")

// readSnapshotBatch reads, on the reader's snapshot, the next batch of the
// pass after cur.
func (s *Store) readSnapshotBatch(ctx context.Context, anonymized int, cutoff int64, cur purgeCursor, batch int) (snapshotBatch, error) {
	sb := snapshotBatch{d: newDeltas(), writes: s.writes.Load()}
	args := append([]any{anonymized, cutoff}, cur.args()...)
	rows, err := s.reader.QueryContext(ctx, s.q.snapshotOld, append(args, batch)...)
	if err != nil {
		return sb, fmt.Errorf("%s: reading old responses: %w", s.d.Name, err)
	}
	ids, last, err := s.scanGone(rows, sb.d)
	if err != nil {
		return sb, fmt.Errorf("%s: reading old responses: %w", s.d.Name, err)
	}
	if len(ids) > 0 {
		sb.ids, sb.last = ids, purgeCursor{at: last, id: ids[len(ids)-1], ok: true}
		sb.joined = strings.Join(ids, "\n")
	}
	return sb, nil
}

// deleteSnapshotBatch deletes the responses of sb, the batch after cur, on
// the writer, and applies its counters, in one transaction; it returns
// errSnapshotStale, having changed nothing, when they are not what the
// snapshot saw (the transaction is rolled back, or never begun).
func (s *Store) deleteSnapshotBatch(ctx context.Context, anonymized int, cur purgeCursor, sb snapshotBatch) error {
	return s.batcher.Exclusive(ctx, func() error {
		if s.writes.Load() != sb.writes {
			return errSnapshotStale
		}
		return s.inTx(ctx, func(tx *sql.Tx, d *deltas) error {
			args := append(append([]any{anonymized}, cur.args()...), sb.last.at, sb.last.id)
			var held string
			if err := tx.QueryRowContext(ctx, s.q.checkRange, args...).Scan(&held); err != nil {
				return fmt.Errorf("%s: reading old responses: %w", s.d.Name, err)
			}
			if held != sb.joined {
				return errSnapshotStale
			}
			res, err := tx.ExecContext(ctx, s.q.deleteRange, args...)
			if err != nil {
				return fmt.Errorf("%s: deleting old responses: %w", s.d.Name, err)
			}
			if n, err := res.RowsAffected(); err != nil || n != int64(len(sb.ids)) {
				return errSnapshotStale
			}
			// A copy: apply changes d, and the snapshot's counts must be
			// the same should the transaction run again.
			maps.Copy(d.counters, sb.d.counters)
			maps.Copy(d.subjects, sb.d.subjects)
			return nil
		})
	})
}

// snapshotNext deletes the next batch of a Delete purge's pass and moves
// the pass past it: read on a snapshot and deleted by range, or, when the
// responses changed meanwhile, staged inside the write transaction
// (deleteBatch), which starts again from the first response of the pass.
// The snapshot read of the batch after it runs while this one is deleted:
// its range starts after this batch's last response, so this batch's
// delete cannot change it.
func (s *Store) snapshotNext(ctx context.Context, anonymized int, cutoff time.Time, pass *purgePass, batch int) ([]string, error) {
	ms := store.CutoffMilli(cutoff)
	p := pass.next
	if p == nil || p.after != pass.cur {
		p = s.prefetch(ctx, anonymized, ms, pass.cur, batch)
	}
	pass.next = nil
	sb, err := p.wait()
	if err != nil {
		return nil, err
	}
	if len(sb.ids) == 0 {
		return s.sweep(ctx, anonymized, cutoff, pass, batch)
	}
	if testHookSnapshotRead != nil {
		testHookSnapshotRead()
	}
	if len(sb.ids) == batch {
		pass.next = s.prefetch(ctx, anonymized, ms, sb.last, batch)
	}
	err = s.deleteSnapshotBatch(ctx, anonymized, pass.cur, sb)
	switch {
	case err == nil:
		pass.cur = sb.last
		if len(sb.ids) < batch {
			more, err := s.sweep(ctx, anonymized, cutoff, pass, batch)
			return append(sb.ids, more...), err
		}
		return sb.ids, nil
	case errors.Is(err, errSnapshotStale):
		return s.sweep(ctx, anonymized, cutoff, pass, batch)
	default:
		pass.wait()
		return nil, err
	}
}

// sweep ends a pass with a batch taken from its start inside the write
// transaction (deleteBatch): a response stored late with a receive time
// behind the cursor, which no range after it covers, is purged with the
// rest, as a staged purge, which always takes the first responses, purges
// it. It finds nothing otherwise. The pass goes on from its start.
func (s *Store) sweep(ctx context.Context, anonymized int, cutoff time.Time, pass *purgePass, batch int) ([]string, error) {
	pass.wait()
	pass.cur = purgeCursor{}
	return s.deleteBatch(ctx, anonymized, cutoff, batch)
}

// wait waits for the read under way, if any, and forgets it.
func (pass *purgePass) wait() {
	if pass.next != nil {
		_, _ = pass.next.wait()
		pass.next = nil
	}
}
