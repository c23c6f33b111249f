package manifests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// previousChart writes the chart as version 0.1.0 shipped it: the CRDs in
// crds/ (which helm installs once and never upgrades, with no release
// metadata), no templates/crds.yaml, and SurveyCampaign's short name "sc".
// It is the current chart with exactly those differences, so the test does
// not depend on the repository's history.
func previousChart(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "surveyguard")
	if err := os.CopyFS(dir, os.DirFS(chart)); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "templates", "crds.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "files", "crds"), filepath.Join(dir, "crds")); err != nil {
		t.Fatal(err)
	}
	edit := func(rel string, change func(string) string) {
		t.Helper()
		file := filepath.Join(dir, rel)
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(change(string(data))), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	edit(filepath.Join("crds", "privacy.surveyguard.io_surveycampaigns.yaml"), func(text string) string {
		old := "    shortNames:\n    - " + shortName + "\n"
		if !strings.Contains(text, old) {
			t.Fatalf("the SurveyCampaign CRD has no short name %s to turn back into sc", shortName)
		}
		return strings.Replace(text, old, "    shortNames:\n    - sc\n", 1)
	})
	edit("Chart.yaml", func(text string) string { return replaceLine(t, text, "version: ", "version: 0.1.0") })
	return dir
}

// replaceLine replaces the line starting with prefix.
func replaceLine(t *testing.T, text, prefix, line string) string {
	t.Helper()
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, prefix) {
			lines[i] = line
			return strings.Join(lines, "\n")
		}
	}
	t.Fatalf("no line starts with %q", prefix)
	return ""
}

// TestHelmUpgradeUpdatesCRDs installs the previous chart (CRDs in crds/),
// runs the migration docs/getting-started.md gives (helm refuses to adopt the
// CRDs without it), upgrades to this chart and checks that the CRD on the API
// server changed. It then upgrades again and uninstalls: the CRDs stay.
func TestHelmUpgradeUpdatesCRDs(t *testing.T) {
	e := ownServer(t)
	const ns = "sg-upgrade"
	old := previousChart(t)
	if out, err := helmOn(t, e, "install", "sg", old, "-n", ns, "--create-namespace", "--wait=hookOnly"); err != nil {
		t.Fatalf("installing the previous chart: %v\n%s", err, out)
	}
	shortNames := func() string {
		t.Helper()
		out, err := e.Kubectl("get", "crd", crdNames[0], "-o", "jsonpath={.spec.names.shortNames}")
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got := shortNames(); got != `["sc"]` {
		t.Fatalf("the previous chart installed short names %s, want [\"sc\"]", got)
	}

	out, err := helmOn(t, e, "upgrade", "sg", chart, "-n", ns, "--wait=hookOnly")
	if err == nil || !strings.Contains(out, "invalid ownership metadata") {
		t.Fatalf("helm upgrade adopted the previous chart's CRDs without the migration (%v):\n%s", err, out)
	}
	t.Logf("before the migration, helm upgrade refuses: %s", out)
	// The migration of docs/getting-started.md ("Upgrading from chart 0.1.0").
	for _, name := range crdNames {
		if out, err := e.Kubectl("label", "crd", name, "app.kubernetes.io/managed-by=Helm", "--overwrite"); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if out, err := e.Kubectl("annotate", "crd", name, "meta.helm.sh/release-name=sg", "meta.helm.sh/release-namespace="+ns, "--overwrite"); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	if out, err := helmOn(t, e, "upgrade", "sg", chart, "-n", ns, "--wait=hookOnly"); err != nil {
		t.Fatalf("helm upgrade after the migration: %v\n%s", err, out)
	}
	if got := shortNames(); got != `["`+shortName+`"]` {
		t.Errorf("after helm upgrade the CRD's short names are %s, want [%q]", got, shortName)
	}
	out, err = e.Kubectl("get", "crd", crdNames[0], "-o", `jsonpath={.metadata.annotations.helm\.sh/resource-policy}`)
	if err != nil || out != "keep" {
		t.Errorf("the upgraded CRD's resource policy is %q (%v), want keep", out, err)
	}

	// A second upgrade (from a chart with templated CRDs) needs nothing more.
	if out, err := helmOn(t, e, "upgrade", "sg", chart, "-n", ns, "--wait=hookOnly", "--set", "logLevel=debug"); err != nil {
		t.Fatalf("a second helm upgrade: %v\n%s", err, out)
	}
	if out, err := helmOn(t, e, "uninstall", "sg", "-n", ns, "--wait=hookOnly"); err != nil {
		t.Fatalf("helm uninstall: %v\n%s", err, out)
	}
	for _, name := range crdNames {
		if out, err := e.Kubectl("get", "crd", name, "-o", "name"); err != nil {
			t.Errorf("helm uninstall deleted CRD %s despite crds.keep: %s", name, out)
		}
	}
}
