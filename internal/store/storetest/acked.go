package storetest

import (
	"context"
	"database/sql"
	"testing"

	"github.com/surveyguard/surveyguard/internal/nps"
	"github.com/surveyguard/surveyguard/internal/store"
)

// VerifyAcked checks, after a writer was killed and its database reopened,
// that every acknowledged response (ID to score) is in s with its score,
// and that the running counters equal a recount of the rows through db, a
// plain connection to the same database. It returns how many responses are
// stored.
func VerifyAcked(t testing.TB, s store.Store, db *sql.DB, acked map[string]int) int64 {
	t.Helper()
	ctx := context.Background()
	for id, score := range acked {
		r, err := s.Get(ctx, id)
		if err != nil {
			t.Fatalf("acknowledged response %s is lost: %v", id, err)
		}
		if r.Score != score {
			t.Fatalf("response %s has score %d, acknowledged %d", id, r.Score, score)
		}
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var recount nps.Counts
	var customers, stored int64
	// FILTER is both SQLite's (3.30 and later) and PostgreSQL's.
	if err := db.QueryRowContext(ctx, `SELECT count(*) FILTER (WHERE score >= 9), count(*) FILTER (WHERE score BETWEEN 7 AND 8),
		count(*) FILTER (WHERE score <= 6), count(DISTINCT subject_customer), count(*) FROM responses`).
		Scan(&recount.Promoters, &recount.Passives, &recount.Detractors, &customers, &stored); err != nil {
		t.Fatal(err)
	}
	if st.Counts != recount || st.DistinctCustomers != customers {
		t.Fatalf("counters %+v / %d customers disagree with a recount %+v / %d", st.Counts, st.DistinctCustomers, recount, customers)
	}
	return stored
}
