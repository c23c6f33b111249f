package collector

import (
	"bufio"
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
type limiterCounts struct{ open, idle, clients, groups int }

func (l *connLimiter) counts() limiterCounts {
	l.mu.Lock()
	defer l.mu.Unlock()
	idle := 0
	for _, g := range l.groups {
		idle += g.idle.Len()
	}
	if idle != l.idle {
		panic(fmt.Sprintf("idle count %d, but %d in the groups' lists", l.idle, idle))
	}
	return limiterCounts{open: l.n, idle: l.idle, clients: len(l.open), groups: len(l.groups)}
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
	srv := &http.Server{Handler: h, ConnState: l.connState, ReadHeaderTimeout: 5 * time.Second}
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
	l, _, addr, _, _ := limitedServer(t, 2, 2, mux)
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

	c = dialPlain(t, addr, "127.0.0.1")
	_ = c.Close()
	waitCounts(t, l, "closed by its client before a request", none)

	// Two idle connections fill the limiter; a third, from another
	// client, takes the place of the first to turn idle.
	a, b := dialPlain(t, addr, "127.0.0.1"), dialPlain(t, addr, "127.0.0.1")
	a.get(t, "/")
	waitCounts(t, l, "one idle", limiterCounts{open: 2, idle: 1, clients: 1, groups: 1})
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
