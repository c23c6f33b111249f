// Package sqlitetest holds checks of an embedded store on disk, for tests
// that kill a writer and reopen what it left.
package sqlitetest

import (
	"context"
	"database/sql"
	"testing"

	"github.com/surveyguard/surveyguard/internal/nps"
	"github.com/surveyguard/surveyguard/internal/store/sqlite"
	"github.com/surveyguard/surveyguard/internal/store/sqlstore"
)

// VerifyAcked opens the database at path as a restart would and checks that
// every acknowledged response (ID to score) is there with its score, and
// that the running counters equal a recount of the rows. It returns how many
// responses are stored.
func VerifyAcked(t testing.TB, path string, acked map[string]int) int64 {
	t.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, path, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
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
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	var recount nps.Counts
	var customers, stored int64
	err = db.QueryRow(`SELECT COALESCE(SUM(score >= 9), 0), COALESCE(SUM(score BETWEEN 7 AND 8), 0),
		COALESCE(SUM(score <= 6), 0), COUNT(DISTINCT subject_customer), COUNT(*) FROM responses`).
		Scan(&recount.Promoters, &recount.Passives, &recount.Detractors, &customers, &stored)
	if err != nil {
		t.Fatal(err)
	}
	if st.Counts != recount || st.DistinctCustomers != customers {
		t.Fatalf("counters %+v / %d customers disagree with a recount %+v / %d", st.Counts, st.DistinctCustomers, recount, customers)
	}
	return stored
}
