package manifests

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
	"github.com/surveyguard/surveyguard/internal/testenv"
)

// TestHelmNamespaceScoped installs the chart with watchNamespaces and checks,
// with kubectl auth can-i as the manager's ServiceAccount, that it may read
// Secrets and campaigns in the watched namespaces only. Then it runs the real
// manager as that ServiceAccount, with the chart's flag: the manager becomes
// ready with only the chart's Roles and reconciles a campaign in a watched
// namespace, and not one elsewhere.
func TestHelmNamespaceScoped(t *testing.T) {
	e := ownServer(t)
	const ns = "sg-scoped"
	for _, n := range []string{ns, "team-a", "team-b", "team-c"} {
		createNamespace(t, e, n)
	}
	if out, err := helmOn(t, e, "install", "sg", chart, "-n", ns, "--wait=hookOnly", "--set", "watchNamespaces={team-a,team-b}"); err != nil {
		t.Fatalf("helm install: %v\n%s", err, out)
	}
	sa := "system:serviceaccount:" + ns + ":" + fullname
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"list", "secrets", "--all-namespaces"}, "no"},
		{[]string{"get", "secrets", "-n", "team-c"}, "no"},
		{[]string{"get", "secrets", "-n", "kube-system"}, "no"},
		{[]string{"list", "secrets", "-n", ns}, "no"},
		{[]string{"list", "surveycampaigns.privacy.surveyguard.io", "--all-namespaces"}, "no"},
		{[]string{"list", "secrets", "-n", "team-a"}, "yes"},
		{[]string{"create", "deployments.apps", "-n", "team-b"}, "yes"},
		{[]string{"watch", "surveycampaigns.privacy.surveyguard.io", "-n", "team-b"}, "yes"},
		{[]string{"update", "leases.coordination.k8s.io", "-n", ns}, "yes"},
		// Least privilege: the operator patches nothing but its campaigns
		// and their statuses. It keeps delete on its children: the
		// OwnerReferencesPermissionEnforcement admission plugin (OpenShift)
		// asks for it from whoever sets an object's owner references.
		{[]string{"patch", "deployments.apps", "-n", "team-a"}, "no"},
		{[]string{"delete", "persistentvolumeclaims", "-n", "team-a"}, "yes"},
		{[]string{"delete", "leases.coordination.k8s.io", "-n", ns}, "no"},
	} {
		// can-i exits 1 when the answer is no.
		out, _ := e.Kubectl(append([]string{"auth", "can-i", "--as=" + sa}, tc.args...)...)
		if got := strings.TrimSpace(strings.SplitN(out, "\n", 2)[0]); got != tc.want {
			t.Errorf("can the manager %v? %q, want %s", tc.args, out, tc.want)
		}
	}
	if t.Failed() {
		return
	}

	// The manager as the chart's ServiceAccount: a client certificate for
	// its user name, which RBAC's ServiceAccount subjects match.
	user, err := e.AddUser(envtest.User{Name: sa, Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := writeTemp(t, "manager.kubeconfig", string(kc))
	bin, err := testenv.BuildSurveyguard(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	testenv.StartManager(t, bin, kubeconfig, "--watch-namespaces=team-a,team-b",
		"--leader-elect=true", "--leader-election-namespace="+ns, "--campaign-workers=1")

	samples := filepath.Join(testenv.RepoRoot(), "config", "samples")
	for _, n := range []string{"team-a", "team-c"} {
		for _, f := range []string{"privacy_v1alpha1_retentionpolicy.yaml", "privacy_v1alpha1_surveycampaign.yaml"} {
			if out, err := e.Kubectl("apply", "-n", n, "-f", filepath.Join(samples, f)); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
		}
	}
	testenv.Eventually(t, 60*time.Second, "the campaign in team-a reconciled", func() error {
		fin, err := e.Kubectl("get", "surveycampaign", "checkout-nps", "-n", "team-a", "-o", "jsonpath={.metadata.finalizers}")
		if err != nil {
			return err
		}
		if !strings.Contains(fin, privacyv1alpha1.Finalizer) {
			return fmt.Errorf("finalizers %q", fin)
		}
		out, err := e.Kubectl("get", "deployments", "-n", "team-a", "-l", privacyv1alpha1.LabelManagedBy+"="+privacyv1alpha1.ManagedByValue, "-o", "name")
		if err != nil {
			return err
		}
		if strings.TrimSpace(out) == "" {
			return fmt.Errorf("no collector Deployment in team-a yet")
		}
		// Its status, written with the patch verb alone.
		gen, err := e.Kubectl("get", "surveycampaign", "checkout-nps", "-n", "team-a", "-o", "jsonpath={.status.observedGeneration}")
		if err != nil {
			return err
		}
		if strings.TrimSpace(gen) == "" {
			return fmt.Errorf("no status.observedGeneration yet")
		}
		return nil
	})
	// The campaign outside the watched namespaces: untouched (the manager
	// neither sees it nor may read it).
	out, err := e.Kubectl("get", "surveycampaign", "checkout-nps", "-n", "team-c", "-o", "jsonpath={.metadata.finalizers}{.status.conditions}")
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out) != "" {
		t.Errorf("the manager touched the campaign in team-c, outside --watch-namespaces: %s", out)
	}
}
