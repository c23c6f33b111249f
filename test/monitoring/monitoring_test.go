// Package monitoring tests what the chart ships for Prometheus and Grafana:
// the alerting rules (charts/surveyguard/files/prometheus-rules.yaml), with
// the real promtool checking them and running their unit tests
// (testdata/alerts.test.yaml), and the dashboard
// (charts/surveyguard/files/grafana-dashboard.json), whose queries promtool
// parses too. Every metric either queries must be one the operator or the
// collector exports, as their own metric sets describe themselves.
package monitoring

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/yaml"

	"github.com/surveyguard/surveyguard/controllers"
	"github.com/surveyguard/surveyguard/internal/collector"
	"github.com/surveyguard/surveyguard/internal/testenv"
)

var (
	rulesFile     = filepath.Join(testenv.RepoRoot(), "charts", "surveyguard", "files", "prometheus-rules.yaml")
	dashboardFile = filepath.Join(testenv.RepoRoot(), "charts", "surveyguard", "files", "grafana-dashboard.json")
	operationsDoc = filepath.Join(testenv.RepoRoot(), "docs", "operations.md")
)

// promtool finds promtool; in CI a missing one fails the test rather than
// skipping it (make test builds it first).
func promtool(t *testing.T) string {
	t.Helper()
	p, err := testenv.Promtool()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	return p
}

func run(t *testing.T, dir, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
	return string(out)
}

type rule struct {
	Alert       string            `json:"alert"`
	Record      string            `json:"record"`
	Expr        string            `json:"expr"`
	For         string            `json:"for"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

type rulesFileContent struct {
	Groups []struct {
		Name  string `json:"name"`
		Rules []rule `json:"rules"`
	} `json:"groups"`
}

func alerts(t *testing.T) []rule {
	t.Helper()
	data, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var f rulesFileContent
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	var out []rule
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				t.Errorf("%s: group %s has a rule that is not an alert (%q)", rulesFile, g.Name, r.Record)
				continue
			}
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s holds no alert", rulesFile)
	}
	return out
}

// TestRulesPassPromtool: promtool accepts the rules and their unit tests
// pass: each alert fires from its synthetic series, and healthy series
// beside them do not fire.
func TestRulesPassPromtool(t *testing.T) {
	bin := promtool(t)
	out := run(t, ".", bin, "check", "rules", rulesFile)
	if want := fmt.Sprintf("SUCCESS: %d rules found", len(alerts(t))); !strings.Contains(out, want) {
		t.Errorf("promtool check rules: want %q in\n%s", want, out)
	}
	run(t, "testdata", bin, "test", "rules", "alerts.test.yaml")
}

// TestEveryAlertIsTestedAndDocumented: promtool's unit tests pass silently
// for an alert name they do not know, so this checks that each alert has a
// case where it fires and one where it stays quiet, that each carries a
// severity and runbook text, and that docs/operations.md describes it.
func TestEveryAlertIsTestedAndDocumented(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "alerts.test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var tests struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string            `json:"alertname"`
				ExpAlerts []json.RawMessage `json:"exp_alerts"`
			} `json:"alert_rule_test"`
		} `json:"tests"`
	}
	if err := yaml.Unmarshal(data, &tests); err != nil {
		t.Fatal(err)
	}
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
	}
	doc, err := os.ReadFile(operationsDoc)
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, a := range alerts(t) {
		known[a.Alert] = true
		if !fires[a.Alert] {
			t.Errorf("alert %s: no test case fires it", a.Alert)
		}
		if !quiet[a.Alert] {
			t.Errorf("alert %s: no test case shows it quiet", a.Alert)
		}
		if s := a.Labels["severity"]; s != "warning" && s != "critical" {
			t.Errorf("alert %s: severity %q, want warning or critical", a.Alert, s)
		}
		for _, k := range []string{"summary", "description", "runbook"} {
			if strings.TrimSpace(a.Annotations[k]) == "" {
				t.Errorf("alert %s: no %s annotation", a.Alert, k)
			}
		}
		if !strings.Contains(string(doc), "`"+a.Alert+"`") {
			t.Errorf("alert %s is not described in docs/operations.md", a.Alert)
		}
	}
	for name := range fires {
		if !known[name] {
			t.Errorf("testdata/alerts.test.yaml tests alert %s, which the rules do not have", name)
		}
	}
	for name := range quiet {
		if !known[name] {
			t.Errorf("testdata/alerts.test.yaml tests alert %s, which the rules do not have", name)
		}
	}
}

// query is one PromQL expression and where it comes from.
type query struct{ where, expr string }

func ruleQueries(t *testing.T) []query {
	t.Helper()
	var out []query
	for _, a := range alerts(t) {
		out = append(out, query{"alert " + a.Alert, a.Expr})
	}
	return out
}

// grafanaVariables are what the dashboard's queries may use, with a value
// that makes them valid PromQL.
var grafanaVariables = strings.NewReplacer(
	"$__rate_interval", "5m",
	"$namespace", ".*",
	"$campaign", ".*",
)

// labelValuesRE reads a query variable's label_values(selector, label).
var labelValuesRE = regexp.MustCompile(`^label_values\((.+),\s*[a-zA-Z_][a-zA-Z0-9_]*\)$`)

func dashboard(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

// dashboardQueries returns every PromQL expression of the dashboard: the
// panels' targets and the query variables' selectors, with the variables
// filled in.
func dashboardQueries(t *testing.T) []query {
	t.Helper()
	d := dashboard(t)
	var out []query
	add := func(where, expr string) {
		filled := grafanaVariables.Replace(expr)
		if strings.Contains(filled, "$") {
			t.Errorf("dashboard %s: %q uses a variable the dashboard does not define", where, expr)
		}
		out = append(out, query{"dashboard " + where, filled})
	}
	var panels func(list []any)
	panels = func(list []any) {
		for _, p := range list {
			panel, _ := p.(map[string]any)
			title, _ := panel["title"].(string)
			targets, _ := panel["targets"].([]any)
			for _, tg := range targets {
				target, _ := tg.(map[string]any)
				expr, _ := target["expr"].(string)
				if expr == "" {
					t.Errorf("dashboard panel %q: a target without expr", title)
					continue
				}
				add(fmt.Sprintf("panel %q", title), expr)
			}
			if nested, ok := panel["panels"].([]any); ok {
				panels(nested)
			}
		}
	}
	list, _ := d["panels"].([]any)
	panels(list)
	templating, _ := d["templating"].(map[string]any)
	variables, _ := templating["list"].([]any)
	for _, v := range variables {
		variable, _ := v.(map[string]any)
		if variable["type"] != "query" {
			continue
		}
		q, _ := variable["query"].(map[string]any)
		text, _ := q["query"].(string)
		m := labelValuesRE.FindStringSubmatch(text)
		if m == nil {
			t.Errorf("dashboard variable %v: query %q is not label_values(selector, label)", variable["name"], text)
			continue
		}
		add(fmt.Sprintf("variable %v", variable["name"]), m[1])
	}
	if len(out) == 0 {
		t.Fatalf("%s holds no query", dashboardFile)
	}
	return out
}

// TestDashboardQueriesParse: promtool parses every query of the dashboard,
// as recording rules of a scratch rules file.
func TestDashboardQueriesParse(t *testing.T) {
	bin := promtool(t)
	var f strings.Builder
	f.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for i, q := range dashboardQueries(t) {
		expr, err := json.Marshal(q.expr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&f, "      - record: dashboard:query_%d\n        expr: %s\n", i, expr)
	}
	path := filepath.Join(t.TempDir(), "dashboard-rules.yaml")
	if err := os.WriteFile(path, []byte(f.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, ".", bin, "check", "rules", path)
}

// TestDashboardShape: the dashboard can be imported as it is: a fixed uid,
// unique panel ids, every panel on the dashboard's data source variable.
func TestDashboardShape(t *testing.T) {
	d := dashboard(t)
	if uid, _ := d["uid"].(string); uid == "" {
		t.Error("the dashboard has no uid")
	}
	ids := map[float64]bool{}
	list, _ := d["panels"].([]any)
	for _, p := range list {
		panel, _ := p.(map[string]any)
		id, _ := panel["id"].(float64)
		if ids[id] {
			t.Errorf("panel id %v is used twice", id)
		}
		ids[id] = true
		if panel["type"] == "row" {
			continue
		}
		ds, _ := panel["datasource"].(map[string]any)
		if ds["uid"] != "${datasource}" {
			t.Errorf("panel %q: data source %v, want the ${datasource} variable", panel["title"], panel["datasource"])
		}
		if desc, _ := panel["description"].(string); desc == "" {
			t.Errorf("panel %q has no description", panel["title"])
		}
	}
}

var fqNameRE = regexp.MustCompile(`fqName: "([^"]+)"`)

// exported returns a function saying whether a metric name is exported:
// by the operator's own metric sets (built as controllers.SetupAll builds
// them), by controller-runtime in its registry, or by the collector.
func exported(t *testing.T) func(string) bool {
	t.Helper()
	names := map[string]bool{}
	ch := make(chan *prometheus.Desc)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for d := range ch {
			m := fqNameRE.FindStringSubmatch(d.String())
			if m == nil {
				t.Errorf("cannot read the name of %s", d)
				continue
			}
			names[m[1]] = true
		}
	}()
	for _, c := range []prometheus.Collector{
		controllers.NewCampaignMetrics(nil), controllers.NewBreachMetrics(), controllers.NewErasureMetrics(),
	} {
		c.Describe(ch)
	}
	collector.DescribeMetrics(ch)
	close(ch)
	<-done
	known := func(name string) bool { return names[name] || registered(t, ctrlmetrics.Registry, name) }
	return func(name string) bool {
		if known(name) {
			return true
		}
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(name, suffix); ok && known(base) {
				return true
			}
		}
		return false
	}
}

// registered says whether reg holds a metric of that name. A registry
// cannot list what it holds, but it refuses a second descriptor of a name
// it has with other labels or help: that refusal is the answer.
func registered(t *testing.T, reg prometheus.Registerer, name string) bool {
	t.Helper()
	probe := probeCollector{prometheus.NewDesc(name, "surveyguard test probe: is this name registered?", nil, nil)}
	err := reg.Register(probe)
	if err == nil {
		reg.Unregister(probe)
		return false
	}
	if are := (prometheus.AlreadyRegisteredError{}); errors.As(err, &are) ||
		strings.Contains(err.Error(), "same fully-qualified name") {
		return true
	}
	t.Fatalf("probing the registry for %s: %v", name, err)
	return false
}

type probeCollector struct{ desc *prometheus.Desc }

func (p probeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- p.desc }
func (p probeCollector) Collect(chan<- prometheus.Metric)    {}

// TestQueriedMetricsAreExported: every metric the alerts and the dashboard
// query is one the operator or the collector exports.
func TestQueriedMetricsAreExported(t *testing.T) {
	isExported := exported(t)
	// The check itself: it knows the three sources and refuses a name
	// nobody exports.
	for name, want := range map[string]bool{
		"surveyguard_nps_score":                            true,
		"surveyguard_erasure_overdue":                      true,
		"controller_runtime_reconcile_errors_total":        true,
		"controller_runtime_reconcile_time_seconds_bucket": true,
		"surveyguard_collector_commit_seconds_count":       true,
		"surveyguard_collector_storage_full":               true,
		"surveyguard_no_such_metric":                       false,
		"up":                                               false,
	} {
		if got := isExported(name); got != want {
			t.Errorf("exported(%s) = %v, want %v", name, got, want)
		}
	}

	used := map[string][]string{}
	for _, q := range append(ruleQueries(t), dashboardQueries(t)...) {
		names, err := metricNames(q.expr)
		if err != nil {
			t.Errorf("%s: %v", q.where, err)
			continue
		}
		if len(names) == 0 {
			t.Errorf("%s: %q queries no metric", q.where, q.expr)
		}
		for _, n := range names {
			used[n] = append(used[n], q.where)
		}
	}
	var missing []string
	for name, where := range used {
		if !isExported(name) {
			missing = append(missing, fmt.Sprintf("%s (in %s)", name, strings.Join(slices.Compact(slices.Sorted(slices.Values(where))), ", ")))
		}
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("not exported by the operator or the collector: %s", m)
	}
}

// TestOperatorMetricsAreDocumented: docs/operations.md lists every metric
// the operator's own metric sets export.
func TestOperatorMetricsAreDocumented(t *testing.T) {
	doc, err := os.ReadFile(operationsDoc)
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan *prometheus.Desc, 64)
	for _, c := range []prometheus.Collector{
		controllers.NewCampaignMetrics(nil), controllers.NewBreachMetrics(), controllers.NewErasureMetrics(),
	} {
		c.Describe(ch)
	}
	close(ch)
	n := 0
	for d := range ch {
		m := fqNameRE.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("cannot read the name of %s", d)
		}
		n++
		if !strings.Contains(string(doc), "`"+m[1]+"`") {
			t.Errorf("%s is not listed in docs/operations.md", m[1])
		}
	}
	if n == 0 {
		t.Fatal("the operator describes no metric")
	}
}
