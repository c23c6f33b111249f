package manager

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
	limit, source, err := setMemoryLimit(root)
	if err != nil || limit != 80<<20 || source == "" || debug.SetMemoryLimit(-1) != limit {
		t.Errorf("limit %d from %q (%v); runtime %d", limit, source, err, debug.SetMemoryLimit(-1))
	}
	t.Setenv("GOMEMLIMIT", "50MiB")
	if _, source, _ := setMemoryLimit(root); source != "GOMEMLIMIT" {
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
		if got := heapLimit(tc.limit); got != tc.want {
			t.Errorf("heapLimit(%d MiB) = %d MiB, want %d MiB", tc.limit>>20, got>>20, tc.want>>20)
		}
	}
}
