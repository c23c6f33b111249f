package bench

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// BenchmarkFsync: the machine's rate of durable writes, the bound of any
// store that fsyncs each commit. It writes what a group commit writes to
// SQLite's WAL (16 KiB, at the next offset of a 4 MiB file that wraps
// around, as the WAL is reused after a checkpoint) and fdatasyncs it, one
// at a time, for BENCH_FSYNC_DURATION (default 3s), in the directory the
// other benchmarks use. Compare commits/s of BenchmarkIngest with it.
func BenchmarkFsync(b *testing.B) {
	d := envDuration("BENCH_FSYNC_DURATION", 3*time.Second)
	f, err := os.OpenFile(filepath.Join(b.TempDir(), "fsync"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	const size, block = 4 << 20, 16 << 10
	buf := make([]byte, block)
	// The file exists at its full size first, as a reused WAL does.
	for off := int64(0); off < size; off += block {
		if _, err := f.WriteAt(buf, off); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	n := 0
	start := time.Now()
	for time.Since(start) < d {
		buf[0] = byte(n)
		if _, err := f.WriteAt(buf, int64(n*block)%size); err != nil {
			b.Fatal(err)
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			b.Fatal(err)
		}
		n++
	}
	elapsed := time.Since(start)
	b.ReportMetric(float64(n)/elapsed.Seconds(), "fsyncs/s")
	b.ReportMetric(float64(elapsed.Microseconds())/float64(n), "us/fsync")
}
