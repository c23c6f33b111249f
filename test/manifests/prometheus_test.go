package manifests

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/surveyguard/surveyguard/internal/testenv"
)

// prometheusOperatorCRDs are the CRDs of the kinds the chart makes.
var prometheusOperatorCRDs = []string{"servicemonitors", "prometheusrules"}

// installPrometheusOperatorCRDs installs the Prometheus Operator's
// ServiceMonitor and PrometheusRule CRDs on e, taken from its Go module at
// PROMETHEUS_OPERATOR_VERSION (hack/versions.env), which the module proxy
// serves like any Go module (example/prometheus-operator-crd holds the CRDs).
func installPrometheusOperatorCRDs(t *testing.T, e *testenv.Env) {
	t.Helper()
	version := pinned(t, "PROMETHEUS_OPERATOR_VERSION")
	cmd := exec.Command("go", "mod", "download", "-json", "github.com/prometheus-operator/prometheus-operator@v"+version)
	cmd.Dir = t.TempDir() // outside this module: go.mod is not touched
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GO111MODULE=on")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("downloading the Prometheus Operator module: %v\n%s", err, out)
	}
	var mod struct{ Dir, Error string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		t.Fatalf("go mod download: %v %s\n%s", err, mod.Error, out)
	}
	for _, name := range prometheusOperatorCRDs {
		file := filepath.Join(mod.Dir, "example", "prometheus-operator-crd", "monitoring.coreos.com_"+name+".yaml")
		if out, err := e.Kubectl("apply", "--server-side", "--force-conflicts", "-f", file); err != nil {
			t.Fatalf("installing %s: %v\n%s", file, err, out)
		}
		if out, err := e.Kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd/"+name+".monitoring.coreos.com"); err != nil {
			t.Fatalf("CRD %s not established: %v\n%s", name, err, out)
		}
	}
}

// pinned reads one KEY=value of hack/versions.env.
func pinned(t *testing.T, key string) string {
	t.Helper()
	f, err := os.Open(filepath.Join(testenv.RepoRoot(), "hack", "versions.env"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if k, v, ok := strings.Cut(strings.TrimSpace(s.Text()), "="); ok && k == key {
			return v
		}
	}
	t.Fatalf("%s is not set in hack/versions.env", key)
	return ""
}
