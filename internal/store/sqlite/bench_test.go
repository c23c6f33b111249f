package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/surveyguard/surveyguard/internal/store"
	"github.com/surveyguard/surveyguard/internal/store/sqlite"
	"github.com/surveyguard/surveyguard/internal/store/sqlstore"
)

// BenchmarkInsert measures durable inserts (fsync'd commits) from 64
// concurrent writers, with group commit (batch 512) against the baseline of
// one insert per commit (batch 1). Reported as inserts/s.
func BenchmarkInsert(b *testing.B) {
	for _, batch := range []int{1, 512} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), sqlstore.Options{MaxBatch: batch})
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = s.Close() }()
			var n atomic.Int64
			b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					r := &store.Record{
						ID: store.NewID(time.Now()), ReceivedAt: time.Now(), Score: int(i % 11),
						KeyID: "k1", CustomerID: make([]byte, 48), Comment: make([]byte, 120),
						SubjectCustomerID: fmt.Sprintf("%064d", i%5000),
						Segments:          map[string]string{"plan": "pro"},
					}
					if _, err := s.Insert(context.Background(), r); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "inserts/s")
		})
	}
}
