// Package manifests tests the install manifests — the kustomize overlay in
// config/default and the Helm chart in charts/surveyguard — with the real
// kubectl and helm against a real API server.
package manifests

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/surveyguard/surveyguard/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	// No CRDs up front: installing them is part of what is tested.
	testenv.Main(m, func(e *testenv.Env) error { env = e; return nil })
}

var chart = filepath.Join(testenv.RepoRoot(), "charts", "surveyguard")

func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(filepath.Join(env.AssetsDir, "helm"), append(args, "--kubeconfig", env.Kubeconfig)...)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestKustomizeOverlayApplies renders config/default with kubectl's kustomize
// and applies it: CRDs, RBAC, namespace and Deployment must all be accepted.
func TestKustomizeOverlayApplies(t *testing.T) {
	rendered, err := env.Kubectl("kustomize", filepath.Join(testenv.RepoRoot(), "config", "default"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"kind: CustomResourceDefinition", "kind: ClusterRole", "kind: Deployment",
		"namespace: surveyguard-system", "readOnlyRootFilesystem: true", "runAsNonRoot: true",
	} {
		if !strings.Contains(rendered, want) {
			t.Errorf("config/default renders no %q", want)
		}
	}
	file := filepath.Join(t.TempDir(), "install.yaml")
	if err := os.WriteFile(file, []byte(rendered), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := env.Kubectl("apply", "--server-side", "-f", file); err != nil {
		t.Fatalf("applying config/default: %v\n%s", err, out)
	}
	out, err := env.Kubectl("get", "deployment", "-n", "surveyguard-system", "surveyguard-manager", "-o", "name")
	if err != nil || !strings.Contains(out, "surveyguard-manager") {
		t.Fatalf("the manager Deployment is not in surveyguard-system: %v\n%s", err, out)
	}
}

// TestHelmChartInstalls lints the chart, installs it for real, and checks that
// its manager ClusterRole has exactly the rules generated from the code.
func TestHelmChartInstalls(t *testing.T) {
	if out, err := helm(t, "lint", "--strict", chart); err != nil {
		t.Fatalf("helm lint: %v\n%s", err, out)
	}
	// The API server outlives a go test -count run: the namespace may be
	// there already, and the release is uninstalled when the test ends.
	if out, err := env.Kubectl("create", "namespace", "sg-helm"); err != nil && !strings.Contains(out, "AlreadyExists") {
		t.Fatal(out)
	}
	if out, err := helm(t, "install", "sg", chart, "-n", "sg-helm", "--wait=false"); err != nil {
		t.Fatalf("helm install: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := helm(t, "uninstall", "sg", "-n", "sg-helm", "--wait=false"); err != nil {
			t.Errorf("helm uninstall: %v\n%s", err, out)
		}
	})
	out, err := env.Kubectl("get", "clusterrole", "sg-surveyguard-manager", "-o", "yaml")
	if err != nil {
		t.Fatal(err)
	}
	installed := &rbacv1.ClusterRole{}
	if err := yaml.Unmarshal([]byte(out), installed); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	generated := &rbacv1.ClusterRole{}
	if err := yaml.Unmarshal(data, generated); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(installed.Rules, generated.Rules) {
		t.Errorf("the chart's manager ClusterRole differs from config/rbac/role.yaml (run make manifests):\nchart:     %v\ngenerated: %v",
			installed.Rules, generated.Rules)
	}
	for _, r := range installed.Rules {
		for _, field := range [][]string{r.Verbs, r.Resources, r.APIGroups} {
			for _, v := range field {
				if v == "*" {
					t.Errorf("the manager ClusterRole has a wildcard rule: %+v", r)
				}
			}
		}
	}
	if out, err := env.Kubectl("get", "crd", "surveycampaigns.privacy.surveyguard.io"); err != nil {
		t.Fatalf("helm install did not install the CRDs: %s", out)
	}
}

// TestHelmHolidayCalendar: the value reaches the manager as its flag, and
// without it the flag is not passed.
func TestHelmHolidayCalendar(t *testing.T) {
	out, err := helm(t, "template", "sg", chart, "--set", "holidayCalendar=compliance/holidays")
	if err != nil || !strings.Contains(out, "- --holiday-calendar=compliance/holidays\n") {
		t.Fatalf("helm template with holidayCalendar (%v):\n%s", err, out)
	}
	out, err = helm(t, "template", "sg", chart)
	if err != nil || strings.Contains(out, "--holiday-calendar") {
		t.Fatalf("helm template without holidayCalendar (%v):\n%s", err, out)
	}
}

// TestHelmRefusesBadValues checks that values.schema.json and the chart's own
// checks refuse bad values with a message that names the value.
func TestHelmRefusesBadValues(t *testing.T) {
	cases := []struct {
		name string
		set  []string
		want string
	}{
		{"unknown value", []string{"--set", "replica=2"}, "replica"},
		{"replicas not a number", []string{"--set-string", "replicas=two"}, "replicas"},
		{"replicas zero", []string{"--set", "replicas=0"}, "replicas"},
		{"bad pull policy", []string{"--set", "image.pullPolicy=Sometimes"}, "pullPolicy"},
		{"bad log level", []string{"--set", "logLevel=verbose"}, "logLevel"},
		{"holiday calendar not a ConfigMap name", []string{"--set", "holidayCalendar=Holidays_2026"}, "holidayCalendar"},
		{"several managers without leader election", []string{"--set", "replicas=2", "--set", "leaderElection.enabled=false"}, "leaderElection.enabled"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := helm(t, append([]string{"template", "sg", chart}, tc.set...)...)
			if err == nil {
				t.Fatalf("helm template accepted bad values %v", tc.set)
			}
			if !strings.Contains(out, tc.want) {
				t.Fatalf("helm's refusal does not name %q:\n%s", tc.want, out)
			}
		})
	}
}
