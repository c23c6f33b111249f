// Package loadgen drives a collector with concurrent POST /v1/responses over
// kept-alive connections and reports throughput and latency percentiles. It
// is used by hack/loadtest and by the benchmarks in test/bench.
package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
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
	// Clients, when set, replaces Client: connection w sends through
	// Clients[w % len(Clients)] (LoopbackClients makes each a respondent
	// of its own address).
	Clients []*http.Client
	// Interval, when positive, paces each connection: one request per
	// Interval at most, as a well-behaved client would send.
	Interval time.Duration
	// HonorRetryAfter makes a connection that is answered 429 wait as long
	// as Retry-After says; otherwise it sends again at once (a flood).
	HonorRetryAfter bool
	// Body returns the JSON body of request i.
	Body func(i int64) []byte
}

// Result is what a run measured.
type Result struct {
	// Requests counts 201 answers, Limited 429 answers, Errors the rest.
	Requests, Limited, Errors int64
	Elapsed                   time.Duration
	PerSecond                 float64
	P50, P99, Max             time.Duration
}

func (r Result) String() string {
	return fmt.Sprintf("%d responses in %.1fs = %.0f/s (rate-limited %d, errors %d), p50 %.2fms p99 %.2fms max %.2fms",
		r.Requests, r.Elapsed.Seconds(), r.PerSecond, r.Limited, r.Errors, ms(r.P50), ms(r.P99), ms(r.Max))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Run sends requests until the duration or the request count is reached.
// Only 201 answers count as responses; anything else is an error.
func Run(ctx context.Context, c Config) Result {
	ctx, cancel := context.WithTimeout(ctx, c.Duration)
	defer cancel()
	var next, errs, limited atomic.Int64
	lat := make([][]time.Duration, c.Conns)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range c.Conns {
		client := c.Client
		if len(c.Clients) > 0 {
			client = c.Clients[w%len(c.Clients)]
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var wait time.Duration
			for ctx.Err() == nil {
				if wait > 0 && !sleep(ctx, wait) {
					return
				}
				wait = c.Interval
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
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						errs.Add(1)
					}
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode == http.StatusTooManyRequests {
					limited.Add(1)
					if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && c.HonorRetryAfter {
						wait = max(wait, time.Duration(secs)*time.Second)
					}
					continue
				}
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
	r := Result{Requests: int64(len(all)), Limited: limited.Load(), Errors: errs.Load(), Elapsed: elapsed}
	if len(all) > 0 {
		r.PerSecond = float64(len(all)) / elapsed.Seconds()
		r.P50, r.P99, r.Max = all[len(all)/2], all[len(all)*99/100], all[len(all)-1]
	}
	return r
}

// sleep waits d or until ctx is done, and reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// LoopbackClients returns n clients, the i-th dialing from the loopback
// address 127.0.0.(first+i), so that a collector on loopback sees n
// respondents with addresses of their own. base's DialContext, when set,
// decides where to connect; the source address is set on it.
func LoopbackClients(base *http.Transport, n, first int) []*http.Client {
	out := make([]*http.Client, n)
	for i := range out {
		n := (first + i) % (250 * 250)
		src := &net.TCPAddr{IP: net.IPv4(127, 0, byte(n/250), byte(1+n%250))} //nolint:gosec // G115: both bytes are below 251
		d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: src}
		t := Transport(base, 1)
		if base.DialContext != nil {
			inner := base.DialContext
			t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				return inner(context.WithValue(ctx, localAddrKey{}, src), network, addr)
			}
		} else {
			t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				return d.DialContext(ctx, network, addr)
			}
		}
		out[i] = &http.Client{Transport: t}
	}
	return out
}

// localAddrKey carries LoopbackClients' source address to a DialContext of
// the caller's (see LocalAddr).
type localAddrKey struct{}

// LocalAddr is the source address LoopbackClients asks a custom dialer to use, or nil.
func LocalAddr(ctx context.Context) net.Addr {
	a, _ := ctx.Value(localAddrKey{}).(net.Addr)
	return a
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
