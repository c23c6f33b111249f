package manifests

import (
	"io/fs"
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
	err := filepath.WalkDir(chart, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(chart, path)
		switch {
		case d.IsDir():
			return os.MkdirAll(filepath.Join(dir, rel), 0o750)
		case rel == filepath.Join("templates", "crds.yaml"):
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.HasPrefix(rel, filepath.Join("files", "crds")+string(filepath.Separator)) {
			rel = filepath.Join("crds", filepath.Base(rel))
			if err := os.MkdirAll(filepath.Join(dir, "crds"), 0o750); err != nil {
				return err
			}
		}
		text := string(data)
		switch rel {
		case filepath.Join("crds", "privacy.surveyguard.io_surveycampaigns.yaml"):
			before := text
			text = strings.Replace(text, "    shortNames:\n    - "+shortName+"\n", "    shortNames:\n    - sc\n", 1)
			if text == before {
				t.Fatalf("the SurveyCampaign CRD has no short name %s to turn back into sc", shortName)
			}
		case "Chart.yaml":
			text = replaceLine(t, text, "version: ", "version: 0.1.0")
		}
		return os.WriteFile(filepath.Join(dir, rel), []byte(text), 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
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
	if out, err := helmOn(t, e, "install", "sg", old, "-n", ns, "--create-namespace", "--wait=false"); err != nil {
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

	out, err := helmOn(t, e, "upgrade", "sg", chart, "-n", ns, "--wait=false")
	if err == nil || !strings.Contains(out, "invalid ownership metadata") {
		t.Fatalf("helm upgrade adopted the previous chart's CRDs without the migration (%v):\n%s", err, out)
	}
	// The migration of docs/getting-started.md ("Upgrading from chart 0.1.0").
	for _, name := range crdNames {
		if out, err := e.Kubectl("label", "crd", name, "app.kubernetes.io/managed-by=Helm", "--overwrite"); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if out, err := e.Kubectl("annotate", "crd", name, "meta.helm.sh/release-name=sg", "meta.helm.sh/release-namespace="+ns, "--overwrite"); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	if out, err := helmOn(t, e, "upgrade", "sg", chart, "-n", ns, "--wait=false"); err != nil {
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
	if out, err := helmOn(t, e, "upgrade", "sg", chart, "-n", ns, "--wait=false", "--set", "logLevel=debug"); err != nil {
		t.Fatalf("a second helm upgrade: %v\n%s", err, out)
	}
	if out, err := helmOn(t, e, "uninstall", "sg", "-n", ns, "--wait=false"); err != nil {
		t.Fatalf("helm uninstall: %v\n%s", err, out)
	}
	for _, name := range crdNames {
		if out, err := e.Kubectl("get", "crd", name, "-o", "name"); err != nil {
			t.Errorf("helm uninstall deleted CRD %s despite crds.keep: %s", name, out)
		}
	}
}
