package collector

import (
	"bufio"
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// limiterCounts is what a connLimiter counts, for the tests.
type limiterCounts struct{ open, idle, unproven, clients, groups int }

func (l *connLimiter) counts() limiterCounts {
	l.mu.Lock()
	defer l.mu.Unlock()
	idle, unproven := 0, 0
	for _, g := range l.groups {
		idle += g.idle.Len()
		unproven += g.unproven.Len()
	}
	if idle != l.idle || unproven != l.unproven {
		panic(fmt.Sprintf("idle and unproven counts %d and %d, but %d and %d in the groups' lists", l.idle, l.unproven, idle, unproven))
	}
	return limiterCounts{open: l.n, idle: l.idle, unproven: unproven, clients: len(l.open), groups: len(l.groups)}
}

// setGrace changes how long l lets a connection go unproven, and has a
// waiting Accept look again.
func (l *connLimiter) setGrace(d time.Duration) {
	l.mu.Lock()
	l.grace = d
	l.room.Broadcast()
	l.mu.Unlock()
}

// waitCounts polls l until its counts are want.
func waitCounts(t *testing.T, l *connLimiter, what string, want limiterCounts) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := l.counts()
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: counts %+v, want %+v", what, got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// notifyListener tells when its Accept has a connection.
type notifyListener struct {
	net.Listener
	accepted chan struct{}
}

func (n notifyListener) Accept() (net.Conn, error) {
	c, err := n.Listener.Accept()
	if err == nil {
		n.accepted <- struct{}{}
	}
	return c, err
}

// limitedServer serves h over plain HTTP on loopback behind a connLimiter;
// the channel receives each connection the kernel hands the limiter.
func limitedServer(t *testing.T, maxConns, perClient int, h http.Handler) (*connLimiter, *http.Server, string, chan error, chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan struct{}, 100)
	l := newConnLimiter(notifyListener{ln, accepted}, maxConns, perClient, newClientResolver(nil), connHooks{})
	// Longer than any test waits: no connection a test holds unproven is
	// closed by the server's timeout rather than by the limiter.
	srv := &http.Server{Handler: h, ConnState: l.connState, ReadHeaderTimeout: time.Minute}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return l, srv, ln.Addr().String(), served, accepted
}

type plainConn struct {
	net.Conn
	r *bufio.Reader
}

func dialPlain(t *testing.T, addr, from string) *plainConn {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return &plainConn{Conn: c, r: bufio.NewReader(c)}
}

func (c *plainConn) get(t *testing.T, path string) int {
	t.Helper()
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// TestConnLimiterCountsEveryClose: a connection's slot comes back however
// it ends — closed by its client while idle, by the server after its
// answer, by a handler that hijacked it, by a bad request, by an idle
// connection's eviction — and nothing is left counted.
func TestConnLimiterCountsEveryClose(t *testing.T) {
	hijacked := make(chan net.Conn, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("/close", func(w http.ResponseWriter, _ *http.Request) { w.Header().Set("Connection", "close") })
	mux.HandleFunc("/hijack", func(w http.ResponseWriter, _ *http.Request) {
		c, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		hijacked <- c
	})
	l, _, addr, _, accepted := limitedServer(t, 2, 2, mux)
	none := limiterCounts{}

	c := dialPlain(t, addr, "127.0.0.1")
	c.get(t, "/")
	waitCounts(t, l, "a kept-alive connection", limiterCounts{open: 1, idle: 1, clients: 1, groups: 1})
	_ = c.Close()
	waitCounts(t, l, "closed by its client while idle", none)

	c = dialPlain(t, addr, "127.0.0.1")
	c.get(t, "/close")
	waitCounts(t, l, "closed by the server after its answer", none)

	c = dialPlain(t, addr, "127.0.0.1")
	c.get(t, "/hijack")
	hc := <-hijacked
	waitCounts(t, l, "hijacked, still open: busy", limiterCounts{open: 1, clients: 1, groups: 1})
	_ = hc.Close()
	waitCounts(t, l, "hijacked, closed by its handler", none)

	c = dialPlain(t, addr, "127.0.0.1")
	_, _ = io.WriteString(c, "NOT HTTP\r\n\r\n")
	_, _ = io.ReadAll(c)
	waitCounts(t, l, "a bad request", none)

	// From another address, so that if the limiter takes it in only after
	// the counts below read none, it holds none of the slots 127.0.0.1's
	// next two connections need under the per-client cap.
	c = dialPlain(t, addr, "127.0.0.3")
	_ = c.Close()
	for range 5 { // every connection so far has reached the limiter
		<-accepted
	}
	waitCounts(t, l, "closed by its client before a request", none)

	// Two idle connections fill the limiter; a third, from another
	// client, takes the place of the first to turn idle.
	a, b := dialPlain(t, addr, "127.0.0.1"), dialPlain(t, addr, "127.0.0.1")
	a.get(t, "/")
	waitCounts(t, l, "one idle, one unproven", limiterCounts{open: 2, idle: 1, unproven: 1, clients: 1, groups: 1})
	b.get(t, "/")
	waitCounts(t, l, "two idle", limiterCounts{open: 2, idle: 2, clients: 1, groups: 1})
	n := dialPlain(t, addr, "127.0.0.2")
	if st := n.get(t, "/"); st != http.StatusOK {
		t.Fatalf("a new client while two idle connections fill the limiter: %d", st)
	}
	if _, err := a.r.ReadByte(); err == nil {
		t.Fatal("the first idle connection is still open; want it closed to make room")
	}
	if st := b.get(t, "/"); st != http.StatusOK {
		t.Fatalf("the second idle connection, reused: %d", st)
	}
	waitCounts(t, l, "after the eviction", limiterCounts{open: 2, idle: 2, clients: 2, groups: 2})
	_ = b.Close()
	_ = n.Close()
	waitCounts(t, l, "all closed", none)
}

// TestConnLimiterCloseEndsAWaitingAccept: a server shut down while its
// limiter waits for room (every connection busy) stops serving.
func TestConnLimiterCloseEndsAWaitingAccept(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	inHandler := make(chan struct{}, 1)
	l, srv, addr, served, accepted := limitedServer(t, 1, 1, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		inHandler <- struct{}{}
		<-release
	}))
	busy := dialPlain(t, addr, "127.0.0.1")
	_, _ = io.WriteString(busy, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	<-accepted
	<-inHandler
	_ = dialPlain(t, addr, "127.0.0.2")
	select { // the limiter has it, and waits for room
	case <-accepted:
	case <-time.After(5 * time.Second):
		t.Fatal("a second connection was not taken from the kernel while the first was busy")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_ = srv.Shutdown(ctx) // the busy connection outlives it
	select {
	case err := <-served:
		if !errors.Is(err, http.ErrServerClosed) {
			t.Fatalf("Serve: %v, want http.ErrServerClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve still waits for room after Shutdown")
	}
	if c := l.counts(); c.open != 1 {
		t.Fatalf("counts %+v after Shutdown; want the busy connection only", c)
	}
}

// TestConnLimiterClosesUnprovenPastGrace: connections that never send a
// request hold a full limiter only for its grace. Within it a new
// connection waits; past it the one admitted first, of the client holding
// the most, is closed to make room, also when nothing else happens (the
// wait is timed).
func TestConnLimiterClosesUnprovenPastGrace(t *testing.T) {
	l, _, addr, _, accepted := limitedServer(t, 2, 2, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	l.setGrace(time.Hour)
	a := dialPlain(t, addr, "127.0.0.1")
	<-accepted
	waitCounts(t, l, "one unproven", limiterCounts{open: 1, unproven: 1, clients: 1, groups: 1})
	b := dialPlain(t, addr, "127.0.0.1")
	<-accepted
	waitCounts(t, l, "two unproven", limiterCounts{open: 2, unproven: 2, clients: 1, groups: 1})

	n := dialPlain(t, addr, "127.0.0.2")
	<-accepted // the limiter has it, and waits: both are within grace
	if _, err := fmt.Fprintf(n, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = n.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := n.r.ReadByte(); !isTimeoutErr(err) {
		t.Fatalf("a third connection was served while two within grace filled the limiter: %v", err)
	}
	waitCounts(t, l, "the third waiting", limiterCounts{open: 2, unproven: 2, clients: 1, groups: 1})
	aSince := l.sinceOf(a)

	// A grace that ends 300 ms from now for the first connection (later
	// for the second): the waiting Accept, woken, finds none past it, and
	// must wake itself when the first's grace ends.
	l.mu.Lock()
	grace := l.now().Sub(aSince) + 300*time.Millisecond
	l.grace = grace
	l.room.Broadcast()
	l.mu.Unlock()
	_ = n.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(n.r, nil)
	if err != nil {
		t.Fatalf("the third connection, once the first passed grace: %v", err)
	}
	_ = resp.Body.Close()
	if _, err := a.r.ReadByte(); err == nil || isTimeoutErr(err) {
		t.Fatalf("the first unproven connection is still open (%v); want it closed to make room", err)
	}
	_ = b.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := b.r.ReadByte(); !isTimeoutErr(err) {
		t.Fatalf("the second unproven connection: %v; want it left open", err)
	}
	waitCounts(t, l, "after the eviction", limiterCounts{open: 2, idle: 1, unproven: 1, clients: 2, groups: 2})
	// The third was admitted once the first had been unproven for its
	// grace, on the limiter's own clock.
	if held := l.sinceOf(n).Sub(aSince); held < grace {
		t.Fatalf("the first connection was closed %v after its admission, within its grace of %v", held, grace)
	}
}

// sinceOf is when l admitted the connection c was dialed as, while it is
// unproven or idle.
func (l *connLimiter) sinceOf(c *plainConn) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, g := range l.groups {
		for _, lst := range []*list.List{&g.unproven, &g.idle} {
			for e := lst.Front(); e != nil; e = e.Next() {
				if v := e.Value.(*limitedConn); v.RemoteAddr().String() == c.LocalAddr().String() {
					return v.since
				}
			}
		}
	}
	panic("no such connection")
}

func isTimeoutErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestConnLimiterTakesFromTheLargestClient: the connection closed to make
// room is the largest client's, unproven past grace, rather than a smaller
// client's idle one (a respondent's keep-alive between the page and its
// answer) or a smaller client's unproven one admitted before it.
func TestConnLimiterTakesFromTheLargestClient(t *testing.T) {
	l, _, addr, _, accepted := limitedServer(t, 4, 4, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	l.setGrace(0)
	respondent := dialPlain(t, addr, "127.0.0.1")
	<-accepted
	if st := respondent.get(t, "/"); st != http.StatusOK {
		t.Fatalf("the respondent's page: %d", st)
	}
	first := dialPlain(t, addr, "127.0.0.4")
	<-accepted
	waitCounts(t, l, "one idle, one unproven", limiterCounts{open: 2, idle: 1, unproven: 1, clients: 2, groups: 2})
	var slow []*plainConn
	for range 2 {
		slow = append(slow, dialPlain(t, addr, "127.0.0.2"))
		<-accepted
	}
	waitCounts(t, l, "one idle, three unproven", limiterCounts{open: 4, idle: 1, unproven: 3, clients: 3, groups: 3})

	n := dialPlain(t, addr, "127.0.0.3")
	if st := n.get(t, "/"); st != http.StatusOK {
		t.Fatalf("a new client while the limiter is full: %d", st)
	}
	if _, err := slow[0].r.ReadByte(); err == nil || isTimeoutErr(err) {
		t.Fatalf("the larger client's first unproven connection: %v; want it closed to make room", err)
	}
	_ = first.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := first.r.ReadByte(); !isTimeoutErr(err) {
		t.Fatalf("the smaller client's unproven connection, admitted first: %v; want it left open", err)
	}
	if st := respondent.get(t, "/"); st != http.StatusOK {
		t.Fatalf("the respondent's idle connection, reused: %d; want it left open", st)
	}
	waitCounts(t, l, "after the eviction", limiterCounts{open: 4, idle: 2, unproven: 2, clients: 4, groups: 4})
}
