package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/surveyguard/surveyguard/internal/store"
)

// listAll walks the whole store with List, a few records a page, and
// checks that the pages come in strictly increasing ID order.
func listAll(t *testing.T, s store.Store) []*store.Record {
	t.Helper()
	var all []*store.Record
	after := ""
	for {
		page, err := s.List(context.Background(), after, 3)
		if err != nil {
			t.Fatalf("List(%q, 3): %v", after, err)
		}
		if len(page) > 3 {
			t.Fatalf("List(%q, 3) returned %d records", after, len(page))
		}
		if len(page) == 0 {
			return all
		}
		for _, r := range page {
			if r.ID <= after {
				t.Fatalf("List(%q, 3) returned %s out of order", after, r.ID)
			}
			after = r.ID
		}
		all = append(all, page...)
	}
}

// anonymizedRecords lists the store and splits it into the anonymized
// responses and the raw ones.
func anonymizedRecords(t *testing.T, s store.Store) (anon, raw []*store.Record) {
	t.Helper()
	for _, r := range listAll(t, s) {
		if r.Anonymized {
			anon = append(anon, r)
		} else {
			raw = append(raw, r)
		}
	}
	return anon, raw
}

// ids is the records' IDs, for comparing two listings.
func ids(rs []*store.Record) string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return strings.Join(out, " ")
}

// digest is what a purge receipt's digest must be for rs: the SHA-256 of
// their IDs, one a line, in (received at, ID) order.
func digest(rs []*store.Record) string {
	sorted := append([]*store.Record(nil), rs...)
	sort.Slice(sorted, func(i, j int) bool {
		if !sorted[i].ReceivedAt.Equal(sorted[j].ReceivedAt) {
			return sorted[i].ReceivedAt.Before(sorted[j].ReceivedAt)
		}
		return sorted[i].ID < sorted[j].ID
	})
	h := sha256.New()
	for _, r := range sorted {
		_, _ = h.Write([]byte(r.ID + "\n"))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// keptFields is what anonymization must keep of rs, as a sorted multiset:
// the day, score and segments of each. Nothing else may tell them apart.
func keptFields(rs []*store.Record) string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = fmt.Sprintf("%s score=%d plan=%s region=%s", r.ReceivedAt.UTC().Format(time.DateOnly), r.Score,
			r.Segments["plan"], r.Segments["region"])
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}

// checkUnlinkable asserts that an anonymized response holds nothing that
// leads back to the response it was made from.
func checkUnlinkable(t *testing.T, r *store.Record, oldIDs map[string]bool) {
	t.Helper()
	if oldIDs[r.ID] {
		t.Errorf("anonymized response kept its ID %s", r.ID)
	}
	if r.IdempotencyKey != "" || r.SubjectCustomerID != "" || r.SubjectEmail != "" || r.KeyID != "" ||
		r.Email != nil || r.CustomerID != nil || r.Comment != nil || !r.Anonymized {
		t.Errorf("anonymized response kept personal data or a link: %+v", r)
	}
	day := r.ReceivedAt.UTC().Truncate(24 * time.Hour)
	if !r.ReceivedAt.Equal(day) {
		t.Errorf("anonymized response %s was received at %s: finer than the day", r.ID, r.ReceivedAt.Format(time.RFC3339Nano))
	}
	ms, err := idMilli(r.ID)
	if err != nil {
		t.Errorf("anonymized response: %v", err)
		return
	}
	if ms%(24*time.Hour).Milliseconds() != 0 || ms != day.UnixMilli() {
		t.Errorf("anonymized response %s: its ID says %s, want the start of %s",
			r.ID, time.UnixMilli(ms).UTC().Format(time.RFC3339Nano), day.Format(time.DateOnly))
	}
}

// idMilli decodes the time prefix of an ID made by store.NewID: 48 bits of
// Unix milliseconds, then 80 random bits, in 32 hex digits.
func idMilli(id string) (int64, error) {
	if b, err := hex.DecodeString(id); err != nil || len(b) != 16 {
		return 0, fmt.Errorf("ID %q is not 32 hex digits", id)
	}
	return strconv.ParseInt(id[:12], 16, 64)
}

// testList: List walks every response in ID order, page by page, with the
// fields Get returns.
func testList(t *testing.T, open Opener) {
	s, _ := open(t)
	defer closeStore(t, s)
	ctx := context.Background()
	var want []*store.Record
	for i := range 10 {
		subject := "" // every third without personal fields
		if i%3 != 0 {
			subject = fmt.Sprintf("l%d", i)
		}
		r := rec(i, i, base.Add(time.Duration((i*7)%10)*time.Minute), subject) // inserted out of ID order
		if i%2 == 0 {
			r.IdempotencyKey = fmt.Sprintf("list-%d", i)
		}
		want = append(want, r)
	}
	insert(t, s, want...)
	sort.Slice(want, func(i, j int) bool { return want[i].ID < want[j].ID })
	got := listAll(t, s)
	if ids(got) != ids(want) {
		t.Fatalf("List walked %s, want %s", ids(got), ids(want))
	}
	for i, r := range got {
		if diff := sameRecord(r, want[i]); diff != "" {
			t.Errorf("List returned %s with %s", r.ID, diff)
		}
		g, err := s.Get(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := sameRecord(r, g); diff != "" {
			t.Errorf("List and Get differ on %s: %s", r.ID, diff)
		}
	}
	if rest, err := s.List(ctx, want[len(want)-1].ID, 5); err != nil || len(rest) != 0 {
		t.Errorf("List after the last ID = %d records, %v; want none", len(rest), err)
	}
	if _, err := s.List(ctx, "", 0); err == nil {
		t.Error("List with limit 0 was accepted")
	}
}

// sameRecord describes how got differs from want in what a store keeps,
// or returns "".
func sameRecord(got, want *store.Record) string {
	var diffs []string
	if got.ID != want.ID || got.IdempotencyKey != want.IdempotencyKey || !got.ReceivedAt.Equal(want.ReceivedAt) ||
		got.Score != want.Score || got.KeyID != want.KeyID || got.Anonymized != want.Anonymized {
		diffs = append(diffs, fmt.Sprintf("id/key/time/score/keyID/anonymized %s %q %s %d %q %v, want %s %q %s %d %q %v",
			got.ID, got.IdempotencyKey, got.ReceivedAt, got.Score, got.KeyID, got.Anonymized,
			want.ID, want.IdempotencyKey, want.ReceivedAt, want.Score, want.KeyID, want.Anonymized))
	}
	if !bytes.Equal(got.Email, want.Email) || !bytes.Equal(got.CustomerID, want.CustomerID) || !bytes.Equal(got.Comment, want.Comment) {
		diffs = append(diffs, "other ciphertexts")
	}
	if got.SubjectCustomerID != want.SubjectCustomerID || got.SubjectEmail != want.SubjectEmail {
		diffs = append(diffs, fmt.Sprintf("pseudonyms %q %q, want %q %q", got.SubjectCustomerID, got.SubjectEmail, want.SubjectCustomerID, want.SubjectEmail))
	}
	if fmt.Sprint(got.Segments) != fmt.Sprint(want.Segments) {
		diffs = append(diffs, fmt.Sprintf("segments %v, want %v", got.Segments, want.Segments))
	}
	return strings.Join(diffs, "; ")
}

// testMeta: a value round-trips, is replaced by a later one, survives a
// restart; a missing key is reported as such; the store's own keys are
// not for callers.
func testMeta(t *testing.T, open Opener) {
	s, reopen := open(t)
	ctx := context.Background()
	if v, ok, err := s.Meta(ctx, "keyFingerprint"); err != nil || ok || v != "" {
		t.Fatalf("Meta of a missing key = %q, %v, %v; want not ok", v, ok, err)
	}
	for _, kv := range [][2]string{{"keyFingerprint", "fp-1"}, {"other", "x"}, {"keyFingerprint", "fp-2"}} {
		if err := s.SetMeta(ctx, kv[0], kv[1]); err != nil {
			t.Fatalf("SetMeta(%q, %q): %v", kv[0], kv[1], err)
		}
	}
	check := func(s store.Store, when string) {
		t.Helper()
		for key, want := range map[string]string{"keyFingerprint": "fp-2", "other": "x"} {
			if v, ok, err := s.Meta(ctx, key); err != nil || !ok || v != want {
				t.Errorf("%s: Meta(%q) = %q, %v, %v; want %q", when, key, v, ok, err, want)
			}
		}
	}
	check(s, "after overwriting")
	for _, key := range []string{"", "lastPurge"} {
		if err := s.SetMeta(ctx, key, "{}"); err == nil {
			t.Errorf("SetMeta(%q) was accepted", key)
		}
	}
	if st := stats(t, s); st.LastPurge != nil {
		t.Errorf("a refused SetMeta left a purge receipt: %+v", st.LastPurge)
	}
	closeStore(t, s)
	s = reopen(t)
	defer closeStore(t, s)
	check(s, "after a restart")
}
