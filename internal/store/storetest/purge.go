package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/surveyguard/surveyguard/internal/nps"
	"github.com/surveyguard/surveyguard/internal/store"
)

// testPurgeReceiptExact: a Delete purge in many small batches over a mixed
// store (raw and anonymized responses, ties on the millisecond, respondents
// with a customer ID or only an email, responses without personal fields)
// gives the receipt a row-by-row reference gives: every raw response before
// the cutoff in (received at, ID) order, then every anonymized one in the
// same order, one ID a line. The counters then equal a recount of what is
// left, and the same cutoff again is a no-op.
func testPurgeReceiptExact(t *testing.T, open Opener) {
	s, _ := open(t)
	defer closeStore(t, s)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(16, 2)) //nolint:gosec // G404: test data, not a secret
	var rs []*store.Record
	for i := range 400 {
		at := base.Add(time.Duration(rng.IntN(72*60)) * time.Minute)
		if i%5 == 0 && i > 0 {
			at = rs[i-1].ReceivedAt // a tie: the ID decides the order
		}
		subject := ""
		if i%4 != 0 {
			subject = fmt.Sprintf("x%d", rng.IntN(60)) // respondents answer several times
		}
		r := rec(i, rng.IntN(11), at, subject)
		if i%7 == 0 && subject != "" {
			r.SubjectCustomerID = "" // known by email alone
		}
		if i%9 == 0 && subject != "" {
			r.KeyID = "k2"
		}
		if i%3 == 0 {
			r.IdempotencyKey = fmt.Sprintf("exact-%d", i)
		}
		rs = append(rs, r)
	}
	insert(t, s, rs...)
	// A first day's responses become anonymous copies, which a later
	// Delete purge takes in its second pass.
	if _, err := s.Purge(ctx, store.PurgeRequest{Cutoff: base.Add(20 * time.Hour), Action: store.ActionAnonymize, BatchSize: 9}); err != nil {
		t.Fatal(err)
	}
	cutoff := base.Add(50*time.Hour + 30*time.Second)
	want, wantN := referenceReceipt(listAll(t, s), cutoff)
	if wantN == 0 {
		t.Fatal("the test data has nothing to purge")
	}
	dry, err := s.Purge(ctx, store.PurgeRequest{Cutoff: cutoff, Action: store.ActionDelete, DryRun: true})
	if err != nil || dry.Purged != wantN || dry.Digest != want {
		t.Fatalf("dry run = %d %s (%v), want %d %s", dry.Purged, dry.Digest, err, wantN, want)
	}
	for _, batch := range []int{7, 0} {
		rc, err := s.Purge(ctx, store.PurgeRequest{Cutoff: cutoff, Action: store.ActionDelete, BatchSize: batch})
		if err != nil {
			t.Fatal(err)
		}
		if rc.Purged != wantN || rc.Digest != want {
			t.Errorf("purge (batch %d) = %d %s, want %d %s", batch, rc.Purged, rc.Digest, wantN, want)
		}
		checkRecount(t, s)
		// The second time round nothing is left before the cutoff.
		want, wantN = hex.EncodeToString(sha256.New().Sum(nil)), 0
	}
}

// referenceReceipt is the digest and count of a Delete purge of rs at
// cutoff, computed row by row.
func referenceReceipt(rs []*store.Record, cutoff time.Time) (string, int64) {
	h := sha256.New()
	var n int64
	for _, anonymized := range []bool{false, true} {
		var pass []*store.Record
		for _, r := range rs {
			if r.Anonymized == anonymized && r.ReceivedAt.UnixMilli() < store.CutoffMilli(cutoff) {
				pass = append(pass, r)
			}
		}
		sort.Slice(pass, func(i, j int) bool {
			if !pass[i].ReceivedAt.Equal(pass[j].ReceivedAt) {
				return pass[i].ReceivedAt.Before(pass[j].ReceivedAt)
			}
			return pass[i].ID < pass[j].ID
		})
		for _, r := range pass {
			_, _ = h.Write([]byte(r.ID + "\n"))
		}
		n += int64(len(pass))
	}
	return hex.EncodeToString(h.Sum(nil)), n
}

// checkRecount asserts that the running figures equal a recount of the
// stored responses: the NPS buckets, the distinct respondents, the records
// under each key and the oldest raw response.
func checkRecount(t *testing.T, s store.Store) {
	t.Helper()
	var counts nps.Counts
	subjects := map[string]bool{}
	keys := map[string]int64{}
	var oldest *time.Time
	for _, r := range listAll(t, s) {
		b, err := nps.Classify(r.Score)
		if err != nil {
			t.Fatal(err)
		}
		switch b {
		case nps.Promoter:
			counts.Promoters++
		case nps.Passive:
			counts.Passives++
		default:
			counts.Detractors++
		}
		if r.KeyID != "" {
			keys[r.KeyID]++
		}
		if r.Anonymized {
			continue
		}
		if sub := r.Subject(); sub != "" {
			subjects[sub] = true
		}
		if oldest == nil || r.ReceivedAt.Before(*oldest) {
			at := r.ReceivedAt
			oldest = &at
		}
	}
	st := stats(t, s)
	if st.Counts != counts || st.DistinctCustomers != int64(len(subjects)) {
		t.Errorf("counters %+v, %d customers; a recount gives %+v, %d", st.Counts, st.DistinctCustomers, counts, len(subjects))
	}
	if fmt.Sprint(st.KeyIDs) != fmt.Sprint(keys) {
		t.Errorf("key counters %v, a recount gives %v", st.KeyIDs, keys)
	}
	if (st.OldestRecordTime == nil) != (oldest == nil) || (oldest != nil && !st.OldestRecordTime.Equal(*oldest)) {
		t.Errorf("oldest record %v, a recount gives %v", st.OldestRecordTime, oldest)
	}
}

// CheckRecount is checkRecount for a backend's own tests: the running
// figures equal a recount of the stored responses.
func CheckRecount(t *testing.T, s store.Store) {
	t.Helper()
	checkRecount(t, s)
}

// ReferenceReceipt is referenceReceipt for a backend's own tests: the
// digest and count of a Delete purge of rs at cutoff, row by row.
func ReferenceReceipt(rs []*store.Record, cutoff time.Time) (string, int64) {
	return referenceReceipt(rs, cutoff)
}

// Stats is the store's running figures, failing the test on an error.
func Stats(t *testing.T, s store.Store) store.Stats {
	t.Helper()
	return stats(t, s)
}

// ListAll lists every stored response, in ID order.
func ListAll(t *testing.T, s store.Store) []*store.Record {
	t.Helper()
	return listAll(t, s)
}

// testPurgeDaysOfEachKind: a Delete purge over whole days of every kind, in
// an order an anonymizing policy and late writes can leave them: a day of
// raw responses written late behind a day of anonymized ones, a day an
// anonymizing cutoff fell in (both kinds), a day with nothing, a day of raw
// responses, and the cutoff's day with both kinds on either side of the
// cutoff. Respondents answer on several days, some by email alone, so some
// keep references after the purge and some do not. The receipt is the
// row-by-row one (every raw response before the cutoff in order, then every
// anonymized one), the counters equal a recount, the purged responses'
// idempotency keys are free again and the same cutoff twice is a no-op. A
// partitioned store empties some of these days whole and deletes in
// others; the receipt must not tell.
func testPurgeDaysOfEachKind(t *testing.T, open Opener) {
	s, _ := open(t)
	defer closeStore(t, s)
	ctx := context.Background()
	day := func(n int) time.Time { return time.Date(2026, 3, 1+n, 0, 0, 0, 0, time.UTC) }
	i := 0
	at := func(d int, hours float64) *store.Record {
		i++
		subject := fmt.Sprintf("p%d", i%7) // seven people answer on many days
		if i%5 == 0 {
			subject = ""
		}
		r := rec(i, i%11, day(d).Add(time.Duration(hours*float64(time.Hour))), subject)
		if i%6 == 0 && subject != "" {
			r.SubjectCustomerID = "" // known by email alone
		}
		if i%3 == 0 {
			r.IdempotencyKey = fmt.Sprintf("days-%d", i)
		}
		return r
	}
	// An anonymizing purge converts every raw response before its cutoff:
	// the raw responses of days before it are stored after it ran.
	var early []*store.Record
	for h := range 12 {
		early = append(early,
			at(1, float64(h)*2),   // day 1: anonymized
			at(2, float64(h)*0.5), // day 2: its morning anonymized
			at(5, float64(h)*0.7), // day 5: its morning anonymized
		)
	}
	insert(t, s, early...)
	if _, err := s.Purge(ctx, store.PurgeRequest{Cutoff: day(5).Add(9 * time.Hour), Action: store.ActionAnonymize, BatchSize: 7}); err != nil {
		t.Fatal(err)
	}
	var later []*store.Record
	for h := range 12 {
		later = append(later,
			at(0, float64(h)*2+0.25), // day 0: raw only
			at(2, 12+float64(h)*0.9), // day 2: raw in the afternoon
			at(4, float64(h)*2),      // day 4: raw only
			at(5, 9+float64(h)*1.25), // day 5, the cutoff's: raw
		)
	}
	insert(t, s, later...)
	// Day 3 held one response, erased since: nothing is left of it.
	alone := rec(500, 9, day(3).Add(time.Hour), "alone")
	insert(t, s, alone)
	if rc, err := s.Erase(ctx, store.EraseRequest{Subjects: []string{alone.SubjectCustomerID}}); err != nil || rc.Erased != 1 {
		t.Fatalf("erasing day 3's response = %+v, %v", rc, err)
	}
	cutoff := day(5).Add(15*time.Hour + 30*time.Minute)
	all := listAll(t, s)
	want, wantN := referenceReceipt(all, cutoff)
	var keyed []*store.Record // purged responses that held an idempotency key
	for _, r := range all {
		if r.IdempotencyKey != "" && r.ReceivedAt.Before(cutoff) {
			keyed = append(keyed, r)
		}
	}
	if len(keyed) == 0 || wantN < 60 {
		t.Fatalf("the test data purges %d responses, %d with idempotency keys", wantN, len(keyed))
	}
	dry, err := s.Purge(ctx, store.PurgeRequest{Cutoff: cutoff, Action: store.ActionDelete, DryRun: true})
	if err != nil || dry.Purged != wantN || dry.Digest != want {
		t.Fatalf("dry run = %d %s (%v), want %d %s", dry.Purged, dry.Digest, err, wantN, want)
	}
	rc, err := s.Purge(ctx, store.PurgeRequest{Cutoff: cutoff, Action: store.ActionDelete, BatchSize: 5})
	if err != nil || rc.Purged != wantN || rc.Digest != want {
		t.Fatalf("purge = %d %s (%v), want %d %s", rc.Purged, rc.Digest, err, wantN, want)
	}
	checkRecount(t, s)
	for _, r := range listAll(t, s) {
		if r.ReceivedAt.Before(cutoff) {
			t.Errorf("response %s (received %s) outlived the purge", r.ID, r.ReceivedAt)
		}
	}
	again, err := s.Purge(ctx, store.PurgeRequest{Cutoff: cutoff, Action: store.ActionDelete})
	if err != nil || again.Purged != 0 || again.Digest != hex.EncodeToString(sha256.New().Sum(nil)) {
		t.Errorf("the same cutoff again = %d %s (%v), want a no-op", again.Purged, again.Digest, err)
	}
	// A purged response's idempotency key is free: a retry stores anew.
	retry := rec(999, 4, day(6), "")
	retry.IdempotencyKey = keyed[0].IdempotencyKey
	if res, err := s.Insert(ctx, retry); err != nil || res.Duplicate || res.ID != retry.ID {
		t.Errorf("a retry under a purged response's key = %+v, %v; want it stored as %s", res, err, retry.ID)
	}
	checkRecount(t, s)
}
