package sqlstore

import (
	"context"
	"database/sql"
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
// day, named "responses_d" and the day's number since 1970-01-01. A Delete
// purge takes every day that ends at or before its cutoff whole: in one
// transaction per day it locks the day's partition against writes, reads
// the IDs for the receipt and what the counters lose (grouped by the
// database, as a batch's are), frees the idempotency keys, empties the
// partition with TRUNCATE and applies the counters, so the rows and their
// counts leave together or not at all. Only the day the cutoff falls in is
// deleted row by row. Ingest writes the current day's partition and never
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

// wholeDays is the first step of a Delete purge of a partitioned store:
// every day wholly before cutoff is emptied in one transaction of its own
// (emptyDay), oldest first. The raw responses' IDs go into digest at once,
// in (received_at, ID) order, since the days are taken in order; the
// anonymized ones' come back, joined, for the purge's second pass. Every
// deleted response is added to the receipt.
func (s *Store) wholeDays(ctx context.Context, cutoff int64, digest hash.Hash, receipt *store.PurgeReceipt) (anon []string, err error) {
	days, err := s.daysBefore(ctx, cutoff)
	if err != nil {
		return nil, err
	}
	for _, day := range days {
		gone, err := s.emptyDay(ctx, day)
		if err != nil {
			return nil, err
		}
		if gone.raw != "" {
			_, _ = digest.Write([]byte(gone.raw + "\n"))
		}
		if gone.anon != "" {
			anon = append(anon, gone.anon)
		}
		receipt.Purged += gone.n
		s.dropDay(ctx, day)
	}
	return anon, nil
}

// dayGone is what emptying a day took: the IDs of its raw and of its
// anonymized responses, each joined by newlines in (received_at, ID)
// order, and how many responses there were.
type dayGone struct {
	raw, anon string
	n         int64
	keys      int64 // how many of them held an idempotency key
}

// emptyDay empties day's partition in one transaction: SHARE ROW
// EXCLUSIVE on the partition keeps every writer (a late insert of that day,
// another replica's purge or erasure) out while readers go on; the rows are
// grouped as a batch's are (groupDay); their idempotency keys are freed;
// TRUNCATE empties the partition (no per-row work, no trigger); and the
// counters and respondents are updated before the one commit.
func (s *Store) emptyDay(ctx context.Context, day int64) (dayGone, error) {
	var gone dayGone
	table := dayTable(day)
	err := s.inTx(ctx, func(tx *sql.Tx, d *deltas) error {
		gone = dayGone{}
		// One core for the purge: parallel workers would take the other
		// from ingest.
		if _, err := tx.ExecContext(ctx, `SET LOCAL max_parallel_workers_per_gather = 0`); err != nil {
			return fmt.Errorf("%s: %w", s.d.Name, err)
		}
		if _, err := tx.ExecContext(ctx, `LOCK TABLE `+table+` IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return fmt.Errorf("%s: locking the partition of day %d: %w", s.d.Name, day, err)
		}
		rows, err := tx.QueryContext(ctx, s.groupDay(table))
		if err != nil {
			return fmt.Errorf("%s: reading the partition of day %d: %w", s.d.Name, day, err)
		}
		if err := scanDay(rows, d, &gone); err != nil {
			return fmt.Errorf("%s: reading the partition of day %d: %w", s.d.Name, day, err)
		}
		if gone.n == 0 {
			return nil
		}
		if gone.keys > 0 {
			free := `DELETE FROM idempotency USING ` + table + ` AS r WHERE idempotency.k = r.idempotency_key AND idempotency.id = r.id` //nolint:gosec // G202: table is dayTable's, a number
			if _, err := tx.ExecContext(ctx, free); err != nil {
				return fmt.Errorf("%s: freeing the idempotency keys of day %d: %w", s.d.Name, day, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `TRUNCATE `+table); err != nil {
			return fmt.Errorf("%s: emptying the partition of day %d: %w", s.d.Name, day, err)
		}
		return nil
	})
	return gone, err
}

// groupDay is groupGone over a whole partition, with the IDs of the raw
// responses (kind 0) apart from the anonymized ones' (kind 4), and the
// groups by score, key and respondent taken in one scan of the table
// (grouping sets, told apart by GROUPING). Each row's fourth column counts
// the idempotency keys among its responses: those of the score groups add
// up to the partition's.
func (s *Store) groupDay(table string) string {
	ids := func(kind, anonymized int) string {
		return fmt.Sprintf(`SELECT %d, string_agg(id, %s ORDER BY received_at, id %s), count(*), 0 FROM %s WHERE anonymized = %d`,
			kind, s.d.Newline, s.d.ByteOrder, table, anonymized)
	}
	return ids(0, 0) + ` UNION ALL ` + ids(4, 1) + `
		UNION ALL SELECT kind, name, n, keys FROM (
			SELECT CASE GROUPING(score, key_id, sub) WHEN 3 THEN 1 WHEN 5 THEN 2 ELSE 3 END AS kind,
				COALESCE(CAST(score AS TEXT), key_id, sub) AS name, count(*) AS n, count(idempotency_key) AS keys
			FROM (SELECT score, key_id, idempotency_key, CASE WHEN anonymized = 0 THEN CASE WHEN subject_customer <> ''
				THEN subject_customer ELSE subject_email END END AS sub FROM ` + table + `) AS r
			GROUP BY GROUPING SETS ((score), (key_id), (sub))) AS g
		WHERE name <> ''`
}

// scanDay reads groupDay's rows into d and gone.
func scanDay(rows *sql.Rows, d *deltas, gone *dayGone) error {
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		var kind int
		var name sql.NullString
		var n, keys int64
		if err := rows.Scan(&kind, &name, &n, &keys); err != nil {
			return err
		}
		if kind == 1 {
			gone.keys += keys
		}
		switch kind {
		case 0, 4:
			if got := int64(strings.Count(name.String, "\n") + 1); n > 0 && got != n {
				return fmt.Errorf("%d IDs for %d responses", got, n)
			}
			if kind == 0 {
				gone.raw = name.String
			} else {
				gone.anon = name.String
			}
			gone.n += n
		default:
			if err := countGone(kind, name.String, n, d); err != nil {
				return err
			}
		}
	}
	return rows.Err()
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
