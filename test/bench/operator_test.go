package bench

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
	"github.com/surveyguard/surveyguard/internal/manager"
	"github.com/surveyguard/surveyguard/internal/testenv"
)

// BenchmarkOperatorScale runs the operator's binary against envtest with
// BENCH_CAMPAIGNS campaigns (default 1000) and reports:
//   - how long until every campaign's children exist and its status is
//     current (observedGeneration, a CronJob), against the baseline of
//     creating the campaigns themselves;
//   - writes in an idle window of BENCH_IDLE (default 60s) and in the same
//     window after a restart, counted by watching every kind the operator
//     writes;
//   - the manager's peak resident memory;
//   - the manager's writes (its rest_client_requests_total) per campaign and
//     per second, against a baseline run after it: a plain client with no
//     rate limit creating the same children (BENCH_MANAGER_FLAGS passes
//     flags to the manager, BENCH_MANAGER_GOMEMLIMIT its GOMEMLIMIT);
//   - in both phases, the CPU time kube-apiserver, etcd, the manager and the
//     benchmark itself used, and how many cores the machine kept busy: on
//     two cores the API server is the bound, and its CPU per write is a
//     steadier figure than a rate other work on the machine slows.
//
// envtest runs no Deployment controller, so no collector becomes available
// and no campaign reaches Ready: the figures are the operator's own work.
func BenchmarkOperatorScale(b *testing.B) {
	// The clients here log nothing worth reading beside the figures.
	log.SetLogger(logr.Discard())
	n := envInt("BENCH_CAMPAIGNS", 1000)
	idle := envDuration("BENCH_IDLE", 60*time.Second)
	env, err := testenv.Start(testenv.CRDDir())
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = env.Stop() }()
	k8s, err := ctrlclient.NewWithWatch(env.Config, ctrlclient.Options{Scheme: manager.NewScheme()})
	if err != nil {
		b.Fatal(err)
	}
	bin, err := testenv.BuildSurveyguard(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	const ns = "scale"
	for _, o := range []ctrlclient.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&privacyv1alpha1.RetentionPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ninety-days"},
			Spec:       privacyv1alpha1.RetentionPolicySpec{MaxAge: metav1.Duration{Duration: 2160 * time.Hour}},
		},
	} {
		if err := k8s.Create(ctx, o); err != nil {
			b.Fatal(err)
		}
	}
	// BENCH_MANAGER_GOMEMLIMIT is the manager's GOMEMLIMIT, as its
	// container's memory limit would set it; only the manager gets it (the
	// control plane started before and keeps its own memory).
	if v := os.Getenv("BENCH_MANAGER_GOMEMLIMIT"); v != "" {
		b.Setenv("GOMEMLIMIT", v)
	}
	metricsAddr := testenv.MustFreeAddr(b)
	flags := append(managerFlags(), "--pprof-bind-address="+pprofAddr(), "--metrics-bind-address="+metricsAddr, "--metrics-secure=false")
	stop, pid := testenv.StartManager(b, bin, env.Kubeconfig, flags...)

	// Progress is read from a watch-fed cache: polling the API server with
	// full lists of a thousand campaigns and CronJobs several times a second
	// would take the CPU the API server needs for the operator's writes (the
	// baseline below has no such load).
	progress := watchProgress(b, env.Config, ns)
	plane := controlPlanePIDs(b)
	cpu := cpuWatch{pids: map[string]int{"kube-apiserver": plane["kube-apiserver"], "etcd": plane["etcd"], "manager": pid, "benchmark": os.Getpid()}}

	start := cpu.sample(b)
	begin := time.Now()
	createCampaigns(b, k8s, ns, n)
	created := time.Since(begin)
	for {
		done, err := reconciled(ctx, progress, ns)
		if err != nil {
			b.Fatal(err)
		}
		if done == n {
			break
		}
		if time.Since(begin) > 10*time.Minute {
			b.Fatalf("%d of %d campaigns reconciled after 10 minutes", done, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	all := time.Since(begin)
	opCPU := cpu.sample(b).since(start)
	hwm, rss := procMemory(b, pid)
	opWrites, byVerb := restWrites(b, metricsAddr)
	passes := scrape(b, metricsAddr, `controller_runtime_reconcile_total{controller="surveycampaign",`, "result")

	writes := countWrites(b, k8s, ns, idle)
	stop()
	stop, _ = testenv.StartManager(b, bin, env.Kubeconfig, append(managerFlags(), "--pprof-bind-address="+pprofAddr())...)
	restartWrites := countWrites(b, k8s, ns, idle)
	stop()

	// The baseline: a plain client, with no client-side rate limit and 8
	// connections at work, creates the same children in another namespace
	// while nothing else runs.
	children, baseTime, baseCPU := createBaseline(b, env.Config, k8s, ns, "baseline", cpuWatch{pids: plane})
	opRate, baseRate := float64(opWrites)/all.Seconds(), float64(children)/baseTime.Seconds()
	// What the API server spends per write: in the operator's phase its
	// writes and the benchmark's creation of the campaigns, and everything
	// the API server does for them (watches included).
	opCost := opCPU.procs["kube-apiserver"].Seconds() * 1e3 / float64(opWrites+int64(n))
	baseCost := baseCPU.procs["kube-apiserver"].Seconds() * 1e3 / float64(children)

	b.ReportMetric(float64(n), "campaigns")
	b.ReportMetric(created.Seconds(), "s-to-create")
	b.ReportMetric(all.Seconds(), "s-to-all-reconciled")
	b.ReportMetric(all.Seconds()/created.Seconds(), "reconciled/created")
	b.ReportMetric(float64(writes), "writes-idle")
	b.ReportMetric(float64(restartWrites), "writes-after-restart")
	b.ReportMetric(float64(opWrites)/float64(n), "writes/campaign")
	b.ReportMetric(opRate, "operator-writes/s")
	b.ReportMetric(baseRate, "baseline-writes/s")
	b.ReportMetric(opRate/baseRate, "write-rate-ratio")
	b.ReportMetric(baseTime.Seconds(), "s-baseline")
	b.ReportMetric(opCost, "apiserver-cpu-ms/write")
	b.ReportMetric(baseCost, "baseline-apiserver-cpu-ms/write")
	b.ReportMetric(opCPU.procs["manager"].Seconds()*1e3/float64(n), "manager-cpu-ms/campaign")
	b.ReportMetric(opCPU.cores, "cores-busy")
	b.ReportMetric(hwm, "MiB-peak-rss")
	b.ReportMetric(rss, "MiB-rss")
	b.Logf("%d campaigns: created in %s, all reconciled in %s (%.1f/s); %d writes in %s idle, %d in %s after a restart; manager peak RSS %.0f MiB (now %.0f MiB)",
		n, created.Round(time.Millisecond), all.Round(time.Millisecond), float64(n)/all.Seconds(), writes, idle, restartWrites, idle, hwm, rss)
	b.Logf("campaign passes: %v (%.2f per campaign)", passes, float64(sum(passes))/float64(n))
	b.Logf("operator: %d writes (%.1f per campaign: %v) at %.0f/s; plain client: %d children in %s at %.0f/s; ratio %.2f",
		opWrites, float64(opWrites)/float64(n), byVerb, opRate, children, baseTime.Round(time.Millisecond), baseRate, opRate/baseRate)
	b.Logf("operator phase: %s; the API server spent %.2f ms per write (its %d and the %d campaigns' creation)", opCPU, opCost, opWrites, n)
	b.Logf("baseline phase: %s; the API server spent %.2f ms per write", baseCPU, baseCost)
}

// managerFlags are BENCH_MANAGER_FLAGS, split on spaces (say
// "--kube-api-qps=500 --campaign-workers=8"): the operator's defaults when empty.
func managerFlags() []string { return strings.Fields(os.Getenv("BENCH_MANAGER_FLAGS")) }

// restWrites reads the manager's client-go request counter
// (rest_client_requests_total) and sums the writes: POST, PUT, PATCH, DELETE.
func restWrites(b *testing.B, addr string) (int64, map[string]int64) {
	b.Helper()
	byVerb := map[string]int64{}
	for verb, v := range scrape(b, addr, "rest_client_requests_total{", "method") {
		if slices.Contains([]string{"POST", "PUT", "PATCH", "DELETE"}, verb) {
			byVerb[verb] = v
		}
	}
	return sum(byVerb), byVerb
}

// scrape reads the manager's metrics and sums the series that start with
// prefix by the value of their label.
func scrape(b *testing.B, addr, prefix, label string) map[string]int64 {
	b.Helper()
	resp, err := http.Get("http://" + addr + "/metrics") //nolint:noctx // a benchmark's scrape
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	out := map[string]int64{}
	s := bufio.NewScanner(resp.Body)
	s.Buffer(make([]byte, 1<<20), 1<<20)
	for s.Scan() {
		line := s.Text()
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		_, rest, ok := strings.Cut(line, label+`="`)
		if !ok {
			continue
		}
		value, _, _ := strings.Cut(rest, `"`)
		fields := strings.Fields(line)
		v, _ := strconv.ParseFloat(fields[len(fields)-1], 64)
		out[value] += int64(v)
	}
	return out
}

func sum(m map[string]int64) int64 {
	var total int64
	for _, v := range m {
		total += v
	}
	return total
}

// createBaseline copies every child the operator made in from into a new
// namespace to, as a plain client with no rate limit would create them: 8
// goroutines, one Create each. It returns how many, how long it took and
// the CPU cpu's processes used meanwhile.
func createBaseline(b *testing.B, cfg *rest.Config, k8s ctrlclient.Client, from, to string, cpu cpuWatch) (int, time.Duration, cpuPhase) {
	b.Helper()
	ctx := context.Background()
	var objs []ctrlclient.Object
	lists := []ctrlclient.ObjectList{
		&corev1.SecretList{}, &corev1.ConfigMapList{}, &corev1.ServiceList{}, &corev1.ServiceAccountList{},
		&corev1.PersistentVolumeClaimList{}, &appsv1.DeploymentList{}, &batchv1.CronJobList{},
		&networkingv1.NetworkPolicyList{}, &policyv1.PodDisruptionBudgetList{},
	}
	for _, l := range lists {
		if err := k8s.List(ctx, l, ctrlclient.InNamespace(from), ctrlclient.HasLabels{privacyv1alpha1.LabelCampaign}); err != nil {
			b.Fatal(err)
		}
		items, err := meta.ExtractList(l)
		if err != nil {
			b.Fatal(err)
		}
		for _, it := range items {
			o := it.(ctrlclient.Object)
			o.SetNamespace(to)
			o.SetResourceVersion("")
			o.SetUID("")
			o.SetOwnerReferences(nil)
			o.SetManagedFields(nil)
			o.SetCreationTimestamp(metav1.Time{})
			o.SetGeneration(0)
			clearStatus(o)
			objs = append(objs, o)
		}
	}
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: to}}); err != nil {
		b.Fatal(err)
	}
	plain := rest.CopyConfig(cfg)
	plain.QPS = -1 // no client-side limit
	c, err := ctrlclient.New(plain, ctrlclient.Options{Scheme: manager.NewScheme()})
	if err != nil {
		b.Fatal(err)
	}
	start := cpu.sample(b)
	begin := time.Now()
	err = onEight(len(objs), func(i int) error {
		if err := c.Create(ctx, objs[i]); err != nil {
			return fmt.Errorf("%T %s: %w", objs[i], objs[i].GetName(), err)
		}
		return nil
	})
	took := time.Since(begin)
	used := cpu.sample(b).since(start)
	if err != nil {
		b.Fatal(err)
	}
	return len(objs), took, used
}

// clearStatus drops what the API server and its controllers wrote (the
// Service's cluster IP is allocated again).
func clearStatus(o ctrlclient.Object) {
	switch v := o.(type) {
	case *corev1.Service:
		v.Spec.ClusterIP, v.Spec.ClusterIPs = "", nil
		v.Status = corev1.ServiceStatus{}
	case *appsv1.Deployment:
		v.Status = appsv1.DeploymentStatus{}
	case *corev1.PersistentVolumeClaim:
		v.Status = corev1.PersistentVolumeClaimStatus{}
	case *batchv1.CronJob:
		v.Status = batchv1.CronJobStatus{}
	case *policyv1.PodDisruptionBudget:
		v.Status = policyv1.PodDisruptionBudgetStatus{}
	}
}

// pprofAddr is BENCH_PPROF (say 127.0.0.1:6060) to profile the manager, or off.
func pprofAddr() string {
	if a := os.Getenv("BENCH_PPROF"); a != "" {
		return a
	}
	return "0"
}

func envInt(key string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(key)); err == nil && v > 0 {
		return v
	}
	return def
}

func createCampaigns(b *testing.B, k8s ctrlclient.Client, ns string, n int) {
	b.Helper()
	if err := onEight(n, func(i int) error { return k8s.Create(context.Background(), newCampaign(ns, i)) }); err != nil {
		b.Fatal(err)
	}
}

// newCampaign is the i-th campaign the benchmarks create: the smallest spec
// the API accepts, with embedded storage, and the API server's defaults.
func newCampaign(ns string, i int) *privacyv1alpha1.SurveyCampaign {
	return &privacyv1alpha1.SurveyCampaign{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("campaign-%04d", i)},
		Spec: privacyv1alpha1.SurveyCampaignSpec{
			Question:           "How likely are you to recommend us to a friend or colleague?",
			Consent:            privacyv1alpha1.ConsentSpec{NoticeVersion: "2026-01"},
			RetentionPolicyRef: privacyv1alpha1.LocalObjectReference{Name: "ninety-days"},
			Storage:            privacyv1alpha1.StorageSpec{Embedded: &privacyv1alpha1.EmbeddedStorage{}},
		},
	}
}

// reconciled counts the campaigns whose status is current, whose last
// child (the retention CronJob) exists, and whose last pass changed nothing.
func reconciled(ctx context.Context, k8s ctrlclient.Reader, ns string) (int, error) {
	campaigns := &privacyv1alpha1.SurveyCampaignList{}
	if err := k8s.List(ctx, campaigns, ctrlclient.InNamespace(ns), ctrlclient.UnsafeDisableDeepCopy); err != nil {
		return 0, err
	}
	cronJobs := &batchv1.CronJobList{}
	if err := k8s.List(ctx, cronJobs, ctrlclient.InNamespace(ns), ctrlclient.UnsafeDisableDeepCopy); err != nil {
		return 0, err
	}
	have := map[string]bool{}
	for _, cj := range cronJobs.Items {
		have[cj.Labels[privacyv1alpha1.LabelCampaign]] = true
	}
	done := 0
	for _, c := range campaigns.Items {
		// A pass that changed a running campaign says "updated [...]":
		// wait for the pass after it, which found everything in place.
		settled := true
		for _, cond := range c.Status.Conditions {
			if cond.Type == privacyv1alpha1.ConditionReconciling && strings.HasPrefix(cond.Message, "updated ") {
				settled = false
			}
		}
		if c.Status.ObservedGeneration == c.Generation && have[c.Name] && settled {
			done++
		}
	}
	return done, nil
}

// watchProgress starts a cache of the campaigns and CronJobs in ns, fed by
// one watch each, and waits for its first list.
func watchProgress(b *testing.B, cfg *rest.Config, ns string) ctrlclient.Reader {
	b.Helper()
	c, err := cache.New(cfg, cache.Options{
		Scheme:            manager.NewScheme(),
		DefaultNamespaces: map[string]cache.Config{ns: {}},
		DefaultTransform:  cache.TransformStripManagedFields(),
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	for _, o := range []ctrlclient.Object{&privacyv1alpha1.SurveyCampaign{}, &batchv1.CronJob{}} {
		if _, err := c.GetInformer(ctx, o); err != nil {
			b.Fatal(err)
		}
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		b.Fatal("the progress cache did not sync")
	}
	return c
}

// countWrites watches every kind the operator writes in ns for d and counts
// the changes.
func countWrites(b *testing.B, k8s ctrlclient.WithWatch, ns string, d time.Duration) int {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	lists := []ctrlclient.ObjectList{
		&privacyv1alpha1.SurveyCampaignList{}, &privacyv1alpha1.RetentionPolicyList{}, &corev1.SecretList{},
		&corev1.ConfigMapList{}, &corev1.ServiceList{}, &corev1.ServiceAccountList{}, &corev1.PersistentVolumeClaimList{},
		&appsv1.DeploymentList{}, &batchv1.CronJobList{},
	}
	var total atomic.Int64
	var mu sync.Mutex
	byKind := map[string]int{}
	var wg sync.WaitGroup
	for _, l := range lists {
		if err := k8s.List(ctx, l, ctrlclient.InNamespace(ns)); err != nil {
			b.Fatal(err)
		}
		w, err := k8s.Watch(ctx, l, ctrlclient.InNamespace(ns), &ctrlclient.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: listRV(l)}})
		if err != nil {
			b.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer w.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case ev, ok := <-w.ResultChan():
					if !ok {
						return
					}
					if ev.Type == watch.Added || ev.Type == watch.Modified || ev.Type == watch.Deleted {
						total.Add(1)
						mu.Lock()
						byKind[fmt.Sprintf("%T %s", ev.Object, ev.Type)]++
						mu.Unlock()
					}
				}
			}
		}()
	}
	wg.Wait()
	if len(byKind) > 0 {
		b.Logf("changes in %s: %v", d, byKind)
	}
	return int(total.Load())
}

func listRV(l ctrlclient.ObjectList) string {
	if m, ok := l.(metav1.ListInterface); ok {
		return m.GetResourceVersion()
	}
	return ""
}

// procMemory reads a process's peak and current resident memory, in MiB.
func procMemory(b *testing.B, pid int) (peak, now float64) {
	b.Helper()
	hwm, rss, err := statusMemory(strconv.Itoa(pid))
	if err != nil {
		b.Fatal(err)
	}
	return float64(hwm) / (1 << 20), float64(rss) / (1 << 20)
}

// statusMemory reads the peak (VmHWM) and current (VmRSS) resident memory,
// in bytes, of the process /proc/<pid> names ("self" for this one).
func statusMemory(pid string) (peak, now int64, err error) {
	f, err := os.Open("/proc/" + pid + "/status")
	if err != nil {
		return 0, 0, err
	}
	defer func() { _ = f.Close() }()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(fields[1], 10, 64)
		switch fields[0] {
		case "VmHWM:":
			peak = kb << 10
		case "VmRSS:":
			now = kb << 10
		}
	}
	return peak, now, s.Err()
}
