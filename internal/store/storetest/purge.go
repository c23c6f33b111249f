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
