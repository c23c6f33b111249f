package sqlstore_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/surveyguard/surveyguard/internal/store"
	"github.com/surveyguard/surveyguard/internal/store/sqlite"
	"github.com/surveyguard/surveyguard/internal/store/sqlstore"
	"github.com/surveyguard/surveyguard/internal/store/storetest"
)

// TestSnapshotBatchSeesChanges: a write that lands between a snapshot
// batch's read and its delete — an erasure of a respondent in the batch, a
// response stored late with a receive time inside the batch, a re-wrap of
// the batch's keys — makes the purge take that batch inside the write
// transaction instead, so the receipt is the one a row-by-row purge of
// what is stored then gives and the counters equal a recount.
func TestSnapshotBatchSeesChanges(t *testing.T) {
	base := time.Date(2026, 1, 10, 12, 30, 0, 0, time.UTC)
	cutoff := base.Add(time.Hour)
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, s store.Store, old []*store.Record)
	}{
		{"an erasure", func(t *testing.T, s store.Store, old []*store.Record) {
			if _, err := s.Erase(context.Background(), store.EraseRequest{Subjects: []string{old[3].SubjectCustomerID}}); err != nil {
				t.Fatal(err)
			}
		}},
		{"a late insert", func(t *testing.T, s store.Store, old []*store.Record) {
			late := record(900, old[4].ReceivedAt, "late")
			if _, err := s.Insert(context.Background(), late); err != nil {
				t.Fatal(err)
			}
		}},
		{"a late insert behind the cursor", func(t *testing.T, s store.Store, old []*store.Record) {
			// Stored once the first batch is gone, with a receive time
			// inside it: the pass's last, staged batch takes it.
			if _, err := s.Insert(context.Background(), record(901, old[0].ReceivedAt, "behind")); err != nil {
				t.Fatal(err)
			}
		}},
		{"a re-wrap", func(t *testing.T, s store.Store, _ []*store.Record) {
			for {
				n, err := s.Rewrap(context.Background(), "k2", 100, func(r *store.Record) error {
					r.KeyID = "k2"
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				if n == 0 {
					return
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"), sqlstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = s.Close() }()
			var old []*store.Record
			for i := range 30 {
				r := record(i, base.Add(time.Duration(i)*time.Second), fmt.Sprintf("r%d", i%7))
				old = append(old, r)
				if _, err := s.Insert(context.Background(), r); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := s.Insert(context.Background(), record(99, cutoff.Add(time.Minute), "r1")); err != nil {
				t.Fatal(err)
			}
			calls := 0
			var want string
			var wantN int64
			behind := tc.name == "a late insert behind the cursor"
			defer sqlstore.SetSnapshotHook(func() {
				switch calls++; {
				case calls == 1 && !behind:
					// Nothing is deleted yet: the receipt should cover
					// what is stored before the cutoff once the change is made.
					tc.change(t, s, old)
					want, wantN = storetest.ReferenceReceipt(storetest.ListAll(t, s), cutoff)
				case calls == 2 && behind:
					// The first batch is gone: the receipt holds the old
					// responses in order, then the late one.
					tc.change(t, s, old)
					late := storetest.ListAll(t, s)
					want, wantN = lines(append(old, late[0])...), int64(len(old)+1)
				}
			})()
			rc, err := s.Purge(context.Background(), store.PurgeRequest{Cutoff: cutoff, Action: store.ActionDelete, BatchSize: 10})
			if err != nil {
				t.Fatal(err)
			}
			if calls == 0 {
				t.Fatal("the purge read no snapshot batch")
			}
			if rc.Purged != wantN || rc.Digest != want {
				t.Errorf("receipt %d %s, want %d %s", rc.Purged, rc.Digest, wantN, want)
			}
			for _, r := range storetest.ListAll(t, s) {
				if r.ReceivedAt.Before(cutoff) {
					t.Errorf("response %s, received %s, outlived the purge", r.ID, r.ReceivedAt)
				}
			}
			storetest.CheckRecount(t, s)
		})
	}
}

// lines is the digest of a receipt listing rs, in this order.
func lines(rs ...*store.Record) string {
	h := sha256.New()
	for _, r := range rs {
		_, _ = h.Write([]byte(r.ID + "\n"))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// record is a response of subject at at, sealed under key k1.
func record(i int, at time.Time, subject string) *store.Record {
	return &store.Record{
		ID: store.NewID(at) + fmt.Sprintf("%04d", i), ReceivedAt: at, Score: i % 11,
		KeyID: "k1", CustomerID: []byte("ct-" + subject),
		SubjectCustomerID: "cust-" + subject, SubjectEmail: "mail-" + subject,
	}
}

// TestSnapshotBatchesOfTwoPurges: a purge deletes a batch another purge
// has read, and as many responses stored late take the deleted ones' place
// in its range before it deletes it. The second purge must notice that the
// responses are not the ones it read: each response is counted once and
// every counter equals a recount.
func TestSnapshotBatchesOfTwoPurges(t *testing.T) {
	base := time.Date(2026, 1, 10, 12, 30, 0, 0, time.UTC)
	cutoff := base.Add(time.Hour)
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "s.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	for i := range 30 {
		if _, err := s.Insert(ctx, record(i, base.Add(time.Duration(i)*time.Second), fmt.Sprintf("r%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	paused, release := make(chan struct{}), make(chan struct{})
	second := make(chan store.PurgeReceipt, 1)
	purge := func() (store.PurgeReceipt, error) {
		return s.Purge(ctx, store.PurgeRequest{Cutoff: cutoff, Action: store.ActionDelete, BatchSize: 10})
	}
	calls := 0
	defer sqlstore.SetSnapshotHook(func() {
		switch calls++; calls {
		case 1:
			// The first purge has read its first batch. The second one
			// deletes that batch and stops once it has read its next.
			go func() {
				rc, err := purge()
				if err != nil {
					t.Error(err)
				}
				second <- rc
			}()
			<-paused
			for i := range 10 {
				late := record(100+i, base.Add(time.Duration(i)*500*time.Millisecond), fmt.Sprintf("late%d", i))
				if _, err := s.Insert(ctx, late); err != nil {
					t.Error(err)
				}
			}
		case 3:
			close(paused) // the second purge's second batch
			<-release
		}
	})()
	first, err := purge()
	close(release)
	if err != nil {
		t.Fatal(err)
	}
	other := <-second
	if got := first.Purged + other.Purged; got != 40 {
		t.Errorf("the purges took %d and %d responses, %d in all; 40 were stored", first.Purged, other.Purged, got)
	}
	if left := storetest.ListAll(t, s); len(left) != 0 {
		t.Errorf("%d responses outlived the purges", len(left))
	}
	storetest.CheckRecount(t, s)
}
