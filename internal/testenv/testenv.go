// Package testenv starts a real kube-apiserver and etcd (envtest) for tests,
// from the binaries hack/build-control-plane.sh builds.
package testenv

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// RepoRoot returns the repository's top directory (the one holding go.mod).
func RepoRoot() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		panic("testenv: cannot locate the source file")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// AssetsDir returns the directory with kube-apiserver, etcd and kubectl:
// $KUBEBUILDER_ASSETS when set, else the setup-envtest store directory for
// the pinned Kubernetes version.
func AssetsDir() (string, error) {
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		version, err := pinnedVersion("K8S_VERSION")
		if err != nil {
			return "", err
		}
		data, err := dataHome()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(data, "kubebuilder-envtest", "k8s",
			fmt.Sprintf("%s-%s-%s", version, runtime.GOOS, runtime.GOARCH))
	}
	for _, bin := range []string{"kube-apiserver", "etcd", "kubectl"} {
		if _, err := os.Stat(filepath.Join(dir, bin)); err != nil { //nolint:gosec // G703: a test helper checking the developer's own KUBEBUILDER_ASSETS
			return "", fmt.Errorf("%s not found in %s: run 'make control-plane' (or 'make test') to build the test control plane", bin, dir)
		}
	}
	return dir, nil
}

// pinnedVersion reads one KEY=value line of hack/versions.env.
func pinnedVersion(key string) (string, error) {
	f, err := os.Open(filepath.Join(RepoRoot(), "hack", "versions.env"))
	if err != nil {
		return "", err
	}
	defer func() { _ = f.Close() }()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if k, v, ok := strings.Cut(strings.TrimSpace(s.Text()), "="); ok && k == key {
			return v, nil
		}
	}
	if err := s.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("%s is not set in hack/versions.env", key)
}

// Env is a running API server with the surveyguard CRDs installed.
type Env struct {
	*envtest.Environment
	Config     *rest.Config
	Kubeconfig string // path to an admin kubeconfig for kubectl and helm
	AssetsDir  string
}

// CRDDir is where the generated CRDs are.
func CRDDir() string { return filepath.Join(RepoRoot(), "config", "crd", "bases") }

// Start starts kube-apiserver and etcd and installs the CRDs found in
// crdDirs (usually CRDDir()); with none, no CRD is installed.
func Start(crdDirs ...string) (*Env, error) {
	assets, err := AssetsDir()
	if err != nil {
		return nil, err
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     crdDirs,
		ErrorIfCRDPathMissing: true,
	}
	// envtest's default Service range is a /24: 254 Services, fewer than a
	// thousand campaigns need. kubeadm's default instead.
	env.ControlPlane.GetAPIServer().Configure().Set("service-cluster-ip-range", "10.96.0.0/12")
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting the test API server: %w", err)
	}
	e := &Env{Environment: env, Config: cfg, AssetsDir: assets}
	if err := e.writeKubeconfig(); err != nil {
		return nil, errors.Join(err, env.Stop())
	}
	return e, nil
}

func (e *Env) writeKubeconfig() error {
	user, err := e.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("adding an admin user: %w", err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "surveyguard-kubeconfig-")
	if err != nil {
		return err
	}
	e.Kubeconfig = filepath.Join(dir, "kubeconfig")
	return os.WriteFile(e.Kubeconfig, kc, 0o600)
}

// Kubectl runs the built kubectl against the environment and returns its
// combined output.
func (e *Env) Kubectl(args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(e.AssetsDir, "kubectl"), append([]string{"--kubeconfig", e.Kubeconfig}, args...)...) //nolint:gosec // test helper running the built kubectl
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// Stop stops the API server and etcd and removes the kubeconfig.
func (e *Env) Stop() error {
	if e.Kubeconfig != "" {
		_ = os.RemoveAll(filepath.Dir(e.Kubeconfig))
	}
	return e.Environment.Stop()
}

// Main is a package's TestMain: it starts an API server with the CRDs in
// crdDirs, hands it to ready (to keep it and build clients), runs the
// tests, stops the server and exits with the tests' status.
func Main(m *testing.M, ready func(*Env) error, crdDirs ...string) {
	env, err := Start(crdDirs...)
	if err == nil {
		err = ready(env)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		if env != nil {
			_ = env.Stop()
		}
		os.Exit(1)
	}
	code := m.Run()
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping the test API server:", err)
	}
	os.Exit(code)
}

// MustFreeAddr is FreeAddr for tests: it fails t instead of returning an error.
func MustFreeAddr(t testing.TB) string {
	t.Helper()
	addr, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// Eventually retries cond every 100 ms until it returns nil, and fails t with
// its last error after limit.
func Eventually(t testing.TB, limit time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// dataHome is $XDG_DATA_HOME, or ~/.local/share: where the setup-envtest
// store (the control plane, promtool) lives.
func dataHome() (string, error) {
	if data := os.Getenv("XDG_DATA_HOME"); data != "" {
		return data, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".local", "share"), nil
}
