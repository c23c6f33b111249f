// Package manager runs the surveyguard operator: a controller-runtime manager
// with every surveyguard reconciler, metrics, health probes and leader election.
package manager

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"k8s.io/apimachinery/pkg/labels"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
	"github.com/surveyguard/surveyguard/controllers"
	"github.com/surveyguard/surveyguard/internal/adminclient"
	"github.com/surveyguard/surveyguard/internal/cli"
	"github.com/surveyguard/surveyguard/internal/memlimit"
)

// Options are the manager's command-line settings.
type Options struct {
	MetricsAddr             string
	MetricsSecure           bool
	ProbeAddr               string
	LeaderElect             bool
	LeaderElectionNamespace string
	LeaseDuration           time.Duration
	// RenewDeadline is how long the leader keeps trying to renew before it
	// gives up leading; RetryPeriod how often every replica looks at the
	// Lease (client-go adds up to 20% jitter).
	RenewDeadline time.Duration
	RetryPeriod   time.Duration
	EnableHTTP2   bool
	// CollectorImage is the image collector pods run unless a campaign names one.
	CollectorImage string
	// AllowedCollectorImages may be named by spec.collector.image.
	AllowedCollectorImages []string
	// OperatorNamespace may reach collectors' admin ports (NetworkPolicy):
	// its pods with OperatorPodLabels, or all of them when there are none.
	OperatorNamespace string
	OperatorPodLabels map[string]string
	// CollectorAddresses maps "namespace/name" of a campaign to a host:port
	// to dial instead of its Service (development and tests only).
	CollectorAddresses []string
	// StatsInterval is how often each campaign's figures are read.
	StatsInterval time.Duration
	// Workers is how many campaigns are reconciled at once.
	Workers int
	// PprofAddr serves net/http/pprof when not "0" (profiling only).
	PprofAddr string
	// RunAgain lets the manager run more than once in one process (tests):
	// controller names are otherwise unique per process.
	RunAgain bool
	// HolidayCalendar is "name" or "namespace/name" of the ConfigMap of
	// holidays business-day clocks skip; name alone is in OperatorNamespace.
	HolidayCalendar string
	// WatchNamespaces limits the manager to these namespaces: it caches and
	// reconciles objects there only, so Roles in them are all the RBAC it
	// needs. Empty: every namespace.
	WatchNamespaces []string
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// watched are the kinds whose informers must have synced before the manager
// reports ready: a manager that cannot list them (RBAC, missing CRD) is not ready.
var watched = []client.Object{
	&privacyv1alpha1.SurveyCampaign{},
	&privacyv1alpha1.RetentionPolicy{},
	&privacyv1alpha1.BreachReport{},
	&privacyv1alpha1.ErasureRequest{},
}

// informersSynced is a readiness check that passes once the informers of objs
// have synced. It starts none itself before the cache is running.
func informersSynced(c cache.Cache, objs ...client.Object) healthz.Checker {
	return func(req *http.Request) error {
		for _, obj := range objs {
			inf, err := c.GetInformer(req.Context(), obj, cache.BlockUntilSynced(false))
			if err != nil {
				return fmt.Errorf("informer for %T: %w", obj, err)
			}
			if !inf.HasSynced() {
				return fmt.Errorf("informer for %T has not synced", obj)
			}
		}
		return nil
	}
}

// holidayCalendar reads --holiday-calendar: "name" in the operator's
// namespace or "namespace/name".
func holidayCalendar(flag, operatorNamespace string) (types.NamespacedName, error) {
	if flag == "" {
		return types.NamespacedName{}, nil
	}
	key := types.NamespacedName{Namespace: operatorNamespace, Name: flag}
	if ns, name, ok := strings.Cut(flag, "/"); ok {
		key = types.NamespacedName{Namespace: ns, Name: name}
	}
	for _, part := range []string{key.Namespace, key.Name} {
		if errs := validation.IsDNS1123Subdomain(part); len(errs) > 0 {
			return key, fmt.Errorf("%w: --holiday-calendar=%q: %q %s", cli.ErrUsage, flag, part, strings.Join(errs, "; "))
		}
	}
	return key, nil
}

// DefaultCollectorImage is the collector image when none is configured.
const DefaultCollectorImage = "ghcr.io/surveyguard/surveyguard:latest"

// CacheOptions limit the built-in kinds the manager caches to the children it
// made (labelled managed-by=surveyguard): no cluster-wide Secret cache. With
// namespaces, every kind is cached from those namespaces only (one watch per
// namespace), so no list or watch is cluster-wide.
func CacheOptions(namespaces ...string) cache.Options {
	managed := labels.SelectorFromSet(labels.Set{privacyv1alpha1.LabelManagedBy: privacyv1alpha1.ManagedByValue})
	byObject := map[client.Object]cache.ByObject{}
	for _, obj := range append(controllers.CampaignChildKinds(), controllers.WatchedManagedKinds()...) {
		byObject[obj] = cache.ByObject{Label: managed}
	}
	// managedFields are a large part of every cached object and the
	// operator never reads them; Deployments and CronJobs are cached slim
	// (controllers/slimcache.go).
	opts := cache.Options{ByObject: byObject, DefaultTransform: controllers.CacheTransform()}
	if len(namespaces) > 0 {
		opts.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range namespaces {
			opts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	return opts
}

// watchNamespaces reads --watch-namespaces: a comma-separated list of
// namespace names; empty is every namespace.
func watchNamespaces(flag string) ([]string, error) {
	if strings.TrimSpace(flag) == "" {
		return nil, nil
	}
	var out []string
	for _, ns := range strings.Split(flag, ",") {
		ns = strings.TrimSpace(ns)
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			return nil, fmt.Errorf("%w: --watch-namespaces=%q: %q is not a namespace name: %s", cli.ErrUsage, flag, ns, strings.Join(errs, "; "))
		}
		if !slices.Contains(out, ns) {
			out = append(out, ns)
		}
	}
	return out, nil
}

// operatorPodLabels reads --operator-pod-labels: key=value pairs, comma
// separated, each a valid label; empty is none.
func operatorPodLabels(flag string) (map[string]string, error) {
	if strings.TrimSpace(flag) == "" {
		return nil, nil
	}
	out := map[string]string{}
	for _, pair := range strings.Split(flag, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		errs := validation.IsQualifiedName(k)
		if ok {
			errs = append(errs, validation.IsValidLabelValue(v)...)
		} else {
			errs = append(errs, "want key=value")
		}
		if len(errs) > 0 {
			return nil, fmt.Errorf("%w: --operator-pod-labels=%q: %q is not a label: %s", cli.ErrUsage, flag, pair, strings.Join(errs, "; "))
		}
		out[k] = v
	}
	return out, nil
}

// NewScheme returns the scheme with the built-in kinds and surveyguard's.
func NewScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(privacyv1alpha1.AddToScheme(s))
	return s
}

// Usage describes the manager role.
const Usage = `Usage: surveyguard manager [flags]

Runs the operator. It reads the cluster from --kubeconfig, $KUBECONFIG or
the in-cluster configuration.

Flags:
`

// Main parses the manager's flags from args and runs it until ctx is done.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("surveyguard manager", Usage, args, stdout, stderr)
	var o Options
	fs.StringVar(&o.MetricsAddr, "metrics-bind-address", ":8443",
		"Address the metrics endpoint binds to; \"0\" disables it.")
	fs.BoolVar(&o.MetricsSecure, "metrics-secure", true,
		"Serve metrics over HTTPS, authenticated and authorized through the API server.")
	fs.StringVar(&o.ProbeAddr, "health-probe-bind-address", ":8081",
		"Address the /healthz and /readyz probes bind to.")
	fs.BoolVar(&o.LeaderElect, "leader-elect", false,
		"Elect a leader so that only one of several replicas reconciles.")
	fs.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", "",
		"Namespace of the leader-election Lease; the pod's namespace when empty.")
	fs.DurationVar(&o.LeaseDuration, "leader-elect-lease-duration", 15*time.Second,
		"How long a leader's Lease is valid without renewal: a standby takes over this long after the leader dies, plus up to 4.4 retry periods (it looks at the Lease every 1 to 2.2 of them).")
	fs.DurationVar(&o.RenewDeadline, "leader-elect-renew-deadline", 10*time.Second,
		"How long the leader retries renewing its Lease before it stops leading; less than --leader-elect-lease-duration.")
	fs.DurationVar(&o.RetryPeriod, "leader-elect-retry-period", 2*time.Second,
		"How often replicas try to take or renew the Lease; 1.2 times it must stay below --leader-elect-renew-deadline.")
	fs.BoolVar(&o.EnableHTTP2, "enable-http2", false,
		"Allow HTTP/2 on the metrics server (off by default: HTTP/2 rapid reset, CVE-2023-44487).")
	fs.StringVar(&o.CollectorImage, "collector-image", DefaultCollectorImage,
		"Image of collector pods, unless a campaign's spec.collector.image names one.")
	fs.Var((*stringList)(&o.AllowedCollectorImages), "allowed-collector-images",
		"An image a campaign's spec.collector.image may name besides --collector-image's repository: a repository (any tag or digest), "+
			"an exact reference, or a prefix ending in \"/\". Repeatable or comma-separated; none by default.")
	fs.StringVar(&o.OperatorNamespace, "operator-namespace", os.Getenv("POD_NAMESPACE"),
		"Namespace allowed to reach collectors' admin port; $POD_NAMESPACE by default.")
	var podLabels string
	fs.StringVar(&podLabels, "operator-pod-labels", "",
		"Labels of the manager's pods, key=value[,key=value]: only pods of --operator-namespace with all of them may reach collectors' admin port "+
			"(besides each campaign's retention Jobs); every pod of that namespace when empty.")
	fs.Var((*stringList)(&o.CollectorAddresses), "collector-address",
		"Development only: namespace/name=host:port dials that address for the campaign's admin API instead of its Service "+
			"(TLS is still verified against the Service's name). Repeatable.")
	fs.StringVar(&o.PprofAddr, "pprof-bind-address", "0", "Address of the Go profiler (net/http/pprof); \"0\" disables it. Profiling only: it is unauthenticated.")
	fs.IntVar(&o.Workers, "campaign-workers", 8, "How many SurveyCampaigns are reconciled at once.")
	fs.DurationVar(&o.StatsInterval, "stats-interval", time.Minute,
		"How often each campaign's figures are read from its collector (±20% jitter).")
	var watch string
	fs.StringVar(&watch, "watch-namespaces", "",
		"Comma-separated namespaces the operator watches and reconciles, the only ones its RBAC needs to cover; every namespace when empty.")
	fs.StringVar(&o.HolidayCalendar, "holiday-calendar", "",
		"ConfigMap (name, or namespace/name) listing per regime the holidays business-day clocks skip (docs/regulations.md); weekends only when empty.")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(fs)
	var kubeconfig string
	fs.StringVar(&kubeconfig, "kubeconfig", "", "Path to a kubeconfig; $KUBECONFIG or in-cluster when empty.")
	var qps float64
	var burst int
	fs.Float64Var(&qps, "kube-api-qps", 500, "Requests per second the operator may send the API server for each kind (client-side limit; the API server's priority and fairness protects it).")
	fs.IntVar(&burst, "kube-api-burst", 1000, "Requests the operator may send at once above --kube-api-qps.")
	if help, err := cli.Parse(fs, args); help || err != nil {
		return err
	}
	if o.CollectorImage = strings.TrimSpace(o.CollectorImage); o.CollectorImage == "" {
		return fmt.Errorf("%w: --collector-image must name an image", cli.ErrUsage)
	}
	if _, err := holidayCalendar(o.HolidayCalendar, "default"); err != nil {
		return err
	}
	var err error
	if o.WatchNamespaces, err = watchNamespaces(watch); err != nil {
		return err
	}
	if o.OperatorPodLabels, err = operatorPodLabels(podLabels); err != nil {
		return err
	}
	if err := checkLeaderElection(o); err != nil {
		return err
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	if limit, source, err := memlimit.Set(memlimit.CgroupRoot, 0); err != nil {
		ctrl.Log.Error(err, "reading the container's memory limit; the Go heap is not capped")
	} else if limit > 0 {
		ctrl.Log.Info("Go heap capped", "bytes", limit, "from", source)
	}
	cfg, err := loadConfig(kubeconfig)
	if err != nil {
		return fmt.Errorf("loading the Kubernetes client configuration: %w", err)
	}
	if qps <= 0 || burst <= 0 || o.Workers <= 0 {
		return fmt.Errorf("%w: --kube-api-qps, --kube-api-burst and --campaign-workers must be positive", cli.ErrUsage)
	}
	cfg.QPS, cfg.Burst = float32(qps), burst
	return Run(ctx, cfg, o)
}

// Run starts the manager against cfg and blocks until ctx is done.
func Run(ctx context.Context, cfg *rest.Config, o Options) error {
	var tlsOpts []func(*tls.Config)
	if !o.EnableHTTP2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	metricsOpts := metricsserver.Options{
		BindAddress:   o.MetricsAddr,
		SecureServing: o.MetricsSecure,
		TLSOpts:       tlsOpts,
	}
	if o.MetricsSecure {
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	leaseDuration, renewDeadline, retryPeriod := o.LeaseDuration, o.RenewDeadline, o.RetryPeriod
	if renewDeadline == 0 {
		renewDeadline = 10 * time.Second
	}
	if retryPeriod == 0 {
		retryPeriod = 2 * time.Second
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  NewScheme(),
		Metrics:                 metricsOpts,
		Cache:                   CacheOptions(o.WatchNamespaces...),
		HealthProbeBindAddress:  o.ProbeAddr,
		PprofBindAddress:        o.PprofAddr,
		LeaderElection:          o.LeaderElect,
		LeaderElectionID:        "surveyguard.privacy.surveyguard.io",
		LeaderElectionNamespace: o.LeaderElectionNamespace,
		LeaseDuration:           &leaseDuration,
		RenewDeadline:           &renewDeadline,
		RetryPeriod:             &retryPeriod,
		// The manager exits on SIGTERM right after releasing its Lease, so a
		// new leader takes over at once instead of after LeaseDuration.
		LeaderElectionReleaseOnCancel: true,
		Controller:                    config.Controller{SkipNameValidation: &o.RunAgain},
	})
	if err != nil {
		return fmt.Errorf("creating the manager: %w", err)
	}
	dial, err := adminclient.ParseDialOverrides(o.CollectorAddresses)
	if err != nil {
		return err
	}
	if o.OperatorNamespace == "" {
		o.OperatorNamespace = "surveyguard-system"
	}
	var images []string
	for _, entry := range o.AllowedCollectorImages {
		for _, image := range strings.Split(entry, ",") {
			if image = strings.TrimSpace(image); image != "" {
				images = append(images, image)
			}
		}
	}
	o.AllowedCollectorImages = images
	holidays, err := holidayCalendar(o.HolidayCalendar, o.OperatorNamespace)
	if err != nil {
		return err
	}
	if err := controllers.SetupAll(mgr, controllers.Options{
		CollectorImage: o.CollectorImage, AllowedCollectorImages: o.AllowedCollectorImages,
		OperatorNamespace: o.OperatorNamespace, OperatorPodLabels: o.OperatorPodLabels,
		Collectors: adminclient.New(dial, 0), StatsInterval: o.StatsInterval, Workers: o.Workers,
		HolidayCalendar: holidays,
	}); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return fmt.Errorf("adding the health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("informers", informersSynced(mgr.GetCache(), watched...)); err != nil {
		return fmt.Errorf("adding the readiness check: %w", err)
	}
	ctrl.Log.WithName("setup").Info("starting manager",
		"metrics", o.MetricsAddr, "probes", o.ProbeAddr, "leaderElection", o.LeaderElect, "watchNamespaces", o.WatchNamespaces)
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("running the manager: %w", err)
	}
	return nil
}

// loadConfig reads the client configuration from the given kubeconfig file,
// or, when path is empty, from $KUBECONFIG, the in-cluster service account or
// ~/.kube/config, in that order.
func loadConfig(path string) (*rest.Config, error) {
	if path != "" {
		return clientcmd.BuildConfigFromFlags("", path)
	}
	return ctrl.GetConfig()
}

// leaderElectionJitter is client-go's factor on the retry period
// (leaderelection.JitterFactor).
const leaderElectionJitter = 1.2

// checkLeaderElection refuses timings client-go's election would refuse at
// start, naming the flags instead of failing later inside the manager.
func checkLeaderElection(o Options) error {
	lease, renew, retry := o.LeaseDuration, o.RenewDeadline, o.RetryPeriod
	switch {
	case lease <= 0 || renew <= 0 || retry <= 0:
		return fmt.Errorf("%w: --leader-elect-lease-duration, --leader-elect-renew-deadline and --leader-elect-retry-period must be positive", cli.ErrUsage)
	case lease%time.Second != 0:
		return fmt.Errorf("%w: --leader-elect-lease-duration (%s) must be a whole number of seconds: the Lease records whole seconds, so other replicas would use less", cli.ErrUsage, lease)
	case renew >= lease:
		return fmt.Errorf("%w: --leader-elect-renew-deadline (%s) must be less than --leader-elect-lease-duration (%s)", cli.ErrUsage, renew, lease)
	case float64(renew) <= leaderElectionJitter*float64(retry):
		return fmt.Errorf("%w: --leader-elect-renew-deadline (%s) must be more than 1.2 times --leader-elect-retry-period (%s)", cli.ErrUsage, renew, retry)
	}
	return nil
}
