package collector

import (
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// The public listener faces the internet. One client must not be able to
// take it over: each client gets a token bucket of requests (429 with
// Retry-After past it) and a cap on its open connections, and all clients
// together a cap on connections. A client is its address — an IPv6 client
// its /64, which one subscriber usually holds whole — or, behind a trusted
// proxy, the address that proxy names in X-Forwarded-For.

// clientResolver tells who a request or connection comes from.
type clientResolver struct {
	trusted []netip.Prefix
}

func newClientResolver(cidrs []string) *clientResolver {
	c := &clientResolver{}
	for _, s := range cidrs {
		if p, err := netip.ParsePrefix(s); err == nil { // checked by ParseConfig
			c.trusted = append(c.trusted, p.Masked())
		}
	}
	return c
}

func (c *clientResolver) isTrusted(a netip.Addr) bool {
	for _, p := range c.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// addrOf parses the host of a "host:port" remote address.
func addrOf(remote string) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}

// key is the bucket an address counts against.
func clientKey(a netip.Addr) string {
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// request returns the client of r: the peer, or, when the peer is a
// trusted proxy, the right-most address of X-Forwarded-For that is not
// itself a trusted proxy (the left-most entries are the client's to forge).
func (c *clientResolver) request(r *http.Request) string {
	peer, ok := addrOf(r.RemoteAddr)
	if !ok {
		return r.RemoteAddr
	}
	if !c.isTrusted(peer) {
		return clientKey(peer)
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // garbage: stop believing the header here
		}
		a = a.Unmap()
		if !c.isTrusted(a) {
			return clientKey(a)
		}
		peer = a
	}
	return clientKey(peer)
}

// maxTrackedClients bounds the rate limiter's memory; past it, idle
// clients are forgotten first, and if all are busy new clients share one bucket.
const maxTrackedClients = 100_000

// sweepEvery is how often, at most, a full rate limiter looks for clients
// to forget. A sweep visits every client under the lock (milliseconds at
// maxTrackedClients): were each new client to start one, a flood from many
// addresses would make every request, anyone's, wait for sweeps.
const sweepEvery = time.Second

// rateLimiter holds a token bucket per client.
type rateLimiter struct {
	limit rate.Limit
	burst int
	now   func() time.Time

	mu       sync.Mutex
	clients  map[string]*rate.Limiter
	overflow *rate.Limiter
	// swept is when the last sweep ran, and sweeps how many have.
	swept  time.Time
	sweeps int
}

func newRateLimiter(perSecond, burst int, now func() time.Time) *rateLimiter {
	return &rateLimiter{limit: rate.Limit(perSecond), burst: burst, now: now,
		clients: map[string]*rate.Limiter{}, overflow: rate.NewLimiter(rate.Limit(perSecond), burst)}
}

// allow takes a token of client's bucket; when there is none it returns
// false and how long until there is.
func (l *rateLimiter) allow(client string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	lim, ok := l.clients[client]
	if !ok {
		if len(l.clients) >= maxTrackedClients && (now.Sub(l.swept) >= sweepEvery || now.Before(l.swept)) {
			l.sweep(now)
		}
		if len(l.clients) < maxTrackedClients {
			lim = rate.NewLimiter(l.limit, l.burst)
			l.clients[client] = lim
		} else {
			lim = l.overflow
		}
	}
	l.mu.Unlock()
	if lim.AllowN(now, 1) {
		return true, 0
	}
	missing := 1 - lim.TokensAt(now)
	return false, time.Duration(math.Ceil(missing / float64(l.limit) * float64(time.Second)))
}

// sweep forgets clients whose bucket has refilled: they are as new.
func (l *rateLimiter) sweep(now time.Time) {
	l.swept = now
	l.sweeps++
	for k, lim := range l.clients {
		if lim.TokensAt(now) >= float64(l.burst) {
			delete(l.clients, k)
		}
	}
}

// retryAfter is a Retry-After value: whole seconds, at least one.
func retryAfter(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}

// maxTarpit bounds how long a refused request is held before its 429.
const maxTarpit = time.Second

// limit wraps the public handler with the per-client rate limit. A refused
// request is answered only once the client's next token is due (at most
// maxTarpit): a client that ignores Retry-After keeps its connections busy
// waiting instead of making the collector spend its CPU on refusals.
func (s *Server) limit(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok, wait := s.limiter.allow(s.clients.request(r))
		if !ok {
			s.metrics.rateLimited.Inc()
			t := time.NewTimer(min(wait, maxTarpit))
			select {
			case <-t.C:
			case <-r.Context().Done():
			}
			t.Stop()
			w.Header().Set("Retry-After", retryAfter(wait))
			writeError(w, &apiError{Status: http.StatusTooManyRequests,
				Message: "too many requests from this client; retry after " + retryAfter(wait) + " s"})
			return
		}
		h.ServeHTTP(w, r)
	})
}

// connLimiter is a listener that holds at most max connections open (Accept
// waits for one to close) and at most perClient from one client (more are
// closed at once). Trusted proxies carry many clients and are exempt from
// the per-client cap.
type connLimiter struct {
	net.Listener
	slots     chan struct{}
	perClient int
	clients   *clientResolver
	onRefuse  func()

	mu   sync.Mutex
	open map[string]int
}

func newConnLimiter(l net.Listener, maxConns, perClient int, clients *clientResolver, onRefuse func()) *connLimiter {
	return &connLimiter{Listener: l, slots: make(chan struct{}, maxConns), perClient: perClient,
		clients: clients, onRefuse: onRefuse, open: map[string]int{}}
}

// Accept implements net.Listener.
func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		l.slots <- struct{}{}
		c, err := l.Listener.Accept()
		if err != nil {
			<-l.slots
			return nil, err
		}
		key, counted := "", false
		if a, ok := addrOf(c.RemoteAddr().String()); ok && !l.clients.isTrusted(a) {
			key, counted = clientKey(a), true
		}
		if counted && !l.take(key) {
			<-l.slots
			_ = c.Close()
			l.onRefuse()
			continue
		}
		return &limitedConn{Conn: c, release: func() {
			if counted {
				l.give(key)
			}
			<-l.slots
		}}, nil
	}
}

func (l *connLimiter) take(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[key] >= l.perClient {
		return false
	}
	l.open[key]++
	return true
}

func (l *connLimiter) give(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[key]--; l.open[key] <= 0 {
		delete(l.open, key)
	}
}

// limitedConn gives its slot back once, when closed.
type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
