// Package bench holds the collector's load benchmarks. Run them with
//
//	make bench        (go test -run '^$' -bench . -benchtime 1x ./test/bench/)
//
// Each benchmark is one timed load run (BENCH_DURATION, default 10s) against
// a collector it starts on loopback, over TLS, at 64 connections; figures
// are reported as metrics and compared with baselines taken in the same run.
// docs/benchmarks.md records them.
package bench

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/surveyguard/surveyguard/internal/collector/collectortest"
	"github.com/surveyguard/surveyguard/internal/crypto"
	"github.com/surveyguard/surveyguard/internal/loadgen"
	"github.com/surveyguard/surveyguard/internal/redact"
	"github.com/surveyguard/surveyguard/internal/store"
	"github.com/surveyguard/surveyguard/internal/store/postgres"
	"github.com/surveyguard/surveyguard/internal/store/sqlite"
	"github.com/surveyguard/surveyguard/internal/store/sqlstore"
	"github.com/surveyguard/surveyguard/internal/testenv"
)

const (
	conns  = 64
	notice = "2026-01"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if pg != nil {
		_ = pg.Stop()
	}
	os.Exit(code)
}

func duration() time.Duration { return envDuration("BENCH_DURATION", 10*time.Second) }

// envDuration is the positive duration in the environment variable name, or def.
func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil && d > 0 {
		return d
	}
	return def
}

var (
	pgOnce sync.Once
	pg     *testenv.Postgres
	pgErr  error
	pgDBs  atomic.Int64
)

// backend returns a config edit that points a collector at a fresh database
// of the backend, an opener for direct access to the same store, and an
// opener of the same database with database/sql alone (the baselines' plain
// SQL).
func backend(b *testing.B, name string) (edit func(string) string, open func(dir string) (store.Store, error), raw func(dir string) (*sql.DB, error)) {
	b.Helper()
	switch name {
	case "sqlite":
		return unlimited, func(dir string) (store.Store, error) {
				return sqlite.Open(context.Background(), filepath.Join(dir, "data", "responses.db"), sqlstore.Options{MaxBatch: 10000})
			}, func(dir string) (*sql.DB, error) {
				return sql.Open("sqlite", "file:"+filepath.Join(dir, "data", "responses.db")+"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)")
			}
	default:
		pgOnce.Do(func() { pg, pgErr = testenv.StartPostgres() })
		if pgErr != nil {
			b.Fatal(pgErr)
		}
		dsn, err := pg.CreateDatabase(fmt.Sprintf("bench_%d", pgDBs.Add(1)))
		if err != nil {
			b.Fatal(err)
		}
		dsnFile := filepath.Join(b.TempDir(), "dsn")
		collectortest.WriteFile(b, dsnFile, []byte(dsn))
		return func(cfg string) string {
				return unlimited(replaceStore(cfg, fmt.Sprintf("store: {driver: postgres, dsnFile: %s}", dsnFile)))
			}, func(string) (store.Store, error) {
				return postgres.Open(context.Background(), dsn, sqlstore.Options{MaxBatch: 10000})
			}, func(string) (*sql.DB, error) {
				return sql.Open("pgx", dsn)
			}
	}
}

// unlimited lifts the per-client limits: every benchmark connection comes
// from 127.0.0.1, one client as far as the collector can tell.
func unlimited(cfg string) string {
	return cfg + "\nlimits: {requestsPerSecond: 1000000, burst: 1000000, maxConnectionsPerClient: 100000}\n"
}

func replaceStore(cfg, line string) string {
	lines := strings.Split(cfg, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "store:") {
			lines[i] = line
		}
	}
	return strings.Join(lines, "\n")
}

func client(f *collectortest.Fixture) *http.Client {
	return &http.Client{Transport: loadgen.Transport(f.Client.Transport.(*http.Transport), conns), Timeout: 30 * time.Second}
}

// dial is the load generator's connection to f's public listener: TLS,
// HTTP/1.1 spoken by loadgen itself (loadgen.Config.Dial), the cheapest
// client for the cores it shares with the collector. BenchmarkIngest's
// full and bare runs and the soak are measured with it; BenchmarkPurge's
// load still goes through net/http's client (client).
func dial(b *testing.B, f *collectortest.Fixture) func(context.Context) (net.Conn, error) {
	b.Helper()
	d, err := loadgen.TLSDial(f.Client.Transport.(*http.Transport), f.Public)
	if err != nil {
		b.Fatal(err)
	}
	return d
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func report(b *testing.B, r loadgen.Result) {
	b.Logf("%s", r)
	if r.Errors > 0 || r.Requests == 0 {
		b.Errorf("%d errors, %d responses", r.Errors, r.Requests)
	}
	b.ReportMetric(r.PerSecond, "responses/s")
	b.ReportMetric(float64(r.P50)/1e6, "p50-ms")
	b.ReportMetric(float64(r.P99)/1e6, "p99-ms")
}

// reportCommits reports, from the collector's own metrics, the mean group
// commit size and how much of the run the single writer spent committing:
// near 100% means the store, not HTTP, limits the rate.
func reportCommits(b *testing.B, f *collectortest.Fixture, elapsed time.Duration) {
	a := f.AdminDo(b, http.MethodGet, "/metrics", "")
	sum := func(name string) float64 {
		for _, line := range strings.Split(a.Raw, "\n") {
			if strings.HasPrefix(line, name+"{") || strings.HasPrefix(line, name+" ") {
				fields := strings.Fields(line)
				v, _ := strconv.ParseFloat(fields[len(fields)-1], 64)
				return v
			}
		}
		return 0
	}
	commits := sum("surveyguard_collector_batch_size_count")
	if commits == 0 {
		return
	}
	b.ReportMetric(sum("surveyguard_collector_batch_size_sum")/commits, "responses/commit")
	b.ReportMetric(commits/elapsed.Seconds(), "commits/s")
	b.ReportMetric(100*sum("surveyguard_collector_commit_seconds_sum")/elapsed.Seconds(), "writer-busy-%")
	// The tail of the commits' durations: on SQLite a commit that runs a
	// WAL checkpoint also writes pages into the database and fsyncs it.
	var tail []string
	for _, line := range strings.Split(a.Raw, "\n") {
		if strings.HasPrefix(line, "surveyguard_collector_commit_seconds_bucket{") {
			tail = append(tail, strings.TrimPrefix(line[strings.Index(line, "le="):], "le="))
		}
	}
	b.Logf("commits by duration (cumulative, of %.0f): %s", commits, strings.Join(tail, " "))
}

// BenchmarkIngest: durable responses/s and latency at 64 connections, with
// realistic personal fields (redacted, encrypted, pseudonymized) and, as the
// baseline, the same requests without any personal field.
func BenchmarkIngest(b *testing.B) {
	for _, be := range []string{"sqlite", "postgres"} {
		for _, kind := range []string{"full", "bare"} {
			b.Run(be+"/"+kind, func(b *testing.B) {
				edit, _, _ := backend(b, be)
				f := collectortest.Start(b, edit)
				body := loadgen.Body(notice)
				if kind == "bare" {
					body = loadgen.BareBody(notice)
				}
				cpu0 := cpuTime()
				r := loadgen.Run(context.Background(), loadgen.Config{URL: f.Public, Conns: conns, Duration: duration(), Dial: dial(b, f), Body: body})
				cpu := cpuTime() - cpu0
				report(b, r)
				reportCommits(b, f, r.Elapsed)
				if fi, err := os.Stat(filepath.Join(f.Dir, "data", "responses.db-wal")); err == nil {
					b.Logf("SQLite WAL at the end: %d MiB", fi.Size()>>20)
				}
				if r.Requests > 0 {
					// Client and server share this process: an upper bound on the server's CPU per response.
					b.ReportMetric(float64(cpu.Microseconds())/float64(r.Requests), "cpu-us/response")
				}
			})
		}
	}
}

// BenchmarkGroupCommitCeiling: the same store, no HTTP, no crypto: 64
// goroutines inserting pre-sealed records. The ceiling for ingest.
func BenchmarkGroupCommitCeiling(b *testing.B) {
	for _, be := range []string{"sqlite", "postgres"} {
		b.Run(be, func(b *testing.B) {
			_, open, _ := backend(b, be)
			s, err := open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = s.Close() }()
			var n atomic.Int64
			ctx, cancel := context.WithTimeout(context.Background(), duration())
			defer cancel()
			var wg sync.WaitGroup
			start := time.Now()
			for range conns {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for ctx.Err() == nil {
						i := n.Add(1)
						if _, err := s.Insert(context.Background(), record(i, time.Now())); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(n.Load())/time.Since(start).Seconds(), "inserts/s")
		})
	}
}

func record(i int64, at time.Time) *store.Record {
	ct := make([]byte, 64)
	return &store.Record{
		ID: fmt.Sprintf("%s%08d", store.NewID(at), i), ReceivedAt: at, Score: int(i % 11),
		Segments: map[string]string{"plan": "pro"}, KeyID: "k1",
		Email: ct, CustomerID: ct[:40], Comment: append(ct, ct...),
		SubjectCustomerID: fmt.Sprintf("%022d", i%5000), SubjectEmail: fmt.Sprintf("e%021d", i%5000),
	}
}

// seed writes n responses received a year ago straight into the store.
func seed(b *testing.B, s store.Store, n int64) {
	b.Helper()
	old := time.Now().Add(-365 * 24 * time.Hour)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > n {
					return
				}
				if _, err := s.Insert(context.Background(), record(i, old.Add(time.Duration(i)*time.Millisecond))); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func seedRows() int64 {
	if os.Getenv("BENCH_PURGE_ROWS") != "" {
		var n int64
		_, _ = fmt.Sscan(os.Getenv("BENCH_PURGE_ROWS"), &n)
		return n
	}
	return 100000
}

// BenchmarkPurge: rows/s of a purge through the admin API, and the ingest
// p99 while it runs, against the baseline in the same run: one plain DELETE
// of the same BENCH_PURGE_ROWS old rows (seeded the same way into another
// database) in one transaction, with no ingest, no counters, no receipt and
// no batches: what the database itself does with those rows.
//
// The 64 connections are opened and warmed up first (a second of load,
// not measured), then a second of load without a purge gives the
// reference p99, and then the measured load runs from just before the
// purge until it ends: a purge of well under a second would otherwise
// share its window with the connections' TLS handshakes.
func BenchmarkPurge(b *testing.B) {
	for _, be := range []string{"sqlite", "postgres"} {
		b.Run(be, func(b *testing.B) {
			plain := plainDelete(b, be)
			edit, open, _ := backend(b, be)
			// Seed first, so the collector is the only writer once it runs.
			dir := b.TempDir()
			seedDir(b, open, dir)
			f := collectortest.StartIn(b, dir, edit)

			type purgeResult struct {
				rows    float64
				elapsed time.Duration
				err     error
			}
			cl := client(f)
			load := func(ctx context.Context, d time.Duration) loadgen.Result {
				return loadgen.Run(ctx, loadgen.Config{URL: f.Public, Conns: conns, Duration: d, Client: cl, Body: loadgen.Body(notice)})
			}
			load(context.Background(), time.Second)
			before := load(context.Background(), time.Second)
			ctx, stopLoad := context.WithCancel(context.Background())
			done := make(chan purgeResult, 1)
			go func() {
				time.Sleep(100 * time.Millisecond) // every connection is sending
				cutoff := time.Now().Add(-30 * 24 * time.Hour).UTC().Format(time.RFC3339)
				// The call is timed on this process's monotonic clock: the
				// receipt's startedAt and finishedAt are wall-clock times,
				// which this machine's clock has been seen to step by 30 s
				// within a run.
				start := time.Now()
				a := f.AdminDo(b, http.MethodPost, "/admin/v1/purge", `{"cutoff":"`+cutoff+`","action":"Delete"}`)
				elapsed := time.Since(start)
				defer stopLoad()
				if a.Status != http.StatusOK {
					done <- purgeResult{err: fmt.Errorf("purge: %d %s", a.Status, a.Raw)}
					return
				}
				done <- purgeResult{rows: a.Body["purged"].(float64), elapsed: elapsed}
			}()
			r := load(ctx, 10*time.Minute)
			p := <-done
			if p.err != nil {
				b.Fatal(p.err)
			}
			if int64(p.rows) != seedRows() {
				b.Errorf("purged %v rows, seeded %d", p.rows, seedRows())
			}
			b.Logf("purged %.0f rows in %s while ingesting: %s; before the purge: %s", p.rows, p.elapsed, r, before)
			if fi, err := os.Stat(filepath.Join(f.Dir, "data", "responses.db-wal")); err == nil {
				b.Logf("SQLite WAL after the purge: %d MiB", fi.Size()>>20)
			}
			rate := p.rows / p.elapsed.Seconds()
			b.ReportMetric(rate, "purge-rows/s")
			b.ReportMetric(float64(r.P99)/1e6, "ingest-p99-during-purge-ms")
			b.ReportMetric(r.PerSecond, "ingest-responses/s-during-purge")
			b.ReportMetric(float64(before.P99)/1e6, "ingest-p99-before-purge-ms")
			b.ReportMetric(plain, "plain-delete-rows/s")
			b.ReportMetric(rate/plain, "purge/plain-delete")
		})
	}
}

// seedDir writes BENCH_PURGE_ROWS old responses into the store in dir,
// through the same store code, and closes it.
func seedDir(b *testing.B, open func(dir string) (store.Store, error), dir string) {
	b.Helper()
	s, err := open(dir)
	if err != nil {
		b.Fatal(err)
	}
	seed(b, s, seedRows())
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
}

// plainDelete is the purge's baseline: it seeds BENCH_PURGE_ROWS old
// responses into a fresh database of the backend, deletes them with one
// plain DELETE in one transaction and returns the rows per second.
func plainDelete(b *testing.B, be string) float64 {
	b.Helper()
	_, open, raw := backend(b, be)
	dir := b.TempDir()
	seedDir(b, open, dir)
	db, err := raw(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	cutoff := time.Now().Add(-30 * 24 * time.Hour).UnixMilli()
	q := `DELETE FROM responses WHERE anonymized = 0 AND received_at < ?`
	if be == "postgres" {
		q = strings.ReplaceAll(q, "?", "$1")
	}
	start := time.Now()
	res, err := db.ExecContext(context.Background(), q, cutoff)
	if err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	n, _ := res.RowsAffected()
	if n != seedRows() {
		b.Errorf("deleted %d rows, seeded %d", n, seedRows())
	}
	return float64(n) / elapsed.Seconds()
}

// BenchmarkSealCost: the CPU of what the collector does to a response's
// personal fields — redact the comment, encrypt three fields, two HMAC
// pseudonyms — per response. Compare with cpu-us/response of BenchmarkIngest.
func BenchmarkSealCost(b *testing.B) {
	k, _ := crypto.NewKey()
	h, _ := crypto.NewKey()
	kr, err := crypto.New("k1", map[string][]byte{"k1": k}, h)
	if err != nil {
		b.Fatal(err)
	}
	comment := "Checkout was quick but the coupon box confused me, call me on +91 98765 43210"
	// One timed loop of a second, whatever -benchtime says (make bench runs 1x).
	var n int
	start := time.Now()
	for time.Since(start) < time.Second {
		id := store.NewID(time.Now())
		red := redact.Comment(comment)
		_, _ = kr.Encrypt("comment", id, []byte(red.Text))
		_, _ = kr.Encrypt("email", id, []byte("user42@example.com"))
		_, _ = kr.Encrypt("customerID", id, []byte("C-42"))
		_ = kr.Pseudonym(crypto.KindEmail, "user42@example.com")
		_ = kr.Pseudonym(crypto.KindCustomerID, "C-42")
		n++
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/float64(n), "seal-us/response")
}
