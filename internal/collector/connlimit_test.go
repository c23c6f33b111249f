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

// TestBusyConnectionsMakeNewOnesWait: when every connection is busy (here
// each in the middle of its request headers) a new one waits, and it is
// served as soon as one of them turns idle, taking its place.
func TestBusyConnectionsMakeNewOnesWait(t *testing.T) {
	f := collectortest.Start(t, withLimits("{maxConnections: 8, maxConnectionsPerClient: 4}"))
	var busy []*heldConn
	for _, ip := range []string{"127.0.0.2", "127.0.0.3"} {
		for range 4 {
			c := dialFrom(t, f, ip)
			// Half a request: the server reads it (the connection is
			// active) and waits for the rest, for up to 5 s.
			if _, err := io.WriteString(c, "GET /nothing-here HTTP/1.1\r\nHost: localhost\r\n"); err != nil {
				t.Fatal(err)
			}
			busy = append(busy, c)
		}
	}
	if open, idle := publicConns(t, f); open != 8 || idle != 0 {
		t.Fatalf("open %v, idle %v; want 8 busy connections", open, idle)
	}

	type dialed struct {
		c   *tls.Conn
		err error
	}
	done := make(chan dialed, 1)
	go func() {
		cfg := f.Client.Transport.(*http.Transport).TLSClientConfig.Clone()
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.4")}, Timeout: 10 * time.Second}
		c, err := tls.DialWithDialer(d, "tcp", strings.TrimPrefix(f.Public, "https://"), cfg)
		done <- dialed{c, err}
	}()
	// Not accepted while every connection is busy: the handshake gets no
	// answer. (The busy ones stay so for 5 s, the header timeout.)
	select {
	case d := <-done:
		if d.c != nil {
			_ = d.c.Close()
		}
		t.Fatalf("a 9th connection got through while 8 were busy: %v", d.err)
	case <-time.After(300 * time.Millisecond):
	}

	// One busy connection ends its request: it turns idle, and the
	// waiting connection takes its place.
	first := busy[0]
	_ = first.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(first, "\r\n"); err != nil {
		t.Fatal(err)
	}
	if st := first.readAnswer(t); st != http.StatusNotFound {
		t.Fatalf("the completed request: %d, want 404", st)
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
}
