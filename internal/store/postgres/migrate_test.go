package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/surveyguard/surveyguard/internal/store"
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
	dsn, err := pg.CreateDatabase(fmt.Sprintf("migrate_%d", dbs.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
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
	if st := stats(t, s); st.DistinctCustomers != 40 || st.Counts.Total() != 300 {
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

func stats(t *testing.T, s store.Store) store.Stats {
	t.Helper()
	st, err := s.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}
