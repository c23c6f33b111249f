// Package faults breaks the operator on purpose and checks what it leaves
// behind: SIGKILLs during the convergence of many campaigns, leader hand-over
// and take-over between two replicas, and API errors injected into its
// client. docs/reliability.md has the figures; `make faults` runs it.
//
// Each test starts its own API server (envtest): a test that kills operators
// mid-flight must not leave hundreds of campaigns for the next test's
// managers to reconcile. The random choices (when to kill, which write
// fails) come from a PRNG seeded by $FAULTS_SEED, or by the clock when it is
// unset; every test logs its seed so that a failure can be replayed.
package faults

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
	"github.com/surveyguard/surveyguard/internal/manager"
	"github.com/surveyguard/surveyguard/internal/testenv"
)

// binDir holds the operator binary, built once for the package.
var (
	binDir   string
	binOnce  sync.Once
	binPath  string
	errBuild error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "surveyguard-faults-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// skipUnlessAsked skips the fault tests under -short, and unless $FAULTS
// is set (make faults sets it): together they run for minutes, too long for
// every `make test`.
func skipUnlessAsked(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("fault injection runs for minutes: skipped under -short (make faults runs it)")
	}
	if os.Getenv("FAULTS") == "" {
		t.Skip("fault injection runs for minutes: run it with make faults, or FAULTS=1 go test ./test/faults/")
	}
}

// operatorBinary builds bin/surveyguard the way the Dockerfile does, once.
func operatorBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() { binPath, errBuild = testenv.BuildSurveyguard(binDir) })
	if errBuild != nil {
		t.Fatal(errBuild)
	}
	return binPath
}

// seeded returns the test's PRNG, seeded by $FAULTS_SEED or the clock, and logs the seed.
func seeded(t *testing.T) *rand.Rand {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("FAULTS_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("FAULTS_SEED=%q: %v", v, err)
		}
		seed = s
	}
	t.Logf("seed %d (replay with FAULTS_SEED=%d go test -count=1 -run '^%s$' ./test/faults/)", seed, seed, t.Name())
	return rand.New(rand.NewPCG(seed, 0x5eed)) //nolint:gosec // G404: reproducible test choices, not a secret
}

// envInt is a positive integer from the environment, or def.
func envInt(key string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(key)); err == nil && v > 0 {
		return v
	}
	return def
}

// startEnv starts an API server with the CRDs for one test and returns it
// with a direct (uncached) client: what a user sees.
func startEnv(t *testing.T) (*testenv.Env, client.WithWatch) {
	t.Helper()
	env, err := testenv.Start(testenv.CRDDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Logf("stopping the API server: %v", err)
		}
	})
	k8s, err := client.NewWithWatch(env.Config, client.Options{Scheme: manager.NewScheme()})
	if err != nil {
		t.Fatal(err)
	}
	return env, k8s
}

// policyName is the RetentionPolicy every campaign of these tests names.
const policyName = "ninety-days"

// createBasics makes the namespace and the retention policy.
func createBasics(t *testing.T, k8s client.Client, ns string) {
	t.Helper()
	for _, o := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&privacyv1alpha1.RetentionPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: policyName},
			Spec:       privacyv1alpha1.RetentionPolicySpec{MaxAge: metav1.Duration{Duration: 2160 * time.Hour}},
		},
	} {
		if err := k8s.Create(context.Background(), o); err != nil {
			t.Fatal(err)
		}
	}
}

// createNamespace makes a namespace (the leader-election Lease's).
func createNamespace(t *testing.T, k8s client.Client, ns string) {
	t.Helper()
	if err := k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
}

// poll calls cond every interval until it returns nil or limit has passed,
// and returns its last error.
func poll(limit, interval time.Duration, cond func() error) error {
	deadline := time.Now().Add(limit)
	for {
		err := cond()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(interval)
	}
}

// waitFor polls cond every interval until it returns nil, and fails t with
// its last error after limit. testenv.Eventually polls every 100 ms; the
// checks here list thousands of objects, so they poll less often.
func waitFor(t *testing.T, limit, interval time.Duration, what string, cond func() error) {
	t.Helper()
	if err := poll(limit, interval, cond); err != nil {
		t.Fatalf("%s (after %s): %v", what, limit, err)
	}
}
