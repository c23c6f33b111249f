// Package nps computes the Net Promoter Score of a set of 0-10 answers: the
// buckets, the integer score, its 95% margin of error, and the suppression of
// groups too small to publish without re-identifying people.
package nps

import (
	"fmt"
	"math"
	"math/big"
)

// Bucket is where one answer falls.
type Bucket int

// The three NPS buckets.
const (
	Detractor Bucket = iota // 0-6
	Passive                 // 7-8
	Promoter                // 9-10
)

// Classify returns the bucket of an answer, or an error when it is not an
// integer from 0 to 10.
func Classify(score int) (Bucket, error) {
	switch {
	case score < 0 || score > 10:
		return 0, fmt.Errorf("score %d is outside 0..10", score)
	case score >= 9:
		return Promoter, nil
	case score >= 7:
		return Passive, nil
	default:
		return Detractor, nil
	}
}

// Counts are the number of answers in each bucket.
type Counts struct {
	Promoters  int64 `json:"promoters"`
	Passives   int64 `json:"passives"`
	Detractors int64 `json:"detractors"`
}

// Add counts one answer in bucket b.
func (c *Counts) Add(b Bucket, n int64) {
	switch b {
	case Promoter:
		c.Promoters += n
	case Passive:
		c.Passives += n
	default:
		c.Detractors += n
	}
}

// Total is the number of answers.
func (c Counts) Total() int64 { return c.Promoters + c.Passives + c.Detractors }

// Result is what may be published about a set of answers. When Suppressed is
// true there are fewer answers than the minimum group size and nothing but
// the number of responses is given.
type Result struct {
	Responses     int64    `json:"responses"`
	Suppressed    bool     `json:"suppressed"`
	Score         *int32   `json:"score,omitempty"`
	Promoters     *int64   `json:"promoters,omitempty"`
	Passives      *int64   `json:"passives,omitempty"`
	Detractors    *int64   `json:"detractors,omitempty"`
	MarginOfError *float64 `json:"marginOfError,omitempty"`
}

// Compute returns the publishable result for c. Below minGroupSize answers
// (and always for zero answers) the result is suppressed.
//
// Score = %promoters - %detractors, rounded half away from zero to an integer
// in -100..100. MarginOfError = 1.96 * 100 * sqrt((p + d - (p - d)^2) / n),
// with p and d the promoter and detractor shares, rounded half up to one
// decimal. Both are rounded exactly, in integers: a share's floating-point
// error would round a value exactly halfway (12.5) the wrong way.
func Compute(c Counts, minGroupSize int) Result {
	n := c.Total()
	r := Result{Responses: n}
	if n == 0 || n < int64(minGroupSize) {
		r.Suppressed = true
		return r
	}
	score := int32(roundHalfAway(100*(c.Promoters-c.Detractors), n)) //nolint:gosec // within -100..100
	moe := float64(marginTenths(c.Promoters, c.Detractors, n)) / 10
	r.Score = &score
	r.Promoters, r.Passives, r.Detractors = &c.Promoters, &c.Passives, &c.Detractors
	r.MarginOfError = &moe
	return r
}

// roundHalfAway is num/den rounded half away from zero; den > 0.
func roundHalfAway(num, den int64) int64 {
	if num < 0 {
		return -((-2*num + den) / (2 * den))
	}
	return (2*num + den) / (2 * den)
}

// marginTenths is the margin of error in tenths of a point, rounded half
// up: with P promoters and D detractors of n, the margin is
// 1.96*100*sqrt(A/n³), A = (P+D)n - (P-D)², so ten times it is sqrt(Q),
// Q = 1960²·A/n³, and its rounding is the largest k with
// (k - 1/2)² <= Q, that is (2k-1)²·n³ <= 4·1960²·A (0 when k = 1 fails).
// A float estimate is corrected by those exact comparisons.
func marginTenths(promoters, detractors, n int64) int64 {
	a := new(big.Int).Mul(big.NewInt(promoters+detractors), big.NewInt(n))
	diff := big.NewInt(promoters - detractors)
	a.Sub(a, diff.Mul(diff, diff))
	if a.Sign() <= 0 {
		return 0
	}
	n3 := new(big.Int).Exp(big.NewInt(n), big.NewInt(3), nil)
	bound := new(big.Int).Mul(a, big.NewInt(4*1960*1960))
	fits := func(k int64) bool { // (2k-1)²·n³ <= bound
		if k < 1 {
			return true
		}
		m := big.NewInt(2*k - 1)
		m.Mul(m, m).Mul(m, n3)
		return m.Cmp(bound) <= 0
	}
	af, _ := new(big.Float).SetInt(a).Float64()
	k := int64(math.Round(1960 * math.Sqrt(af/(float64(n)*float64(n)*float64(n)))))
	for k > 0 && !fits(k) {
		k--
	}
	for fits(k + 1) {
		k++
	}
	return k
}
