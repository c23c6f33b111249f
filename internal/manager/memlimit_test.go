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
	var mib128 int64 = 128 << 20
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "memory.max"), []byte("134217728"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOMEMLIMIT", "")
	limit, source, err := setMemoryLimit(root)
	if err != nil || limit != int64(float64(mib128)*memoryLimitShare) || source == "" || debug.SetMemoryLimit(-1) != limit {
		t.Errorf("limit %d from %q (%v); runtime %d", limit, source, err, debug.SetMemoryLimit(-1))
	}
	t.Setenv("GOMEMLIMIT", "50MiB")
	if _, source, _ := setMemoryLimit(root); source != "GOMEMLIMIT" {
		t.Errorf("GOMEMLIMIT set, source %q", source)
	}
}
