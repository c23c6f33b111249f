package collector

import (
	"github.com/surveyguard/surveyguard/internal/collectorapi"

	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
)

// The storage budget keeps one client, or all of them, from filling the
// disk: past limits.maxStoreSize, or below limits.minFreeDisk of free space
// on the SQLite volume, ingest answers 503 with Retry-After while the admin
// API keeps working. Purge and erasure must work even on a volume that is
// full to the last byte (another process filled it, or the volume was
// shrunk): the collector keeps a reserve file of reserveBytes on the SQLite
// volume and deletes it before a purge or an erasure when space is short,
// so SQLite has room for the WAL pages a delete writes. The reserve is laid
// down again once there is room.

// reserveBytes is the size of the reserve file: room for several purge
// transactions' WAL pages.
const reserveBytes = 8 << 20

// reserveName is the reserve file, beside the database.
const reserveName = ".surveyguard-reserve"

// budget tracks the store's size and the volume's free space.
type budget struct {
	maxBytes, minFree int64
	// dir is the SQLite data directory; empty for PostgreSQL.
	dir  string
	size func(ctx context.Context) (int64, error)
	// freeDisk returns the bytes available to the collector on dir's volume.
	freeDisk func(dir string) (int64, error)

	full  atomic.Bool
	mu    sync.Mutex
	state collectorapi.StorageStats
}

func newBudget(l collectorapi.LimitsConfig, dir string, size func(context.Context) (int64, error)) *budget {
	b := &budget{dir: dir, size: size, freeDisk: freeDisk}
	if l.MaxStoreSize != nil {
		b.maxBytes = l.MaxStoreSize.Value()
	}
	if l.MinFreeDisk != nil {
		b.minFree = l.MinFreeDisk.Value()
	}
	return b
}

// freeDisk is statfs's space available to an unprivileged user.
func freeDisk(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * st.Bsize, nil //nolint:gosec // G115: a volume's free bytes fit an int64
}

// check measures the store and the volume, decides whether ingest stops,
// and lays down the reserve file when it is missing and there is room.
func (b *budget) check(ctx context.Context) (collectorapi.StorageStats, error) {
	used, err := b.size(ctx)
	if err != nil {
		return b.snapshot(), fmt.Errorf("measuring the store: %w", err)
	}
	st := collectorapi.StorageStats{UsedBytes: used, MaxBytes: b.maxBytes, MinFreeBytes: b.minFree}
	if b.dir != "" {
		free, err := b.freeDisk(b.dir)
		if err != nil {
			return b.snapshot(), fmt.Errorf("measuring the volume: %w", err)
		}
		if free >= b.minFree+reserveBytes && !b.hasReserve() {
			if err := b.layReserve(); err == nil {
				free -= reserveBytes
			}
		}
		st.FreeBytes = &free
		if free < b.minFree {
			st.Full, st.Reason = true, fmt.Sprintf("the volume has %s free; ingest stops below %s (limits.minFreeDisk)", collectorapi.HumanBytes(free), collectorapi.HumanBytes(b.minFree))
		}
	}
	if b.maxBytes > 0 && used >= b.maxBytes {
		st.Full, st.Reason = true, fmt.Sprintf("the store holds %s of its %s budget (limits.maxStoreSize)", collectorapi.HumanBytes(used), collectorapi.HumanBytes(b.maxBytes))
	}
	b.set(st)
	return st, nil
}

func (b *budget) set(st collectorapi.StorageStats) {
	b.mu.Lock()
	b.state = st
	b.mu.Unlock()
	b.full.Store(st.Full)
}

func (b *budget) snapshot() collectorapi.StorageStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state
}

// markFull stops ingest at once when the store reports the disk full,
// without waiting for the next check.
func (b *budget) markFull() {
	st := b.snapshot()
	st.Full, st.Reason = true, "the store reported its volume full"
	b.set(st)
}

// refusing reports whether ingest is stopped, and why.
func (b *budget) refusing() (bool, string) {
	if !b.full.Load() {
		return false, ""
	}
	return true, b.snapshot().Reason
}

func (b *budget) reservePath() string { return filepath.Join(b.dir, reserveName) }

func (b *budget) hasReserve() bool {
	fi, err := os.Stat(b.reservePath())
	return err == nil && fi.Size() == reserveBytes
}

// layReserve writes the reserve file with real blocks (a sparse file would
// reserve nothing) and syncs it.
func (b *budget) layReserve() error {
	f, err := os.OpenFile(b.reservePath(), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(make([]byte, reserveBytes))
	err = errors.Join(err, f.Sync(), f.Close())
	if err != nil {
		_ = os.Remove(b.reservePath())
	}
	return err
}

// release deletes the reserve file when the volume is short of space, so
// that a purge or an erasure can write. It reports whether it did.
func (b *budget) release() bool {
	if b.dir == "" {
		return false
	}
	free, err := b.freeDisk(b.dir)
	if err != nil || free >= b.minFree+reserveBytes {
		return false
	}
	return os.Remove(b.reservePath()) == nil
}
