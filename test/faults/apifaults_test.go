package faults

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
	"github.com/surveyguard/surveyguard/controllers"
	"github.com/surveyguard/surveyguard/internal/manager"
)

// fault is what the injector does to one write.
type fault int

const (
	noFault fault = iota
	// faultConflict: 409 Conflict, before the write reaches the API server.
	faultConflict
	// faultInternal: 500 Internal Server Error, before the write reaches the API server.
	faultInternal
	// faultTimeout: the request times out (context deadline) before it reaches the API server.
	faultTimeout
	// faultLostReply: the write is applied, then its answer is lost (504
	// server timeout): the operator thinks it failed while it succeeded.
	faultLostReply
)

var faultNames = map[fault]string{
	faultConflict: "409 conflict", faultInternal: "500 internal error", faultTimeout: "timeout before the write",
	faultLostReply: "timeout after the write (reply lost)",
}

// injector fails a share of the operator's writes while on. Its PRNG is
// seeded, so the sequence of decisions replays; which write gets which
// decision follows the goroutines' order, which does not.
type injector struct {
	on   atomic.Bool
	rate float64

	mu       sync.Mutex
	rng      *rand.Rand
	writes   int            // writes seen while on
	injected map[string]int // "fault | verb kind" → count
	byFault  map[fault]int
}

func newInjector(rng *rand.Rand, rate float64) *injector {
	return &injector{rate: rate, rng: rng, injected: map[string]int{}, byFault: map[fault]int{}}
}

func (in *injector) decide(c client.Client, verb string, obj client.Object) fault {
	if !in.on.Load() {
		return noFault
	}
	kind := fmt.Sprintf("%T", obj)
	if gvk, err := c.GroupVersionKindFor(obj); err == nil {
		kind = gvk.Kind
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.writes++
	if in.rng.Float64() >= in.rate {
		return noFault
	}
	f := fault(1 + in.rng.IntN(4))
	in.byFault[f]++
	in.injected[faultNames[f]+" | "+verb+" "+kind]++
	return f
}

// write does one write, or fails it as the injector decides.
func (in *injector) write(c client.Client, verb string, obj client.Object, do func() error) error {
	gr := schema.GroupResource{Resource: strings.ToLower(fmt.Sprintf("%T", obj))}
	switch in.decide(c, verb, obj) {
	case faultConflict:
		return apierrors.NewConflict(gr, obj.GetName(), errors.New("injected: the object has been modified"))
	case faultInternal:
		return apierrors.NewInternalError(errors.New("injected: etcdserver: leader changed"))
	case faultTimeout:
		return fmt.Errorf("injected: %s %s: %w", verb, obj.GetName(), context.DeadlineExceeded)
	case faultLostReply:
		if err := do(); err != nil {
			return err
		}
		return apierrors.NewTimeoutError("injected: the write was applied but its answer was lost", 1)
	}
	return do()
}

// funcs intercepts every write the operator's client makes: create,
// update, patch and delete, on objects and on their status.
func (in *injector) funcs() interceptor.Funcs {
	return interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			return in.write(c, "create", obj, func() error { return c.Create(ctx, obj, opts...) })
		},
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			return in.write(c, "update", obj, func() error { return c.Update(ctx, obj, opts...) })
		},
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			return in.write(c, "patch", obj, func() error { return c.Patch(ctx, obj, patch, opts...) })
		},
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			return in.write(c, "delete", obj, func() error { return c.Delete(ctx, obj, opts...) })
		},
		SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
			return in.write(c, sub+" update", obj, func() error { return c.SubResource(sub).Update(ctx, obj, opts...) })
		},
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
			return in.write(c, sub+" patch", obj, func() error { return c.SubResource(sub).Patch(ctx, obj, patch, opts...) })
		},
	}
}

// figures says what was injected.
func (in *injector) figures() (writes int, byFault map[fault]int, detail []string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	byFault = map[fault]int{}
	for f, n := range in.byFault {
		byFault[f] = n
	}
	for k, n := range in.injected {
		detail = append(detail, fmt.Sprintf("%5d  %s", n, k))
	}
	sort.Strings(detail)
	return in.writes, byFault, detail
}

var (
	logOnce sync.Once
	logPath string
)

// operatorLog sends controller-runtime's log (one per process) to a file,
// whose end a failing test prints.
func operatorLog(t *testing.T) {
	t.Helper()
	logOnce.Do(func() {
		logPath = filepath.Join(binDir, "in-process-operator.log")
		f, err := os.Create(logPath)
		if err != nil {
			logPath = ""
			return
		}
		ctrl.SetLogger(zap.New(zap.WriteTo(f)))
	})
	t.Cleanup(func() {
		if !t.Failed() || logPath == "" {
			return
		}
		data, _ := os.ReadFile(logPath)
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		t.Logf("operator log (last 40 lines):\n%s", strings.Join(lines[max(0, len(lines)-40):], "\n"))
	})
}

// startFaultyManager runs every surveyguard reconciler in this process, as
// the manager does, with a client whose writes go through the injector.
func startFaultyManager(t *testing.T, cfg *rest.Config, in *injector) {
	t.Helper()
	operatorLog(t)
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme: manager.NewScheme(), Cache: manager.CacheOptions(),
		Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		Controller: config.Controller{SkipNameValidation: ptr.To(true)}, // go test -count
		NewClient: func(cfg *rest.Config, o client.Options) (client.Client, error) {
			c, err := client.NewWithWatch(cfg, o)
			if err != nil {
				return nil, err
			}
			return interceptor.NewClient(c, in.funcs()), nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := controllers.SetupAll(mgr, controllers.Options{
		CollectorImage: "example.com/surveyguard:test", OperatorNamespace: "surveyguard-system", StatsInterval: time.Minute,
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("the manager: %v", err)
		}
	})
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		t.Fatal("the manager's cache did not sync")
	}
}

// TestAPIFaults runs the reconcilers in this process with a client that
// fails FAULTS_API_RATE percent (default 20) of their writes, chosen by the
// seeded PRNG: a 409 conflict, a 500, a timeout before the write, or a
// timeout after it (the write is applied, the operator is told it failed),
// in equal shares.
//
// Under faults, FAULTS_API_CAMPAIGNS campaigns (default 50) are created and
// must converge; then every campaign's question changes, ten are paused by
// spec.paused, one breach report pauses ten others and rotates their keys,
// another rotates the keys of ten (some of them the same). The faults stop
// after that state converged, or after a minute. Then, without faults,
// everything must converge fully (snapshot.converged: every child there
// and built from the current spec and keys, one key per rotation asked,
// the reports' records true) with the keys made before the faults intact.
//
// Throughout, the auditor checks every status the operator publishes
// against the objects it describes (audit_test.go), so a campaign is never
// seen half-built behind a condition that says otherwise.
func TestAPIFaults(t *testing.T) {
	skipUnlessAsked(t)
	rng := seeded(t)
	n, rate := envInt("FAULTS_API_CAMPAIGNS", 50), envInt("FAULTS_API_RATE", 20)
	env, k8s := startEnv(t)
	ctx := context.Background()
	const ns = "apifaults"
	createBasics(t, k8s, ns)
	audit := startAuditor(t, k8s, ns)
	in := newInjector(rng, float64(rate)/100)
	in.on.Store(true)
	startFaultyManager(t, env.Config, in)

	converged := func(limit time.Duration, what string) *snapshot {
		var last *snapshot
		waitFor(t, limit, 500*time.Millisecond, what, func() error {
			s, err := takeSnapshot(ctx, k8s, ns)
			if err != nil {
				return err
			}
			if bad := s.converged(map[types.UID]string{}); len(bad) > 0 {
				return fmt.Errorf("%d problems:\n%s", len(bad), firstFew(bad, 15))
			}
			last = s
			return nil
		})
		return last
	}

	begin := time.Now()
	var names []string
	var objs []client.Object
	for i := range n {
		names = append(names, fmt.Sprintf("campaign-%03d", i))
		objs = append(objs, newCampaign(ns, names[i], 1))
	}
	if err := createAll(ctx, k8s, objs); err != nil {
		t.Fatal(err)
	}
	first := converged(3*time.Minute, "the campaigns converged under faults")
	built := time.Since(begin)
	prints := map[string]keyPrint{}
	first.keysStable(prints)

	// The second state, still under faults.
	changed := time.Now()
	order := rng.Perm(n)
	pausedBySpec := map[string]bool{}
	for _, i := range order[:min(10, n)] {
		pausedBySpec[names[i]] = true
	}
	if err := forEach(names, func(name string) error {
		var paused *bool
		if pausedBySpec[name] {
			paused = ptr.To(true)
		}
		return setRevision(ctx, k8s, ns, name, 2, paused)
	}); err != nil {
		t.Fatal(err)
	}
	var pausedByReport, rotated []string
	for _, i := range order[min(10, n):min(20, n)] {
		pausedByReport = append(pausedByReport, names[i])
	}
	rotated = pick(rng, names, 10)
	sort.Strings(pausedByReport)
	for _, b := range []*privacyv1alpha1.BreachReport{
		newReport(ns, "stolen-laptop", true, pausedByReport),
		newReport(ns, "phishing", false, rotated),
	} {
		if err := k8s.Create(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	underFaults := poll(time.Minute, 500*time.Millisecond, func() error {
		s, err := takeSnapshot(ctx, k8s, ns)
		if err != nil {
			return err
		}
		if bad := s.converged(map[types.UID]string{}); len(bad) > 0 {
			return errors.New(bad[0])
		}
		return nil
	}) == nil
	in.on.Store(false)
	stopped := time.Now()
	last := converged(2*time.Minute, "converged once the faults stopped")
	settle := time.Since(stopped)
	if bad := last.keysStable(prints); len(bad) > 0 {
		t.Errorf("keys made again under faults:\n%s", firstFew(bad, 15))
	}

	writes, byFault, detail := in.figures()
	total := 0
	for _, c := range byFault {
		total += c
	}
	t.Logf("%d writes under faults, %d failed (%d conflicts, %d 500s, %d timeouts before the write, %d after it); "+
		"%d campaigns built under faults in %s; the second state converged under faults: %v (%s after the change); "+
		"converged %s after the faults stopped",
		writes, total, byFault[faultConflict], byFault[faultInternal], byFault[faultTimeout], byFault[faultLostReply],
		n, built.Round(time.Millisecond), underFaults, stopped.Sub(changed).Round(time.Millisecond), settle.Round(time.Millisecond))
	t.Logf("faults by write:\n%s", strings.Join(detail, "\n"))
	if total == 0 {
		t.Error("no fault was injected: the test tested nothing")
	}

	checked, lag, lies := audit.verdict()
	t.Logf("auditor: %d published claims checked, each within %s of its event", checked, lag.Round(time.Millisecond))
	judge(t, lies)
}
