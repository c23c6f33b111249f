// Package storetest is the contract every store backend passes: call Run
// from the backend's tests with a function that opens a fresh store.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/surveyguard/surveyguard/internal/nps"
	"github.com/surveyguard/surveyguard/internal/store"
)

// Opener opens a fresh, empty store and returns it with a function that
// opens the same data again (after the first was closed), as a restart would.
type Opener func(t *testing.T) (s store.Store, reopen func(t *testing.T) store.Store)

// Run runs the contract against a backend.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(*testing.T, Opener)
	}{
		{"InsertAndStats", testInsertAndStats},
		{"IdempotencyKey", testIdempotencyKey},
		{"ConcurrentInsertsShareCommits", testConcurrentInserts},
		{"InvalidScoreStoresNothing", testInvalidScore},
		{"PurgeDelete", testPurgeDelete},
		{"PurgeAnonymize", testPurgeAnonymize},
		{"AnonymizeTwiceChangesNothing", testAnonymizeTwice},
		{"PurgeInBatches", testPurgeInBatches},
		{"PurgeDryRun", testPurgeDryRun},
		{"PurgeReceiptExact", testPurgeReceiptExact},
		{"PurgeDaysOfEachKind", testPurgeDaysOfEachKind},
		{"Erase", testErase},
		{"EraseReceipt", testEraseReceipt},
		{"EraseReplay", testEraseReplay},
		{"EraseNothingNamed", testEraseNothingNamed},
		{"EraseReplaysRace", testEraseReplaysRace},
		{"Rewrap", testRewrap},
		{"SurvivesRestart", testRestart},
		{"List", testList},
		{"Meta", testMeta},
		{"SizeGrows", testSize},
		{"ClosedStoreRefusesInserts", testClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open) })
	}
}

var base = time.Date(2026, 1, 10, 12, 30, 0, 0, time.UTC)

// rec builds a record with fake ciphertexts; the store treats them as opaque.
func rec(i int, score int, at time.Time, subject string) *store.Record {
	r := &store.Record{
		ID:         store.NewID(at) + fmt.Sprintf("%04d", i),
		ReceivedAt: at,
		Score:      score,
		Segments:   map[string]string{"plan": "pro"},
	}
	if subject != "" {
		r.KeyID = "k1"
		r.CustomerID = []byte("ct-customer-" + subject)
		r.Comment = []byte("ct-comment")
		r.SubjectCustomerID = "cust-" + subject
		r.SubjectEmail = "mail-" + subject
	}
	return r
}

func insert(t *testing.T, s store.Store, rs ...*store.Record) {
	t.Helper()
	for _, r := range rs {
		if _, err := s.Insert(context.Background(), r); err != nil {
			t.Fatalf("insert %s: %v", r.ID, err)
		}
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

func closeStore(t *testing.T, s store.Store) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
}

func testInsertAndStats(t *testing.T, open Opener) {
	s, _ := open(t)
	defer closeStore(t, s)
	a := rec(1, 10, base, "alice")
	a.Redactions = map[string]int{"email": 1, "phone": 2}
	b := rec(2, 9, base.Add(time.Hour), "alice") // the same person again
	c := rec(3, 7, base.Add(2*time.Hour), "bob")
	c.Redactions = map[string]int{"phone": 1}
	d := rec(4, 0, base.Add(3*time.Hour), "") // anonymous respondent
	insert(t, s, a, b, c, d)

	st := stats(t, s)
	if want := (nps.Counts{Promoters: 2, Passives: 1, Detractors: 1}); st.Counts != want {
		t.Errorf("counts = %+v, want %+v", st.Counts, want)
	}
	if st.DistinctCustomers != 2 {
		t.Errorf("distinct customers = %d, want 2", st.DistinctCustomers)
	}
	if st.Redactions["email"] != 1 || st.Redactions["phone"] != 3 {
		t.Errorf("redactions = %v, want email 1, phone 3", st.Redactions)
	}
	if st.OldestRecordTime == nil || !st.OldestRecordTime.Equal(base) {
		t.Errorf("oldest = %v, want %v", st.OldestRecordTime, base)
	}
	if st.KeyIDs["k1"] != 3 {
		t.Errorf("records under k1 = %d, want 3 (the anonymous one holds no personal data)", st.KeyIDs["k1"])
	}
	got, err := s.Get(context.Background(), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Score != 10 || got.Segments["plan"] != "pro" || !bytes.Equal(got.CustomerID, a.CustomerID) ||
		got.KeyID != "k1" || !got.ReceivedAt.Equal(base) || got.SubjectCustomerID != "cust-alice" {
		t.Errorf("stored record differs: %+v", got)
	}
	if _, err := s.Get(context.Background(), "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get of a missing ID: %v, want ErrNotFound", err)
	}
}

func testIdempotencyKey(t *testing.T, open Opener) {
	s, _ := open(t)
	defer closeStore(t, s)
	first := rec(1, 9, base, "alice")
	first.IdempotencyKey = "retry-1"
	res, err := s.Insert(context.Background(), first)
	if err != nil || res.Duplicate || res.ID != first.ID {
		t.Fatalf("first insert = %+v, %v", res, err)
	}
	// Retries, some concurrent, with other IDs and scores: all answer the first ID.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			again := rec(10+i, 0, base, "mallory")
			again.IdempotencyKey = "retry-1"
			res, err := s.Insert(context.Background(), again)
			if err != nil || !res.Duplicate || res.ID != first.ID {
				t.Errorf("retry = %+v, %v; want duplicate of %s", res, err, first.ID)
			}
		}()
	}
	wg.Wait()
	st := stats(t, s)
	if st.Counts.Total() != 1 || st.Counts.Promoters != 1 || st.DistinctCustomers != 1 {
		t.Errorf("after retries: counts %+v, customers %d; want one promoter, one customer", st.Counts, st.DistinctCustomers)
	}
	if id, err := s.FindKey(context.Background(), "retry-1"); err != nil || id != first.ID {
		t.Errorf("FindKey(retry-1) = %q, %v; want %s", id, err, first.ID)
	}
	if id, err := s.FindKey(context.Background(), "retry-2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FindKey(retry-2) = %q, %v; want ErrNotFound", id, err)
	}
}

func testConcurrentInserts(t *testing.T, open Opener) {
	s, _ := open(t)
	defer closeStore(t, s)
	const workers, each = 32, 40
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				r := rec(w*each+i, (w+i)%11, base.Add(time.Duration(i)*time.Second), fmt.Sprintf("w%d", w))
				if _, err := s.Insert(context.Background(), r); err != nil {
					t.Errorf("insert: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	st := stats(t, s)
	if st.Counts.Total() != workers*each {
		t.Errorf("counted %d responses, want %d", st.Counts.Total(), workers*each)
	}
	if st.DistinctCustomers != workers {
		t.Errorf("distinct customers = %d, want %d", st.DistinctCustomers, workers)
	}
}

func testInvalidScore(t *testing.T, open Opener) {
	s, _ := open(t)
	defer closeStore(t, s)
	for _, score := range []int{-1, 11} {
		if _, err := s.Insert(context.Background(), rec(1, score, base, "x")); err == nil {
			t.Errorf("score %d was accepted", score)
		}
	}
	if st := stats(t, s); st.Counts.Total() != 0 || st.DistinctCustomers != 0 {
		t.Errorf("a refused insert changed the stats: %+v", st)
	}
}

// oldAndNew stores five responses before the cutoff, over two days, with
// idempotency keys and segments that tell them apart, and two at or after it.
func oldAndNew(t *testing.T, s store.Store) (old []*store.Record, cutoff time.Time) {
	t.Helper()
	cutoff = base.Add(24 * time.Hour)
	for i := range 5 {
		r := rec(i, 6+i, base.Add(time.Duration(i)*5*time.Hour), fmt.Sprintf("old%d", i))
		r.IdempotencyKey = fmt.Sprintf("old-%d", i)
		r.Segments["region"] = fmt.Sprintf("r%d", i)
		old = append(old, r)
	}
	insert(t, s, old...)
	insert(t, s,
		rec(100, 0, cutoff, "new0"), // exactly at the cutoff: kept
		rec(101, 8, cutoff.Add(time.Hour), "old0"),
	)
	return old, cutoff
}

func testPurgeDelete(t *testing.T, open Opener) {
	s, _ := open(t)
	defer closeStore(t, s)
	old, cutoff := oldAndNew(t, s)
	ctx := context.Background()
	rc, err := s.Purge(ctx, store.PurgeRequest{Cutoff: cutoff, Action: store.ActionDelete})
	if err != nil {
		t.Fatal(err)
	}
	if rc.Purged != 5 || rc.Anonymized != 0 || rc.Digest == "" || !rc.Cutoff.Equal(cutoff) {
		t.Fatalf("receipt = %+v, want 5 purged", rc)
	}
	for _, r := range old {
		if _, err := s.Get(ctx, r.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("old response %s survived the purge", r.ID)
		}
	}
	st := stats(t, s)
	if want := (nps.Counts{Passives: 1, Detractors: 1}); st.Counts != want {
		t.Errorf("counts after purge = %+v, want %+v", st.Counts, want)
	}
	if st.DistinctCustomers != 2 { // new0, and old0 who answered again after the cutoff
		t.Errorf("customers after purge = %d, want 2", st.DistinctCustomers)
	}
	if st.OldestRecordTime == nil || !st.OldestRecordTime.Equal(cutoff) {
		t.Errorf("oldest after purge = %v, want %v", st.OldestRecordTime, cutoff)
	}
	if st.LastPurge == nil || st.LastPurge.Purged != 5 || st.LastPurge.Digest != rc.Digest {
		t.Errorf("last purge in stats = %+v, want the receipt", st.LastPurge)
	}
	again, err := s.Purge(ctx, store.PurgeRequest{Cutoff: cutoff, Action: store.ActionDelete})
	if err != nil || again.Purged != 0 {
		t.Fatalf("the same cutoff twice purged %d (%v); want a no-op", again.Purged, err)
	}
	if after := stats(t, s); after.Counts != st.Counts || after.DistinctCustomers != st.DistinctCustomers {
		t.Errorf("the second purge changed the stats: %+v -> %+v", st, after)
	}
	if _, err := s.Purge(ctx, store.PurgeRequest{Cutoff: cutoff, Action: "Shred"}); err == nil {
		t.Error("an unknown action was accepted")
	}
}

// testPurgeAnonymize: an anonymized response keeps its score, segments and
// day, and nothing that links it to the response it was: not the ID (whose
// time prefix held the millisecond), not the idempotency key, pseudonyms,
// key ID or ciphertexts. The receipt is about the IDs that were replaced.
func testPurgeAnonymize(t *testing.T, open Opener) {
	s, _ := open(t)
	defer closeStore(t, s)
	old, cutoff := oldAndNew(t, s)
	ctx := context.Background()
	before := stats(t, s)
	rc, err := s.Purge(ctx, store.PurgeRequest{Cutoff: cutoff, Action: store.ActionAnonymize})
	if err != nil {
		t.Fatal(err)
	}
	if rc.Anonymized != 5 || rc.Purged != 0 {
		t.Fatalf("receipt = %+v, want 5 anonymized", rc)
	}
	if want := digest(old); rc.Digest != want {
		t.Errorf("receipt digest %s, want %s: the digest of the replaced IDs", rc.Digest, want)
	}
	anon, kept := anonymizedRecords(t, s)
	if len(kept) != 2 {
		t.Errorf("%d raw responses left, want the 2 at or after the cutoff", len(kept))
	}
	if got, want := keptFields(anon), keptFields(old); got != want {
		t.Errorf("anonymized responses keep %s, want %s", got, want)
	}
	oldIDs := map[string]bool{}
	for _, r := range old {
		oldIDs[r.ID] = true
	}
	for _, got := range anon {
		checkUnlinkable(t, got, oldIDs)
	}
	st := stats(t, s)
	if st.Counts != before.Counts {
		t.Errorf("anonymize changed the NPS counts: %+v -> %+v", before.Counts, st.Counts)
	}
	if st.DistinctCustomers != 2 || st.KeyIDs["k1"] != 2 {
		t.Errorf("after anonymize: customers %d, k1 records %d; want 2 and 2", st.DistinctCustomers, st.KeyIDs["k1"])
	}
	if st.OldestRecordTime == nil || !st.OldestRecordTime.Equal(cutoff) {
		t.Errorf("oldest raw response = %v, want %v", st.OldestRecordTime, cutoff)
	}
	// The idempotency key went with the response: a retry carrying it now
	// is a new response, not an answer that would name the anonymized one.
	retry := rec(200, 9, cutoff.Add(2*time.Hour), "")
	retry.IdempotencyKey = old[0].IdempotencyKey
	if res, err := s.Insert(ctx, retry); err != nil || res.Duplicate {
		t.Errorf("insert with an anonymized response's idempotency key = %+v, %v; want a new response", res, err)
	}
}

// testAnonymizeTwice: the same cutoff twice changes nothing, neither the
// rows (their new IDs included) nor the counters.
func testAnonymizeTwice(t *testing.T, open Opener) {
	s, _ := open(t)
	defer closeStore(t, s)
	_, cutoff := oldAndNew(t, s)
	ctx := context.Background()
	if _, err := s.Purge(ctx, store.PurgeRequest{Cutoff: cutoff, Action: store.ActionAnonymize}); err != nil {
		t.Fatal(err)
	}
	rows, st := listAll(t, s), stats(t, s)
	again, err := s.Purge(ctx, store.PurgeRequest{Cutoff: cutoff, Action: store.ActionAnonymize})
	if err != nil || again.Anonymized != 0 {
		t.Fatalf("anonymizing twice touched %d rows (%v)", again.Anonymized, err)
	}
	if after := listAll(t, s); ids(after) != ids(rows) {
		t.Errorf("anonymizing twice changed the rows:\nbefore %s\nafter  %s", ids(rows), ids(after))
	}
	if after := stats(t, s); after.Counts != st.Counts || after.DistinctCustomers != st.DistinctCustomers || len(after.KeyIDs) != len(st.KeyIDs) {
		t.Errorf("anonymizing twice changed the stats: %+v -> %+v", st, after)
	}
}

func testPurgeInBatches(t *testing.T, open Opener) {
	s, _ := open(t)
	defer closeStore(t, s)
	for i := range 23 {
		insert(t, s, rec(i, i%11, base.Add(time.Duration(i)*time.Minute), fmt.Sprintf("p%d", i)))
	}
	rc, err := s.Purge(context.Background(), store.PurgeRequest{Cutoff: base.Add(time.Hour), Action: store.ActionDelete, BatchSize: 5})
	if err != nil || rc.Purged != 23 {
		t.Fatalf("batched purge = %+v, %v; want 23 purged", rc, err)
	}
	if st := stats(t, s); st.Counts.Total() != 0 || st.DistinctCustomers != 0 || len(st.KeyIDs) != 0 {
		t.Errorf("after purging everything: %+v", st)
	}
}

func testPurgeDryRun(t *testing.T, open Opener) {
	s, _ := open(t)
	defer closeStore(t, s)
	_, cutoff := oldAndNew(t, s)
	before := stats(t, s)
	dry, err := s.Purge(context.Background(), store.PurgeRequest{Cutoff: cutoff, Action: store.ActionDelete, DryRun: true})
	if err != nil || dry.Purged != 5 || !dry.DryRun {
		t.Fatalf("dry run = %+v, %v; want 5 that would be purged", dry, err)
	}
	after := stats(t, s)
	if after.Counts != before.Counts || after.DistinctCustomers != before.DistinctCustomers || after.LastPurge != nil {
		t.Errorf("a dry run changed the store: %+v -> %+v", before, after)
	}
	real, err := s.Purge(context.Background(), store.PurgeRequest{Cutoff: cutoff, Action: store.ActionDelete})
	if err != nil || real.Digest != dry.Digest {
		t.Errorf("the dry run's digest %s differs from the real purge's %s", dry.Digest, real.Digest)
	}
}

func testRewrap(t *testing.T, open Opener) {
	s, _ := open(t)
	defer closeStore(t, s)
	for i := range 7 {
		insert(t, s, rec(i, 9, base, fmt.Sprintf("r%d", i)))
	}
	ctx := context.Background()
	total := 0
	for {
		n, err := s.Rewrap(ctx, "k2", 3, func(r *store.Record) error {
			if r.KeyID != "k1" {
				return fmt.Errorf("asked to re-wrap a record under %q", r.KeyID)
			}
			r.KeyID = "k2"
			r.CustomerID = append([]byte("rewrapped-"), r.CustomerID...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		total += n
		if n == 0 {
			break
		}
	}
	if total != 7 {
		t.Fatalf("re-wrapped %d records, want 7", total)
	}
	st := stats(t, s)
	if st.KeyIDs["k1"] != 0 || st.KeyIDs["k2"] != 7 {
		t.Errorf("records by key after re-wrap = %v, want k2: 7", st.KeyIDs)
	}
}

func testRestart(t *testing.T, open Opener) {
	s, reopen := open(t)
	old, cutoff := oldAndNew(t, s)
	if _, err := s.Purge(context.Background(), store.PurgeRequest{Cutoff: cutoff, Action: store.ActionAnonymize}); err != nil {
		t.Fatal(err)
	}
	before := stats(t, s)
	closeStore(t, s)
	s = reopen(t)
	defer closeStore(t, s)
	after := stats(t, s)
	if after.Counts != before.Counts || after.DistinctCustomers != before.DistinctCustomers ||
		after.LastPurge == nil || after.LastPurge.Digest != before.LastPurge.Digest {
		t.Errorf("stats changed across a restart:\nbefore %+v\nafter  %+v", before, after)
	}
	anon, kept := anonymizedRecords(t, s)
	if len(anon) != len(old) || len(kept) != 2 {
		t.Errorf("after a restart: %d anonymized and %d raw responses, want %d and 2", len(anon), len(kept), len(old))
	}
}

func testClosed(t *testing.T, open Opener) {
	s, _ := open(t)
	closeStore(t, s)
	if _, err := s.Insert(context.Background(), rec(1, 5, base, "")); !errors.Is(err, store.ErrClosed) {
		t.Errorf("insert after close: %v, want ErrClosed", err)
	}
}
