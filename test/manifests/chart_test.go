package manifests

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/surveyguard/surveyguard/internal/testenv"
)

// The CRDs the chart renders, by name.
var crdNames = []string{
	"surveycampaigns.privacy.surveyguard.io", "retentionpolicies.privacy.surveyguard.io",
	"breachreports.privacy.surveyguard.io", "erasurerequests.privacy.surveyguard.io",
}

// generatedRules are the manager's rules generated from the RBAC markers.
func generatedRules(t *testing.T) []rbacv1.PolicyRule {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	role := &rbacv1.ClusterRole{}
	if err := yaml.Unmarshal(data, role); err != nil {
		t.Fatal(err)
	}
	return role.Rules
}

// rulesOf converts a rendered Role or ClusterRole's rules.
func rulesOf(t *testing.T, u *unstructured.Unstructured) []rbacv1.PolicyRule {
	t.Helper()
	role := &rbacv1.ClusterRole{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, role); err != nil {
		t.Fatal(err)
	}
	return role.Rules
}

// grantsSecrets says whether any rule reaches Secrets.
func grantsSecrets(rules []rbacv1.PolicyRule) bool {
	for _, r := range rules {
		if slices.Contains(r.APIGroups, "") && (slices.Contains(r.Resources, "secrets") || slices.Contains(r.Resources, "*")) {
			return true
		}
	}
	return false
}

// readYAML reads a file of the repository as YAML.
func readYAML(t *testing.T, rel ...string) any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(append([]string{testenv.RepoRoot()}, rel...)...))
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatalf("%s: %v", filepath.Join(rel...), err)
	}
	return v
}

const release, releaseNS = "sg", "sg-system"

// fullname is the chart's name for its objects with release "sg".
const fullname = "sg-surveyguard"

// admissionPolicies are the chart's ValidatingAdmissionPolicies (each with a
// binding of the same name), by the part of their name after the release's
// prefix.
var admissionPolicies = []string{"erasure-subject-secret", "database-secret"}

// TestHelmToggles lints the chart with --strict and renders it for each
// toggle, checking what each one adds, removes or changes.
func TestHelmToggles(t *testing.T) {
	cases := []struct {
		name  string
		set   []string
		check func(t *testing.T, objs objects)
	}{
		{"defaults", nil, func(t *testing.T, objs objects) {
			crds := objs.ofKind("CustomResourceDefinition")
			if len(crds) != len(crdNames) {
				t.Errorf("%d CRDs rendered, want %d: %v", len(crds), len(crdNames), crds.keys())
			}
			for _, name := range crdNames {
				crd := objs.get(t, "CustomResourceDefinition//"+name)
				if crd.GetAnnotations()["helm.sh/resource-policy"] != "keep" {
					t.Errorf("CRD %s lacks helm.sh/resource-policy: keep: %v", name, crd.GetAnnotations())
				}
				if crd.GetLabels()["app.kubernetes.io/managed-by"] != "Helm" {
					t.Errorf("CRD %s lacks the chart's labels: %v", name, crd.GetLabels())
				}
			}
			if !reflect.DeepEqual(rulesOf(t, objs.get(t, "ClusterRole//"+fullname+"-manager")), generatedRules(t)) {
				t.Error("the manager ClusterRole's rules are not config/rbac/role.yaml's")
			}
			objs.get(t, "Service/"+releaseNS+"/"+fullname+"-metrics")
			objs.get(t, "ClusterRole//"+fullname+"-metrics-reader")
			for _, kind := range []string{"ServiceMonitor", "PrometheusRule", "ConfigMap", "NetworkPolicy", "PodDisruptionBudget"} {
				if n := len(objs.ofKind(kind)); n != 0 {
					t.Errorf("%d %s rendered by default, want none", n, kind)
				}
			}
			args := managerArgs(t, objs.get(t, "Deployment/"+releaseNS+"/"+fullname))
			if slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--watch-namespaces") }) {
				t.Errorf("the manager gets --watch-namespaces by default: %v", args)
			}
			// The labels that may reach collectors' admin port are the
			// manager pods' own, its release's included.
			podLabels, _, _ := unstructured.NestedStringMap(objs.get(t, "Deployment/"+releaseNS+"/"+fullname).Object, "spec", "template", "metadata", "labels")
			i := slices.IndexFunc(args, func(a string) bool { return strings.HasPrefix(a, "--operator-pod-labels=") })
			if i < 0 {
				t.Fatalf("the manager gets no --operator-pod-labels: %v", args)
			}
			pairs := strings.Split(strings.TrimPrefix(args[i], "--operator-pod-labels="), ",")
			for _, pair := range pairs {
				k, v, _ := strings.Cut(pair, "=")
				if podLabels[k] != v {
					t.Errorf("--operator-pod-labels names %s=%s; the manager's pods have %v", k, v, podLabels)
				}
			}
			if !slices.Contains(pairs, "app.kubernetes.io/instance="+release) {
				t.Errorf("--operator-pod-labels %v does not name the release, so another release's pods would match", pairs)
			}
			if vols, found, _ := unstructured.NestedSlice(objs.get(t, "Deployment/"+releaseNS+"/"+fullname).Object, "spec", "template", "spec", "volumes"); found {
				t.Errorf("volumes %v by default, want none", vols)
			}
			for _, p := range admissionPolicies {
				binding := objs.get(t, "ValidatingAdmissionPolicyBinding//"+fullname+"-"+p)
				if got := nested(t, binding, "spec", "policyName"); got != fullname+"-"+p {
					t.Errorf("binding %s names policy %v", binding.GetName(), got)
				}
				if sel, found, _ := unstructured.NestedMap(binding.Object, "spec", "matchResources"); found {
					t.Errorf("binding %s matches %v by default, want every namespace", binding.GetName(), sel)
				}
				objs.get(t, "ValidatingAdmissionPolicy//"+fullname+"-"+p)
			}
		}},
		{"admissionPolicies.enabled=false", []string{"admissionPolicies.enabled=false"}, func(t *testing.T, objs objects) {
			for _, kind := range []string{"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"} {
				if n := len(objs.ofKind(kind)); n != 0 {
					t.Errorf("%d %s rendered with admissionPolicies.enabled=false", n, kind)
				}
			}
		}},
		{"crds.enabled=false", []string{"crds.enabled=false"}, func(t *testing.T, objs objects) {
			if crds := objs.ofKind("CustomResourceDefinition"); len(crds) != 0 {
				t.Errorf("CRDs rendered with crds.enabled=false: %v", crds.keys())
			}
		}},
		{"crds.keep=false", []string{"crds.keep=false"}, func(t *testing.T, objs objects) {
			for _, name := range crdNames {
				if a := objs.get(t, "CustomResourceDefinition//"+name).GetAnnotations(); a["helm.sh/resource-policy"] != "" {
					t.Errorf("CRD %s keeps the resource policy with crds.keep=false: %v", name, a)
				}
			}
		}},
		{"metrics.certSecret", []string{"metrics.certSecret=sg-metrics-tls"}, func(t *testing.T, objs objects) {
			d := objs.get(t, "Deployment/"+releaseNS+"/"+fullname)
			vols, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "volumes")
			containers, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
			var mounts []any
			if len(containers) == 1 {
				mounts, _, _ = unstructured.NestedSlice(containers[0].(map[string]any), "volumeMounts")
			}
			wantVol := []any{map[string]any{"name": "metrics-cert", "secret": map[string]any{"secretName": "sg-metrics-tls"}}} //nolint:gosec // a Secret's name, no credential
			wantMount := []any{map[string]any{"name": "metrics-cert", "mountPath": "/tmp/k8s-metrics-server/serving-certs", "readOnly": true}}
			if !reflect.DeepEqual(vols, wantVol) || !reflect.DeepEqual(mounts, wantMount) {
				t.Errorf("volumes %v, mounts %v; want the Secret mounted where the metrics server reads its certificate", vols, mounts)
			}
		}},
		{"metrics.enabled=false", []string{"metrics.enabled=false"}, func(t *testing.T, objs objects) {
			if n := len(objs.ofKind("Service")); n != 0 {
				t.Errorf("%d Services rendered with metrics off", n)
			}
			if _, ok := objs["ClusterRole//"+fullname+"-metrics-auth"]; ok {
				t.Error("the metrics-auth ClusterRole is rendered with metrics off")
			}
			args := managerArgs(t, objs.get(t, "Deployment/"+releaseNS+"/"+fullname))
			if !slices.Contains(args, "--metrics-bind-address=0") {
				t.Errorf("metrics off, but the manager's args are %v", args)
			}
		}},
		{"serviceMonitor", []string{"metrics.serviceMonitor.enabled=true", "metrics.serviceMonitor.labels.release=kube-prometheus-stack"}, func(t *testing.T, objs objects) {
			sm := objs.get(t, "ServiceMonitor/"+releaseNS+"/"+fullname)
			if sm.GetLabels()["release"] != "kube-prometheus-stack" {
				t.Errorf("the ServiceMonitor lacks the label its Prometheus selects: %v", sm.GetLabels())
			}
			svc := objs.get(t, "Service/"+releaseNS+"/"+fullname+"-metrics")
			for k, v := range nested(t, sm, "spec", "selector", "matchLabels").(map[string]any) {
				if svc.GetLabels()[k] != v {
					t.Errorf("the ServiceMonitor selects %s=%v; the metrics Service has %v", k, v, svc.GetLabels())
				}
			}
			endpoint := nested(t, sm, "spec", "endpoints").([]any)[0].(map[string]any)
			port := nested(t, svc, "spec", "ports").([]any)[0].(map[string]any)
			if endpoint["port"] != port["name"] || endpoint["scheme"] != "https" {
				t.Errorf("the ServiceMonitor scrapes %v over %v; the Service's port is %v (HTTPS)", endpoint["port"], endpoint["scheme"], port["name"])
			}
			// The series' own namespace label is what the alerts read
			// (docs/operations.md: scrape with honorLabels).
			if endpoint["honorLabels"] != true {
				t.Errorf("the ServiceMonitor's endpoint has honorLabels %v, want true", endpoint["honorLabels"])
			}
		}},
		// The manager's certificate is self-signed: by default the scrape
		// does not verify it; a tlsConfig given replaces that whole, so a
		// CA given is checked (docs/getting-started.md).
		{"serviceMonitor's default tlsConfig", []string{"metrics.serviceMonitor.enabled=true"}, func(t *testing.T, objs objects) {
			sm := objs.get(t, "ServiceMonitor/"+releaseNS+"/"+fullname)
			tls := nested(t, sm, "spec", "endpoints").([]any)[0].(map[string]any)["tlsConfig"]
			if want := map[string]any{"insecureSkipVerify": true}; !reflect.DeepEqual(tls, want) {
				t.Errorf("tlsConfig %v, want %v", tls, want)
			}
		}},
		{"serviceMonitor's tlsConfig given", []string{"metrics.serviceMonitor.enabled=true",
			"metrics.serviceMonitor.tlsConfig.caFile=/etc/prometheus/ca.crt", "metrics.serviceMonitor.tlsConfig.serverName=surveyguard-metrics.surveyguard-system.svc",
		}, func(t *testing.T, objs objects) {
			sm := objs.get(t, "ServiceMonitor/"+releaseNS+"/"+fullname)
			tls := nested(t, sm, "spec", "endpoints").([]any)[0].(map[string]any)["tlsConfig"]
			want := map[string]any{"caFile": "/etc/prometheus/ca.crt", "serverName": "surveyguard-metrics.surveyguard-system.svc"}
			if !reflect.DeepEqual(tls, want) {
				t.Errorf("tlsConfig %v, want %v: the certificate must be checked", tls, want)
			}
		}},
		{"prometheusRule", []string{"prometheusRule.enabled=true", "prometheusRule.labels.release=kube-prometheus-stack"}, func(t *testing.T, objs objects) {
			rule := objs.get(t, "PrometheusRule/"+releaseNS+"/"+fullname)
			if rule.GetLabels()["release"] != "kube-prometheus-stack" {
				t.Errorf("the PrometheusRule lacks the label its Prometheus selects: %v", rule.GetLabels())
			}
			// The spec is the rules file as it is: Prometheus templates
			// such as {{ $labels.namespace }} are not evaluated by helm.
			want := readYAML(t, "charts", "surveyguard", "files", "prometheus-rules.yaml")
			if got := rule.Object["spec"]; !reflect.DeepEqual(got, want) {
				t.Errorf("the PrometheusRule's spec is not files/prometheus-rules.yaml:\ngot:  %v\nwant: %v", got, want)
			}
		}},
		{"grafanaDashboard", []string{"grafanaDashboard.enabled=true", "grafanaDashboard.namespace=monitoring", "grafanaDashboard.annotations.grafana_folder=Compliance"}, func(t *testing.T, objs objects) {
			cm := objs.get(t, "ConfigMap/monitoring/"+fullname+"-dashboard")
			if cm.GetLabels()["grafana_dashboard"] != "1" || cm.GetAnnotations()["grafana_folder"] != "Compliance" {
				t.Errorf("the dashboard ConfigMap lacks the sidecar's label or the folder: %v %v", cm.GetLabels(), cm.GetAnnotations())
			}
			data, err := os.ReadFile(filepath.Join(chart, "files", "grafana-dashboard.json"))
			if err != nil {
				t.Fatal(err)
			}
			var got, want any
			if err := json.Unmarshal([]byte(nested(t, cm, "data", "surveyguard.json").(string)), &got); err != nil {
				t.Fatalf("the dashboard in the ConfigMap is not JSON: %v", err)
			}
			if err := json.Unmarshal(data, &want); err != nil {
				t.Fatalf("files/grafana-dashboard.json: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("the dashboard ConfigMap does not hold files/grafana-dashboard.json")
			}
		}},
		{"grafanaDashboard custom label", []string{"grafanaDashboard.enabled=true", "grafanaDashboard.sidecarLabel=dashboards", "grafanaDashboard.sidecarLabelValue=surveyguard"}, func(t *testing.T, objs objects) {
			cm := objs.get(t, "ConfigMap/"+releaseNS+"/"+fullname+"-dashboard")
			if cm.GetLabels()["dashboards"] != "surveyguard" {
				t.Errorf("the dashboard ConfigMap's labels %v lack dashboards=surveyguard", cm.GetLabels())
			}
		}},
		{"networkPolicy", []string{"networkPolicy.enabled=true"}, func(t *testing.T, objs objects) {
			np := objs.get(t, "NetworkPolicy/"+releaseNS+"/"+fullname)
			pod := objs.get(t, "Deployment/"+releaseNS+"/"+fullname)
			podLabels := nested(t, pod, "spec", "template", "metadata", "labels").(map[string]any)
			for k, v := range nested(t, np, "spec", "podSelector", "matchLabels").(map[string]any) {
				if podLabels[k] != v {
					t.Errorf("the NetworkPolicy selects %s=%v; the manager's pods are %v", k, v, podLabels)
				}
			}
			if types := nested(t, np, "spec", "policyTypes"); !reflect.DeepEqual(types, []any{"Ingress", "Egress"}) {
				t.Errorf("policyTypes %v, want Ingress and Egress", types)
			}
			// The admin port is reached on collector pods only, in any namespace.
			collector := map[string]any{"namespaceSelector": map[string]any{},
				"podSelector": map[string]any{"matchLabels": map[string]any{"app.kubernetes.io/name": "surveyguard-collector"}}}
			for _, rule := range nested(t, np, "spec", "egress").([]any) {
				r := rule.(map[string]any)
				for _, p := range r["ports"].([]any) {
					if fmt.Sprint(p.(map[string]any)["port"]) == "9443" && !reflect.DeepEqual(r["to"], []any{collector}) {
						t.Errorf("egress to 9443 reaches %v, want collector pods only", r["to"])
					}
				}
			}
		}},
		{"podDisruptionBudget", []string{"podDisruptionBudget.enabled=true"}, func(t *testing.T, objs objects) {
			pdb := objs.get(t, "PodDisruptionBudget/"+releaseNS+"/"+fullname)
			if v := fmt.Sprint(nested(t, pdb, "spec", "maxUnavailable")); v != "1" {
				t.Errorf("maxUnavailable %v, want 1", v)
			}
		}},
		{"podDisruptionBudget minAvailable", []string{"podDisruptionBudget.enabled=true", "podDisruptionBudget.maxUnavailable=null", "podDisruptionBudget.minAvailable=50%", "replicas=2"}, func(t *testing.T, objs objects) {
			pdb := objs.get(t, "PodDisruptionBudget/"+releaseNS+"/"+fullname)
			if v := nested(t, pdb, "spec", "minAvailable"); v != "50%" {
				t.Errorf("minAvailable %v, want 50%%", v)
			}
			if _, ok, _ := unstructured.NestedFieldNoCopy(pdb.Object, "spec", "maxUnavailable"); ok {
				t.Error("both minAvailable and maxUnavailable are set")
			}
		}},
		{"security and resources", []string{"podSecurityContext.runAsUser=65532", "containerSecurityContext.readOnlyRootFilesystem=true", "resources.limits.memory=512Mi", "priorityClassName=system-cluster-critical", "imagePullSecrets[0].name=regcred"}, func(t *testing.T, objs objects) {
			deploy := objs.get(t, "Deployment/"+releaseNS+"/"+fullname)
			if v := fmt.Sprint(nested(t, deploy, "spec", "template", "spec", "securityContext", "runAsUser")); v != "65532" {
				t.Errorf("runAsUser %v, want 65532", v)
			}
			if v := nested(t, deploy, "spec", "template", "spec", "securityContext", "runAsNonRoot"); v != true {
				t.Errorf("runAsNonRoot %v: a value set beside it dropped the default", v)
			}
			ctr := nested(t, deploy, "spec", "template", "spec", "containers").([]any)[0].(map[string]any)
			if m := ctr["resources"].(map[string]any)["limits"].(map[string]any)["memory"]; m != "512Mi" {
				t.Errorf("memory limit %v, want 512Mi", m)
			}
			if v := nested(t, deploy, "spec", "template", "spec", "priorityClassName"); v != "system-cluster-critical" {
				t.Errorf("priorityClassName %v", v)
			}
		}},
		{"allowedCollectorImages", []string{"allowedCollectorImages={registry.internal:5000/surveyguard,mirror.internal/sg/}"}, func(t *testing.T, objs objects) {
			args := managerArgs(t, objs.get(t, "Deployment/"+releaseNS+"/"+fullname))
			for _, want := range []string{"--allowed-collector-images=registry.internal:5000/surveyguard", "--allowed-collector-images=mirror.internal/sg/"} {
				if !slices.Contains(args, want) {
					t.Errorf("the manager's args %v lack %s", args, want)
				}
			}
		}},
		{"watchNamespaces", []string{"watchNamespaces={team-a,team-b}"}, func(t *testing.T, objs objects) {
			for _, ns := range []string{"team-a", "team-b"} {
				role := objs.get(t, "Role/"+ns+"/"+fullname+"-manager")
				if !reflect.DeepEqual(rulesOf(t, role), generatedRules(t)) {
					t.Errorf("the manager Role in %s does not have config/rbac/role.yaml's rules", ns)
				}
				objs.get(t, "RoleBinding/"+ns+"/"+fullname+"-manager")
			}
			for key, cr := range objs.ofKind("ClusterRole") {
				if grantsSecrets(rulesOf(t, cr)) {
					t.Errorf("%s grants Secrets cluster-wide in the namespace-scoped mode", key)
				}
			}
			if _, ok := objs["ClusterRoleBinding//"+fullname+"-manager"]; ok {
				t.Error("the manager ClusterRoleBinding is rendered in the namespace-scoped mode")
			}
			args := managerArgs(t, objs.get(t, "Deployment/"+releaseNS+"/"+fullname))
			if !slices.Contains(args, "--watch-namespaces=team-a,team-b") {
				t.Errorf("the manager's args %v lack --watch-namespaces=team-a,team-b", args)
			}
			want := map[string]any{"namespaceSelector": map[string]any{"matchExpressions": []any{map[string]any{
				"key": "kubernetes.io/metadata.name", "operator": "In", "values": []any{"team-a", "team-b"}}}},
				"objectSelector": map[string]any{}, "matchPolicy": "Equivalent"}
			for _, p := range admissionPolicies {
				binding := objs.get(t, "ValidatingAdmissionPolicyBinding//"+fullname+"-"+p)
				if got := nested(t, binding, "spec", "matchResources"); !reflect.DeepEqual(got, want) {
					t.Errorf("binding %s matches %v in the namespace-scoped mode, want %v", binding.GetName(), got, want)
				}
			}
		}},
		{"watchNamespaces with a holiday calendar elsewhere", []string{"watchNamespaces={team-a}", "holidayCalendar=compliance/holidays"}, func(t *testing.T, objs objects) {
			role := objs.get(t, "Role/compliance/"+fullname+"-holiday-calendar")
			rules := rulesOf(t, role)
			if len(rules) != 1 || !reflect.DeepEqual(rules[0].ResourceNames, []string{"holidays"}) || !reflect.DeepEqual(rules[0].Verbs, []string{"get"}) {
				t.Errorf("the holiday-calendar Role grants %+v; want get on ConfigMap holidays only", rules)
			}
			objs.get(t, "RoleBinding/compliance/"+fullname+"-holiday-calendar")
		}},
		{"watchNamespaces with the holiday calendar in a watched namespace", []string{"watchNamespaces={team-a}", "holidayCalendar=team-a/holidays"}, func(t *testing.T, objs objects) {
			if n := len(objs.ofKind("Role")); n != 2 { // the manager's and leader election's
				t.Errorf("%d Roles, want the manager's in team-a and leader election's: %v", n, objs.ofKind("Role").keys())
			}
		}},
		{"everything on", everythingOn, func(t *testing.T, objs objects) {
			for _, kind := range []string{"ServiceMonitor", "PrometheusRule", "ConfigMap", "NetworkPolicy", "PodDisruptionBudget"} {
				if n := len(objs.ofKind(kind)); n != 1 {
					t.Errorf("%d %s rendered with everything on, want 1", n, kind)
				}
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var set []string
			for _, s := range tc.set {
				set = append(set, "--set", s)
			}
			if out, err := helmOn(t, nil, append([]string{"lint", "--strict", chart}, set...)...); err != nil {
				t.Fatalf("helm lint --strict %v: %v\n%s", tc.set, err, out)
			}
			out, err := helmOn(t, nil, append([]string{"template", release, chart, "-n", releaseNS}, set...)...)
			if err != nil {
				t.Fatalf("helm template %v: %v\n%s", tc.set, err, out)
			}
			tc.check(t, parseObjects(t, out))
		})
	}
}

// everythingOn turns every optional part of the chart on.
var everythingOn = []string{
	"metrics.serviceMonitor.enabled=true", "prometheusRule.enabled=true",
	"grafanaDashboard.enabled=true", "networkPolicy.enabled=true", "podDisruptionBudget.enabled=true",
}

// TestHelmRendersForTheAPIServer applies the chart rendered with every
// toggle on, cluster-wide and namespace-scoped, with --dry-run=server to an
// API server that has the Prometheus Operator's CRDs: every object, the
// ServiceMonitor and PrometheusRule included, passes the server's validation.
func TestHelmRendersForTheAPIServer(t *testing.T) {
	installPrometheusOperatorCRDs(t, env)
	for _, ns := range []string{releaseNS, "team-a", "team-b", "monitoring"} {
		createNamespace(t, env, ns)
	}
	for name, extra := range map[string][]string{
		"cluster-wide":     nil,
		"namespace-scoped": {"watchNamespaces={team-a,team-b}", "holidayCalendar=monitoring/holidays", "grafanaDashboard.namespace=monitoring"},
	} {
		t.Run(name, func(t *testing.T) {
			args := []string{"template", release, chart, "-n", releaseNS}
			for _, s := range append(slices.Clone(everythingOn), extra...) {
				args = append(args, "--set", s)
			}
			rendered, err := helmOn(t, nil, args...)
			if err != nil {
				t.Fatalf("helm template: %v\n%s", err, rendered)
			}
			file := writeTemp(t, "chart.yaml", rendered)
			out, err := env.Kubectl("apply", "--dry-run=server", "--server-side", "--field-manager=helm", "-f", file)
			if err != nil {
				t.Fatalf("the API server refuses the rendered chart: %v", err)
			}
			for _, want := range []string{"servicemonitor.monitoring.coreos.com/" + fullname, "prometheusrule.monitoring.coreos.com/" + fullname} {
				if !strings.Contains(out, want) {
					t.Errorf("the dry run did not apply %s:\n%s", want, out)
				}
			}
		})
	}
}

// TestKustomizeEquivalentToChart compares config/default with the chart's
// defaults: the same kinds, CRDs, rules, manager container and Service.
func TestKustomizeEquivalentToChart(t *testing.T) {
	rendered, err := env.Kubectl("kustomize", filepath.Join(testenv.RepoRoot(), "config", "default"))
	if err != nil {
		t.Fatal(err)
	}
	kust := parseObjects(t, rendered)
	out, err := helmOn(t, nil, "template", "surveyguard", chart, "-n", "surveyguard-system")
	if err != nil {
		t.Fatalf("helm template: %v\n%s", err, out)
	}
	chartObjs := parseObjects(t, out)

	kinds := func(o objects, skip string) []string {
		var ks []string
		for _, u := range o {
			if u.GetKind() != skip {
				ks = append(ks, u.GetKind())
			}
		}
		slices.Sort(ks)
		return ks
	}
	if k, c := kinds(kust, "Namespace"), kinds(chartObjs, ""); !slices.Equal(k, c) {
		t.Errorf("config/default makes %v (and its Namespace); the chart makes %v", k, c)
	}
	for _, name := range crdNames {
		k, c := kust.get(t, "CustomResourceDefinition//"+name), chartObjs.get(t, "CustomResourceDefinition//"+name)
		if !reflect.DeepEqual(k.Object["spec"], c.Object["spec"]) {
			t.Errorf("CRD %s differs between config/default and the chart", name)
		}
	}
	// Roles by the part of their name after the prefix: manager, metrics-auth...
	roles := func(o objects, prefix string) map[string][]rbacv1.PolicyRule {
		m := map[string][]rbacv1.PolicyRule{}
		for _, kind := range []string{"ClusterRole", "Role"} {
			for _, u := range o.ofKind(kind) {
				m[kind+"/"+strings.TrimPrefix(u.GetName(), prefix)] = rulesOf(t, u)
			}
		}
		return m
	}
	if k, c := roles(kust, "surveyguard-"), roles(chartObjs, "surveyguard-"); !reflect.DeepEqual(k, c) {
		t.Errorf("the RBAC differs:\nconfig/default: %v\nchart:          %v", k, c)
	}
	kd, cd := kust.get(t, "Deployment/surveyguard-system/surveyguard-manager"), chartObjs.get(t, "Deployment/surveyguard-system/surveyguard")
	for _, field := range [][]string{
		{"spec", "replicas"},
		{"spec", "template", "spec", "containers"},
		{"spec", "template", "spec", "securityContext"},
		{"spec", "template", "spec", "terminationGracePeriodSeconds"},
	} {
		if k, c := nested(t, kd, field...), nested(t, cd, field...); !reflect.DeepEqual(k, c) {
			t.Errorf("the manager Deployment's %s differs:\nconfig/default: %v\nchart:          %v", strings.Join(field, "."), k, c)
		}
	}
	for _, p := range admissionPolicies {
		for _, kind := range []string{"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"} {
			key := kind + "//surveyguard-" + p
			if k, c := kust.get(t, key), chartObjs.get(t, key); !reflect.DeepEqual(k.Object["spec"], c.Object["spec"]) {
				t.Errorf("%s differs between config/default and the chart:\nconfig/default: %v\nchart:          %v", key, k.Object["spec"], c.Object["spec"])
			}
		}
	}
	ks, cs := kust.get(t, "Service/surveyguard-system/surveyguard-manager-metrics"), chartObjs.get(t, "Service/surveyguard-system/surveyguard-metrics")
	if k, c := nested(t, ks, "spec", "ports"), nested(t, cs, "spec", "ports"); !reflect.DeepEqual(k, c) {
		t.Errorf("the metrics Service's ports differ:\nconfig/default: %v\nchart:          %v", k, c)
	}
}
