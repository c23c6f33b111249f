package testenv

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// BuildSurveyguard builds the surveyguard binary into dir the way the
// Dockerfile does (static, trimmed paths, stripped) and returns its path.
func BuildSurveyguard(dir string) (string, error) {
	bin := filepath.Join(dir, "surveyguard")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, ".")
	cmd.Dir = RepoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building surveyguard: %w\n%s", err, out)
	}
	return bin, nil
}

// StartManager runs `bin manager` against the cluster of kubeconfig with the
// extra flags, waits until it reports ready and returns a stop that kills it
// (as a crash or an eviction would; the test's end does too) and its PID. On
// failure the test log gets the end of the manager's log.
func StartManager(t testing.TB, bin, kubeconfig string, flags ...string) (stop func(), pid int) {
	t.Helper()
	probe := MustFreeAddr(t)
	logPath := filepath.Join(t.TempDir(), "manager.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	args := append([]string{"manager", "--kubeconfig", kubeconfig, "--metrics-bind-address=0",
		"--health-probe-bind-address=" + probe, "--operator-namespace=surveyguard-system"}, flags...)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			_ = cmd.Wait()
		})
	}
	t.Cleanup(func() {
		stop()
		_ = logFile.Close()
		if t.Failed() {
			data, _ := os.ReadFile(logPath)
			lines := strings.Split(strings.TrimSpace(string(data)), "\n")
			t.Logf("manager log (last 40 lines):\n%s", strings.Join(lines[max(0, len(lines)-40):], "\n"))
		}
	})
	Eventually(t, 30*time.Second, "manager ready", func() error {
		resp, err := http.Get("http://" + probe + "/readyz") //nolint:noctx // a probe in a test
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz %d", resp.StatusCode)
		}
		return nil
	})
	return stop, cmd.Process.Pid
}
