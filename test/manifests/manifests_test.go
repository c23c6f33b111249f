// Package manifests tests the install manifests — the kustomize overlay in
// config/default and the Helm chart in charts/surveyguard — with the real
// kubectl and helm against a real API server.
package manifests

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/surveyguard/surveyguard/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	// Tests that install CRDs start an API server of their own
	// (ownServer); on a loaded machine one can take longer than envtest's
	// default 20 s to start.
	if os.Getenv("KUBEBUILDER_CONTROLPLANE_START_TIMEOUT") == "" {
		_ = os.Setenv("KUBEBUILDER_CONTROLPLANE_START_TIMEOUT", "90s")
	}
	// No CRDs up front: installing them is part of what is tested.
	testenv.Main(m, func(e *testenv.Env) error { env = e; return nil })
}

var chart = filepath.Join(testenv.RepoRoot(), "charts", "surveyguard")

// helm runs helm against the package's API server.
func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return helmOn(t, env, args...)
}

// TestKustomizeOverlayApplies renders config/default with kubectl's kustomize
// and applies it as docs/getting-started.md installs it (client-side): CRDs,
// RBAC, namespace, Deployment and metrics Service must all be accepted; then
// as docs/operations.md upgrades it (server-side), which must find nothing
// of its own in conflict with the first apply.
func TestKustomizeOverlayApplies(t *testing.T) {
	e := ownServer(t)
	rendered, err := e.Kubectl("kustomize", filepath.Join(testenv.RepoRoot(), "config", "default"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"kind: CustomResourceDefinition", "kind: ClusterRole", "kind: Deployment", "kind: Service",
		"namespace: surveyguard-system", "readOnlyRootFilesystem: true", "runAsNonRoot: true",
	} {
		if !strings.Contains(rendered, want) {
			t.Errorf("config/default renders no %q", want)
		}
	}
	file := writeTemp(t, "install.yaml", rendered)
	if out, err := e.Kubectl("apply", "-f", file); err != nil {
		t.Fatalf("applying config/default: %v\n%s", err, out)
	}
	if out, err := e.Kubectl("apply", "--server-side", "-f", file); err != nil {
		t.Fatalf("applying config/default server-side over the first apply (the documented upgrade): %v\n%s", err, out)
	}
	out, err := e.Kubectl("get", "deployment,service", "-n", "surveyguard-system", "-o", "name")
	if err != nil || !strings.Contains(out, "deployment.apps/surveyguard-manager") || !strings.Contains(out, "service/surveyguard-manager-metrics") {
		t.Fatalf("the manager Deployment or metrics Service is not in surveyguard-system: %v\n%s", err, out)
	}
}

// TestHelmChartInstalls lints the chart, installs it for real, and checks
// that its manager ClusterRole has exactly the rules generated from the code,
// that it installed the CRDs, and that SurveyCampaigns answer to their short
// name, which no other resource on the server has.
func TestHelmChartInstalls(t *testing.T) {
	e := ownServer(t)
	if out, err := helmOn(t, e, "lint", "--strict", chart); err != nil {
		t.Fatalf("helm lint: %v\n%s", err, out)
	}
	if out, err := helmOn(t, e, "install", "sg", chart, "-n", "sg-helm", "--create-namespace", "--wait=hookOnly"); err != nil {
		t.Fatalf("helm install: %v\n%s", err, out)
	}
	out, err := e.Kubectl("get", "clusterrole", "sg-surveyguard-manager", "-o", "yaml")
	if err != nil {
		t.Fatal(err)
	}
	installed := &rbacv1.ClusterRole{}
	if err := yaml.Unmarshal([]byte(out), installed); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(installed.Rules, generatedRules(t)) {
		t.Errorf("the chart's manager ClusterRole differs from config/rbac/role.yaml (run make manifests):\nchart:     %v\ngenerated: %v",
			installed.Rules, generatedRules(t))
	}
	for _, r := range installed.Rules {
		for _, field := range [][]string{r.Verbs, r.Resources, r.APIGroups} {
			if slices.Contains(field, "*") {
				t.Errorf("the manager ClusterRole has a wildcard rule: %+v", r)
			}
		}
	}
	// Cluster-wide, the manager can read every Secret: what the
	// namespace-scoped mode takes away (TestHelmNamespaceScoped).
	if out, err := e.Kubectl("auth", "can-i", "list", "secrets", "--all-namespaces", "--as=system:serviceaccount:sg-helm:sg-surveyguard"); err != nil || strings.TrimSpace(out) != "yes" {
		t.Errorf("cluster-wide, can the manager list Secrets everywhere? %q (%v); want yes", out, err)
	}
	for _, name := range crdNames {
		if out, err := e.Kubectl("get", "crd", name); err != nil {
			t.Fatalf("helm install did not install CRD %s: %s", name, out)
		}
	}

	createNamespace(t, e, "shortname")
	sample := filepath.Join(testenv.RepoRoot(), "config", "samples", "privacy_v1alpha1_surveycampaign.yaml")
	if out, err := e.Kubectl("apply", "-n", "shortname", "-f", sample); err != nil {
		t.Fatalf("applying the sample campaign: %v\n%s", err, out)
	}
	out, err = e.Kubectl("get", shortName, "-n", "shortname", "-o", "name")
	if err != nil || strings.TrimSpace(out) != "surveycampaign.privacy.surveyguard.io/checkout-nps" {
		t.Errorf("kubectl get %s lists %q (%v), want the campaign", shortName, out, err)
	}
	out, err = e.Kubectl("api-resources", "--no-headers")
	if err != nil {
		t.Fatal(err)
	}
	// Every short name of the four kinds belongs to one resource only.
	owners := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 5 { // NAME SHORTNAMES APIVERSION NAMESPACED KIND
			for _, short := range strings.Split(f[1], ",") {
				owners[short] = append(owners[short], f[0]+"."+f[2])
			}
		}
	}
	for _, short := range []string{shortName, "rp", "br", "er"} {
		if len(owners[short]) != 1 {
			t.Errorf("short name %s belongs to %v; want one surveyguard kind", short, owners[short])
		}
	}
}

// shortName is SurveyCampaign's short name (sc is StorageClass's).
const shortName = "sgc"

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
		{"misspelt toggle", []string{"--set", "crds.enable=false"}, "enable"},
		{"misspelt nested toggle", []string{"--set", "metrics.serviceMonitor.enbled=true"}, "enbled"},
		{"toggle not a boolean", []string{"--set-string", "prometheusRule.enabled=yes"}, "prometheusRule"},
		{"namespace not a name", []string{"--set", "watchNamespaces={Team_A}"}, "watchNamespaces"},
		{"same namespace twice", []string{"--set", "watchNamespaces={team-a,team-a}"}, "watchNamespaces"},
		{"misspelt security setting", []string{"--set", "containerSecurityContext.runAsNonroot=true"}, "runAsNonroot"},
		{"misspelt resource", []string{"--set", "resources.limits.memroy=1Gi"}, "memroy"},
		{"bad quantity", []string{"--set", "resources.limits.memory=lots"}, "memory"},
		{"misspelt network policy rule", []string{"--set", "networkPolicy.ingress[0].form[0].podSelector.matchLabels.a=b"}, "form"},
		{"both disruption budgets", []string{"--set", "podDisruptionBudget.enabled=true", "--set", "podDisruptionBudget.minAvailable=1"}, "minAvailable"},
		{"bad scrape interval", []string{"--set", "metrics.serviceMonitor.interval=often"}, "interval"},
		{"metrics certificate Secret not a name", []string{"--set", "metrics.certSecret=Metrics_TLS"}, "certSecret"},
		{"ServiceMonitor without metrics", []string{"--set", "metrics.enabled=false", "--set", "metrics.serviceMonitor.enabled=true"}, "metrics.enabled"},
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
