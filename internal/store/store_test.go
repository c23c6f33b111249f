package store_test

import (
	"testing"
	"time"

	"github.com/surveyguard/surveyguard/internal/store"
)

func TestCutoffMilli(t *testing.T) {
	ms := time.Date(2026, 11, 23, 10, 0, 0, 500*int(time.Millisecond), time.UTC)
	cases := []struct {
		name   string
		cutoff time.Time
		want   int64
	}{
		{"on a millisecond boundary", ms, ms.UnixMilli()},
		{"one nanosecond into a millisecond takes all of it", ms.Add(time.Nanosecond), ms.UnixMilli() + 1},
		{"the last nanosecond of a millisecond", ms.Add(time.Millisecond - time.Nanosecond), ms.UnixMilli() + 1},
	}
	for _, tc := range cases {
		if got := store.CutoffMilli(tc.cutoff); got != tc.want {
			t.Errorf("%s: CutoffMilli(%s) = %d, want %d", tc.name, tc.cutoff.Format(time.RFC3339Nano), got, tc.want)
		}
	}
}

// TestEverythingCutoffTakesTheSameMillisecond is the cause of a flaky test:
// a response received in the same millisecond as a purge of everything
// must be purged too.
func TestEverythingCutoffTakesTheSameMillisecond(t *testing.T) {
	boundary := time.Date(2026, 11, 23, 10, 0, 0, 500*int(time.Millisecond), time.UTC)
	for _, now := range []time.Time{boundary, boundary.Add(300)} {
		for _, received := range []time.Time{now, boundary, now.Add(-time.Hour)} {
			if received.UnixMilli() >= store.CutoffMilli(store.EverythingCutoff(now)) {
				t.Errorf("a response received at %s escapes a purge of everything at %s",
					received.Format(time.RFC3339Nano), now.Format(time.RFC3339Nano))
			}
		}
		if c := store.EverythingCutoff(now); c.Sub(now) > time.Millisecond || c.Before(now) {
			t.Errorf("EverythingCutoff(%s) = %s: want within the next millisecond", now, c)
		}
	}
}
