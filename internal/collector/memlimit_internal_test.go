package collector

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/go-logr/logr/funcr"

	"github.com/surveyguard/surveyguard/internal/collectorapi"
	"github.com/surveyguard/surveyguard/internal/store/sqlite"
)

// TestHeapCapLeavesSQLiteItsPageCaches: in a container limited to 512 MiB,
// a SQLite collector's Go heap is capped under the limit less the binary
// and the page caches, which live outside the heap; a PostgreSQL one's at
// 90% of the limit; the log says so.
func TestHeapCapLeavesSQLiteItsPageCaches(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	t.Setenv("GOMEMLIMIT", "")
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "memory.max"), []byte("536870912\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if sqlite.PageCacheBytes != 96<<20 {
		t.Fatalf("SQLite's page caches are %d MiB; this test assumes 96", sqlite.PageCacheBytes>>20)
	}
	for _, tc := range []struct {
		driver string
		want   int64
	}{{"sqlite", 368 << 20}, {"postgres", 483183820}} { // 512 - 48 - 96 MiB; 90% of 512 MiB
		var logged strings.Builder
		log := funcr.NewJSON(func(obj string) { logged.WriteString(obj + "\n") }, funcr.Options{})
		cfg := &collectorapi.Config{}
		cfg.Store.Driver = tc.driver
		capHeap(log, root, cfg)
		if got := debug.SetMemoryLimit(-1); got != tc.want {
			t.Errorf("%s: Go heap capped at %d MiB, want %d MiB", tc.driver, got>>20, tc.want>>20)
		}
		if !strings.Contains(logged.String(), `"msg":"Go heap capped"`) {
			t.Errorf("%s: no log line says the cap:\n%s", tc.driver, logged.String())
		}
	}
}
