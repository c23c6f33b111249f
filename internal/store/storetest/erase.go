package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/surveyguard/surveyguard/internal/nps"
	"github.com/surveyguard/surveyguard/internal/store"
)

// idDigest is what an erasure receipt's digest must be for rs: the SHA-256
// of their IDs in ID order, each followed by a line feed.
func idDigest(rs ...*store.Record) string {
	sorted := make([]string, len(rs))
	for i, r := range rs {
		sorted[i] = r.ID
	}
	sort.Strings(sorted)
	h := sha256.New()
	for _, id := range sorted {
		_, _ = h.Write([]byte(id + "\n"))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// erase erases subject's responses ("cust-" and "mail-" pseudonyms, as rec
// makes them) under requestID, failing the test on an error.
func erase(t *testing.T, s store.Store, requestID, subject string) store.EraseReceipt {
	t.Helper()
	rc, err := s.Erase(context.Background(), store.EraseRequest{Subjects: []string{"cust-" + subject, "mail-" + subject}, RequestID: requestID})
	if err != nil {
		t.Fatalf("erase %s as %q: %v", subject, requestID, err)
	}
	return rc
}

// sameReceipt describes how a replayed receipt differs from the first, or
// returns "".
func sameReceipt(replay, first store.EraseReceipt) string {
	if !replay.Replayed {
		return "not marked replayed"
	}
	if replay.RequestID != first.RequestID || replay.Erased != first.Erased || replay.Digest != first.Digest ||
		!replay.StartedAt.Equal(first.StartedAt) || !replay.FinishedAt.Equal(first.FinishedAt) {
		return fmt.Sprintf("%+v, want the first %+v", replay, first)
	}
	return ""
}

// present asserts which of rs are stored (want true) or gone.
func present(t *testing.T, s store.Store, want bool, rs ...*store.Record) {
	t.Helper()
	for _, r := range rs {
		_, err := s.Get(context.Background(), r.ID)
		switch {
		case want && err != nil:
			t.Errorf("response %s (%s) is gone: %v", r.ID, r.Subject(), err)
		case !want && !errors.Is(err, store.ErrNotFound):
			t.Errorf("response %s (%s) is still stored (%v)", r.ID, r.Subject(), err)
		}
	}
}

func testErase(t *testing.T, open Opener) {
	s, _ := open(t)
	defer closeStore(t, s)
	a1, a2 := rec(1, 10, base, "alice"), rec(2, 3, base.Add(time.Hour), "alice")
	a1.IdempotencyKey = "alice-retry"
	insert(t, s, a1, a2, rec(3, 8, base, "bob"))
	onlyEmail := rec(4, 9, base, "")
	onlyEmail.KeyID, onlyEmail.Email, onlyEmail.SubjectEmail = "k1", []byte("ct-mail"), "mail-alice"
	insert(t, s, onlyEmail)
	rc := erase(t, s, "", "alice")
	if rc.Erased != 3 || rc.Digest != idDigest(a1, a2, onlyEmail) || rc.RequestID != "" || rc.Replayed {
		t.Fatalf("erase = %+v; want alice's 3 responses, digest %s", rc, idDigest(a1, a2, onlyEmail))
	}
	st := stats(t, s)
	if st.Counts != (nps.Counts{Passives: 1}) || st.DistinctCustomers != 1 || st.KeyIDs["k1"] != 1 {
		t.Errorf("after erasing alice: %+v", st)
	}
	// The idempotency key went with the row: a retry carrying it is a new
	// response, not an answer naming the erased one.
	retry := rec(5, 10, base.Add(2*time.Hour), "alice")
	retry.IdempotencyKey = a1.IdempotencyKey
	if res, err := s.Insert(context.Background(), retry); err != nil || res.Duplicate || res.ID != retry.ID {
		t.Errorf("insert with an erased response's idempotency key = %+v, %v; want a new response", res, err)
	}
	if rc := erase(t, s, "", "alice"); rc.Erased != 1 || rc.Digest != idDigest(retry) {
		t.Errorf("erasing the retry = %+v; want it alone", rc)
	}
	// Unnamed erasures are not remembered: each one erases anew.
	if rc := erase(t, s, "", "alice"); rc.Erased != 0 || rc.Digest != idDigest() || rc.Replayed {
		t.Errorf("erasing again = %+v; want 0 and the digest of nothing", rc)
	}
	if rc := erase(t, s, "", "nobody"); rc.Erased != 0 {
		t.Errorf("erasing an unknown subject = %+v; want 0", rc)
	}
	if rc, err := s.Erase(context.Background(), store.EraseRequest{}); err != nil || rc.Erased != 0 {
		t.Errorf("erasing no subject = %+v, %v; want 0", rc, err)
	}
}

// testEraseReceipt: a named erasure's receipt counts and digests exactly the
// subject's responses, found by either pseudonym; everyone else's stay; the
// receipt is kept under "erasure/<RequestID>", cannot be overwritten by
// SetMeta, and is replayed after a restart.
func testEraseReceipt(t *testing.T, open Opener) {
	s, reopen := open(t)
	ctx := context.Background()
	var hers, others []*store.Record
	for i := range 12 {
		subject := fmt.Sprintf("o%d", i%4)
		if i%3 == 0 {
			subject = "carol"
		}
		// Received in the reverse of insertion order: the digest is by ID.
		r := rec(i, i%11, base.Add(time.Duration(12-i)*time.Minute), subject)
		if subject == "carol" {
			hers = append(hers, r)
		} else {
			others = append(others, r)
		}
		insert(t, s, r)
	}
	byEmail := rec(20, 2, base, "")
	byEmail.KeyID, byEmail.Email, byEmail.SubjectEmail = "k1", []byte("ct-mail"), "mail-carol"
	anonymous := rec(21, 7, base, "")
	insert(t, s, byEmail, anonymous)
	hers, others = append(hers, byEmail), append(others, anonymous)
	var wantCounts nps.Counts
	for _, r := range others {
		b, _ := nps.Classify(r.Score)
		wantCounts.Add(b, 1)
	}

	before := time.Now()
	rc := erase(t, s, "3f6c1a52-9d4e-4b8a-a0c7-2e1d5b7f9a01", "carol")
	if rc.Erased != int64(len(hers)) || rc.Digest != idDigest(hers...) {
		t.Errorf("receipt erased %d with digest %s; want %d and %s", rc.Erased, rc.Digest, len(hers), idDigest(hers...))
	}
	if rc.RequestID != "3f6c1a52-9d4e-4b8a-a0c7-2e1d5b7f9a01" || rc.Replayed {
		t.Errorf("receipt %+v: want the request's ID, not replayed", rc)
	}
	if rc.StartedAt.Before(before.Add(-time.Second)) || rc.FinishedAt.Before(rc.StartedAt) || rc.FinishedAt.After(time.Now().Add(time.Second)) {
		t.Errorf("receipt started %s and finished %s; want both within the call, in order", rc.StartedAt, rc.FinishedAt)
	}
	present(t, s, false, hers...)
	sort.Slice(others, func(i, j int) bool { return others[i].ID < others[j].ID })
	if got := listAll(t, s); ids(got) != ids(others) {
		t.Errorf("after the erasure the store holds %s, want everyone else's: %s", ids(got), ids(others))
	}
	if st := stats(t, s); st.Counts != wantCounts || st.DistinctCustomers != 4 {
		t.Errorf("after the erasure: counts %+v, customers %d; want %+v and 4", st.Counts, st.DistinctCustomers, wantCounts)
	}

	key := "erasure/" + rc.RequestID
	if v, ok, err := s.Meta(ctx, key); err != nil || !ok || !strings.Contains(v, rc.Digest) {
		t.Errorf("Meta(%q) = %q, %v, %v; want the receipt", key, v, ok, err)
	}
	for _, k := range []string{key, "erasure/forged"} {
		if err := s.SetMeta(ctx, k, `{"erased":0}`); err == nil {
			t.Errorf("SetMeta(%q) was accepted", k)
		}
	}
	if _, ok, _ := s.Meta(ctx, "erasure/forged"); ok {
		t.Error("a refused SetMeta stored an erasure receipt")
	}
	closeStore(t, s)
	s = reopen(t)
	defer closeStore(t, s)
	if diff := sameReceipt(erase(t, s, rc.RequestID, "carol"), rc); diff != "" {
		t.Errorf("replayed after a restart: %s", diff)
	}
}

// testEraseReplay: the same RequestID again erases nothing, not even what
// the subject stored since, and answers the first receipt; another
// RequestID erases anew, and does not replace the first receipt.
func testEraseReplay(t *testing.T, open Opener) {
	s, _ := open(t)
	defer closeStore(t, s)
	first, other := rec(1, 9, base, "dave"), rec(2, 5, base, "erin")
	insert(t, s, first, other)
	rc1 := erase(t, s, "req-1", "dave")
	if rc1.Erased != 1 || rc1.Digest != idDigest(first) || rc1.Replayed {
		t.Fatalf("first erasure = %+v; want dave's response", rc1)
	}
	later := rec(3, 10, base.Add(time.Hour), "dave") // dave answers again after the erasure
	insert(t, s, later)
	if diff := sameReceipt(erase(t, s, "req-1", "dave"), rc1); diff != "" {
		t.Errorf("the same RequestID again: %s", diff)
	}
	present(t, s, true, later, other)
	if st := stats(t, s); st.Counts != (nps.Counts{Promoters: 1, Detractors: 1}) || st.DistinctCustomers != 2 {
		t.Errorf("a replay changed the counters: %+v", st)
	}
	rc2 := erase(t, s, "req-2", "dave")
	if rc2.Erased != 1 || rc2.Digest != idDigest(later) || rc2.Replayed || rc2.RequestID != "req-2" {
		t.Errorf("another RequestID = %+v; want dave's later response erased", rc2)
	}
	present(t, s, false, later)
	present(t, s, true, other)
	if diff := sameReceipt(erase(t, s, "req-1", "dave"), rc1); diff != "" {
		t.Errorf("the first RequestID after another: %s", diff)
	}
}

// testEraseNothingNamed: a named erasure that finds nothing still keeps its
// receipt, so a replay erases nothing even once the subject has answered.
func testEraseNothingNamed(t *testing.T, open Opener) {
	s, _ := open(t)
	defer closeStore(t, s)
	insert(t, s, rec(1, 9, base, "frank"))
	rc := erase(t, s, "req-empty", "grace")
	if rc.Erased != 0 || rc.Digest != idDigest() || rc.Replayed || rc.FinishedAt.IsZero() {
		t.Fatalf("erasing nobody = %+v; want 0, the digest of nothing", rc)
	}
	if _, ok, err := s.Meta(context.Background(), "erasure/req-empty"); err != nil || !ok {
		t.Errorf("an erasure that found nothing kept no receipt (%v)", err)
	}
	late := rec(2, 3, base.Add(time.Hour), "grace")
	insert(t, s, late)
	if diff := sameReceipt(erase(t, s, "req-empty", "grace"), rc); diff != "" {
		t.Errorf("replay: %s", diff)
	}
	present(t, s, true, late)
}

// testEraseReplaysRace: calls racing with one RequestID erase once; the
// others answer that erasure's receipt.
func testEraseReplaysRace(t *testing.T, open Opener) {
	s, _ := open(t)
	defer closeStore(t, s)
	var hers []*store.Record
	for i := range 20 {
		hers = append(hers, rec(i, i%11, base.Add(time.Duration(i)*time.Second), "heidi"))
	}
	insert(t, s, hers...)
	const calls = 8
	receipts := make([]store.EraseReceipt, calls)
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() { receipts[i] = erase(t, s, "req-race", "heidi") })
	}
	wg.Wait()
	var first []store.EraseReceipt
	for _, rc := range receipts {
		if !rc.Replayed {
			first = append(first, rc)
		}
	}
	if len(first) != 1 {
		t.Fatalf("%d of %d racing calls erased, want 1: %+v", len(first), calls, first)
	}
	if first[0].Erased != int64(len(hers)) || first[0].Digest != idDigest(hers...) {
		t.Errorf("the erasing call's receipt %+v; want %d erased", first[0], len(hers))
	}
	for _, rc := range receipts {
		if rc.Replayed {
			if diff := sameReceipt(rc, first[0]); diff != "" {
				t.Errorf("a racing call: %s", diff)
			}
		}
	}
}
