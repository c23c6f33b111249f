package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Promtool returns the promtool to test the alerting rules with: $PROMTOOL
// when set (make test sets it), else the one `make promtool` builds for the
// pinned version beside the control plane, else one on $PATH. The error
// says how to get it.
func Promtool() (string, error) {
	if p := os.Getenv("PROMTOOL"); p != "" {
		if _, err := os.Stat(p); err != nil { //nolint:gosec // G703: a test helper checking the developer's own PROMTOOL
			return "", fmt.Errorf("PROMTOOL=%s: %w; run 'make promtool' to build it", p, err)
		}
		return p, nil
	}
	version, err := pinnedVersion("PROMTOOL_VERSION")
	if err != nil {
		return "", err
	}
	data, err := dataHome()
	if err != nil {
		return "", err
	}
	pinned := filepath.Join(data, "kubebuilder-envtest", "tools", "promtool-v"+version)
	if _, err := os.Stat(pinned); err == nil {
		return pinned, nil
	}
	if p, err := exec.LookPath("promtool"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("promtool not found (not at %s, not on PATH): run 'make promtool' (make test does) to build it from the module proxy", pinned)
}
