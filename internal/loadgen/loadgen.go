// Package loadgen drives a collector with concurrent POST /v1/responses over
// kept-alive connections and reports throughput and latency percentiles. It
// is used by hack/loadtest and by the benchmarks in test/bench.
package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Config describes one load run.
type Config struct {
	// URL is the collector's public base URL.
	URL string
	// Conns is the number of concurrent connections, each sending one request at a time.
	Conns int
	// Duration bounds the run; Requests, when positive, bounds it too.
	Duration time.Duration
	Requests int64
	// Client sends the requests; it must trust the collector's certificate.
	Client *http.Client
	// Body returns the JSON body of request i.
	Body func(i int64) []byte
}

// Result is what a run measured.
type Result struct {
	Requests, Errors int64
	Elapsed          time.Duration
	PerSecond        float64
	P50, P99, Max    time.Duration
}

func (r Result) String() string {
	return fmt.Sprintf("%d responses in %.1fs = %.0f/s (errors %d), p50 %.2fms p99 %.2fms max %.2fms",
		r.Requests, r.Elapsed.Seconds(), r.PerSecond, r.Errors, ms(r.P50), ms(r.P99), ms(r.Max))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Run sends requests until the duration or the request count is reached.
// Only 201 answers count as responses; anything else is an error.
func Run(ctx context.Context, c Config) Result {
	ctx, cancel := context.WithTimeout(ctx, c.Duration)
	defer cancel()
	var next, errs atomic.Int64
	lat := make([][]time.Duration, c.Conns)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range c.Conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := next.Add(1)
				if c.Requests > 0 && i > c.Requests {
					return
				}
				t0 := time.Now()
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL+"/v1/responses", bytes.NewReader(c.Body(i)))
				if err != nil {
					errs.Add(1)
					continue
				}
				req.Header.Set("Content-Type", "application/json")
				resp, err := c.Client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						errs.Add(1)
					}
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					errs.Add(1)
					continue
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	r := Result{Requests: int64(len(all)), Errors: errs.Load(), Elapsed: elapsed}
	if len(all) > 0 {
		r.PerSecond = float64(len(all)) / elapsed.Seconds()
		r.P50, r.P99, r.Max = all[len(all)/2], all[len(all)*99/100], all[len(all)-1]
	}
	return r
}

// Transport is an HTTP transport that keeps conns connections open.
func Transport(base *http.Transport, conns int) *http.Transport {
	t := base.Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost, t.MaxConnsPerHost = conns, conns, conns
	return t
}

// Body is a realistic response: a score, consent, a customer ID, an email
// and a comment with a phone number to redact.
func Body(noticeVersion string) func(i int64) []byte {
	return func(i int64) []byte {
		return fmt.Appendf(nil, `{"score":%d,"consent":{"given":true,"noticeVersion":%q},"customerID":"C-%d","email":"user%d@example.com","comment":"Checkout was quick but the coupon box confused me, call me on +91 98765 %05d","segments":{"plan":"pro"}}`,
			i%11, noticeVersion, i%5000, i%5000, i%100000)
	}
}

// NoEmailBody is Body without the email, for a campaign that does not
// collect one (config/samples' checkout-nps).
func NoEmailBody(noticeVersion string) func(i int64) []byte {
	return func(i int64) []byte {
		return fmt.Appendf(nil, `{"score":%d,"consent":{"given":true,"noticeVersion":%q},"customerID":"C-%d","comment":"Checkout was quick but the coupon box confused me, call me on +91 98765 %05d","segments":{"plan":"pro"}}`,
			i%11, noticeVersion, i%5000, i%100000)
	}
}

// BareBody is the same response with no personal field: nothing to redact,
// encrypt or pseudonymize.
func BareBody(noticeVersion string) func(i int64) []byte {
	return func(i int64) []byte {
		return fmt.Appendf(nil, `{"score":%d,"consent":{"given":true,"noticeVersion":%q},"segments":{"plan":"pro"}}`, i%11, noticeVersion)
	}
}
