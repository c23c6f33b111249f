package collector

import (
	"encoding/json"
	"fmt"
	"log"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// capturedLines is a logger's JSON lines, decoded.
type capturedLines struct {
	mu    sync.Mutex
	lines []map[string]any
}

func (c *capturedLines) add(t *testing.T, obj string) {
	var m map[string]any
	if err := json.Unmarshal([]byte(obj), &m); err != nil {
		t.Errorf("a log line is not JSON: %v: %s", err, obj)
	}
	c.mu.Lock()
	c.lines = append(c.lines, m)
	c.mu.Unlock()
}

func (c *capturedLines) get() []map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]map[string]any(nil), c.lines...)
}

// TestHTTPServerLogBudget: a burst of net/http complaints, as one client
// sending garbage in a loop causes, writes at most logBurst lines; the
// next line let through once the budget refills says how many were left
// out, and every complaint is counted in the metric. The clock is the
// test's.
func TestHTTPServerLogBudget(t *testing.T) {
	lines := &capturedLines{}
	logger := funcr.NewJSON(func(obj string) { lines.add(t, obj) }, funcr.Options{})
	count := prometheus.NewCounter(prometheus.CounterOpts{Name: "test_http_errors_total", Help: "test"})
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	w := newLogWriter(logger, "public", count, func() time.Time { return now })
	errorLog := log.New(w, "", 0) // as http.Server.ErrorLog calls it

	const burst = 10_000
	for i := range burst {
		errorLog.Printf("http: TLS handshake error from 198.51.100.%d:%d: EOF", i%250, 1024+i)
	}
	got := lines.get()
	if len(got) != logBurst {
		t.Fatalf("%d lines for %d errors at one instant, want the budget's %d", len(got), burst, logBurst)
	}
	for _, m := range got {
		if m["msg"] != "http server" || m["listener"] != "public" || m["suppressed"] != nil ||
			!strings.HasPrefix(fmt.Sprint(m["error"]), "http: TLS handshake error from "+maskedAddr+": EOF") {
			t.Errorf("line %v; want an http server line of the public listener, its address masked", m)
		}
	}
	if v := testutil.ToFloat64(count); v != burst {
		t.Errorf("the metric counted %v errors, want %d", v, burst)
	}

	// A line's worth of budget later, the next error is logged with the
	// count of those left out.
	now = now.Add(logEvery)
	errorLog.Printf("http: TLS handshake error from [2001:db8::7]:443: EOF")
	got = lines.get()
	if len(got) != logBurst+1 {
		t.Fatalf("%d lines after %s, want %d", len(got), logEvery, logBurst+1)
	}
	last := got[len(got)-1]
	if last["suppressed"] != float64(burst-logBurst) || last["error"] != "http: TLS handshake error from "+maskedAddr+": EOF" {
		t.Errorf("the line after the burst: %v; want suppressed %d and the address masked", last, burst-logBurst)
	}
	// Left out since: none.
	now = now.Add(time.Hour)
	errorLog.Printf("http: TLS handshake error from 192.0.2.1:1: EOF")
	if got = lines.get(); got[len(got)-1]["suppressed"] != nil {
		t.Errorf("a line after a quiet hour: %v; want no suppressed count", got[len(got)-1])
	}
}

// TestMaskAddrs: addresses in net/http's lines, IPv4 and IPv6, with or
// without their port, are masked; what only looks like one is left.
func TestMaskAddrs(t *testing.T) {
	for in, want := range map[string]string{
		"http: TLS handshake error from 127.0.0.1:54321: EOF":                                   "http: TLS handshake error from [address]: EOF",
		"http: TLS handshake error from [2001:db8::1]:443: remote error":                        "http: TLS handshake error from [address]: remote error",
		"http: TLS handshake error from [::ffff:192.0.2.1]:80: EOF":                             "http: TLS handshake error from [address]: EOF",
		"http2: server: error reading preface from client [fe80::1%eth0]:1234: EOF":             "http2: server: error reading preface from client [address]: EOF",
		"read tcp 10.0.0.1:8443->203.0.113.9:5555: read: connection reset by peer":              "read tcp [address]->[address]: read: connection reset by peer",
		"http: panic serving 198.51.100.4:999: boom\ngoroutine 7 [running]:\nmain.go:12 +0x1a5": "http: panic serving [address]: boom\ngoroutine 7 [running]:\nmain.go:12 +0x1a5",
		"client 2001:db8:0:1::42 went away":                                                     "client [address] went away",
		"client ::1 went away":                                                                  "client [address] went away",
		"http: Accept error: too many open files; retrying in 5ms":                              "http: Accept error: too many open files; retrying in 5ms",
		"http: superfluous response.WriteHeader call from main.handler (server.go:123)":         "http: superfluous response.WriteHeader call from main.handler (server.go:123)",
		"at 12:34:56, dead:beef and [not an address]:80":                                        "at 12:34:56, dead:beef and [not an address]:80",
	} {
		if got := maskAddrs(in); got != want {
			t.Errorf("maskAddrs(%q)\n = %q\nwant %q", in, got, want)
		}
	}
}
