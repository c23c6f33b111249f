// Package memlimit keeps a process's Go heap under its container's memory
// limit (GOMEMLIMIT derived from the cgroup), so that the garbage collector
// works harder before the kernel kills the process, instead of letting the
// garbage of a burst grow to twice the live heap.
package memlimit

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
)

// What the Go heap is kept under, from the container's memory limit: the
// limit less binaryReserve, the binary's code and tables (about 50 MiB
// resident, file pages the kernel counts against the container), and less
// what the process holds outside the Go heap (a SQLite page cache), but
// never more than memoryLimitShare of the limit (the runtime's own memory
// and stacks) nor less than half of it.
const (
	binaryReserve    = 48 << 20
	memoryLimitShare = 0.9
)

// HeapLimit is the Go heap limit for a container memory limit of n bytes,
// of which outside bytes are held outside the Go heap.
func HeapLimit(n, outside int64) int64 {
	return min(int64(float64(n)*memoryLimitShare), max(n/2, n-binaryReserve-outside))
}

// CgroupRoot is where the container's cgroup is mounted.
const CgroupRoot = "/sys/fs/cgroup"

// containerMemoryLimit reads the memory limit of the cgroup the process runs
// in: cgroup v2's memory.max, else v1's memory.limit_in_bytes. ok is false
// when there is none (no container, "max", or v1's "unlimited" value).
func containerMemoryLimit(root string) (limit int64, ok bool, err error) {
	for _, name := range []string{"memory.max", filepath.Join("memory", "memory.limit_in_bytes")} {
		data, err := os.ReadFile(filepath.Join(root, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, false, err
		}
		s := strings.TrimSpace(string(data))
		if s == "max" {
			return 0, false, nil
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, false, fmt.Errorf("%s: %q is not a number of bytes", name, s)
		}
		// cgroup v1 writes a page-rounded maximum int64 when there is no limit.
		if n <= 0 || n >= 1<<62 {
			return 0, false, nil
		}
		return n, true, nil
	}
	return 0, false, nil
}

// Set keeps the Go heap under HeapLimit of the memory limit of the cgroup
// mounted at root (80 MiB of 128 MiB, 208 MiB of 256 MiB when outside is
// 0). GOMEMLIMIT, when set, wins. It returns the limit set (0: none) and
// where it came from, for the log.
func Set(root string, outside int64) (limit int64, source string, err error) {
	if v := os.Getenv("GOMEMLIMIT"); v != "" {
		return debug.SetMemoryLimit(-1), "GOMEMLIMIT", nil
	}
	n, ok, err := containerMemoryLimit(root)
	if err != nil || !ok {
		return 0, "", err
	}
	limit = HeapLimit(n, outside)
	debug.SetMemoryLimit(limit)
	return limit, "the container's memory limit", nil
}
