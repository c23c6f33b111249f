package manifests

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/surveyguard/surveyguard/internal/testenv"
)

// ownServer starts an API server for t alone, stopped when t ends. Tests that
// install the CRDs need one: CRDs are cluster-wide, and one release's CRDs
// cannot be adopted by another release or by kubectl apply -k.
func ownServer(t *testing.T) *testenv.Env {
	t.Helper()
	e, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Stop(); err != nil {
			t.Errorf("stopping the test API server: %v", err)
		}
	})
	return e
}

// helmOn runs the built helm against e (nil: no cluster) with its own
// cache, config and data directories.
func helmOn(t *testing.T, e *testenv.Env, args ...string) (string, error) {
	t.Helper()
	if e != nil {
		args = append(args, "--kubeconfig", e.Kubeconfig)
	}
	assets, err := testenv.AssetsDir()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(assets, "helm"), args...)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// createNamespace creates ns on e; it may be there already (go test -count
// reuses the package's API server).
func createNamespace(t *testing.T, e *testenv.Env, ns string) {
	t.Helper()
	if out, err := e.Kubectl("create", "namespace", ns); err != nil && !strings.Contains(out, "AlreadyExists") {
		t.Fatal(out)
	}
}

// writeTemp writes data to a file in t's temporary directory.
func writeTemp(t *testing.T, name, data string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(file, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// objects is a rendered manifest, by "Kind/namespace/name" ("Kind//name" for
// cluster-scoped objects).
type objects map[string]*unstructured.Unstructured

// parseObjects reads a multi-document YAML stream.
func parseObjects(t *testing.T, rendered string) objects {
	t.Helper()
	objs := objects{}
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(rendered), 4096)
	for {
		u := &unstructured.Unstructured{}
		err := dec.Decode(&u.Object)
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatalf("parsing the rendered manifest: %v", err)
		}
		if len(u.Object) == 0 {
			continue
		}
		key := u.GetKind() + "/" + u.GetNamespace() + "/" + u.GetName()
		if _, dup := objs[key]; dup {
			t.Fatalf("the manifest has %s twice", key)
		}
		objs[key] = u
	}
}

// ofKind returns the objects of kind, by key.
func (o objects) ofKind(kind string) objects {
	out := objects{}
	for k, u := range o {
		if u.GetKind() == kind {
			out[k] = u
		}
	}
	return out
}

// get returns the object at key, failing t when there is none.
func (o objects) get(t *testing.T, key string) *unstructured.Unstructured {
	t.Helper()
	u, ok := o[key]
	if !ok {
		t.Fatalf("the manifest has no %s; it has %v", key, o.keys())
	}
	return u
}

func (o objects) keys() []string {
	var ks []string
	for k := range o {
		ks = append(ks, k)
	}
	return ks
}

// nested reads a field of u, failing t when it is missing.
func nested(t *testing.T, u *unstructured.Unstructured, fields ...string) any {
	t.Helper()
	v, ok, err := unstructured.NestedFieldNoCopy(u.Object, fields...)
	if err != nil || !ok {
		t.Fatalf("%s %s has no %s (%v)", u.GetKind(), u.GetName(), strings.Join(fields, "."), err)
	}
	return v
}

// managerArgs returns the manager container's arguments in a rendered Deployment.
func managerArgs(t *testing.T, deploy *unstructured.Unstructured) []string {
	t.Helper()
	containers := nested(t, deploy, "spec", "template", "spec", "containers").([]any)
	for _, c := range containers {
		c := c.(map[string]any)
		if c["name"] == "manager" {
			var args []string
			for _, a := range c["args"].([]any) {
				args = append(args, fmt.Sprint(a))
			}
			return args
		}
	}
	t.Fatalf("Deployment %s has no manager container", deploy.GetName())
	return nil
}
