package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/surveyguard/surveyguard/internal/collector/collectortest"
	"github.com/surveyguard/surveyguard/internal/loadgen"
)

// The soak's bounds: what "flat" and "bounded" mean between its start
// window (the first one in steady state) and its end window (the last).
// docs/benchmarks.md says why these and not tighter.
const (
	// soakP99Factor and soakP99Slack: the end window's p99 may be at most
	// soakP99Factor times the start window's plus soakP99Slack.
	soakP99Factor = 1.5
	soakP99Slack  = 5 * time.Millisecond
	// soakRSSFactor and soakRSSSlack bound the end window's largest RSS
	// against the start window's.
	soakRSSFactor = 1.2
	soakRSSSlack  = 32 << 20
	// soakWALFactor and soakWALSlack bound the end window's largest -wal
	// file against the start window's.
	soakWALFactor = 2
	soakWALSlack  = 8 << 20
	// soakKeepUp is the share of the target rate each steady window must
	// reach: a collector at half its capacity keeps up.
	soakKeepUp = 0.9
)

// soakWindow is what one window of the soak measured.
type soakWindow struct {
	from, to     time.Duration // since the soak's start
	load         loadgen.Result
	maxRSS       int64 // bytes, of this process (collector and load generator)
	maxWAL       int64 // bytes of the -wal file; 0 for PostgreSQL
	dbSize       int64 // bytes of the database file at the window's end; 0 for PostgreSQL
	purges       int
	purged       int64
	longestPurge time.Duration
	purgeErrors  int
}

// BenchmarkSoak: the collector at half its measured capacity for
// SOAK_DURATION (default 10m), with a purge every SOAK_PURGE_EVERY
// (default 30s: a compressed hour) of everything received more than
// SOAK_RETENTION (default 60s) before. Capacity is measured first, on the
// same collector, by a SOAK_CAPACITY run (default 10s) of `full` responses
// at 64 connections. Each SOAK_WINDOW (default 1m) reports responses/s,
// p50/p99, the largest RSS of the process, the largest -wal file, the
// database's size and the purges; the soak fails when the end window
// strays from the start window beyond the bounds above. It runs only with
// SOAK=1 (make soak); SOAK_BACKENDS=sqlite,postgres adds PostgreSQL.
func BenchmarkSoak(b *testing.B) {
	if os.Getenv("SOAK") == "" {
		b.Skip("the soak runs with SOAK=1 (make soak)")
	}
	backends := strings.Split(os.Getenv("SOAK_BACKENDS"), ",")
	if os.Getenv("SOAK_BACKENDS") == "" {
		backends = []string{"sqlite"}
	}
	for _, be := range backends {
		b.Run(be, func(b *testing.B) { soak(b, be) })
	}
}

func soak(b *testing.B, be string) {
	total := envDuration("SOAK_DURATION", 10*time.Minute)
	window := envDuration("SOAK_WINDOW", time.Minute)
	purgeEvery := envDuration("SOAK_PURGE_EVERY", 30*time.Second)
	retention := envDuration("SOAK_RETENTION", time.Minute)

	edit, _, _ := backend(b, be)
	f := collectortest.Start(b, edit)
	walPath, dbPath := "", ""
	if be == "sqlite" {
		dbPath = filepath.Join(f.DBDir, "responses.db")
		walPath = dbPath + "-wal"
	}

	capRun := loadgen.Run(context.Background(), loadgen.Config{URL: f.Public, Conns: conns,
		Duration: envDuration("SOAK_CAPACITY", 10*time.Second), Dial: dial(b, f), Body: loadgen.Body(notice)})
	if capRun.Errors > 0 || capRun.Requests == 0 {
		b.Fatalf("capacity run: %s", capRun)
	}
	rate := capRun.PerSecond / 2
	b.Logf("capacity: %s; the soak sends %.0f/s for %s, purging every %s what is older than %s", capRun, rate, total, purgeEvery, retention)

	var mu sync.Mutex
	cur := &soakWindow{}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	// Sample the process's RSS and the files' sizes every second.
	wg.Go(func() {
		every(ctx, time.Second, func() {
			rss, wal, db := residentBytes(), fileSize(walPath), fileSize(dbPath)
			mu.Lock()
			cur.maxRSS, cur.maxWAL, cur.dbSize = max(cur.maxRSS, rss), max(cur.maxWAL, wal), db
			mu.Unlock()
		})
	})
	// The compressed hourly purge.
	wg.Go(func() {
		every(ctx, purgeEvery, func() {
			start := time.Now()
			rows, err := purge(f, start.Add(-retention))
			took := time.Since(start)
			mu.Lock()
			cur.purges++
			cur.purged += rows
			cur.longestPurge = max(cur.longestPurge, took)
			if err != nil {
				cur.purgeErrors++
			}
			mu.Unlock()
			if err != nil {
				b.Logf("purge: %v", err)
			}
		})
	})

	begin := time.Now()
	var windows []soakWindow
	for time.Since(begin) < total {
		from := time.Since(begin)
		r := loadgen.Run(context.Background(), loadgen.Config{URL: f.Public, Conns: conns, Rate: rate,
			Duration: min(window, total-from), Dial: dial(b, f), Body: loadgen.Body(notice)})
		mu.Lock()
		w := *cur
		cur = &soakWindow{maxRSS: residentBytes(), maxWAL: fileSize(walPath), dbSize: fileSize(dbPath)}
		mu.Unlock()
		w.from, w.to, w.load = from, time.Since(begin), r
		windows = append(windows, w)
		// Printed as it comes: the testing package keeps only the first
		// lines of a benchmark's log.
		fmt.Printf("soak %s %s\n", be, w)
	}
	stop()
	wg.Wait()

	// Steady state: the database has reached the size the retention keeps
	// and purges delete rows.
	first := min(int(math.Ceil(float64(retention+purgeEvery)/float64(window))), len(windows)-1)
	start, end := windows[first], windows[len(windows)-1]
	b.Logf("start %s", start)
	b.Logf("end   %s", end)
	fmt.Printf("soak %s start %s\nsoak %s end   %s\n", be, start, be, end)
	var purged int64
	for _, w := range windows {
		purged += w.purged
		if w.load.Errors > 0 || w.purgeErrors > 0 {
			b.Errorf("window %s: %d request errors, %d purge errors", w.from, w.load.Errors, w.purgeErrors)
		}
	}
	for _, w := range windows[first:] {
		if w.load.PerSecond < soakKeepUp*rate {
			b.Errorf("window %s: %.0f responses/s, below %.0f%% of the target %.0f/s", w.from, w.load.PerSecond, 100*soakKeepUp, rate)
		}
	}
	if limit := time.Duration(soakP99Factor*float64(start.load.P99)) + soakP99Slack; end.load.P99 > limit {
		b.Errorf("p99 rose: %s at the end, %s at the start (bound %s)", end.load.P99, start.load.P99, limit)
	}
	if limit := int64(soakRSSFactor*float64(start.maxRSS)) + soakRSSSlack; end.maxRSS > limit {
		b.Errorf("RSS grew: %d MiB at the end, %d MiB at the start (bound %d MiB)", end.maxRSS>>20, start.maxRSS>>20, limit>>20)
	}
	if limit := int64(soakWALFactor*float64(start.maxWAL)) + soakWALSlack; walPath != "" && end.maxWAL > limit {
		b.Errorf("WAL grew: %d MiB at the end, %d MiB at the start (bound %d MiB)", end.maxWAL>>20, start.maxWAL>>20, limit>>20)
	}
	if purged == 0 {
		b.Errorf("no purge deleted anything: SOAK_DURATION %s is too short for SOAK_RETENTION %s", total, retention)
	}
	b.ReportMetric(capRun.PerSecond, "capacity-responses/s")
	b.ReportMetric(rate, "target-responses/s")
	b.ReportMetric(start.load.PerSecond, "start-responses/s")
	b.ReportMetric(end.load.PerSecond, "end-responses/s")
	b.ReportMetric(float64(start.load.P99)/1e6, "start-p99-ms")
	b.ReportMetric(float64(end.load.P99)/1e6, "end-p99-ms")
	b.ReportMetric(float64(start.maxRSS)/(1<<20), "start-rss-MiB")
	b.ReportMetric(float64(end.maxRSS)/(1<<20), "end-rss-MiB")
	if walPath != "" {
		b.ReportMetric(float64(start.maxWAL)/(1<<20), "start-wal-MiB")
		b.ReportMetric(float64(end.maxWAL)/(1<<20), "end-wal-MiB")
	}
	b.ReportMetric(float64(purged), "purged-rows")
}

func (w soakWindow) String() string {
	s := fmt.Sprintf("%5s–%5s: %s; RSS ≤ %d MiB", w.from.Round(time.Second), w.to.Round(time.Second), w.load, w.maxRSS>>20)
	if w.dbSize > 0 {
		s += fmt.Sprintf(", WAL ≤ %.1f MiB, database %d MiB", float64(w.maxWAL)/(1<<20), w.dbSize>>20)
	}
	return s + fmt.Sprintf("; %d purges, %d rows, longest %s", w.purges, w.purged, w.longestPurge.Round(time.Millisecond))
}

// purge asks the collector to delete what was received before cutoff and
// returns how many rows it deleted.
func purge(f *collectortest.Fixture, cutoff time.Time) (int64, error) {
	body := fmt.Sprintf(`{"cutoff":%q,"action":"Delete"}`, cutoff.UTC().Format(time.RFC3339))
	req, err := http.NewRequest(http.MethodPost, f.Admin+"/admin/v1/purge", strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+collectortest.Token)
	req.Header.Set("Content-Type", "application/json")
	client := &http.Client{Transport: f.Client.Transport, Timeout: 10 * time.Minute}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	var receipt struct {
		Purged int64 `json:"purged"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&receipt); err != nil || resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("purge: %d %v", resp.StatusCode, err)
	}
	return receipt.Purged, nil
}

// residentBytes is this process's resident set (VmRSS), or 0.
func residentBytes() int64 {
	_, rss, _ := statusMemory("self")
	return rss
}

// fileSize is the size of the file at path, or 0 when path is empty or
// the file is absent.
func fileSize(path string) int64 {
	if path == "" {
		return 0
	}
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// every runs fn every d until ctx ends.
func every(ctx context.Context, d time.Duration, fn func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}
