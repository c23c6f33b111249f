package collector_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/surveyguard/surveyguard/internal/collector"
	"github.com/surveyguard/surveyguard/internal/collector/collectortest"
)

// TestGarbageFloodLogsWithinBudget: a client sending bytes that are not
// TLS, connection after connection, makes net/http complain each time;
// the log gets at most 5 lines at once and then one a second, never the
// client's address, and the next line let through counts the ones left
// out. The metric counts them all.
func TestGarbageFloodLogsWithinBudget(t *testing.T) {
	o, logs := captureLog(collector.Options{})
	f := collectortest.StartWith(t, t.TempDir(), nil, o)
	addr := strings.TrimPrefix(f.Public, "https://")
	garbage := func() { sendGarbage(t, addr) }
	public := func() []map[string]any {
		var out []map[string]any
		for _, m := range logs.withMsg(t, "http server") {
			if m["listener"] == "public" {
				out = append(out, m)
			}
		}
		return out
	}

	const flood = 50
	start := time.Now()
	for range flood {
		garbage()
	}
	eventually(t, 5*time.Second, "every complaint counted", func() (bool, string) {
		v, _ := metric(t, f, "surveyguard_collector_http_errors_total", map[string]string{"listener": "public"})
		return v >= flood, fmt.Sprint(v)
	})
	budget := 5 + int(time.Since(start)/time.Second) + 1
	if n := len(public()); n == 0 || n > budget {
		t.Fatalf("%d lines for %d complaints within %s; want 1 to %d", n, flood, time.Since(start), budget)
	}
	// Once the budget has room again, the next complaint's line says how
	// many were left out.
	eventually(t, 10*time.Second, "a line with the count of those left out", func() (bool, string) {
		for _, m := range public() {
			if n, _ := m["suppressed"].(float64); n > 0 {
				return true, ""
			}
		}
		garbage()
		return false, strings.Join(logs.lines(), "\n")
	})
	for _, s := range logs.lines() {
		if strings.Contains(s, "127.0.0.1") && strings.Contains(s, `"http server"`) {
			t.Errorf("a line names the client's address: %s", s)
		}
	}
}
