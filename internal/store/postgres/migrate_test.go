package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/surveyguard/surveyguard/internal/store"
	"github.com/surveyguard/surveyguard/internal/store/postgres"
	"github.com/surveyguard/surveyguard/internal/store/sqlstore"
	"github.com/surveyguard/surveyguard/internal/store/storetest"
)

// unpartitioned is the schema of the responses table before it was
// partitioned by day (commit 8cdee36), as a database made then has it.
// The other tables are unchanged.
var unpartitioned = []string{
	`CREATE TABLE responses (
		id TEXT PRIMARY KEY,
		idempotency_key TEXT UNIQUE,
		received_at BIGINT NOT NULL,
		score SMALLINT NOT NULL CHECK (score BETWEEN 0 AND 10),
		segments TEXT NOT NULL,
		key_id TEXT,
		email BYTEA,
		customer_id BYTEA,
		comment BYTEA,
		subject_customer TEXT,
		subject_email TEXT,
		anonymized SMALLINT NOT NULL DEFAULT 0
	)`,
	`CREATE INDEX responses_raw_age ON responses (anonymized, received_at, id)`,
	`CREATE INDEX responses_subject_customer ON responses (subject_customer) WHERE subject_customer IS NOT NULL`,
	`CREATE INDEX responses_subject_email ON responses (subject_email) WHERE subject_email IS NOT NULL`,
	`CREATE INDEX responses_key ON responses (key_id) WHERE key_id IS NOT NULL`,
	`CREATE TABLE subjects (pseudonym TEXT PRIMARY KEY, refs BIGINT NOT NULL)`,
	`CREATE TABLE counters (name TEXT PRIMARY KEY, n BIGINT NOT NULL)`,
	`CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)`,
}

// TestMigrateUnpartitioned: a database made before the partitions, holding
// responses over several days (raw and anonymized, with and without
// idempotency keys and respondents) with their counters, opens with every
// response, counter and key where it was; an old idempotency key still
// answers its response; a purge then takes whole days with the receipt a
// row-by-row reference gives, and leaves exact counters.
func TestMigrateUnpartitioned(t *testing.T) {
	dsn := newDatabase(t, "migrate")
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	for _, q := range unpartitioned {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Date(2026, 3, 1, 18, 0, 0, 0, time.UTC)
	var want []*store.Record
	for i := range 300 {
		at := start.Add(time.Duration(i) * 17 * time.Minute) // about three and a half days
		r := &store.Record{ID: fmt.Sprintf("%s%04d", store.NewID(at), i), ReceivedAt: at, Score: i % 11,
			Segments: map[string]string{"plan": "pro"}}
		if i%3 != 0 {
			r.KeyID, r.CustomerID = "k1", []byte("ct")
			r.SubjectCustomerID, r.SubjectEmail = fmt.Sprintf("cust-%d", i%40), fmt.Sprintf("mail-%d", i%40)
		}
		if i%5 == 0 {
			r.IdempotencyKey = fmt.Sprintf("old-key-%d", i)
		}
		if i%7 == 0 && i%3 == 0 {
			r.Anonymized = true
		}
		anon := 0
		if r.Anonymized {
			anon = 1
		}
		if _, err := db.Exec(`INSERT INTO responses (id, idempotency_key, received_at, score, segments, key_id, customer_id,
			subject_customer, subject_email, anonymized) VALUES ($1, NULLIF($2, ''), $3, $4, '{"plan":"pro"}', NULLIF($5, ''), $6,
			NULLIF($7, ''), NULLIF($8, ''), $9)`,
			r.ID, r.IdempotencyKey, at.UnixMilli(), r.Score, r.KeyID, r.CustomerID, r.SubjectCustomerID, r.SubjectEmail, anon); err != nil {
			t.Fatal(err)
		}
		want = append(want, r)
	}
	// The counters and respondents the old store kept for these rows.
	for _, q := range []string{
		`INSERT INTO counters SELECT 'promoters', count(*) FROM responses WHERE score >= 9`,
		`INSERT INTO counters SELECT 'passives', count(*) FROM responses WHERE score IN (7, 8)`,
		`INSERT INTO counters SELECT 'detractors', count(*) FROM responses WHERE score <= 6`,
		`INSERT INTO counters SELECT 'key:' || key_id, count(*) FROM responses WHERE key_id IS NOT NULL GROUP BY key_id`,
		`INSERT INTO subjects SELECT subject_customer, count(*) FROM responses WHERE anonymized = 0 AND subject_customer IS NOT NULL GROUP BY 1`,
		`INSERT INTO counters SELECT 'customers', count(*) FROM subjects`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}

	s := opener(dsn)(t)
	defer func() { _ = s.Close() }()
	ctx := context.Background()
	got := storetest.ListAll(t, s)
	if len(got) != len(want) {
		t.Fatalf("%d responses after the migration, want %d", len(got), len(want))
	}
	for i, r := range got {
		w := want[i]
		if r.ID != w.ID || r.IdempotencyKey != w.IdempotencyKey || !r.ReceivedAt.Equal(w.ReceivedAt) || r.Score != w.Score ||
			r.KeyID != w.KeyID || r.SubjectCustomerID != w.SubjectCustomerID || r.Anonymized != w.Anonymized {
			t.Fatalf("response %d after the migration = %+v, want %+v", i, r, w)
		}
	}
	storetest.CheckRecount(t, s)
	if st := storetest.Stats(t, s); st.DistinctCustomers != 40 || st.Counts.Total() != 300 {
		t.Errorf("after the migration: %d customers, %d responses; want 40 and 300", st.DistinctCustomers, st.Counts.Total())
	}
	var plain int
	if err := db.QueryRow(`SELECT count(*) FROM pg_class WHERE relname = 'responses_unpartitioned'`).Scan(&plain); err != nil || plain != 0 {
		t.Errorf("the unpartitioned table is still there (%d, %v)", plain, err)
	}
	// An old idempotency key still names its response.
	retry := &store.Record{ID: store.NewID(time.Now()) + "r", ReceivedAt: time.Now(), Score: 3, IdempotencyKey: "old-key-5"}
	if res, err := s.Insert(ctx, retry); err != nil || !res.Duplicate || res.ID != want[5].ID {
		t.Errorf("retry with a migrated idempotency key = %+v, %v; want a duplicate of %s", res, err, want[5].ID)
	}
	// The purge takes the three whole days before the cutoff and the first
	// hours of the third, with the reference's receipt.
	cutoff := time.Date(2026, 3, 4, 5, 0, 0, 0, time.UTC)
	all := storetest.ListAll(t, s)
	digest, n := storetest.ReferenceReceipt(all, cutoff)
	rc, err := s.Purge(ctx, store.PurgeRequest{Cutoff: cutoff, Action: store.ActionDelete})
	if err != nil {
		t.Fatal(err)
	}
	if rc.Purged != n || rc.Digest != digest {
		t.Errorf("purge = %d %s, want %d %s", rc.Purged, rc.Digest, n, digest)
	}
	storetest.CheckRecount(t, s)
	for _, day := range []string{"responses_d20513", "responses_d20514", "responses_d20515"} {
		var left int
		if err := db.QueryRow(`SELECT count(*) FROM pg_class WHERE relname = $1`, day).Scan(&left); err != nil || left != 0 {
			t.Errorf("partition %s is still there after the purge took its whole day (%d, %v)", day, left, err)
		}
	}
	// A purged response's idempotency key is free again.
	again := &store.Record{ID: store.NewID(time.Now()) + "s", ReceivedAt: time.Now(), Score: 3, IdempotencyKey: "old-key-0"}
	if res, err := s.Insert(ctx, again); err != nil || res.Duplicate {
		t.Errorf("insert with a purged response's idempotency key = %+v, %v; want a new response", res, err)
	}
	if _, err := s.Get(ctx, want[0].ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the first response survived the purge: %v", err)
	}
}

// TestReplicaInsertsIntoDroppedDay: a replica that knows a day's partition
// exists goes on inserting into that day after another replica's purge has
// dropped it (a late insert), and the response is stored: the partition is
// made again.
func TestReplicaInsertsIntoDroppedDay(t *testing.T) {
	dsn := newDatabase(t, "dropped_day")
	a, b := opener(dsn)(t), opener(dsn)(t)
	defer func() { _ = a.Close() }()
	defer func() { _ = b.Close() }()
	ctx := context.Background()
	day := time.Date(2026, 2, 3, 10, 0, 0, 0, time.UTC)
	first := &store.Record{ID: store.NewID(day) + "a", ReceivedAt: day, Score: 9}
	if _, err := a.Insert(ctx, first); err != nil {
		t.Fatal(err)
	}
	rc, err := b.Purge(ctx, store.PurgeRequest{Cutoff: day.Add(24 * time.Hour), Action: store.ActionDelete})
	if err != nil || rc.Purged != 1 {
		t.Fatalf("purge = %+v, %v; want 1 purged", rc, err)
	}
	late := &store.Record{ID: store.NewID(day) + "b", ReceivedAt: day.Add(time.Minute), Score: 3}
	if _, err := a.Insert(ctx, late); err != nil {
		t.Fatalf("late insert into a dropped day: %v", err)
	}
	if _, err := b.Get(ctx, late.ID); err != nil {
		t.Errorf("the late response is not stored: %v", err)
	}
	storetest.CheckRecount(t, a)
}

// insertDay stores n responses from the start of day, step apart, by the
// respondents cust-0 to cust-<customers-1> in turn, each with the
// idempotency key keyPrefix and its number when keyPrefix is not empty.
func insertDay(t *testing.T, s store.Store, day time.Time, n int, step time.Duration, customers int, keyPrefix string) {
	t.Helper()
	for i := range n {
		at := day.Add(time.Duration(i) * step)
		r := &store.Record{ID: fmt.Sprintf("%s%03d", store.NewID(at), i), ReceivedAt: at, Score: i % 11,
			KeyID: "k1", CustomerID: []byte("ct"), SubjectCustomerID: fmt.Sprintf("cust-%d", i%customers)}
		if keyPrefix != "" {
			r.IdempotencyKey = fmt.Sprintf("%s%d", keyPrefix, i)
		}
		if _, err := s.Insert(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
}

// TestWholeDayPurgeIsAtomic: a purge whose day transaction fails after the
// partition was emptied, at the very end (the counters' update, made to
// fail here by a trigger), leaves the day, its idempotency keys and the
// counters as they were; the next purge takes the day with the full receipt.
func TestWholeDayPurgeIsAtomic(t *testing.T) {
	dsn := newDatabase(t, "atomic_day")
	s := opener(dsn)(t)
	defer func() { _ = s.Close() }()
	ctx := context.Background()
	day := time.Date(2026, 2, 3, 0, 0, 0, 0, time.UTC)
	insertDay(t, s, day, 50, 20*time.Minute, 7, "atomic-")
	all := storetest.ListAll(t, s)
	cutoff := day.Add(48 * time.Hour) // the whole of 2026-02-03, and the next day, empty
	digest, n := storetest.ReferenceReceipt(all, cutoff)
	before := storetest.Stats(t, s)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	for _, q := range []string{
		`CREATE FUNCTION fail_counters() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'counters refused'; END $$`,
		`CREATE TRIGGER fail_counters BEFORE UPDATE ON counters FOR EACH ROW EXECUTE FUNCTION fail_counters()`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Purge(ctx, store.PurgeRequest{Cutoff: cutoff, Action: store.ActionDelete}); err == nil {
		t.Fatal("the purge succeeded though its counters could not be updated")
	}
	if got := storetest.ListAll(t, s); len(got) != len(all) {
		t.Errorf("%d responses after the failed purge, want all %d", len(got), len(all))
	}
	if after := storetest.Stats(t, s); after.Counts != before.Counts || after.DistinctCustomers != before.DistinctCustomers {
		t.Errorf("the failed purge changed the counters: %+v %d -> %+v %d", before.Counts, before.DistinctCustomers, after.Counts, after.DistinctCustomers)
	}
	retry := &store.Record{ID: store.NewID(time.Now()) + "r", ReceivedAt: time.Now(), Score: 1, IdempotencyKey: "atomic-3"}
	if res, err := s.Insert(ctx, retry); err != nil || !res.Duplicate || res.ID != all[3].ID {
		t.Errorf("after the failed purge, a retry of a kept response = %+v, %v; want a duplicate of %s", res, err, all[3].ID)
	}
	if _, err := db.Exec(`DROP TRIGGER fail_counters ON counters`); err != nil {
		t.Fatal(err)
	}
	rc, err := s.Purge(ctx, store.PurgeRequest{Cutoff: cutoff, Action: store.ActionDelete})
	if err != nil || rc.Purged != n || rc.Digest != digest {
		t.Errorf("purge after the failure = %d %s (%v), want %d %s", rc.Purged, rc.Digest, err, n, digest)
	}
	storetest.CheckRecount(t, s)
}

// TestTomorrowMadeAhead: the first group commit makes tomorrow's partition
// (UTC) too, so the first one after midnight need not.
func TestTomorrowMadeAhead(t *testing.T) {
	dsn := newDatabase(t, "tomorrow")
	s := opener(dsn)(t)
	defer func() { _ = s.Close() }()
	// The day after the one before the insert: made ahead, or, should
	// midnight pass meanwhile, made as the insert's own day.
	tomorrow := fmt.Sprintf("responses_d%d", time.Now().UnixMilli()/86400000+1)
	if _, err := s.Insert(context.Background(), &store.Record{ID: store.NewID(time.Now()) + "t", ReceivedAt: time.Now(), Score: 9}); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM pg_inherits WHERE inhrelid = to_regclass($1)`, tomorrow).Scan(&n); err != nil || n != 1 {
		t.Errorf("tomorrow's partition %s: %d (%v), want it made", tomorrow, n, err)
	}
}

// TestAbortedTransactionsRunAgain: PostgreSQL aborts one of two
// transactions waiting for each other's locks (deadlock_detected), here
// made to happen, once each, by a trigger on the counters. A whole-day
// purge aborted at its end (its IDs already read into the receipt's
// digest) runs again and gives the row-by-row receipt, not one with the
// first attempt's IDs in it twice; a group commit aborted so stores its
// response; a transaction aborted every time fails after a few attempts
// and changes nothing.
func TestAbortedTransactionsRunAgain(t *testing.T) {
	dsn := newDatabase(t, "aborted")
	s := opener(dsn)(t)
	defer func() { _ = s.Close() }()
	ctx := context.Background()
	day := time.Date(2026, 2, 5, 0, 0, 0, 0, time.UTC)
	insertDay(t, s, day, 30, 40*time.Minute, 4, "")
	all := storetest.ListAll(t, s)
	cutoff := day.Add(36 * time.Hour) // 2026-02-05 whole, and the next day's morning
	digest, n := storetest.ReferenceReceipt(all, cutoff)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	// abort makes the next times updates of the counters fail as a
	// deadlock would.
	abort := func(times int) {
		t.Helper()
		for _, q := range []string{
			`DROP TRIGGER IF EXISTS abort_counters ON counters`,
			`DROP SEQUENCE IF EXISTS abort_seq`,
			`CREATE SEQUENCE abort_seq`,
			fmt.Sprintf(`CREATE OR REPLACE FUNCTION abort_counters() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
				IF nextval('abort_seq') <= %d THEN RAISE EXCEPTION 'made to deadlock' USING ERRCODE = 'deadlock_detected'; END IF;
				RETURN NEW; END $$`, times),
			`CREATE TRIGGER abort_counters BEFORE UPDATE ON counters FOR EACH ROW EXECUTE FUNCTION abort_counters()`,
		} {
			if _, err := db.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
	}
	abort(1)
	rc, err := s.Purge(ctx, store.PurgeRequest{Cutoff: cutoff, Action: store.ActionDelete})
	if err != nil || rc.Purged != n || rc.Digest != digest {
		t.Errorf("purge aborted once = %d %s (%v), want %d %s", rc.Purged, rc.Digest, err, n, digest)
	}
	storetest.CheckRecount(t, s)

	abort(1)
	now := time.Now()
	r := &store.Record{ID: store.NewID(now) + "a", ReceivedAt: now, Score: 9, IdempotencyKey: "aborted-once", SubjectCustomerID: "cust-9"}
	if res, err := s.Insert(ctx, r); err != nil || res.Duplicate || res.ID != r.ID {
		t.Errorf("insert aborted once = %+v, %v; want it stored", res, err)
	}
	storetest.CheckRecount(t, s)

	abort(1000)
	before := storetest.Stats(t, s)
	kept := storetest.ListAll(t, s)
	if _, err := s.Purge(ctx, store.PurgeRequest{Cutoff: time.Now(), Action: store.ActionDelete}); err == nil {
		t.Error("a purge aborted every time succeeded")
	}
	if got := storetest.ListAll(t, s); len(got) != len(kept) {
		t.Errorf("%d responses after the failed purge, want %d", len(got), len(kept))
	}
	if after := storetest.Stats(t, s); after.Counts != before.Counts || after.DistinctCustomers != before.DistinctCustomers {
		t.Errorf("the failed purge changed the counters: %+v -> %+v", before, after)
	}
}

// TestWholeDayPurgeHoldsNoDay: emptying a day holds nothing in proportion
// to it. Its IDs go into the receipt's digest as they are read, never
// joined into one value (PostgreSQL refuses a text value over 1 GB: a day
// of about 28 million responses would never purge), and its respondents
// lose their references inside the database. A day of 60,000 responses by
// as many respondents grows the heap by less than 12 MiB while it is
// purged; holding its IDs and respondents, as the store once did, took
// 30 MiB.
func TestWholeDayPurgeHoldsNoDay(t *testing.T) {
	if testing.Short() {
		t.Skip("stores 60,000 responses")
	}
	dsn := newDatabase(t, "no_day")
	s := opener(dsn)(t)
	defer func() { _ = s.Close() }()
	ctx := context.Background()
	day := time.Date(2026, 2, 7, 0, 0, 0, 0, time.UTC)
	const n = 60000
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= n; i = next.Add(1) {
				at := day.Add(time.Duration(i) * time.Second)
				r := &store.Record{ID: fmt.Sprintf("%s%06d", store.NewID(at), i), ReceivedAt: at, Score: int(i % 11),
					KeyID: "k1", CustomerID: []byte("ct"), IdempotencyKey: fmt.Sprintf("day-%d", i),
					SubjectCustomerID: fmt.Sprintf("c%021d", i), SubjectEmail: fmt.Sprintf("e%021d", i)}
				if _, err := s.Insert(ctx, r); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	peak := before.HeapAlloc
	stop, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapAlloc)
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	rc, err := s.Purge(ctx, store.PurgeRequest{Cutoff: day.Add(48 * time.Hour), Action: store.ActionDelete})
	close(stop)
	<-sampled
	if err != nil || rc.Purged != n {
		t.Fatalf("purge = %d, %v; want %d", rc.Purged, err, n)
	}
	grew := peak - before.HeapAlloc
	t.Logf("the heap grew by %.1f MiB", float64(grew)/(1<<20))
	if grew > 12<<20 {
		t.Errorf("the heap grew by %.1f MiB while a day of %d responses was purged, want under 12 MiB", float64(grew)/(1<<20), n)
	}
	storetest.CheckRecount(t, s)
}

// TestWholeDayPurgeWaitsWithoutTheRespondents: a whole day's purge that
// must wait for a reader of the day (here a transaction that read every
// partition and stays open) holds none of the day's respondents while it
// waits: ingest storing a response by one of them goes on.
func TestWholeDayPurgeWaitsWithoutTheRespondents(t *testing.T) {
	dsn := newDatabase(t, "wait_day")
	s := opener(dsn)(t)
	defer func() { _ = s.Close() }()
	ctx := context.Background()
	day := time.Date(2026, 2, 9, 0, 0, 0, 0, time.UTC)
	insertDay(t, s, day, 20, time.Hour, 4, "")
	// Today's partition exists before the reader starts: creating one
	// waits for every reader of responses.
	now := time.Now()
	if _, err := s.Insert(ctx, &store.Record{ID: store.NewID(now) + "t", ReceivedAt: now, Score: 9}); err != nil {
		t.Fatal(err)
	}
	all := storetest.ListAll(t, s)
	cutoff := day.Add(48 * time.Hour)
	digest, n := storetest.ReferenceReceipt(all, cutoff)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	reader, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = reader.Rollback() }()
	var rows int
	if err := reader.QueryRowContext(ctx, `SELECT count(*) FROM responses`).Scan(&rows); err != nil || rows != 21 {
		t.Fatalf("the reader counted %d (%v)", rows, err)
	}
	type result struct {
		rc  store.PurgeReceipt
		err error
	}
	purged := make(chan result, 1)
	go func() {
		rc, err := s.Purge(ctx, store.PurgeRequest{Cutoff: cutoff, Action: store.ActionDelete})
		purged <- result{rc, err}
	}()
	// Wait until the purge waits for the reader.
	for deadline := time.Now().Add(30 * time.Second); ; {
		var waiting bool
		if err := db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock')`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the purge never waited for the reader")
		}
		time.Sleep(10 * time.Millisecond)
	}
	now = time.Now()
	again := &store.Record{ID: store.NewID(now) + "w", ReceivedAt: now, Score: 10, SubjectCustomerID: "cust-1"}
	insertCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := s.Insert(insertCtx, again); err != nil {
		t.Errorf("a respondent of the day being purged could not answer again while the purge waited: %v", err)
	}
	if err := reader.Commit(); err != nil {
		t.Fatal(err)
	}
	res := <-purged
	if res.err != nil || res.rc.Purged != n || res.rc.Digest != digest {
		t.Errorf("purge = %d %s (%v), want %d %s", res.rc.Purged, res.rc.Digest, res.err, n, digest)
	}
	storetest.CheckRecount(t, s)
}

// TestGroupCommitGivesUp: a group commit that cannot finish (here the
// counters it must update are locked by a transaction that never ends)
// fails after Options.FlushTimeout, its response answered with an error
// and not stored, instead of holding every later response behind it; once
// the lock is gone, ingest goes on.
func TestGroupCommitGivesUp(t *testing.T) {
	dsn := newDatabase(t, "gives_up")
	s, err := postgres.Open(context.Background(), dsn, sqlstore.Options{FlushTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	ctx := context.Background()
	now := time.Now()
	first := &store.Record{ID: store.NewID(now) + "a", ReceivedAt: now, Score: 10}
	if _, err := s.Insert(ctx, first); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	holder, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = holder.Rollback() }()
	if _, err := holder.ExecContext(ctx, `SELECT * FROM counters FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	callerCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	stuck := &store.Record{ID: store.NewID(time.Now()) + "b", ReceivedAt: time.Now(), Score: 10}
	if _, err := s.Insert(callerCtx, stuck); err == nil || callerCtx.Err() != nil {
		t.Errorf("a group commit waiting on a lock held for ever = %v (the caller's context: %v); want it to give up on its own", err, callerCtx.Err())
	}
	if err := holder.Rollback(); err != nil {
		t.Fatal(err)
	}
	later := &store.Record{ID: store.NewID(time.Now()) + "c", ReceivedAt: time.Now(), Score: 9}
	if _, err := s.Insert(ctx, later); err != nil {
		t.Errorf("an insert after the lock was released: %v", err)
	}
	if got := storetest.ListAll(t, s); len(got) != 2 {
		t.Errorf("%d responses stored, want 2: the group that gave up stored nothing", len(got))
	}
	storetest.CheckRecount(t, s)
}
