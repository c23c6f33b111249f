package manager_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/surveyguard/surveyguard/internal/manager"
	"github.com/surveyguard/surveyguard/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	testenv.Main(m, func(e *testenv.Env) error { env = e; return nil }, testenv.CRDDir())
}

// TestManagerRunsWithGeneratedRBAC runs the manager as a user that holds only
// the generated ClusterRole (config/rbac/role.yaml) and the leader-election
// Role: it must win the Lease, sync its informers (its readiness says so),
// and give the Lease up when stopped.
func TestManagerRunsWithGeneratedRBAC(t *testing.T) {
	ctx := context.Background()
	admin, err := client.New(env.Config, client.Options{Scheme: manager.NewScheme()})
	if err != nil {
		t.Fatal(err)
	}
	const user, ns = "surveyguard-manager", "default"
	grantGeneratedRole(t, admin, user, ns)
	operator, err := env.AddUser(envtest.User{Name: user}, nil)
	if err != nil {
		t.Fatal(err)
	}

	probe := testenv.MustFreeAddr(t)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- manager.Run(runCtx, operator.Config(), manager.Options{
			MetricsAddr:             "0",
			ProbeAddr:               probe,
			LeaderElect:             true,
			LeaderElectionNamespace: ns,
			LeaseDuration:           15 * time.Second,
			RunAgain:                true, // go test -count
		})
	}()

	deadline := time.Now().Add(60 * time.Second)
	for !ready(probe) {
		select {
		case err := <-done:
			t.Fatalf("the manager stopped before it was ready: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("the manager was not ready within a minute: its informers did not sync (is the generated RBAC missing a rule?)")
		}
		time.Sleep(200 * time.Millisecond)
	}

	lease := &coordinationv1.Lease{}
	key := client.ObjectKey{Namespace: ns, Name: "surveyguard.privacy.surveyguard.io"}
	for {
		err := admin.Get(ctx, key, lease)
		if err == nil && lease.Spec.HolderIdentity != nil && *lease.Spec.HolderIdentity != "" {
			break
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("the manager did not take the leader-election Lease (last error: %v)", err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the manager returned an error on shutdown: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the manager did not stop within 30 s of cancellation")
	}
	if err := admin.Get(ctx, key, lease); err != nil {
		t.Fatal(err)
	}
	if h := lease.Spec.HolderIdentity; h != nil && *h != "" {
		t.Errorf("the Lease is still held by %q after shutdown; it should be released", *h)
	}
}

func TestMainRejectsUnknownFlags(t *testing.T) {
	var stderr strings.Builder
	err := manager.Main(context.Background(), []string{"--no-such-flag"}, &strings.Builder{}, &stderr)
	if err == nil || !strings.Contains(err.Error(), "no-such-flag") {
		t.Fatalf("want an error naming the unknown flag, got %v", err)
	}
}

func TestMainRejectsABadHolidayCalendar(t *testing.T) {
	for _, v := range []string{"Holidays", "a/b/c", "ns/", "/name"} {
		err := manager.Main(context.Background(), []string{"--holiday-calendar=" + v}, &strings.Builder{}, &strings.Builder{})
		if err == nil || !strings.Contains(err.Error(), "--holiday-calendar") {
			t.Errorf("--holiday-calendar=%s: want an error naming the flag, got %v", v, err)
		}
	}
}

func TestMainRejectsBadWatchNamespaces(t *testing.T) {
	for _, v := range []string{"Team-A", "a,,b", "a/b", "a,b_c"} {
		err := manager.Main(context.Background(), []string{"--watch-namespaces=" + v}, &strings.Builder{}, &strings.Builder{})
		if err == nil || !strings.Contains(err.Error(), "--watch-namespaces") || !strings.Contains(err.Error(), "is not a namespace name") {
			t.Errorf("--watch-namespaces=%s: want an error naming the flag, got %v", v, err)
		}
	}
}

func TestMainRejectsBadOperatorPodLabels(t *testing.T) {
	for _, v := range []string{"app", "a=b,", "bad key=x", "a=has space", "=x", "a=" + strings.Repeat("x", 64)} {
		err := manager.Main(context.Background(), []string{"--operator-pod-labels=" + v}, &strings.Builder{}, &strings.Builder{})
		if err == nil || !strings.Contains(err.Error(), "--operator-pod-labels") || !strings.Contains(err.Error(), "is not a label") {
			t.Errorf("--operator-pod-labels=%s: want an error naming the flag, got %v", v, err)
		}
	}
}

func TestMainRejectsAnEmptyCollectorImage(t *testing.T) {
	err := manager.Main(context.Background(), []string{"--collector-image="}, &strings.Builder{}, &strings.Builder{})
	if err == nil || !strings.Contains(err.Error(), "--collector-image must name an image") {
		t.Errorf("an empty --collector-image: %v", err)
	}
}

func TestCacheOptionsWatchNamespaces(t *testing.T) {
	if opts := manager.CacheOptions(); opts.DefaultNamespaces != nil {
		t.Errorf("without namespaces the cache is limited to %v; want every namespace", opts.DefaultNamespaces)
	}
	opts := manager.CacheOptions("team-a", "team-b")
	if len(opts.DefaultNamespaces) != 2 {
		t.Fatalf("cache namespaces %v, want team-a and team-b", opts.DefaultNamespaces)
	}
	for _, ns := range []string{"team-a", "team-b"} {
		if _, ok := opts.DefaultNamespaces[ns]; !ok {
			t.Errorf("cache namespaces %v lack %s", opts.DefaultNamespaces, ns)
		}
	}
	for obj, by := range opts.ByObject {
		if by.Namespaces != nil {
			t.Errorf("%T is cached from %v, past the watched namespaces", obj, by.Namespaces)
		}
	}
}

func TestMainRejectsLeaderElectionTimingsClientGoRefuses(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--leader-elect-lease-duration=5s"}, "--leader-elect-renew-deadline (10s) must be less than --leader-elect-lease-duration (5s)"},
		{[]string{"--leader-elect-lease-duration=4s", "--leader-elect-renew-deadline=3s", "--leader-elect-retry-period=2500ms"}, "more than 1.2 times --leader-elect-retry-period (2.5s)"},
		{[]string{"--leader-elect-retry-period=0s"}, "must be positive"},
		{[]string{"--leader-elect-lease-duration=10500ms"}, "--leader-elect-lease-duration (10.5s) must be a whole number of seconds"},
	} {
		err := manager.Main(context.Background(), tc.args, &strings.Builder{}, &strings.Builder{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: want an error containing %q, got %v", tc.args, tc.want, err)
		}
	}
}

func TestMainHelpListsFlags(t *testing.T) {
	var stdout strings.Builder
	if err := manager.Main(context.Background(), []string{"--help"}, &stdout, &strings.Builder{}); err != nil {
		t.Fatal(err)
	}
	for _, flag := range []string{"-metrics-bind-address", "-health-probe-bind-address", "-leader-elect", "-leader-elect-renew-deadline", "-leader-elect-retry-period", "-kubeconfig", "-holiday-calendar", "-watch-namespaces"} {
		if !strings.Contains(stdout.String(), flag) {
			t.Errorf("surveyguard manager --help does not list %s:\n%s", flag, stdout.String())
		}
	}
}

// grantGeneratedRole binds user to the ClusterRole generated from the RBAC
// markers and to the leader-election Role in ns, as config/rbac does.
func grantGeneratedRole(t *testing.T, c client.Client, user, ns string) {
	t.Helper()
	ctx := context.Background()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	role := &rbacv1.ClusterRole{}
	if err := yaml.Unmarshal(data, role); err != nil {
		t.Fatal(err)
	}
	data, err = os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "rbac", "leader_election_role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	election := &rbacv1.Role{}
	if err := yaml.Unmarshal(data, election); err != nil {
		t.Fatal(err)
	}
	election.Namespace = ns
	subject := []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}}
	objs := []client.Object{
		role,
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: role.Name},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
			Subjects:   subject,
		},
		election,
		&rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: election.Name},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: election.Name},
			Subjects:   subject,
		},
	}
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil {
			t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
		}
		// The API server outlives a go test -count run.
		t.Cleanup(func() {
			if err := c.Delete(ctx, o); err != nil {
				t.Errorf("deleting %T %s: %v", o, o.GetName(), err)
			}
		})
	}
}

func ready(addr string) bool {
	resp, err := http.Get("http://" + addr + "/readyz") //nolint:noctx // short-lived probe in a test
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
