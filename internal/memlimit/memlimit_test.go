package memlimit

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
)

func TestContainerMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  int64
		ok    bool
	}{
		{"cgroup v2 limit", map[string]string{"memory.max": "134217728\n"}, 128 << 20, true},
		{"cgroup v2 unlimited", map[string]string{"memory.max": "max\n"}, 0, false},
		{"cgroup v1 limit", map[string]string{"memory/memory.limit_in_bytes": "268435456\n"}, 256 << 20, true},
		{"cgroup v1 unlimited", map[string]string{"memory/memory.limit_in_bytes": "9223372036854771712\n"}, 0, false},
		{"no cgroup", nil, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for name, data := range tc.files {
				p := filepath.Join(root, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got, ok, err := containerMemoryLimit(root)
			if err != nil || ok != tc.ok || got != tc.want {
				t.Errorf("limit %d ok %v err %v, want %d %v", got, ok, err, tc.want, tc.ok)
			}
		})
	}
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "memory.max"), []byte("lots"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := containerMemoryLimit(root); err == nil {
		t.Error("a memory.max that is not a number was accepted")
	}
}

func TestSetMemoryLimit(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "memory.max"), []byte("134217728"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOMEMLIMIT", "")
	limit, source, err := Set(root, 0)
	if err != nil || limit != 80<<20 || source == "" || debug.SetMemoryLimit(-1) != limit {
		t.Errorf("limit %d from %q (%v); runtime %d", limit, source, err, debug.SetMemoryLimit(-1))
	}
	t.Setenv("GOMEMLIMIT", "50MiB")
	if _, source, _ := Set(root, 0); source != "GOMEMLIMIT" {
		t.Errorf("GOMEMLIMIT set, source %q", source)
	}
}

func TestHeapLimitLeavesRoomForTheBinary(t *testing.T) {
	for _, tc := range []struct{ limit, want int64 }{
		{64 << 20, 32 << 20},   // half: the reserve would leave too little
		{128 << 20, 80 << 20},  // the limit less the binary's ~48 MiB
		{256 << 20, 208 << 20}, // the chart's default
		{1 << 30, 966367641},   // 90% (of 1 GiB) once the reserve is the smaller part
	} {
		if got := HeapLimit(tc.limit, 0); got != tc.want {
			t.Errorf("HeapLimit(%d MiB, 0) = %d MiB, want %d MiB", tc.limit>>20, got>>20, tc.want>>20)
		}
	}
}

// TestHeapLimitLeavesRoomOutsideTheHeap: memory held outside the Go heap
// (a SQLite store's 96 MiB of page caches) comes off the heap's share.
func TestHeapLimitLeavesRoomOutsideTheHeap(t *testing.T) {
	for _, tc := range []struct{ limit, want int64 }{
		{256 << 20, 128 << 20}, // 256 - 48 - 96 = 112: never under half
		{512 << 20, 368 << 20}, // 512 - 48 - 96
		{4 << 30, 3865470566},  // 90%
	} {
		if got := HeapLimit(tc.limit, 96<<20); got != tc.want {
			t.Errorf("HeapLimit(%d MiB, 96 MiB) = %d MiB, want %d MiB", tc.limit>>20, got>>20, tc.want>>20)
		}
	}
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "memory.max"), []byte("536870912"), 0o600); err != nil {
		t.Fatal(err)
	}
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	t.Setenv("GOMEMLIMIT", "")
	if limit, _, err := Set(root, 96<<20); err != nil || limit != 368<<20 || debug.SetMemoryLimit(-1) != limit {
		t.Errorf("Set(512 MiB, 96 MiB outside) = %d (%v), runtime %d; want 368 MiB", limit, err, debug.SetMemoryLimit(-1))
	}
}
