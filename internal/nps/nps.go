// Package nps computes the Net Promoter Score of a set of 0-10 answers: the
// buckets, the integer score, its 95% margin of error, and the suppression of
// groups too small to publish without re-identifying people.
package nps

import (
	"fmt"
	"math"
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
// with p and d the promoter and detractor shares, rounded to one decimal.
func Compute(c Counts, minGroupSize int) Result {
	n := c.Total()
	r := Result{Responses: n}
	if n == 0 || n < int64(minGroupSize) {
		r.Suppressed = true
		return r
	}
	p := float64(c.Promoters) / float64(n)
	d := float64(c.Detractors) / float64(n)
	score := int32(math.Round(100 * (p - d)))
	variance := p + d - (p-d)*(p-d)
	if variance < 0 { // rounding noise when p or d is 1
		variance = 0
	}
	moe := math.Round(10*1.96*100*math.Sqrt(variance/float64(n))) / 10
	r.Score = &score
	r.Promoters, r.Passives, r.Detractors = &c.Promoters, &c.Passives, &c.Detractors
	r.MarginOfError = &moe
	return r
}
