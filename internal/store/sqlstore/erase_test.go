package sqlstore_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/surveyguard/surveyguard/internal/store"
	"github.com/surveyguard/surveyguard/internal/store/sqlite"
	"github.com/surveyguard/surveyguard/internal/store/sqlstore"
	"github.com/surveyguard/surveyguard/internal/store/storetest"
)

// TestErasureAfterARewrap: a re-wrap commits between an erasure's read of
// the person's responses and its delete. The erasure takes the response's
// count from the key it is sealed by when deleted, not the one it read:
// otherwise the old key's count fell for a response still sealed by it
// (bob's here), no re-wrap was pending any more, and the operator would
// retire the key bob's email and comment need.
func TestErasureAfterARewrap(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "responses.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	at := time.Date(2026, 1, 10, 12, 30, 0, 0, time.UTC)
	ana, bob := record(1, at, "ana"), record(2, at.Add(time.Minute), "bob") // ana's ID sorts first
	for _, r := range []*store.Record{ana, bob} {
		if _, err := s.Insert(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	rewrap := func(limit int) int {
		n, err := s.Rewrap(ctx, "k2", limit, func(r *store.Record) error { r.KeyID = "k2"; return nil })
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	hooked := 0
	defer sqlstore.SetEraseHook(func() {
		hooked++
		if n := rewrap(1); n != 1 { // ana's response only
			t.Errorf("the re-wrap took %d responses, want ana's", n)
		}
	})()
	rc, err := s.Erase(ctx, store.EraseRequest{Subjects: []string{ana.SubjectCustomerID, ana.SubjectEmail}})
	if err != nil {
		t.Fatal(err)
	}
	if hooked != 1 || rc.Erased != 1 {
		t.Fatalf("the erasure ran the hook %d times and erased %d, want 1 and 1", hooked, rc.Erased)
	}
	storetest.CheckRecount(t, s)
	for i := 0; rewrap(10) > 0; i++ {
		if i > 10 {
			t.Fatal("re-wrapping never ends")
		}
	}
	got, err := s.Get(ctx, bob.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.KeyID != "k2" {
		t.Errorf("bob's response is still sealed by %s once re-wrapping to k2 has ended (key counters %v): retiring %s would lose it",
			got.KeyID, storetest.Stats(t, s).KeyIDs, got.KeyID)
	}
}
