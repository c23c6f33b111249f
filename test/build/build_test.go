// Package build keeps the Dockerfile honest without a container runtime: it
// runs the Dockerfile's own `go build` line and checks the binary it makes.
package build

import (
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/surveyguard/surveyguard/internal/testenv"
)

var root = testenv.RepoRoot()

// dockerBuildFlags returns the flags between "go build" and "-o" on the
// Dockerfile's RUN line, as written (shell quoting included).
func dockerBuildFlags(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^RUN CGO_ENABLED=0 .*go build (.*) -o /out/surveyguard \.$`).FindSubmatch(data)
	if m == nil {
		t.Fatal("the Dockerfile has no `RUN CGO_ENABLED=0 ... go build <flags> -o /out/surveyguard .` line")
	}
	return string(m[1])
}

func TestDockerfileAndMakefileBuildAlike(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^BUILD_FLAGS := (.*)$`).FindSubmatch(data)
	if m == nil {
		t.Fatal("the Makefile has no BUILD_FLAGS line")
	}
	make, docker := string(m[1]), dockerBuildFlags(t)
	if make != docker {
		t.Fatalf("make build and the Dockerfile build differently:\nMakefile:   %v\nDockerfile: %v", make, docker)
	}
}

// TestDockerfileCopiesEveryPackage checks that each directory holding a
// package the binary is built from is COPY'd into the build stage.
func TestDockerfileCopiesEveryPackage(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", root).Output()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	const module = "github.com/surveyguard/surveyguard"
	for _, pkg := range strings.Fields(string(out)) {
		rel, ok := strings.CutPrefix(pkg, module+"/")
		if !ok {
			continue
		}
		top := strings.SplitN(rel, "/", 2)[0]
		if !strings.Contains(string(data), "COPY "+top+"/ "+top+"/") {
			t.Errorf("the binary imports %s but the Dockerfile does not COPY %s/", pkg, top)
		}
	}
}

// TestTheOperatorLinksNoStore: the reconcilers reach the collector through
// its contract (internal/collectorapi) and admin client only, so neither a
// SQL driver nor the collector's server and store are linked into them.
func TestTheOperatorLinksNoStore(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "./controllers/")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	const module = "github.com/surveyguard/surveyguard/"
	for _, pkg := range strings.Fields(string(out)) {
		for _, banned := range []string{"modernc.org/sqlite", "github.com/jackc/pgx", "github.com/lib/pq",
			module + "internal/store", module + "internal/collector"} {
			if pkg == banned || strings.HasPrefix(pkg, banned+"/") {
				t.Errorf("controllers/ depends on %s", pkg)
			}
		}
	}
}

func TestBinaryBuiltLikeTheImage(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "surveyguard")
	// The Dockerfile's RUN line, through a shell as docker runs it.
	line := "CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build " + dockerBuildFlags(t) + ` -o "$OUT" .`
	cmd := exec.Command("sh", "-c", line)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "OUT="+bin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", line, err, out)
	}

	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary is dynamically linked; the distroless static image needs a static binary")
		}
	}

	run := func(args ...string) (string, int) {
		out, err := exec.Command(bin, args...).CombinedOutput()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return string(out), exit.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}

	out, code := run("--help")
	if code != 0 {
		t.Fatalf("surveyguard --help exited %d:\n%s", code, out)
	}
	for _, sub := range []string{"manager", "collector", "purge"} {
		if !regexp.MustCompile(`(?m)^\s+` + sub + `\s`).MatchString(out) {
			t.Errorf("surveyguard --help does not list %q:\n%s", sub, out)
		}
	}
	for _, sub := range []string{"manager", "collector", "purge"} {
		if out, code := run(sub, "--help"); code != 0 || !strings.Contains(out, "Usage: surveyguard "+sub) {
			t.Errorf("surveyguard %s --help exited %d without its usage:\n%s", sub, code, out)
		}
	}
	if out, code := run("frobnicate"); code != 2 || !strings.Contains(out, `unknown command "frobnicate"`) {
		t.Errorf("an unknown command must exit 2 and name it; got %d:\n%s", code, out)
	}
	if out, code := run("manager", "--no-such-flag"); code != 2 || !strings.Contains(out, "no-such-flag") {
		t.Errorf("an unknown manager flag must exit 2 and name it; got %d:\n%s", code, out)
	}
}
