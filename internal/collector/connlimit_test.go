package collector_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/surveyguard/surveyguard/internal/collector/collectortest"
)

// heldConn is a keep-alive HTTP/1.1 connection over TLS from a loopback
// address of the test's choice, spoken by hand so the test knows what the
// server sees on it.
type heldConn struct {
	*tls.Conn
	r    *bufio.Reader
	from string
}

// dialFrom opens a TLS connection to f's public listener from ip. Once it
// returns the collector has accepted the connection: it answered the
// handshake.
func dialFrom(t *testing.T, f *collectortest.Fixture, ip string) *heldConn {
	t.Helper()
	cfg := f.Client.Transport.(*http.Transport).TLSClientConfig.Clone()
	cfg.NextProtos = []string{"http/1.1"}
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", strings.TrimPrefix(f.Public, "https://"), cfg)
	if err != nil {
		t.Fatalf("a connection from %s: %v", ip, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &heldConn{Conn: c, r: bufio.NewReader(c), from: ip}
}

// get sends a GET and reads its answer; the connection stays open.
func (c *heldConn) get(t *testing.T, path string) int {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	defer func() { _ = c.SetDeadline(time.Time{}) }()
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", path); err != nil {
		t.Fatalf("GET %s from %s: %v", path, c.from, err)
	}
	return c.readAnswer(t)
}

func (c *heldConn) readAnswer(t *testing.T) int {
	t.Helper()
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		t.Fatalf("the answer on a connection from %s: %v", c.from, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// closedByServer says whether the server closed c: a read sees the end
// of the connection rather than its deadline. Nothing is in flight on c,
// so a read that times out means the connection is still open.
func (c *heldConn) closedByServer(within time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(within))
	_, err := c.r.ReadByte()
	return err != nil && !isTimeout(err)
}

// publicConns reads the public listener's open and idle connections from /metrics.
func publicConns(t *testing.T, f *collectortest.Fixture) (open, idle float64) {
	t.Helper()
	open, _ = metric(t, f, "surveyguard_collector_public_connections", map[string]string{"state": "open"})
	idle, _ = metric(t, f, "surveyguard_collector_public_connections", map[string]string{"state": "idle"})
	return open, idle
}

// unprovenConns reads the public listener's unproven connections from /metrics.
func unprovenConns(t *testing.T, f *collectortest.Fixture) float64 {
	t.Helper()
	v, _ := metric(t, f, "surveyguard_collector_public_connections", map[string]string{"state": "unproven"})
	return v
}

// TestIdleConnectionsMakeRoom: clients holding every one of
// maxConnections with idle keep-alive connections cannot keep a new
// respondent out. Its connection takes the place of an idle one of the
// client holding the most, and the others' stay open.
func TestIdleConnectionsMakeRoom(t *testing.T) {
	f := collectortest.Start(t, withLimits("{maxConnections: 8, maxConnectionsPerClient: 4}"))
	// 4 + 3 + 1 connections: every slot, each with one request answered.
	byClient := map[string][]*heldConn{}
	for _, h := range []struct {
		ip string
		n  int
	}{{"127.0.0.2", 4}, {"127.0.0.3", 3}, {"127.0.0.5", 1}} {
		for range h.n {
			c := dialFrom(t, f, h.ip)
			if st := c.get(t, "/nothing-here"); st != http.StatusNotFound {
				t.Fatalf("GET from %s: %d, want 404", h.ip, st)
			}
			byClient[h.ip] = append(byClient[h.ip], c)
		}
	}
	eventually(t, 5*time.Second, "8 idle connections on the public listener", func() (bool, string) {
		open, idle := publicConns(t, f)
		return open == 8 && idle == 8, fmt.Sprintf("open %v, idle %v", open, idle)
	})

	// A respondent from a fourth address is answered at once; on the old
	// code it waited for an idle timeout (90 s) and its client gave up.
	other := clientFrom(f, "127.0.0.4")
	other.Client.Timeout = 5 * time.Second
	if a := other.Do(t, http.MethodGet, f.Public+"/s/"+f.Config.Campaign, nil, nil); a.Status != http.StatusOK {
		t.Fatalf("the survey page for a new respondent while idle connections hold every slot: %d %s", a.Status, a.Raw)
	}
	// One idle connection of 127.0.0.2, which held the most, was closed
	// to make room before the respondent's connection was served.
	closed := map[int]bool{}
	eventually(t, 5*time.Second, "a connection of 127.0.0.2 (4 connections, the most) closed", func() (bool, string) {
		for i, c := range byClient["127.0.0.2"] {
			if !closed[i] && c.closedByServer(10*time.Millisecond) {
				closed[i] = true
			}
		}
		return len(closed) > 0, fmt.Sprintf("%d closed", len(closed))
	})
	if len(closed) != 1 {
		t.Errorf("%d connections of 127.0.0.2 closed, want 1", len(closed))
	}
	for _, ip := range []string{"127.0.0.3", "127.0.0.5"} {
		for i, c := range byClient[ip] {
			if c.closedByServer(20 * time.Millisecond) {
				t.Errorf("connection %d of %s was closed; want only one of 127.0.0.2's", i, ip)
			}
			if st := c.get(t, "/nothing-here"); st != http.StatusNotFound {
				t.Errorf("connection %d of %s, reused: %d, want 404", i, ip, st)
			}
		}
	}
	if v, ok := metric(t, f, "surveyguard_collector_idle_connections_closed_total", nil); !ok || v != 1 {
		t.Errorf("surveyguard_collector_idle_connections_closed_total = %v (present %v), want 1", v, ok)
	}
}

// busyConn opens a connection from ip and leaves it being served: a POST
// whose body the handler waits for (up to 15 s, the read timeout), one of
// its two bytes sent. finish sends the other and reads the answer.
func busyConn(t *testing.T, f *collectortest.Fixture, ip string) *heldConn {
	t.Helper()
	c := dialFrom(t, f, ip)
	if _, err := io.WriteString(c, "POST /v1/responses HTTP/1.1\r\nHost: localhost\r\n"+
		"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{"); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *heldConn) finish(t *testing.T) int {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	defer func() { _ = c.SetDeadline(time.Time{}) }()
	if _, err := io.WriteString(c, "}"); err != nil {
		t.Fatal(err)
	}
	return c.readAnswer(t)
}

// dialAsync dials f's public listener over TLS from ip in the background;
// the channel has the connection once the collector answers its handshake.
func dialAsync(f *collectortest.Fixture, ip string) <-chan dialed {
	done := make(chan dialed, 1)
	go func() {
		cfg := f.Client.Transport.(*http.Transport).TLSClientConfig.Clone()
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
		c, err := tls.DialWithDialer(d, "tcp", strings.TrimPrefix(f.Public, "https://"), cfg)
		done <- dialed{c, err}
	}()
	return done
}

type dialed struct {
	c   *tls.Conn
	err error
}

// TestBusyConnectionsMakeNewOnesWait: when every connection is being
// served (here each handler waits for the rest of its request's body) a
// new one waits, and it is served as soon as one of them turns idle,
// taking its place.
func TestBusyConnectionsMakeNewOnesWait(t *testing.T) {
	f := collectortest.Start(t, withLimits("{maxConnections: 8, maxConnectionsPerClient: 4}"))
	var busy []*heldConn
	for _, ip := range []string{"127.0.0.2", "127.0.0.3"} {
		for range 4 {
			busy = append(busy, busyConn(t, f, ip))
		}
	}
	eventually(t, 5*time.Second, "8 connections being served", func() (bool, string) {
		open, idle := publicConns(t, f)
		unproven := unprovenConns(t, f)
		return open == 8 && idle == 0 && unproven == 0, fmt.Sprintf("open %v, idle %v, unproven %v", open, idle, unproven)
	})

	done := dialAsync(f, "127.0.0.4")
	// Not accepted while every connection is being served, however long
	// it waits: the handshake gets no answer. (They are proven: the wait
	// is longer than the 1 s an unproven connection would have.)
	select {
	case d := <-done:
		if d.c != nil {
			_ = d.c.Close()
		}
		t.Fatalf("a 9th connection got through while 8 were busy: %v", d.err)
	case <-time.After(1500 * time.Millisecond):
	}

	// One busy connection ends its request: it turns idle, and the
	// waiting connection takes its place.
	first := busy[0]
	if st := first.finish(t); st != http.StatusUnprocessableEntity {
		t.Fatalf("the completed request: %d, want 422", st)
	}
	select {
	case d := <-done:
		if d.err != nil {
			t.Fatalf("the waiting connection, once a connection turned idle: %v", d.err)
		}
		_ = d.c.Close()
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting connection was not accepted once a connection turned idle")
	}
	if !first.closedByServer(2 * time.Second) {
		t.Error("the connection that turned idle is still open; want it closed to make room")
	}
	for i, c := range busy[1:] {
		if c.closedByServer(20 * time.Millisecond) {
			t.Errorf("busy connection %d was closed; want it left alone", i+1)
		}
	}
	if v, _ := metric(t, f, "surveyguard_collector_slow_connections_closed_total", nil); v != 0 {
		t.Errorf("surveyguard_collector_slow_connections_closed_total = %v, want 0", v)
	}
}

// TestSlowConnectionsMakeRoom: clients holding every one of
// maxConnections with connections that never get a request read — one
// client's in their first request's headers, another's still before
// their TLS handshake — keep a new respondent out for 1 s only. Its
// connection takes the place of the unproven one admitted first of the
// client holding the most, and the others stay open.
func TestSlowConnectionsMakeRoom(t *testing.T) {
	f := collectortest.Start(t, withLimits("{maxConnections: 8, maxConnectionsPerClient: 5}"))
	var slow []*heldConn
	for range 5 {
		c := dialFrom(t, f, "127.0.0.2")
		if _, err := io.WriteString(c, "GET /nothing-here HTTP/1.1\r\nHost: localhost\r\n"); err != nil {
			t.Fatal(err)
		}
		slow = append(slow, c)
	}
	addr := strings.TrimPrefix(f.Public, "https://")
	var raw []net.Conn
	for range 3 {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.3")}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		raw = append(raw, c)
	}
	eventually(t, 5*time.Second, "8 unproven connections open", func() (bool, string) {
		open, idle := publicConns(t, f)
		unproven := unprovenConns(t, f)
		return open == 8 && idle == 0 && unproven == 8, fmt.Sprintf("open %v, idle %v, unproven %v", open, idle, unproven)
	})

	other := clientFrom(f, "127.0.0.4")
	other.Client.Timeout = 10 * time.Second
	if a := other.Do(t, http.MethodGet, f.Public+"/s/"+f.Config.Campaign, nil, nil); a.Status != http.StatusOK {
		t.Fatalf("the survey page for a new respondent while unproven connections hold every slot: %d %s", a.Status, a.Raw)
	}
	// The first of 127.0.0.2's (5 connections, the most) was closed; the
	// others, and 127.0.0.3's, are open, still within the 5 s the server
	// gives a request's headers.
	if !slow[0].closedByServer(2 * time.Second) {
		t.Error("the first unproven connection of 127.0.0.2 is still open; want it closed to make room")
	}
	for i, c := range slow[1:] {
		if c.closedByServer(20 * time.Millisecond) {
			t.Errorf("unproven connection %d of 127.0.0.2 was closed; want only the first", i+1)
		}
	}
	for i, c := range raw {
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); !isTimeout(err) {
			t.Errorf("connection %d of 127.0.0.3 (before its handshake): %v; want it left open", i, err)
		}
	}
	if v, ok := metric(t, f, "surveyguard_collector_slow_connections_closed_total", nil); !ok || v != 1 {
		t.Errorf("surveyguard_collector_slow_connections_closed_total = %v (present %v), want 1", v, ok)
	}
	if v, _ := metric(t, f, "surveyguard_collector_idle_connections_closed_total", nil); v != 0 {
		t.Errorf("surveyguard_collector_idle_connections_closed_total = %v, want 0", v)
	}
}

// TestPublicListenerSpeaksHTTP1Only: the public listener offers no HTTP/2
// (its connection limits follow each connection's requests, which net/http
// reports for HTTP/1.1 only); the admin listener still does.
func TestPublicListenerSpeaksHTTP1Only(t *testing.T) {
	f := collectortest.Start(t, nil)
	for _, tc := range []struct {
		url, want string
	}{{f.Public, "http/1.1"}, {f.Admin, "h2"}} {
		cfg := f.Client.Transport.(*http.Transport).TLSClientConfig.Clone()
		cfg.NextProtos = []string{"h2", "http/1.1"}
		c, err := tls.Dial("tcp", strings.TrimPrefix(tc.url, "https://"), cfg)
		if err != nil {
			t.Fatalf("%s: %v", tc.url, err)
		}
		if got := c.ConnectionState().NegotiatedProtocol; got != tc.want {
			t.Errorf("%s negotiated %q, want %q", tc.url, got, tc.want)
		}
		_ = c.Close()
	}
}
