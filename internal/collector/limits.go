package collector

import (
	"container/list"
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
	l.mu.Lock()
	// Read under the lock, so that no request compares a time older than
	// the last sweep's with it; a clock set back sweeps again at once.
	now := l.now()
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

// connLimiter is a listener that holds at most max connections open and at
// most perClient from one client (more are closed at once). Trusted proxies
// carry many clients and are exempt from the per-client cap.
//
// A connection that is not being served must not keep a respondent out
// for long. When all max are open, a new connection takes the place of an
// idle keep-alive connection (http.Server.ConnState tells which) or of one
// that has gone unproven — still in its TLS handshake or its first
// request's headers, no request ever read — for grace or longer, taken
// from the client holding the most connections among those that have such
// a one: its idle one first, else its one admitted first. Only when every
// connection is being served or was admitted less than grace ago does the
// new connection wait (and the connections behind it in the kernel's
// backlog with it), until one closes, turns idle or passes grace. Clients opening connections and
// sending nothing, or a byte now and then, thus hold each slot for grace,
// not for the server's handshake and header timeouts.
type connLimiter struct {
	net.Listener
	max       int
	perClient int
	clients   *clientResolver
	hooks     connHooks
	// grace is how long a connection may stay unproven before it can be
	// closed to make room; now is the clock it is measured with.
	grace time.Duration
	now   func() time.Time

	mu sync.Mutex
	// room is signalled when a connection closes or turns idle, and when
	// an unproven one passes grace while an Accept waits.
	room *sync.Cond
	// n counts the open connections, idle and unproven those of them that
	// are idle or unproven, open those of each client the per-client cap
	// applies to.
	n, idle, unproven int
	open              map[string]int
	// groups holds the open connections by client, trusted proxies
	// included, for the choice of an idle one to close.
	groups map[string]*connGroup
	// seq orders the moments connections turned idle.
	seq    uint64
	closed bool
}

// connGroup is one client's open connections.
type connGroup struct {
	n        int
	idle     list.List // of *limitedConn, longest idle first
	unproven list.List // of *limitedConn, admitted first first
}

// connHooks tell the metrics what a connLimiter does; nil ones are skipped.
type connHooks struct {
	refused func()                         // a connection closed at once: its client held perClient
	evicted func()                         // an idle connection closed to make room
	slow    func()                         // an unproven connection closed to make room
	counted func(open, idle, unproven int) // the counts changed (called under the limiter's lock)
}

// proveWithin is how long a public connection may go without a request
// read before it can be closed to make room (connLimiter.grace): a
// respondent's browser completes its handshake and sends its request
// within a few round trips.
const proveWithin = time.Second

func newConnLimiter(l net.Listener, maxConns, perClient int, clients *clientResolver, hooks connHooks) *connLimiter {
	cl := &connLimiter{Listener: l, max: maxConns, perClient: perClient, clients: clients, hooks: hooks,
		grace: proveWithin, now: time.Now,
		open: map[string]int{}, groups: map[string]*connGroup{}}
	cl.room = sync.NewCond(&cl.mu)
	return cl
}

// counted reports the counts; l.mu is held.
func (l *connLimiter) counted() {
	if l.hooks.counted != nil {
		l.hooks.counted(l.n, l.idle, l.unproven)
	}
}

// Accept implements net.Listener.
func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		lc := &limitedConn{Conn: c, limiter: l}
		if a, ok := addrOf(c.RemoteAddr().String()); ok {
			lc.group = clientKey(a)
			if !l.clients.isTrusted(a) {
				lc.key, lc.counted = lc.group, true
			}
		}
		evicted, refused, err := l.admit(lc)
		for _, v := range evicted {
			_ = v.Conn.Close() // already uncounted; the server sees its read fail
			hook := l.hooks.evicted
			if v.wasUnproven {
				hook = l.hooks.slow
			}
			if hook != nil {
				hook()
			}
		}
		switch {
		case err != nil:
			_ = c.Close()
			return nil, err
		case refused:
			_ = c.Close()
			if l.hooks.refused != nil {
				l.hooks.refused()
			}
			continue
		}
		return lc, nil
	}
}

// admit counts c in, unless its client holds perClient connections
// already (refused), once there is room: it returns the connections it
// took out of the count to make room (idle ones, or ones unproven past
// grace), for the caller to close. It waits while no connection can be
// taken, holding c accepted but not served, as the kernel's backlog would.
func (l *connLimiter) admit(c *limitedConn) (evicted []*limitedConn, refused bool, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		if c.counted && l.open[c.key] >= l.perClient {
			return evicted, true, nil
		}
		if l.closed {
			return evicted, false, net.ErrClosed
		}
		if l.n < l.max {
			break
		}
		now := l.now()
		v, next := l.evictable(now)
		if v != nil {
			v.wasUnproven = v.unproven != nil
			l.drop(v)
			evicted = append(evicted, v)
			continue
		}
		l.waitRoom(next, now)
	}
	l.n++
	if c.counted {
		l.open[c.key]++
	}
	g := l.groups[c.group]
	if g == nil {
		g = &connGroup{}
		l.groups[c.group] = g
	}
	g.n++
	c.since = l.now()
	c.unproven = g.unproven.PushBack(c)
	l.unproven++
	l.counted()
	return evicted, false, nil
}

// waitRoom waits on l.room (l.mu held), woken also at next, when an
// unproven connection passes grace; next is zero when none is unproven.
func (l *connLimiter) waitRoom(next, now time.Time) {
	if next.IsZero() {
		l.room.Wait()
		return
	}
	t := time.AfterFunc(next.Sub(now), func() {
		l.mu.Lock()
		l.room.Broadcast()
		l.mu.Unlock()
	})
	l.room.Wait()
	t.Stop()
}

// evictable is the connection to close to make room: of the clients
// holding an idle connection or one unproven for grace or longer before
// now, the one holding the most connections; of its connections, the one
// idle longest, else the one admitted first. Between clients holding as
// many, an idle connection goes before an unproven one, then the one idle
// longest or admitted first. nil when there is none; next is then when the
// first unproven connection still within grace passes it (zero when none is).
func (l *connLimiter) evictable(now time.Time) (best *limitedConn, next time.Time) {
	bestN := 0
	for _, g := range l.groups {
		var c *limitedConn
		if f := g.idle.Front(); f != nil {
			c = f.Value.(*limitedConn)
		} else if f := g.unproven.Front(); f != nil {
			u := f.Value.(*limitedConn)
			if due := u.since.Add(l.grace); due.After(now) {
				if next.IsZero() || due.Before(next) {
					next = due
				}
				continue
			}
			c = u
		} else {
			continue
		}
		if best == nil || g.n > bestN || g.n == bestN && closesBefore(c, best) {
			best, bestN = c, g.n
		}
	}
	if best != nil {
		next = time.Time{}
	}
	return best, next
}

// closesBefore orders two connections of clients holding as many: idle
// before unproven, then idle longest or admitted first.
func closesBefore(a, b *limitedConn) bool {
	switch {
	case (a.idle != nil) != (b.idle != nil):
		return a.idle != nil
	case a.idle != nil:
		return a.idleSeq < b.idleSeq
	}
	return a.since.Before(b.since)
}

// drop takes c out of the count, once.
func (l *connLimiter) drop(c *limitedConn) {
	if c.gone {
		return
	}
	c.gone = true
	l.n--
	if c.counted {
		if l.open[c.key]--; l.open[c.key] <= 0 {
			delete(l.open, c.key)
		}
	}
	g := l.groups[c.group]
	if c.idle != nil {
		g.idle.Remove(c.idle)
		c.idle = nil
		l.idle--
	}
	if c.unproven != nil {
		g.unproven.Remove(c.unproven)
		c.unproven = nil
		l.unproven--
	}
	if g.n--; g.n <= 0 {
		delete(l.groups, c.group)
	}
	l.counted()
	l.room.Broadcast()
}

// release takes c out of the count when it closes.
func (l *connLimiter) release(c *limitedConn) {
	l.mu.Lock()
	l.drop(c)
	l.mu.Unlock()
}

// connState is the public http.Server's ConnState hook: it tells which
// connections are idle.
func (l *connLimiter) connState(nc net.Conn, st http.ConnState) {
	for {
		if _, ok := nc.(*limitedConn); ok {
			break
		}
		u, ok := nc.(interface{ NetConn() net.Conn }) // *tls.Conn
		if !ok {
			return
		}
		nc = u.NetConn()
	}
	c := nc.(*limitedConn)
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.gone {
		return // closed, or taken out to make room
	}
	g := l.groups[c.group]
	if st != http.StateNew && c.unproven != nil {
		// A request was read (or the connection taken over): it is proven.
		g.unproven.Remove(c.unproven)
		c.unproven = nil
		l.unproven--
		l.counted()
	}
	switch {
	case st == http.StateIdle && c.idle == nil:
		l.seq++
		c.idleSeq = l.seq
		c.idle = g.idle.PushBack(c)
		l.idle++
		l.counted()
		l.room.Broadcast()
	case st != http.StateIdle && c.idle != nil:
		g.idle.Remove(c.idle)
		c.idle = nil
		l.idle--
		l.counted()
	}
}

// Close implements net.Listener: an Accept waiting for room returns.
func (l *connLimiter) Close() error {
	l.mu.Lock()
	l.closed = true
	l.room.Broadcast()
	l.mu.Unlock()
	return l.Listener.Close()
}

// limitedConn is a connection counted by its limiter until it closes.
type limitedConn struct {
	net.Conn
	limiter *connLimiter
	// group is the client the connection counts against; key the same
	// when counted, that is when the client is not a trusted proxy.
	group, key string
	counted    bool

	// Guarded by limiter.mu.
	idle     *list.Element // in its group's idle list while idle
	idleSeq  uint64
	unproven *list.Element // in its group's unproven list until a request is read
	since    time.Time     // when it was admitted
	gone     bool          // no longer counted
	// wasUnproven: it was taken out of the count unproven, to make room.
	wasUnproven bool
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.limiter.release(c)
	return err
}
