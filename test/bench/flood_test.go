package bench

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/surveyguard/surveyguard/internal/collector/collectortest"
	"github.com/surveyguard/surveyguard/internal/loadgen"
)

// BenchmarkFlood: one client (127.0.0.1) floods a collector with the
// default limits from 64 connections, ignoring Retry-After, while 32
// well-behaved respondents (127.0.0.2 and up, one request each per 200 ms,
// under their own rate) keep answering. The flood must be held to its rate
// (burst + rate × duration accepted) and the respondents served within the
// design's p99 of 50 ms. Every connection of the flood counts against the
// same per-client connection cap (64 by default), so all 64 get in.
func BenchmarkFlood(b *testing.B) {
	f := collectortest.Start(b, nil)
	lim := f.Config.Limits
	base := f.Client.Transport.(*http.Transport)
	d := duration()
	respondents := loadgen.Config{URL: f.Public, Conns: 32, Duration: d,
		Clients: loadgen.LoopbackClients(base, 32, 1), Interval: 200 * time.Millisecond, HonorRetryAfter: true,
		Body: loadgen.Body(notice)}
	// Warm up (TLS handshakes), then the baseline: the respondents alone.
	warm := respondents
	warm.Duration = time.Second
	loadgen.Run(context.Background(), warm)
	alone := loadgen.Run(context.Background(), respondents)
	var flood, good loadgen.Result
	var wg sync.WaitGroup
	wg.Go(func() {
		flood = loadgen.Run(context.Background(), loadgen.Config{URL: f.Public, Conns: conns, Duration: d,
			Client: &http.Client{Transport: loadgen.Transport(base, conns), Timeout: 30 * time.Second}, Body: loadgen.BareBody(notice)})
	})
	wg.Go(func() { good = loadgen.Run(context.Background(), respondents) })
	wg.Wait()
	b.Logf("respondents alone (baseline): %s", alone)
	b.Logf("flood (one client, 64 connections): %s", flood)
	b.Logf("respondents (32 clients, 5 requests/s each): %s", good)
	allowed := float64(lim.Burst) + float64(lim.RequestsPerSecond)*flood.Elapsed.Seconds()
	sent := flood.Requests + flood.Limited
	b.ReportMetric(float64(sent)/flood.Elapsed.Seconds(), "flood-requests/s")
	b.ReportMetric(float64(flood.Requests), "flood-accepted")
	b.ReportMetric(allowed, "flood-allowed")
	b.ReportMetric(good.PerSecond, "respondent-responses/s")
	b.ReportMetric(float64(good.P99)/1e6, "respondent-p99-ms")
	b.ReportMetric(float64(alone.P99)/1e6, "baseline-p99-ms")
	if alone.P99 > 0 {
		b.ReportMetric(float64(good.P99)/float64(alone.P99), "p99-ratio-to-baseline")
	}
	if float64(flood.Requests) > allowed+1 {
		b.Errorf("the flood got %d responses stored; its rate allows %.0f", flood.Requests, allowed)
	}
	if good.Errors > 0 || good.Limited > 0 || good.Requests == 0 {
		b.Errorf("well-behaved respondents were refused: %s", good)
	}
	if good.P99 > 50*time.Millisecond {
		b.Errorf("respondents' p99 %.1f ms during the flood is over the 50 ms target", float64(good.P99)/1e6)
	}
}
