package sqlstore

import (
	"context"
	"database/sql"
	"encoding"
	"fmt"
	"hash"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/surveyguard/surveyguard/internal/store"
)

// Partitions by day (Dialect.Partitioned, PostgreSQL).
//
// responses is partitioned by range of received_at, one partition per UTC
// day, named "responses_d" and the day's number since 1970-01-01. Each
// pass of a Delete purge takes every day that ends at or before its cutoff
// and holds only the pass's kind of response whole: in one transaction per
// day it locks the day's partition against writes, reads the IDs into the
// receipt's digest and what the counters lose (the database grouping and
// uncounting, so that nothing in proportion to the day is held), frees the
// idempotency keys, empties the partition with TRUNCATE and applies the
// counters, so the rows and their counts leave together or not at all.
// Only the day the cutoff falls in, and a day holding both kinds, are
// deleted in batches. Ingest writes the current day's partition and never
// waits for a purge's locks on an old one; the empty partition is dropped
// afterwards in a short transaction of its own (dropDay), which needs the
// parent's ACCESS EXCLUSIVE lock and gives up rather than keep ingest
// waiting.

// dayMilli is a partition's span: a UTC day in milliseconds.
const dayMilli = 24 * 60 * 60 * 1000

// dayOf is the number of the UTC day that holds the Unix millisecond ms.
func dayOf(ms int64) int64 {
	d := ms / dayMilli
	if ms%dayMilli < 0 {
		d--
	}
	return d
}

// dayTable is the quoted name of day's partition.
func dayTable(day int64) string { return `"responses_d` + strconv.FormatInt(day, 10) + `"` }

// createDay is the statement that makes day's partition if it is missing.
func createDay(day int64) string {
	return fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s PARTITION OF responses FOR VALUES FROM (%d) TO (%d)`,
		dayTable(day), day*dayMilli, (day+1)*dayMilli)
}

// partitionLock is the advisory lock replicas creating partitions take turns on.
const partitionLock = `7262652001`

// partitionDays are the days whose partitions this store knows exist.
type partitionDays struct {
	mu    sync.Mutex
	known map[int64]bool
	// tried is when ensureTomorrow last tried and failed.
	tried time.Time
}

func (p *partitionDays) missing(days []int64) []int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []int64
	for _, d := range days {
		if !p.known[d] {
			out = append(out, d)
		}
	}
	return out
}

func (p *partitionDays) set(day int64, exists bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.known == nil {
		p.known = map[int64]bool{}
	}
	if exists {
		p.known[day] = true
	} else {
		delete(p.known, day)
	}
}

func (p *partitionDays) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.known = nil
}

// ensureDays creates the partitions a group commit's responses need and
// this store does not know of yet: once a day, in a transaction of its own
// (creating a partition locks the parent table briefly). Replicas creating
// the same day take turns on an advisory lock.
func (s *Store) ensureDays(ctx context.Context, batch []*store.Pending) error {
	if !s.d.Partitioned {
		return nil
	}
	s.ensureTomorrow(ctx)
	seen := map[int64]bool{}
	var days []int64
	for _, p := range batch {
		if d := dayOf(p.Record.ReceivedAt.UnixMilli()); !seen[d] {
			seen[d] = true
			days = append(days, d)
		}
	}
	days = s.days.missing(days)
	if len(days) == 0 {
		return nil
	}
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: begin: %w", s.d.Name, err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(`+partitionLock+`)`); err != nil {
		return fmt.Errorf("%s: creating partitions: %w", s.d.Name, err)
	}
	for _, d := range days {
		if _, err := tx.ExecContext(ctx, createDay(d)); err != nil {
			return fmt.Errorf("%s: creating the partition of day %d: %w", s.d.Name, d, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: creating partitions: %w", s.d.Name, err)
	}
	for _, d := range days {
		s.days.set(d, true)
	}
	return nil
}

// ensureTomorrow creates tomorrow's partition (UTC) ahead of time, so
// that the first group commit after midnight does not wait for the
// parent's lock that creating a partition takes, behind whatever reads
// hold it then. It waits at most 20 ms for that lock, and for no replica
// creating partitions, and otherwise tries again a second later.
func (s *Store) ensureTomorrow(ctx context.Context) {
	tomorrow := dayOf(time.Now().UnixMilli()) + 1
	s.days.mu.Lock()
	skip := s.days.known[tomorrow] || time.Since(s.days.tried) < time.Second
	s.days.mu.Unlock()
	if skip {
		return
	}
	created := func() bool {
		tx, err := s.writer.BeginTx(ctx, nil)
		if err != nil {
			return false
		}
		defer func() { _ = tx.Rollback() }()
		var locked bool
		if _, err := tx.ExecContext(ctx, `SET LOCAL lock_timeout = '20ms'`); err != nil {
			return false
		}
		if err := tx.QueryRowContext(ctx, `SELECT pg_try_advisory_xact_lock(`+partitionLock+`)`).Scan(&locked); err != nil || !locked {
			return false
		}
		if _, err := tx.ExecContext(ctx, createDay(tomorrow)); err != nil {
			return false
		}
		return tx.Commit() == nil
	}()
	if created {
		s.days.set(tomorrow, true)
		return
	}
	s.days.mu.Lock()
	s.days.tried = time.Now()
	s.days.mu.Unlock()
}

// inDays runs write, a group commit of batch, once the partitions of its
// days exist. When a row finds no partition (another replica's purge
// dropped a day this store knew of: a late insert), the store forgets
// which days exist, makes them again and runs write once more.
func (s *Store) inDays(ctx context.Context, batch []*store.Pending, write func() error) error {
	if err := s.ensureDays(ctx, batch); err != nil {
		return s.d.noSpace(err)
	}
	err := write()
	if err == nil || s.d.NoPartition == nil || !s.d.NoPartition(err) {
		return err
	}
	s.days.reset()
	if err := s.ensureDays(ctx, batch); err != nil {
		return s.d.noSpace(err)
	}
	return write()
}

// daysBefore lists, oldest first, the days whose partitions exist and end
// at or before cutoff (a Unix millisecond).
func (s *Store) daysBefore(ctx context.Context, cutoff int64) ([]int64, error) {
	rows, err := s.writer.QueryContext(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = CAST('responses' AS regclass)`)
	if err != nil {
		return nil, fmt.Errorf("%s: listing partitions: %w", s.d.Name, err)
	}
	defer func() { _ = rows.Close() }()
	var days []int64
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		d, err := strconv.ParseInt(strings.TrimPrefix(name, "responses_d"), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: partition %q is not a day's", s.d.Name, name)
		}
		if (d+1)*dayMilli <= cutoff {
			days = append(days, d)
		}
	}
	sort.Slice(days, func(i, j int) bool { return days[i] < days[j] })
	return days, rows.Err()
}

// wholeDays is a Delete purge's pass (the raw responses, or the anonymized
// ones) on a partitioned store: the days wholly before cutoff are taken
// oldest first, one transaction each (emptyDay), then the cutoff's day in
// batches. A day that holds only this pass's responses is emptied whole;
// one that holds both kinds (the day an anonymizing purge's cutoff fell
// in, or a day written to after one) has this pass's responses deleted in
// batches, so that the receipt's IDs keep their order: every raw one, day
// by day, then every anonymized one. A day left empty is dropped.
func (s *Store) wholeDays(ctx context.Context, anonymized int, cutoff time.Time, batch int, digest hash.Hash, receipt *store.PurgeReceipt) error {
	days, err := s.daysBefore(ctx, store.CutoffMilli(cutoff))
	if err != nil {
		return err
	}
	for _, day := range days {
		n, held, err := s.emptyDay(ctx, day, anonymized, digest)
		receipt.Purged += n
		if err != nil {
			return err
		}
		switch held {
		case heldBoth:
			end := time.UnixMilli((day + 1) * dayMilli)
			if err := s.batches(ctx, store.ActionDelete, anonymized, end, batch, digest, receipt); err != nil {
				return err
			}
		case heldNothing, heldThisPass:
			s.dropDay(ctx, day)
		}
	}
	return s.batches(ctx, store.ActionDelete, anonymized, cutoff, batch, digest, receipt)
}

// dayHeld is what emptyDay found in a day's partition.
type dayHeld int

const (
	heldNothing   dayHeld = iota
	heldThisPass          // only the pass's kind of response: emptied
	heldOtherPass         // only the other kind: left for the other pass
	heldBoth              // both kinds: left for batches
)

// emptyDay empties day's partition of the pass's responses (raw when
// anonymized is 0) when it holds no other, in one transaction: SHARE ROW
// EXCLUSIVE on the partition keeps every writer (a late insert of that day,
// another replica's purge or erasure) out while readers go on; the IDs go
// into digest as they are read, in (received_at, ID) order, never joined
// or held; the database counts what each score and key loses; the
// idempotency keys are freed; the lock is raised to ACCESS EXCLUSIVE, for
// TRUNCATE, before any respondent is locked; the database takes the
// respondents' references away itself (uncountDay); TRUNCATE empties the
// partition (no per-row work, no trigger); the counters are updated before
// the one commit. Nothing here
// holds memory in proportion to the day. A transaction that fails leaves
// digest as it was.
func (s *Store) emptyDay(ctx context.Context, day int64, anonymized int, digest hash.Hash) (n int64, held dayHeld, err error) {
	table := dayTable(day)
	saved, err := digest.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return 0, 0, err
	}
	restore := func() {
		_ = digest.(encoding.BinaryUnmarshaler).UnmarshalBinary(saved)
		n = 0
	}
	err = s.inTx(ctx, func(tx *sql.Tx, d *deltas) error {
		restore()
		// One core for the purge: parallel workers would take the other
		// from ingest.
		if _, err := tx.ExecContext(ctx, `SET LOCAL max_parallel_workers_per_gather = 0`); err != nil {
			return fmt.Errorf("%s: %w", s.d.Name, err)
		}
		if _, err := tx.ExecContext(ctx, `LOCK TABLE `+table+` IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return fmt.Errorf("%s: locking the partition of day %d: %w", s.d.Name, day, err)
		}
		var mine, other bool
		if err := tx.QueryRowContext(ctx, dayKindsSQL(table), anonymized, 1-anonymized).Scan(&mine, &other); err != nil {
			return fmt.Errorf("%s: reading the partition of day %d: %w", s.d.Name, day, err)
		}
		switch {
		case mine && other:
			held = heldBoth
		case other:
			held = heldOtherPass
		case !mine:
			held = heldNothing
		}
		if !mine || other {
			return nil
		}
		held = heldThisPass
		rows, err := tx.QueryContext(ctx, dayIDsSQL(table, s.d.ByteOrder))
		if err == nil {
			n, err = hashIDs(rows, digest)
		}
		if err != nil {
			return fmt.Errorf("%s: reading the IDs of day %d: %w", s.d.Name, day, err)
		}
		keys, err := s.groupDay(ctx, tx, table, d)
		if err != nil {
			return fmt.Errorf("%s: reading the partition of day %d: %w", s.d.Name, day, err)
		}
		if keys > 0 {
			if _, err := tx.ExecContext(ctx, dayFreeKeysSQL(table)); err != nil {
				return fmt.Errorf("%s: freeing the idempotency keys of day %d: %w", s.d.Name, day, err)
			}
		}
		// The respondents last: a group commit storing a response of one
		// of them waits for their locks until this transaction commits. So
		// the partition's lock is raised to what TRUNCATE needs first,
		// while no respondent is locked: waiting for readers of the day to
		// finish (a dump, a query on every partition) keeps only them
		// waiting, never ingest.
		if _, err := tx.ExecContext(ctx, `LOCK TABLE `+table+` IN ACCESS EXCLUSIVE MODE`); err != nil {
			return fmt.Errorf("%s: locking the partition of day %d: %w", s.d.Name, day, err)
		}
		if anonymized == 0 {
			if err := s.uncountDay(ctx, tx, table, d); err != nil {
				return fmt.Errorf("%s: uncounting the respondents of day %d: %w", s.d.Name, day, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `TRUNCATE `+table); err != nil {
			return fmt.Errorf("%s: emptying the partition of day %d: %w", s.d.Name, day, err)
		}
		return nil
	})
	if err != nil {
		restore()
	}
	return n, held, err
}

// groupDay adds to d what a partition's responses count under each score
// and each key (one scan, grouping sets told apart by GROUPING), and
// returns how many of them hold an idempotency key.
func (s *Store) groupDay(ctx context.Context, tx *sql.Tx, table string, d *deltas) (keys int64, err error) {
	rows, err := tx.QueryContext(ctx, dayGroupsSQL(table))
	if err != nil {
		return 0, err
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		var kind int
		var name string
		var n, k int64
		if err := rows.Scan(&kind, &name, &n, &k); err != nil {
			return 0, err
		}
		if kind == 1 {
			keys += k // every response is in one score group
		}
		if err := countGone(kind, name, n, d); err != nil {
			return 0, err
		}
	}
	return keys, rows.Err()
}

// uncountDay takes away the references a partition's raw responses hold on
// their respondents, in the database: the respondents are locked first in
// byte order, the order a group commit takes them in, so neither waits for
// the other in a cycle; then one statement deletes those left with no
// reference and lowers the others' (disjoint rows, one snapshot), and the
// deleted are the customers lost. No respondent crosses to Go.
func (s *Store) uncountDay(ctx context.Context, tx *sql.Tx, table string, d *deltas) error {
	if _, err := tx.ExecContext(ctx, dayLockSubjectsSQL(table, s.d.ByteOrder)); err != nil {
		return err
	}
	var lost int64
	if err := tx.QueryRowContext(ctx, dayUncountSQL(table)).Scan(&lost); err != nil {
		return err
	}
	d.counters[counterCustomers] -= lost
	return nil
}

// dropDay drops day's partition, emptied by emptyDay, in a transaction of
// its own. Dropping a partition takes the parent's ACCESS EXCLUSIVE lock,
// which every insert waits for: the transaction waits at most 20 ms for
// its locks and gives up otherwise, leaving the empty partition for a
// later purge to drop (it holds nothing, and wholeDays finds it again). A
// partition a late insert wrote into meanwhile is kept.
func (s *Store) dropDay(ctx context.Context, day int64) {
	table := dayTable(day)
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return
	}
	defer func() { _ = tx.Rollback() }()
	var empty bool
	if _, err := tx.ExecContext(ctx, `SET LOCAL lock_timeout = '20ms'`); err != nil {
		return
	}
	if _, err := tx.ExecContext(ctx, `LOCK TABLE `+table+` IN ACCESS EXCLUSIVE MODE`); err != nil {
		return
	}
	if err := tx.QueryRowContext(ctx, `SELECT NOT EXISTS (SELECT 1 FROM `+table+`)`).Scan(&empty); err != nil || !empty {
		return
	}
	if _, err := tx.ExecContext(ctx, `DROP TABLE `+table); err != nil {
		return
	}
	if tx.Commit() == nil {
		s.days.set(day, false)
	}
}

// The statements of emptyDay over a day's partition, table (dayTable's
// quoted name: a number, never input).

// dayKindsSQL: whether the day holds responses of the pass's kind ($1),
// and of the other ($2), each found by the (anonymized, received_at, id)
// index.
func dayKindsSQL(table string) string {
	return `SELECT EXISTS (SELECT 1 FROM ` + table + ` WHERE anonymized = $1),
		EXISTS (SELECT 1 FROM ` + table + ` WHERE anonymized = $2)`
}

// dayIDsSQL: the day's IDs in the receipt's order.
func dayIDsSQL(table, byteOrder string) string {
	return `SELECT id FROM ` + table + ` ORDER BY received_at, id ` + byteOrder
}

// dayGroupsSQL: per score (kind 1) and per key (kind 2), with how many
// hold an idempotency key.
func dayGroupsSQL(table string) string {
	return `SELECT kind, name, n, keys FROM (
		SELECT CASE GROUPING(score, key_id) WHEN 1 THEN 1 ELSE 2 END AS kind,
			COALESCE(CAST(score AS TEXT), key_id) AS name, count(*) AS n, count(idempotency_key) AS keys
		FROM ` + table + ` GROUP BY GROUPING SETS ((score), (key_id))) AS g
	WHERE name <> ''`
}

func dayFreeKeysSQL(table string) string {
	return `DELETE FROM idempotency USING ` + table + ` AS r WHERE idempotency.k = r.idempotency_key AND idempotency.id = r.id`
}

func dayLockSubjectsSQL(table, byteOrder string) string {
	return `SELECT 1 FROM subjects WHERE pseudonym IN (SELECT sub FROM (` + daySubjects(table) + `) AS g)
		ORDER BY pseudonym ` + byteOrder + ` FOR UPDATE OF subjects`
}

// dayUncountSQL: the two modifying statements touch disjoint rows and see
// one snapshot; the count of the deleted is the customers lost.
func dayUncountSQL(table string) string {
	return `WITH g AS (` + daySubjects(table) + `),
		gone AS (DELETE FROM subjects USING g WHERE subjects.pseudonym = g.sub AND subjects.refs <= g.n RETURNING 1),
		kept AS (UPDATE subjects SET refs = subjects.refs - g.n FROM g WHERE subjects.pseudonym = g.sub AND subjects.refs > g.n RETURNING 1)
		SELECT count(*) FROM gone`
}

// daySubjects is how many raw responses of a day each respondent holds,
// as forget and uncount count them.
func daySubjects(table string) string {
	return `SELECT sub, count(*) AS n FROM (SELECT CASE WHEN subject_customer <> '' THEN subject_customer
		ELSE subject_email END AS sub FROM ` + table + ` WHERE anonymized = 0) AS r WHERE sub <> '' GROUP BY sub`
}
