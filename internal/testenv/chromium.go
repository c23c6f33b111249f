package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
)

// chromiumNames are the Debian packages, and their binaries, that can run
// the browser tests, the smallest first.
var chromiumNames = []string{"chromium-headless-shell", "chromium"}

// devanagariFont is the file of the smallest Debian font with Devanagari
// glyphs (fonts-lohit-deva): without one, the Hindi page's screenshots show
// boxes instead of letters.
const devanagariFont = "/usr/share/fonts/truetype/lohit-devanagari/Lohit-Devanagari.ttf"

// Chromium returns the path of a headless Chromium from Debian's packages,
// installing chromium-headless-shell (or, failing that, chromium) and a
// Devanagari font with apt-get when none is installed and we are root. The
// error says what to install when that is not possible.
func Chromium() (string, error) {
	find := func() string {
		for _, name := range chromiumNames {
			if p, err := exec.LookPath(name); err == nil {
				return p
			}
		}
		return ""
	}
	_, fontErr := os.Stat(devanagariFont)
	if p := find(); p != "" && fontErr == nil {
		return p, nil
	}
	if os.Geteuid() != 0 {
		if p := find(); p != "" {
			return p, nil // the screenshots of the Hindi page lack glyphs; the tests do not read them
		}
		return "", errors.New("headless Chromium is not installed: run 'sudo apt-get install -y chromium-headless-shell fonts-lohit-deva'")
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return "", errors.New("headless Chromium is not installed and there is no apt-get to install it: install chromium-headless-shell (Debian) and fonts-lohit-deva")
	}
	fmt.Fprintln(os.Stderr, "testenv: installing headless Chromium from Debian's packages")
	if err := aptGet("update"); err != nil {
		return "", err
	}
	var errs []error
	for _, name := range chromiumNames {
		err := aptGet("install", "-y", "--no-install-recommends", name, "fonts-lohit-deva")
		if err == nil {
			if p := find(); p != "" {
				return p, nil
			}
			err = fmt.Errorf("%s was installed but no %s binary is on the PATH", name, name)
		}
		errs = append(errs, err)
	}
	return "", fmt.Errorf("installing headless Chromium: %w", errors.Join(errs...))
}

// aptLock serializes the apt-get runs of the test binaries that go test
// runs side by side (PostgreSQL's and Chromium's installs on a fresh
// machine): a second apt-get would fail on dpkg's lock instead of waiting.
const aptLock = "/tmp/surveyguard-testenv-apt.lock"

// aptGet runs apt-get non-interactively, one run at a time across processes.
func aptGet(args ...string) error {
	lock, err := os.OpenFile(aptLock, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer func() { _ = lock.Close() }()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("locking %s: %w", aptLock, err)
	}
	cmd := exec.Command("apt-get", append([]string{"-o", "DPkg::Lock::Timeout=600"}, args...)...) //nolint:gosec // G204: apt-get with the harness's own package names
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("apt-get %v: %w\n%s", args, err, out)
	}
	return nil
}

// NPMModules makes sure dir/node_modules holds what dir/package-lock.json
// pins, running `npm ci` when node_modules is missing. Install scripts are
// not run, so no package can download anything beyond itself.
func NPMModules(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "node_modules")); err == nil {
		return nil
	}
	if _, err := exec.LookPath("npm"); err != nil {
		return errors.New("npm is not installed: run 'sudo apt-get install -y npm'")
	}
	fmt.Fprintln(os.Stderr, "testenv: npm ci in", dir)
	cmd := exec.Command("npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		_ = os.RemoveAll(filepath.Join(dir, "node_modules")) // a half install is not taken for a whole one next time
		return fmt.Errorf("npm ci in %s: %w\n%s", dir, err, out)
	}
	return nil
}
