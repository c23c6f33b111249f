package nps

import (
	"math"
	"testing"
)

func TestClassify(t *testing.T) {
	want := map[int]Bucket{0: Detractor, 3: Detractor, 6: Detractor, 7: Passive, 8: Passive, 9: Promoter, 10: Promoter}
	for score, b := range want {
		got, err := Classify(score)
		if err != nil || got != b {
			t.Errorf("Classify(%d) = %v, %v; want %v", score, got, err, b)
		}
	}
	for _, bad := range []int{-1, 11, 100} {
		if _, err := Classify(bad); err == nil {
			t.Errorf("Classify(%d) accepted a score outside 0..10", bad)
		}
	}
}

func TestCompute(t *testing.T) {
	cases := []struct {
		name       string
		counts     Counts
		minGroup   int
		suppressed bool
		score      int32
		moe        float64
	}{
		// The brief's example: 60 promoters, 22 passives, 18 detractors.
		{"brief example", Counts{60, 22, 18}, 10, false, 42, 15.2},
		{"all promoters", Counts{10, 0, 0}, 10, false, 100, 0},
		{"all detractors", Counts{0, 0, 10}, 10, false, -100, 0},
		{"all passives", Counts{0, 20, 0}, 10, false, 0, 0},
		{"even split", Counts{50, 0, 50}, 10, false, 0, 19.6},
		{"half rounds away from zero", Counts{1, 199, 0}, 10, false, 1, 1.0}, // 0.5 -> 1
		{"negative half rounds away", Counts{0, 199, 1}, 10, false, -1, 1.0}, // -0.5 -> -1
		{"exactly the minimum group", Counts{5, 3, 2}, 10, false, 30, 48.4},
		{"one below the minimum group", Counts{5, 2, 2}, 10, true, 0, 0},
		{"no answers", Counts{}, 0, true, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := Compute(tc.counts, tc.minGroup)
			if r.Responses != tc.counts.Total() {
				t.Errorf("responses = %d, want %d", r.Responses, tc.counts.Total())
			}
			if r.Suppressed != tc.suppressed {
				t.Fatalf("suppressed = %v, want %v", r.Suppressed, tc.suppressed)
			}
			if tc.suppressed {
				if r.Score != nil || r.Promoters != nil || r.Passives != nil || r.Detractors != nil || r.MarginOfError != nil {
					t.Fatalf("a suppressed result publishes figures: %+v", r)
				}
				return
			}
			if *r.Score != tc.score {
				t.Errorf("score = %d, want %d", *r.Score, tc.score)
			}
			if math.Abs(*r.MarginOfError-tc.moe) > 1e-9 {
				t.Errorf("margin of error = %v, want %v", *r.MarginOfError, tc.moe)
			}
			if *r.Promoters != tc.counts.Promoters || *r.Passives != tc.counts.Passives || *r.Detractors != tc.counts.Detractors {
				t.Errorf("buckets = %d/%d/%d, want %+v", *r.Promoters, *r.Passives, *r.Detractors, tc.counts)
			}
		})
	}
}

// TestScoreBounds checks every split of up to 30 answers stays in -100..100
// and that the margin of error is never negative or NaN.
func TestScoreBounds(t *testing.T) {
	for p := int64(0); p <= 30; p++ {
		for d := int64(0); p+d <= 30; d++ {
			c := Counts{Promoters: p, Detractors: d, Passives: 30 - p - d}
			r := Compute(c, 5)
			if *r.Score < -100 || *r.Score > 100 {
				t.Fatalf("%+v: score %d out of range", c, *r.Score)
			}
			if m := *r.MarginOfError; m < 0 || math.IsNaN(m) {
				t.Fatalf("%+v: margin of error %v", c, m)
			}
		}
	}
}
