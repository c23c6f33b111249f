package bench

import (
	"context"
	"testing"
	"time"

	"github.com/surveyguard/surveyguard/internal/store"
)

// BenchmarkPurgeStore: the store's purge alone, no HTTP and no ingest, of
// BENCH_PURGE_ROWS seeded rows: what the purge costs itself.
func BenchmarkPurgeStore(b *testing.B) {
	for _, be := range []string{"sqlite", "postgres"} {
		b.Run(be, func(b *testing.B) {
			_, open, _ := backend(b, be)
			dir := b.TempDir()
			seedDir(b, open, dir)
			s, err := open(dir)
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = s.Close() }()
			start, cpu0 := time.Now(), cpuTime()
			rc, err := s.Purge(context.Background(), store.PurgeRequest{Cutoff: time.Now().Add(-30 * 24 * time.Hour), Action: store.ActionDelete})
			if err != nil {
				b.Fatal(err)
			}
			if rc.Purged != seedRows() {
				b.Errorf("purged %d, seeded %d", rc.Purged, seedRows())
			}
			b.ReportMetric(float64(rc.Purged)/time.Since(start).Seconds(), "purge-rows/s")
			// The test process's CPU: for SQLite the whole purge, for
			// PostgreSQL the client's share only.
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/1e3/float64(rc.Purged), "cpu-us/row")
		})
	}
}
