// Package loadgen drives a collector with concurrent POST /v1/responses over
// kept-alive connections and reports throughput and latency percentiles. It
// is used by hack/loadtest and by the benchmarks in test/bench.
package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
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
	// Dial, when set, replaces Client and Clients: each connection is one
	// net.Conn from Dial (TLSDial makes them), on which the run writes
	// HTTP/1.1 requests itself and reads the answers with
	// http.ReadResponse, one request at a time, kept alive, redialing when
	// the server closes. It is net/http's client without its two
	// goroutines per connection and its hand-overs between them: less CPU
	// per request, which matters where the generator shares the cores with
	// the collector it measures (test/bench).
	Dial func(ctx context.Context) (net.Conn, error)
	// Interval, when positive, paces each connection: one request per
	// Interval at most, as a well-behaved client would send.
	Interval time.Duration
	// Rate, when positive, paces the whole run at Rate requests per
	// second: each connection sends one request every Conns/Rate, the
	// connections' schedules spread over that period. A connection whose
	// answer comes later than its next slot sends at once and drops the
	// slots it missed, so a collector that cannot keep up sees no burst
	// and the run's PerSecond falls short of Rate. Latency is measured from
	// the request's sending, not from its slot.
	Rate float64
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
		var send sender
		switch {
		case c.Dial != nil:
			rs := &rawSender{dial: c.Dial, url: c.URL}
			defer rs.close()
			send = rs.send
		default:
			client := c.Client
			if len(c.Clients) > 0 {
				client = c.Clients[w%len(c.Clients)]
			}
			send = httpSender(client, c.URL)
		}
		var period time.Duration
		var slot time.Time
		if c.Rate > 0 {
			period = time.Duration(float64(c.Conns) / c.Rate * float64(time.Second))
			slot = start.Add(period * time.Duration(w) / time.Duration(c.Conns))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var wait time.Duration
			for ctx.Err() == nil {
				if period > 0 {
					wait = max(wait, time.Until(slot))
					if slot = slot.Add(period); slot.Before(time.Now()) {
						slot = time.Now()
					}
				}
				if wait > 0 && !sleep(ctx, wait) {
					return
				}
				wait = c.Interval
				i := next.Add(1)
				if c.Requests > 0 && i > c.Requests {
					return
				}
				t0 := time.Now()
				status, retry, err := send(ctx, c.Body(i))
				if err != nil {
					if ctx.Err() == nil {
						errs.Add(1)
					}
					continue
				}
				if status == http.StatusTooManyRequests {
					limited.Add(1)
					if secs, err := strconv.Atoi(retry); err == nil && c.HonorRetryAfter {
						wait = max(wait, time.Duration(secs)*time.Second)
					}
					continue
				}
				if status != http.StatusCreated {
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

// sender posts one body and returns the answer's status code and its
// Retry-After header, once the answer's body is read.
type sender func(ctx context.Context, body []byte) (status int, retryAfter string, err error)

func httpSender(client *http.Client, base string) sender {
	return func(ctx context.Context, body []byte) (int, string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/responses", bytes.NewReader(body))
		if err != nil {
			return 0, "", err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return 0, "", err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Retry-After"), nil
	}
}

// rawTimeout bounds one request on a raw connection, as the benchmarks'
// http.Client timeout does.
const rawTimeout = 30 * time.Second

// rawSender speaks HTTP/1.1 on one connection of its own (Config.Dial).
type rawSender struct {
	dial func(ctx context.Context) (net.Conn, error)
	url  string

	conn net.Conn
	r    *bufio.Reader
	buf  []byte
	// stop undoes the context.AfterFunc that unblocks conn when the run ends.
	stop func() bool
}

func (s *rawSender) send(ctx context.Context, body []byte) (int, string, error) {
	if s.conn == nil {
		u, err := url.Parse(s.url)
		if err != nil {
			return 0, "", err
		}
		conn, err := s.dial(ctx)
		if err != nil {
			return 0, "", err
		}
		s.conn, s.r = conn, bufio.NewReader(conn)
		// The run's end interrupts a request in flight, as it does an
		// http.Client's.
		s.stop = context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
		s.buf = fmt.Appendf(s.buf[:0], "POST %s/v1/responses HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: ", u.Path, u.Host)
	}
	head := len(s.buf)
	s.buf = append(strconv.AppendInt(s.buf, int64(len(body)), 10), "\r\n\r\n"...)
	s.buf = append(s.buf, body...)
	_ = s.conn.SetDeadline(time.Now().Add(rawTimeout))
	_, err := s.conn.Write(s.buf)
	s.buf = s.buf[:head]
	if err != nil {
		s.close()
		return 0, "", err
	}
	resp, err := http.ReadResponse(s.r, nil)
	if err != nil {
		s.close()
		return 0, "", err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if err != nil || resp.Close {
		s.close()
	}
	if err != nil {
		return 0, "", err
	}
	return resp.StatusCode, resp.Header.Get("Retry-After"), nil
}

func (s *rawSender) close() {
	if s.conn == nil {
		return
	}
	s.stop()
	_ = s.conn.Close()
	s.conn = nil
}

// TLSDial returns a Config.Dial that connects to the host of base (an
// https URL) with t's DialContext, or a plain dialer when t has none, and
// t's TLS configuration, offering HTTP/1.1 only.
func TLSDial(t *http.Transport, base string) (func(ctx context.Context) (net.Conn, error), error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "https" {
		return nil, fmt.Errorf("loadgen: %s is not an https URL", base)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "443")
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.TLSClientConfig != nil {
		cfg = t.TLSClientConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = u.Hostname()
	}
	cfg.NextProtos = []string{"http/1.1"}
	dial := t.DialContext
	if dial == nil {
		d := &net.Dialer{Timeout: 5 * time.Second}
		dial = d.DialContext
	}
	return func(ctx context.Context) (net.Conn, error) {
		raw, err := dial(ctx, "tcp", host)
		if err != nil {
			return nil, err
		}
		conn := tls.Client(raw, cfg)
		if err := conn.HandshakeContext(ctx); err != nil {
			_ = raw.Close()
			return nil, err
		}
		return conn, nil
	}, nil
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
