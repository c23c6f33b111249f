package nps

import (
	"math"
	"math/big"
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
		// Exactly halfway: shares in floating point land a hair below.
		{"12.5 rounds to 13", Counts{8, 11, 5}, 10, false, 13, 29},
		{"-2.5 rounds to -3", Counts{2, 35, 3}, 10, false, -3, 10.9},
		{"-57.5 rounds to -58", Counts{0, 17, 23}, 10, false, -58, 15.3},
		{"a margin of exactly 2.45 rounds to 2.5", Counts{3, 14, 383}, 10, false, -95, 2.5},
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

// TestRoundingIsExact compares every split of up to 150 answers with the
// score and margin computed in exact rationals and a 256-bit square root.
func TestRoundingIsExact(t *testing.T) {
	for n := int64(1); n <= 150; n++ {
		for p := int64(0); p <= n; p++ {
			for d := int64(0); p+d <= n; d++ {
				r := Compute(Counts{p, n - p - d, d}, 1)
				// Score: 100(p-d)/n, half away from zero.
				exact := new(big.Rat).SetFrac64(100*(p-d), n)
				wantScore := roundRat(exact)
				// Margin: 1960*sqrt(((p+d)n-(p-d)^2)/n^3) tenths, half up.
				a := (p+d)*n - (p-d)*(p-d)
				q := new(big.Float).SetPrec(256).SetRat(new(big.Rat).SetFrac(big.NewInt(1960*1960*a), new(big.Int).Exp(big.NewInt(n), big.NewInt(3), nil)))
				root := new(big.Float).SetPrec(256).Sqrt(q)
				root.Add(root, big.NewFloat(0.5))
				tenths, _ := root.Int(nil)
				if int64(*r.Score) != wantScore || *r.MarginOfError != float64(tenths.Int64())/10 {
					t.Fatalf("p=%d d=%d n=%d: score %d margin %v, want %d and %v", p, d, n, *r.Score, *r.MarginOfError, wantScore, float64(tenths.Int64())/10)
				}
			}
		}
	}
}

// roundRat rounds x half away from zero.
func roundRat(x *big.Rat) int64 {
	abs := new(big.Rat).Abs(x)
	abs.Add(abs, big.NewRat(1, 2))
	q := new(big.Int).Quo(abs.Num(), abs.Denom())
	if x.Sign() < 0 {
		return -q.Int64()
	}
	return q.Int64()
}
