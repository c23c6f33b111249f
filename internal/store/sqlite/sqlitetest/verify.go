// Package sqlitetest holds checks of an embedded store on disk, for tests
// that kill a writer and reopen what it left.
package sqlitetest

import (
	"context"
	"database/sql"
	"testing"

	"github.com/surveyguard/surveyguard/internal/store/sqlite"
	"github.com/surveyguard/surveyguard/internal/store/sqlstore"
	"github.com/surveyguard/surveyguard/internal/store/storetest"
)

// VerifyAcked opens the database at path as a restart would and checks that
// every acknowledged response (ID to score) is there with its score, and
// that the running counters equal a recount of the rows
// (storetest.VerifyAcked). It returns how many responses are stored.
func VerifyAcked(t testing.TB, path string, acked map[string]int) int64 {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	return storetest.VerifyAcked(t, s, db, acked)
}
