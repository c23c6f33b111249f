package controllers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
	"github.com/surveyguard/surveyguard/controllers"
	"github.com/surveyguard/surveyguard/internal/adminclient"
	"github.com/surveyguard/surveyguard/internal/collector/collectortest"
	"github.com/surveyguard/surveyguard/internal/manager"
	"github.com/surveyguard/surveyguard/internal/testenv"
)

var (
	k8s        client.Client // direct, uncached: what a user sees
	restConfig *rest.Config
	writes     atomic.Int64 // write calls made by the reconciler
	// passes counts the campaign reconciler's passes per namespace (its
	// reads of the campaign), apiReads its reads from the API server of
	// the children the cache keeps slim.
	passes, apiReads perNamespace
	fakeClock        = clocktesting.NewFakeClock(time.Now())
	collectors       = adminclient.New(nil, 5*time.Second, adminclient.WithDialContext(podNetwork))
	metrics          = controllers.NewCampaignMetrics(fakeClock)
	// breachClock runs with real time from Friday 2026-11-20 10:00 UTC,
	// behind the machine's clock: a deadline long past by the machine's
	// clock is still ahead by the reconciler's, and no test depends on the
	// day it runs (a rule coming into force, such as DPDP's on 13 May 2027,
	// a weekend, a holiday).
	breachClock    = shiftedClock{time.Until(time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC))}
	breachMetrics  = controllers.NewBreachMetrics()
	erasureMetrics = controllers.NewErasureMetrics()
	// managerLog is everything the reconcilers log, at debug level.
	managerLog collectortest.SyncBuffer
	// holidayCalendar is the manager's --holiday-calendar.
	holidayCalendar = types.NamespacedName{Namespace: "default", Name: "surveyguard-holidays"}
)

// shiftedClock is real time moved by an offset.
type shiftedClock struct{ offset time.Duration }

func (c shiftedClock) Now() time.Time                  { return time.Now().Add(c.offset) }
func (c shiftedClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

func TestMain(m *testing.M) {
	testenv.Main(m, startManager, testenv.CRDDir())
}

// startManager runs the SurveyCampaign, RetentionPolicy, BreachReport and ErasureRequest reconcilers against the test API
// server with a fake clock and a client that counts its write calls.
func startManager(env *testenv.Env) error {
	var err error
	ctrl.SetLogger(zap.New(zap.WriteTo(&managerLog), zap.UseDevMode(true)))
	restConfig = env.Config
	if k8s, err = client.New(env.Config, client.Options{Scheme: manager.NewScheme()}); err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme: manager.NewScheme(), Cache: manager.CacheOptions(),
		Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
	})
	if err != nil {
		return err
	}
	counting := countingClient{mgr.GetClient()}
	r := &controllers.SurveyCampaignReconciler{
		Client: counting, Scheme: mgr.GetScheme(), Recorder: mgr.GetEventRecorder("surveyguard"),
		Clock: fakeClock, Collectors: collectors, CollectorImage: "example.com/surveyguard:test",
		OperatorNamespace: "surveyguard-system", OperatorPodLabels: operatorPods, StatsInterval: 2 * time.Second, Metrics: metrics,
		APIReader: countingReader{mgr.GetAPIReader()},
	}
	if err := r.SetupWithManager(mgr); err != nil {
		return err
	}
	rp := &controllers.RetentionPolicyReconciler{
		Client: mgr.GetClient(), Scheme: mgr.GetScheme(), Recorder: mgr.GetEventRecorder("surveyguard"), Clock: fakeClock,
	}
	if err := rp.SetupWithManager(mgr); err != nil {
		return err
	}
	br := &controllers.BreachReportReconciler{
		Client: mgr.GetClient(), Scheme: mgr.GetScheme(), Recorder: mgr.GetEventRecorder("surveyguard"),
		Clock: breachClock, Metrics: breachMetrics, HolidayCalendar: holidayCalendar,
	}
	if err := br.SetupWithManager(mgr); err != nil {
		return err
	}
	er := &controllers.ErasureRequestReconciler{
		Client: mgr.GetClient(), Scheme: mgr.GetScheme(), Recorder: mgr.GetEventRecorder("surveyguard"),
		Clock: clock.RealClock{}, Collectors: collectors, Metrics: erasureMetrics, HolidayCalendar: holidayCalendar,
	}
	if err := er.SetupWithManager(mgr); err != nil {
		return err
	}
	go func() {
		if err := mgr.Start(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
			os.Exit(1)
		}
	}()
	return nil
}

// perNamespace counts by namespace.
type perNamespace struct{ m sync.Map }

func (p *perNamespace) add(ns string) {
	n, _ := p.m.LoadOrStore(ns, new(atomic.Int64))
	n.(*atomic.Int64).Add(1)
}

func (p *perNamespace) get(ns string) int64 {
	if n, ok := p.m.Load(ns); ok {
		return n.(*atomic.Int64).Load()
	}
	return 0
}

// podNetwork stands in for the cluster's pod network: an address in
// 192.0.2.0/24 (TEST-NET-1, routed nowhere), which a test's EndpointSlice
// lists for a collector pod (the API server refuses loopback addresses
// there), is dialled on loopback at the same port. Every other address is
// dialled as it is.
func podNetwork(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	if host, port, err := net.SplitHostPort(addr); err == nil && strings.HasPrefix(host, "192.0.2.") {
		return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
	}
	return d.DialContext(ctx, network, addr)
}

// countingReader counts the reconciler's reads from the API server of the
// children the cache keeps slim.
type countingReader struct{ client.Reader }

func (c countingReader) Get(ctx context.Context, key client.ObjectKey, o client.Object, opts ...client.GetOption) error {
	switch o.(type) {
	case *appsv1.Deployment, *batchv1.CronJob, *corev1.ConfigMap, *corev1.Service, *networkingv1.NetworkPolicy,
		*policyv1.PodDisruptionBudget, *corev1.PersistentVolumeClaim:
		apiReads.add(key.Namespace)
	}
	return c.Reader.Get(ctx, key, o, opts...)
}

// countingClient counts every write call the reconciler makes, and its passes.
type countingClient struct{ client.Client }

func (c countingClient) Get(ctx context.Context, key client.ObjectKey, o client.Object, opts ...client.GetOption) error {
	if _, ok := o.(*privacyv1alpha1.SurveyCampaign); ok {
		passes.add(key.Namespace)
	}
	return c.Client.Get(ctx, key, o, opts...)
}

func (c countingClient) Create(ctx context.Context, o client.Object, opts ...client.CreateOption) error {
	writes.Add(1)
	return c.Client.Create(ctx, o, opts...)
}

func (c countingClient) Update(ctx context.Context, o client.Object, opts ...client.UpdateOption) error {
	writes.Add(1)
	return c.Client.Update(ctx, o, opts...)
}

func (c countingClient) Patch(ctx context.Context, o client.Object, p client.Patch, opts ...client.PatchOption) error {
	writes.Add(1)
	return c.Client.Patch(ctx, o, p, opts...)
}

func (c countingClient) Delete(ctx context.Context, o client.Object, opts ...client.DeleteOption) error {
	writes.Add(1)
	return c.Client.Delete(ctx, o, opts...)
}

func (c countingClient) Status() client.SubResourceWriter { return countingStatus{c.Client.Status()} }

type countingStatus struct{ client.SubResourceWriter }

func (s countingStatus) Update(ctx context.Context, o client.Object, opts ...client.SubResourceUpdateOption) error {
	writes.Add(1)
	return s.SubResourceWriter.Update(ctx, o, opts...)
}

func (s countingStatus) Patch(ctx context.Context, o client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
	writes.Add(1)
	return s.SubResourceWriter.Patch(ctx, o, p, opts...)
}

// operatorPods are the manager's pod labels the tests' operator is given
// (--operator-pod-labels).
var operatorPods = map[string]string{"app.kubernetes.io/name": "surveyguard", "app.kubernetes.io/component": "manager"}

func eventually(t *testing.T, what string, cond func() error) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, what, cond)
}

var nsCount atomic.Int64

func namespace(t *testing.T) string {
	t.Helper()
	// A generated name: the API server outlives one go test -count run.
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: fmt.Sprintf("sc-%d-", nsCount.Add(1))}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

func policy(ns string) *privacyv1alpha1.RetentionPolicy {
	return &privacyv1alpha1.RetentionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "ninety-days", Namespace: ns},
		Spec:       privacyv1alpha1.RetentionPolicySpec{MaxAge: metav1.Duration{Duration: 2160 * time.Hour}, Action: privacyv1alpha1.RetentionActionDelete},
	}
}

func campaign(ns string) *privacyv1alpha1.SurveyCampaign {
	return &privacyv1alpha1.SurveyCampaign{
		ObjectMeta: metav1.ObjectMeta{Name: "checkout-nps", Namespace: ns},
		Spec: privacyv1alpha1.SurveyCampaignSpec{
			Question: "How likely are you to recommend Acme Checkout to a friend or colleague?",
			Consent: privacyv1alpha1.ConsentSpec{
				Required: ptr.To(true), NoticeVersion: "2026-01", Purpose: "Improve checkout", LawfulBasis: privacyv1alpha1.LawfulBasisConsent,
			},
			Collect:            privacyv1alpha1.CollectSpec{Comment: ptr.To(true), Email: ptr.To(true), CustomerID: ptr.To(true), Segments: privacyv1alpha1.Segments{"plan": {"free", "pro", "enterprise"}}},
			RetentionPolicyRef: privacyv1alpha1.LocalObjectReference{Name: "ninety-days"},
			Privacy:            privacyv1alpha1.PrivacySpec{MinGroupSize: 5},
			Storage:            privacyv1alpha1.StorageSpec{Embedded: &privacyv1alpha1.EmbeddedStorage{}},
		},
	}
}

func create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := k8s.Create(context.Background(), o); err != nil {
			t.Fatal(err)
		}
	}
}

func get(ns, name string, obj client.Object) error {
	return k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, obj)
}

func condition(c *privacyv1alpha1.SurveyCampaign, typ string) *metav1.Condition {
	return meta.FindStatusCondition(c.Status.Conditions, typ)
}

// kstatusOf computes the kstatus of the campaign as kubectl/Flux/Argo would.
func kstatusOf(t *testing.T, c *privacyv1alpha1.SurveyCampaign) status.Status {
	t.Helper()
	c.SetGroupVersionKind(privacyv1alpha1.GroupVersion.WithKind("SurveyCampaign"))
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(c)
	if err != nil {
		t.Fatal(err)
	}
	res, err := status.Compute(&unstructured.Unstructured{Object: u})
	if err != nil {
		t.Fatal(err)
	}
	return res.Status
}

func TestChildrenAreHardenedAndOwned(t *testing.T) {
	ns := namespace(t)
	create(t, policy(ns), campaign(ns))
	d := &appsv1.Deployment{}
	eventually(t, "collector Deployment", func() error { return get(ns, "checkout-nps-collector", d) })

	pod := d.Spec.Template.Spec
	ctr := pod.Containers[0]
	checks := map[string]bool{
		"runAsNonRoot":                     *pod.SecurityContext.RunAsNonRoot,
		"pod seccomp RuntimeDefault":       pod.SecurityContext.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault,
		"no service account token":         !*pod.AutomountServiceAccountToken,
		"readOnlyRootFilesystem":           *ctr.SecurityContext.ReadOnlyRootFilesystem,
		"no privilege escalation":          !*ctr.SecurityContext.AllowPrivilegeEscalation,
		"capabilities drop ALL":            len(ctr.SecurityContext.Capabilities.Drop) == 1 && ctr.SecurityContext.Capabilities.Drop[0] == "ALL",
		"startup probe, 5 minutes":         ctr.StartupProbe != nil && ctr.StartupProbe.HTTPGet.Path == "/healthz" && ctr.StartupProbe.PeriodSeconds*ctr.StartupProbe.FailureThreshold == 300,
		"liveness probe on /healthz":       ctr.LivenessProbe != nil && ctr.LivenessProbe.HTTPGet.Path == "/healthz",
		"readiness probe on /readyz":       ctr.ReadinessProbe != nil && ctr.ReadinessProbe.HTTPGet.Path == "/readyz",
		"resources set":                    ctr.Resources.Requests.Cpu() != nil && !ctr.Resources.Limits.Memory().IsZero(),
		"checksum annotation":              d.Spec.Template.Annotations["privacy.surveyguard.io/config-checksum"] != "",
		"one replica":                      *d.Spec.Replicas == 1,
		"Recreate (one SQLite writer)":     d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType,
		"managed-by label":                 d.Labels[privacyv1alpha1.LabelManagedBy] == privacyv1alpha1.ManagedByValue,
		"owned by the campaign":            len(d.OwnerReferences) == 1 && d.OwnerReferences[0].Kind == "SurveyCampaign",
		"image from the operator's option": ctr.Image == "example.com/surveyguard:test",
	}
	for what, ok := range checks {
		if !ok {
			t.Errorf("Deployment: %s does not hold", what)
		}
	}

	assertSecretVolumesOwnerOnly(t, "Deployment", pod.Volumes, 3)
	cj := &batchv1.CronJob{}
	eventually(t, "retention CronJob", func() error { return get(ns, "checkout-nps-retention", cj) })
	assertSecretVolumesOwnerOnly(t, "CronJob", cj.Spec.JobTemplate.Spec.Template.Spec.Volumes, 2)

	sa := &corev1.ServiceAccount{}
	eventually(t, "ServiceAccount", func() error { return get(ns, "checkout-nps-collector", sa) })
	if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
		t.Error("the collector's ServiceAccount mounts a token")
	}
	keys := &corev1.Secret{}
	eventually(t, "key Secret", func() error { return get(ns, "checkout-nps-keys", keys) })
	if string(keys.Data["active"]) != "k1" || len(keys.Data["key-k1"]) != 32 || len(keys.Data["hmac"]) != 32 {
		t.Errorf("key Secret holds %d keys, active %q", len(keys.Data), keys.Data["active"])
	}
	for _, name := range []string{"checkout-nps-admin-token", "checkout-nps-tls", "checkout-nps-ca"} {
		eventually(t, name, func() error { return get(ns, name, &corev1.Secret{}) })
	}
	cm := &corev1.ConfigMap{}
	eventually(t, "ConfigMap", func() error { return get(ns, "checkout-nps-collector", cm) })
	if !strings.Contains(cm.Data["collector.yaml"], "maxAge: 2160h") || !strings.Contains(cm.Data["collector.yaml"], "driver: sqlite") {
		t.Errorf("collector.yaml:\n%s", cm.Data["collector.yaml"])
	}
	eventually(t, "PVC", func() error { return get(ns, "checkout-nps-data", &corev1.PersistentVolumeClaim{}) })
	svc := &corev1.Service{}
	eventually(t, "Service", func() error { return get(ns, "checkout-nps-collector", svc) })
	np := &networkingv1.NetworkPolicy{}
	eventually(t, "NetworkPolicy", func() error { return get(ns, "checkout-nps-collector", np) })
	if len(np.Spec.Ingress) != 2 || np.Spec.Ingress[1].From[0].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "surveyguard-system" ||
		np.Spec.Ingress[1].From[0].PodSelector == nil || !maps.Equal(np.Spec.Ingress[1].From[0].PodSelector.MatchLabels, operatorPods) {
		t.Errorf("admin ingress is not limited to the operator's pods (%v in surveyguard-system): %+v", operatorPods, np.Spec.Ingress)
	}

	c := &privacyv1alpha1.SurveyCampaign{}
	eventually(t, "Reconciling while the collector is not available", func() error {
		if err := get(ns, "checkout-nps", c); err != nil {
			return err
		}
		if cond := condition(c, privacyv1alpha1.ConditionReconciling); cond == nil || cond.Status != metav1.ConditionTrue {
			return fmt.Errorf("conditions %+v", c.Status.Conditions)
		}
		return nil
	})
	if c.Status.Endpoint != "https://checkout-nps-collector."+ns+".svc:8443" {
		t.Errorf("endpoint %q", c.Status.Endpoint)
	}
	if got := kstatusOf(t, c); got != status.InProgressStatus {
		t.Errorf("kstatus %s, want InProgress", got)
	}
}

// assertSecretVolumesOwnerOnly checks that every Secret volume (at least
// want of them) is readable by its owner only: keys, tokens and TLS keys.
func assertSecretVolumesOwnerOnly(t *testing.T, what string, volumes []corev1.Volume, want int) {
	t.Helper()
	n := 0
	for _, v := range volumes {
		if v.Secret == nil {
			continue
		}
		n++
		if v.Secret.DefaultMode == nil || *v.Secret.DefaultMode != 0o400 {
			t.Errorf("%s: Secret volume %s (%s) has defaultMode %v, want 0400", what, v.Name, v.Secret.SecretName, ptrString(v.Secret.DefaultMode))
		}
		for _, item := range v.Secret.Items {
			if item.Mode != nil && *item.Mode != 0o400 {
				t.Errorf("%s: Secret volume %s maps %s with mode %o, want 0400", what, v.Name, item.Key, *item.Mode)
			}
		}
	}
	if n < want {
		t.Errorf("%s mounts %d Secret volumes, want %d", what, n, want)
	}
}

func ptrString(p *int32) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprintf("%#o", *p)
}

func TestManualEditsAreRevertedAndDeletedChildrenComeBack(t *testing.T) {
	ns := namespace(t)
	create(t, policy(ns), campaign(ns))
	d := &appsv1.Deployment{}
	eventually(t, "collector Deployment", func() error { return get(ns, "checkout-nps-collector", d) })

	update(t, d, func() {
		d.Spec.Template.Spec.Containers[0].SecurityContext.ReadOnlyRootFilesystem = ptr.To(false)
		d.Spec.Replicas = ptr.To[int32](3)
	})
	eventually(t, "edit reverted", func() error {
		if err := get(ns, "checkout-nps-collector", d); err != nil {
			return err
		}
		if !*d.Spec.Template.Spec.Containers[0].SecurityContext.ReadOnlyRootFilesystem || *d.Spec.Replicas != 1 {
			return fmt.Errorf("still edited")
		}
		return nil
	})

	// Edits that only add to the pod are reverted too: a comparison that
	// reads whatever the desired object leaves unset as the API server's
	// default would keep them all.
	hardened := d.Spec.Template.Spec.DeepCopy()
	added := func(spec *corev1.PodSpec) {
		c := &spec.Containers[0]
		c.SecurityContext.Capabilities.Add = []corev1.Capability{"NET_ADMIN"}
		c.Env = append(c.Env, corev1.EnvVar{Name: "DEBUG", Value: "1"})
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "host", MountPath: "/host"})
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}})
		spec.Containers = append(spec.Containers, corev1.Container{Name: "sidecar", Image: "example.com/sidecar:1"})
	}
	update(t, d, func() { added(&d.Spec.Template.Spec) })
	cj := &batchv1.CronJob{}
	eventually(t, "retention CronJob", func() error { return get(ns, "checkout-nps-retention", cj) })
	purgePod := cj.Spec.JobTemplate.Spec.Template.Spec.DeepCopy()
	update(t, cj, func() {
		spec := &cj.Spec.JobTemplate.Spec.Template.Spec
		spec.Containers[0].SecurityContext.Capabilities.Add = []corev1.Capability{"SYS_ADMIN"}
		keys := corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "checkout-nps-keys"}} //nolint:gosec // G101: a Secret's name, no credential
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: "keys", VolumeSource: keys})
	})
	eventually(t, "additions reverted", func() error {
		if err := get(ns, "checkout-nps-collector", d); err != nil {
			return err
		}
		if err := get(ns, "checkout-nps-retention", cj); err != nil {
			return err
		}
		if !equality.Semantic.DeepEqual(d.Spec.Template.Spec, *hardened) {
			return fmt.Errorf("the collector pod still has additions: %d containers, %d volumes, capabilities %+v",
				len(d.Spec.Template.Spec.Containers), len(d.Spec.Template.Spec.Volumes), d.Spec.Template.Spec.Containers[0].SecurityContext.Capabilities)
		}
		if !equality.Semantic.DeepEqual(cj.Spec.JobTemplate.Spec.Template.Spec, *purgePod) {
			return fmt.Errorf("the purge pod still has additions: %d volumes", len(cj.Spec.JobTemplate.Spec.Template.Spec.Volumes))
		}
		return nil
	})

	// What an admission webhook may add on every write (here an env var)
	// and that does not widen what the pod may do is left: reverting it
	// would be a write on every pass.
	update(t, d, func() {
		c := &d.Spec.Template.Spec.Containers[0]
		c.Env = append(c.Env, corev1.EnvVar{Name: "HTTPS_PROXY", Value: "http://proxy.example:3128"})
	})
	generation := d.Generation
	waitPasses(t, ns, passes.get(ns)+3)
	if err := get(ns, "checkout-nps-collector", d); err != nil {
		t.Fatal(err)
	}
	if env := d.Spec.Template.Spec.Containers[0].Env; d.Generation != generation || env[len(env)-1].Name != "HTTPS_PROXY" {
		t.Errorf("generation %d (was %d), env %v; want a webhook's env var left alone", d.Generation, generation, env)
	}

	svc := &corev1.Service{}
	eventually(t, "Service", func() error { return get(ns, "checkout-nps-collector", svc) })
	if err := k8s.Delete(context.Background(), svc); err != nil {
		t.Fatal(err)
	}
	eventually(t, "Service recreated", func() error {
		fresh := &corev1.Service{}
		if err := get(ns, "checkout-nps-collector", fresh); err != nil {
			return err
		}
		if fresh.UID == svc.UID {
			return fmt.Errorf("the same Service")
		}
		return nil
	})
}

// waitPasses pokes the campaign until the reconciler has begun its n-th
// pass of the namespace's campaigns, so that the one before has ended.
func waitPasses(t *testing.T, ns string, n int64) {
	t.Helper()
	eventually(t, fmt.Sprintf("pass %d", n), func() error {
		if got := passes.get(ns); got < n {
			poke(t, ns)
			return fmt.Errorf("%d passes", got)
		}
		return nil
	})
}

// The cache keeps the children a pass compares slim (slimcache.go): a pass
// reads one in full from the API server only when it differs from what the
// pass last verified, as after a person's edit.
func TestSlimChildrenAreReadInFullOnlyWhenTheyDiffer(t *testing.T) {
	ns := namespace(t)
	create(t, policy(ns), campaign(ns))
	d := &appsv1.Deployment{}
	eventually(t, "collector Deployment and retention CronJob", func() error {
		if err := get(ns, "checkout-nps-collector", d); err != nil {
			return err
		}
		return get(ns, "checkout-nps-retention", &batchv1.CronJob{})
	})
	// The first passes may run before the cache holds what they made.
	eventually(t, "a pass that reads neither from the API server", func() error {
		reads, start := apiReads.get(ns), passes.get(ns)
		waitPasses(t, ns, start+2)
		if n := apiReads.get(ns) - reads; n != 0 {
			return fmt.Errorf("%d reads in one pass", n)
		}
		return nil
	})
	reads, start := apiReads.get(ns), passes.get(ns)
	waitPasses(t, ns, start+4)
	if n := apiReads.get(ns) - reads; n != 0 {
		t.Errorf("%d reads of Deployments and CronJobs from the API server in 3 idle passes, want 0", n)
	}

	update(t, d, func() { d.Spec.Template.Spec.Containers[0].Image = "example.com/edited:1" })
	eventually(t, "edit reverted", func() error {
		if err := get(ns, "checkout-nps-collector", d); err != nil {
			return err
		}
		if got := d.Spec.Template.Spec.Containers[0].Image; got != "example.com/surveyguard:test" {
			return fmt.Errorf("image %s", got)
		}
		return nil
	})
	if apiReads.get(ns) == reads {
		t.Error("the edit was reverted without reading the Deployment from the API server")
	}

	cm := &corev1.ConfigMap{}
	eventually(t, "ConfigMap", func() error { return get(ns, "checkout-nps-collector", cm) })
	config := cm.Data["collector.yaml"]
	update(t, cm, func() { cm.Data["collector.yaml"] = "edited: true\n" })
	np := &networkingv1.NetworkPolicy{}
	eventually(t, "NetworkPolicy", func() error { return get(ns, "checkout-nps-collector", np) })
	ingress := len(np.Spec.Ingress)
	update(t, np, func() { np.Spec.Ingress = nil })
	eventually(t, "ConfigMap and NetworkPolicy edits reverted", func() error {
		if err := get(ns, "checkout-nps-collector", cm); err != nil {
			return err
		}
		if err := get(ns, "checkout-nps-collector", np); err != nil {
			return err
		}
		if cm.Data["collector.yaml"] != config || len(np.Spec.Ingress) != ingress {
			return fmt.Errorf("still edited: %d ingress rules, config %q", len(np.Spec.Ingress), cm.Data["collector.yaml"])
		}
		return nil
	})
}

func TestSpecChangeRollsOutAndPausedScalesToZero(t *testing.T) {
	ns := namespace(t)
	create(t, policy(ns), campaign(ns))
	d := &appsv1.Deployment{}
	eventually(t, "collector Deployment", func() error { return get(ns, "checkout-nps-collector", d) })
	before := d.Spec.Template.Annotations["privacy.surveyguard.io/config-checksum"]

	c := &privacyv1alpha1.SurveyCampaign{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "checkout-nps"}}
	update(t, c, func() {
		c.Spec.Question = "How likely are you to recommend Acme Pay to a friend or colleague?"
		c.Spec.Paused = ptr.To(true)
	})
	eventually(t, "new checksum and zero replicas", func() error {
		if err := get(ns, "checkout-nps-collector", d); err != nil {
			return err
		}
		if d.Spec.Template.Annotations["privacy.surveyguard.io/config-checksum"] == before || *d.Spec.Replicas != 0 {
			return fmt.Errorf("checksum %s replicas %d", d.Spec.Template.Annotations["privacy.surveyguard.io/config-checksum"], *d.Spec.Replicas)
		}
		return nil
	})
	cm := &corev1.ConfigMap{}
	if err := get(ns, "checkout-nps-collector", cm); err != nil || !strings.Contains(cm.Data["collector.yaml"], "Acme Pay") {
		t.Errorf("ConfigMap not updated: %v\n%s", err, cm.Data["collector.yaml"])
	}
	if err := get(ns, "checkout-nps-data", &corev1.PersistentVolumeClaim{}); err != nil {
		t.Errorf("paused campaign lost its volume: %v", err)
	}
}

func TestMissingPolicyStallsAndRecovers(t *testing.T) {
	ns := namespace(t)
	create(t, campaign(ns))
	c := &privacyv1alpha1.SurveyCampaign{}
	eventually(t, "Stalled naming the policy", func() error {
		if err := get(ns, "checkout-nps", c); err != nil {
			return err
		}
		cond := condition(c, privacyv1alpha1.ConditionStalled)
		if cond == nil || cond.Status != metav1.ConditionTrue || cond.Reason != privacyv1alpha1.ReasonRetentionPolicyNotFound ||
			!strings.Contains(cond.Message, `"ninety-days"`) {
			return fmt.Errorf("conditions %+v", c.Status.Conditions)
		}
		return nil
	})
	if got := kstatusOf(t, c); got != status.FailedStatus {
		t.Errorf("kstatus %s, want Failed", got)
	}
	if got, ok := metricValue(t, "surveyguard_campaign_stalled", ns); !ok || got != 1 {
		t.Errorf("surveyguard_campaign_stalled = %v (exported %v), want 1", got, ok)
	}
	if err := get(ns, "checkout-nps-collector", &appsv1.Deployment{}); !apierrors.IsNotFound(err) {
		t.Errorf("a stalled campaign got a collector: %v", err)
	}
	create(t, policy(ns))
	eventually(t, "recovered", func() error {
		if err := get(ns, "checkout-nps", c); err != nil {
			return err
		}
		if condition(c, privacyv1alpha1.ConditionStalled) != nil {
			return fmt.Errorf("still stalled: %+v", c.Status.Conditions)
		}
		return get(ns, "checkout-nps-collector", &appsv1.Deployment{})
	})
	if got, ok := metricValue(t, "surveyguard_campaign_stalled", ns); !ok || got != 0 {
		t.Errorf("surveyguard_campaign_stalled = %v (exported %v) once recovered, want 0", got, ok)
	}
}

// startCollector runs a real collector process-alike on loopback with the
// files the operator's Secrets would mount, marks the Deployment available
// (envtest has no controllers to do it) and points the admin client at it.
func startCollector(t *testing.T, ns string) *collectortest.Fixture {
	t.Helper()
	dir := t.TempDir()
	secrets := filepath.Join(dir, "secrets")
	syncSecrets(t, ns, secrets)
	f := collectortest.StartAsCampaign(t, dir, "checkout-nps-collector."+ns+".svc", "")
	collectors.Dial(ns+"/checkout-nps", strings.TrimPrefix(f.Admin, "https://"))
	markAvailable(t, ns)
	return f
}

// markAvailable reports the collector Deployment's current generation as
// rolled out and available, as the Deployment controller would once its pod
// is ready (envtest runs no controllers).
func markAvailable(t *testing.T, ns string) {
	t.Helper()
	setCollectorStatus(t, ns, "available", appsv1.DeploymentStatus{Replicas: 1, ReadyReplicas: 1, AvailableReplicas: 1, UpdatedReplicas: 1})
}

// setCollectorStatus gives the collector Deployment the status st, for its
// current generation.
func setCollectorStatus(t *testing.T, ns, what string, st appsv1.DeploymentStatus) {
	t.Helper()
	eventually(t, "Deployment marked "+what, func() error {
		d := &appsv1.Deployment{}
		if err := get(ns, "checkout-nps-collector", d); err != nil {
			return err
		}
		d.Status, d.Status.ObservedGeneration = st, d.Generation
		return k8s.Status().Update(context.Background(), d)
	})
}

// waitReady waits for the campaign to be Ready (its stats were read).
func waitReady(t *testing.T, ns string) {
	t.Helper()
	eventually(t, "campaign Ready", func() error {
		markAvailable(t, ns)
		poke(t, ns)
		c := &privacyv1alpha1.SurveyCampaign{}
		if err := get(ns, "checkout-nps", c); err != nil {
			return err
		}
		if cond := condition(c, privacyv1alpha1.ConditionReady); cond == nil || cond.Status != metav1.ConditionTrue {
			return fmt.Errorf("not Ready: %+v", c.Status.Conditions)
		}
		return nil
	})
}

// syncSecrets writes the operator's Secrets as the kubelet would mount them.
func syncSecrets(t *testing.T, ns, dir string) {
	t.Helper()
	eventually(t, "the campaign's Secrets", func() error {
		return testenv.MountCampaignSecrets(context.Background(), k8s, ns, "checkout-nps", dir)
	})
}

// adminStats reads the collector's stats with the operator's admin token.
func adminStats(t *testing.T, f *collectortest.Fixture) collectortest.Answer {
	t.Helper()
	token, err := os.ReadFile(filepath.Join(f.Dir, "secrets", "admin", "token"))
	if err != nil {
		t.Fatal(err)
	}
	return f.Do(t, http.MethodGet, f.Admin+"/admin/v1/stats", nil, map[string]string{"Authorization": "Bearer " + string(token)})
}

// operatorStatsCalls is how many times the operator has read the
// collector's figures, by the collector's count.
func operatorStatsCalls(t *testing.T, f *collectortest.Fixture) float64 {
	t.Helper()
	token, err := os.ReadFile(filepath.Join(f.Dir, "secrets", "admin", "token"))
	if err != nil {
		t.Fatal(err)
	}
	a := f.Do(t, http.MethodGet, f.Admin+"/metrics", nil, map[string]string{"Authorization": "Bearer " + string(token)})
	if a.Status != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", a.Status, a.Raw)
	}
	for _, line := range strings.Split(a.Raw, "\n") {
		if strings.HasPrefix(line, "surveyguard_collector_admin_calls_total{") &&
			strings.Contains(line, `action="stats"`) && strings.Contains(line, `caller="operator"`) && strings.Contains(line, `outcome="ok"`) {
			v, err := strconv.ParseFloat(line[strings.LastIndex(line, " ")+1:], 64)
			if err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			return v
		}
	}
	return 0
}

func post(t *testing.T, f *collectortest.Fixture, score int, customer string) {
	t.Helper()
	body := fmt.Sprintf(`{"score":%d,"consent":{"given":true,"noticeVersion":"2026-01"},"customerID":%q}`, score, customer)
	if a := f.Do(t, http.MethodPost, f.Public+"/v1/responses", []byte(body), map[string]string{"Content-Type": "application/json"}); a.Status != http.StatusCreated {
		t.Fatalf("post: %d %s", a.Status, a.Raw)
	}
}

// poke makes the campaign reconcile now (a metadata change is an event).
func poke(t *testing.T, ns string) {
	t.Helper()
	c := &privacyv1alpha1.SurveyCampaign{}
	if err := get(ns, "checkout-nps", c); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(c.DeepCopy())
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations["test/poke"] = time.Now().Format(time.RFC3339Nano)
	if err := k8s.Patch(context.Background(), c, patch); err != nil {
		t.Fatal(err)
	}
}

func TestNPSFromARealCollectorAndIdlePassesWriteNothing(t *testing.T) {
	ns := namespace(t)
	create(t, policy(ns), campaign(ns))
	f := startCollector(t, ns)
	scores := []int{10, 9, 9, 8, 7, 6, 3, 10}
	for i, s := range scores {
		post(t, f, s, fmt.Sprintf("C-%d", i))
	}
	c := &privacyv1alpha1.SurveyCampaign{}
	eventually(t, "NPS on status and Ready", func() error {
		poke(t, ns)
		if err := get(ns, "checkout-nps", c); err != nil {
			return err
		}
		if c.Status.NPS == nil || c.Status.NPS.Responses != int64(len(scores)) {
			return fmt.Errorf("nps %+v, conditions %+v", c.Status.NPS, c.Status.Conditions)
		}
		if cond := condition(c, privacyv1alpha1.ConditionReady); cond == nil || cond.Status != metav1.ConditionTrue {
			return fmt.Errorf("not Ready: %+v", c.Status.Conditions)
		}
		return nil
	})
	// 4 promoters, 2 passives, 2 detractors of 8: NPS 25.
	if c.Status.NPS.Score == nil || *c.Status.NPS.Score != 25 || *c.Status.NPS.Promoters != 4 || ptr.Deref(c.Status.NPS.Suppressed, false) {
		t.Errorf("nps %+v", c.Status.NPS)
	}
	if c.Status.Encryption == nil || c.Status.Encryption.ActiveKeyID != "k1" {
		t.Errorf("encryption %+v", c.Status.Encryption)
	}
	if cond := condition(c, privacyv1alpha1.ConditionEncryptionEnforced); cond == nil || cond.Status != metav1.ConditionTrue {
		t.Errorf("EncryptionEnforced %+v", cond)
	}
	if c.Status.ObservedGeneration != c.Generation {
		t.Errorf("observedGeneration %d, generation %d", c.Status.ObservedGeneration, c.Generation)
	}
	if got := kstatusOf(t, c); got != status.CurrentStatus {
		t.Errorf("kstatus %s, want Current", got)
	}
	wantAge := fakeClock.Since(c.Status.Encryption.RotatedAt.Time).Seconds()
	for name, want := range map[string]float64{
		"surveyguard_nps_score": 25, "surveyguard_responses": 8, "surveyguard_key_age_seconds": wantAge,
		"surveyguard_nps_margin_of_error":           ptr.Deref(c.Status.NPS.MarginOfError, -1),
		"surveyguard_key_rotation_interval_seconds": c.Spec.Encryption.KeyRotationInterval.Seconds(),
		"surveyguard_campaign_collector_available":  1, "surveyguard_campaign_paused": 0, "surveyguard_campaign_stalled": 0,
		"surveyguard_storage_budget_exceeded": 0, "surveyguard_breaches": 0,
	} {
		if got, ok := metricValue(t, name, ns); !ok || got != want {
			t.Errorf("%s{namespace=%q} = %v (exported %v), want %v", name, ns, got, ok, want)
		}
	}

	// Idle: passes that change nothing write nothing.
	time.Sleep(time.Second)
	before := writes.Load()
	for range 5 {
		poke(t, ns)
		time.Sleep(300 * time.Millisecond)
	}
	if n := writes.Load() - before; n != 0 {
		t.Errorf("%d write calls in idle passes, want 0", n)
	}
}

func TestKeyRotationAndRetirement(t *testing.T) {
	ns := rotatingCampaign(t)
	f := startCollector(t, ns)
	post(t, f, 9, "C-1")
	post(t, f, 3, "C-2")

	// Certificates issued while the clock is ahead would not be valid yet
	// for the tests after this one.
	t.Cleanup(func() { fakeClock.SetTime(time.Now()) })
	fakeClock.Step(25 * time.Hour)
	poke(t, ns)
	keys := &corev1.Secret{}
	eventually(t, "k2 active", func() error {
		if err := get(ns, "checkout-nps-keys", keys); err != nil {
			return err
		}
		if string(keys.Data["active"]) != "k2" || len(keys.Data["key-k1"]) != 32 {
			return fmt.Errorf("active %s, keys %d", keys.Data["active"], len(keys.Data))
		}
		return nil
	})
	// The kubelet would now update the mounted files; the collector
	// re-wraps, and then the operator retires k1.
	syncSecrets(t, ns, filepath.Join(f.Dir, "secrets"))
	eventually(t, "k1 retired after re-wrap", func() error {
		markAvailable(t, ns) // the pods rolled for the new key
		poke(t, ns)
		if err := get(ns, "checkout-nps-keys", keys); err != nil {
			return err
		}
		if _, ok := keys.Data["key-k1"]; ok {
			return fmt.Errorf("k1 still present; stats %s", adminStats(t, f).Raw)
		}
		return nil
	})
	c := &privacyv1alpha1.SurveyCampaign{}
	if err := get(ns, "checkout-nps", c); err != nil {
		t.Fatal(err)
	}
	if c.Status.Encryption == nil || c.Status.Encryption.ActiveKeyID != "k2" || !c.Status.Encryption.RotatedAt.Time.Equal(fakeClock.Now().Truncate(time.Second)) {
		t.Errorf("encryption status %+v, clock %s", c.Status.Encryption, fakeClock.Now())
	}
}

// rotatingCampaign creates, in a namespace of the test's own, the policy
// and the campaign with a data key that rotates every 24 h, and returns
// the namespace.
func rotatingCampaign(t *testing.T) string {
	t.Helper()
	ns := namespace(t)
	sc := campaign(ns)
	sc.Spec.Encryption.KeyRotationInterval = &metav1.Duration{Duration: 24 * time.Hour}
	create(t, policy(ns), sc)
	return ns
}

// deleteCampaign deletes the campaign once it carries its finalizer and
// waits until it is gone.
func deleteCampaign(t *testing.T, ns string) {
	t.Helper()
	c := &privacyv1alpha1.SurveyCampaign{}
	eventually(t, "finalizer", func() error {
		if err := get(ns, "checkout-nps", c); err != nil {
			return err
		}
		if len(c.Finalizers) == 0 {
			return fmt.Errorf("no finalizer")
		}
		return nil
	})
	if err := k8s.Delete(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	eventually(t, "campaign gone", func() error {
		if err := get(ns, "checkout-nps", c); !apierrors.IsNotFound(err) {
			return fmt.Errorf("still there: %v", err)
		}
		return nil
	})
}

// TestCollectorImageMustBeAllowed: a campaign naming a collector image the
// operator does not allow is Stalled, and its collector and purge Jobs run
// the operator's own image instead (the refused one would run with the
// campaign's keys mounted); another tag of the operator's own image is run.
func TestCollectorImageMustBeAllowed(t *testing.T) {
	ns := namespace(t)
	c := campaign(ns)
	c.Spec.Collector.Image = "docker.io/attacker/exfiltrate:latest"
	create(t, policy(ns), c)
	eventually(t, "Stalled ImageNotAllowed", func() error {
		if err := get(ns, "checkout-nps", c); err != nil {
			return err
		}
		return hasCondition(c, privacyv1alpha1.ConditionStalled, metav1.ConditionTrue, privacyv1alpha1.ReasonImageNotAllowed,
			`spec.collector.image "docker.io/attacker/exfiltrate:latest" is not allowed, so the collector runs example.com/surveyguard:test`)
	})
	d := &appsv1.Deployment{}
	cj := &batchv1.CronJob{}
	if err := get(ns, "checkout-nps-collector", d); err != nil {
		t.Fatal(err)
	}
	if err := get(ns, "checkout-nps-retention", cj); err != nil {
		t.Fatal(err)
	}
	if got := d.Spec.Template.Spec.Containers[0].Image; got != "example.com/surveyguard:test" {
		t.Errorf("the collector runs %s, want the operator's image", got)
	}
	if got := cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Image; got != "example.com/surveyguard:test" {
		t.Errorf("the purge Jobs run %s, want the operator's image", got)
	}
	if got := kstatusOf(t, c); got != status.FailedStatus {
		t.Errorf("kstatus %s, want Failed", got)
	}
	// The pass went through: what it saw is published under the stall
	// (a breach report's containment reads the keys from it).
	eventually(t, "the rest of the status published", func() error {
		if err := get(ns, "checkout-nps", c); err != nil {
			return err
		}
		if c.Status.Encryption == nil || c.Status.Encryption.ActiveKeyID == "" {
			return fmt.Errorf("status.encryption %+v", c.Status.Encryption)
		}
		if condition(c, privacyv1alpha1.ConditionCollectorAvailable) == nil || condition(c, privacyv1alpha1.ConditionRetentionEnforced) == nil {
			return fmt.Errorf("conditions %+v", c.Status.Conditions)
		}
		return hasCondition(c, privacyv1alpha1.ConditionReady, metav1.ConditionFalse, privacyv1alpha1.ReasonImageNotAllowed, "is not allowed")
	})

	update(t, c, func() { c.Spec.Collector.Image = "example.com/surveyguard@sha256:" + strings.Repeat("0", 64) })
	eventually(t, "the Deployment of the operator's own image, pinned", func() error {
		if err := get(ns, "checkout-nps-collector", d); err != nil {
			return err
		}
		if got := d.Spec.Template.Spec.Containers[0].Image; got != c.Spec.Collector.Image {
			return fmt.Errorf("image %s", got)
		}
		return nil
	})
}

// TestLegalHoldKeepsADeletedCampaign: deleting a campaign whose
// RetentionPolicy is under legal hold neither purges it nor destroys its
// keys; the deletion waits, saying why, until the hold is lifted.
func TestLegalHoldKeepsADeletedCampaign(t *testing.T) {
	ns := namespace(t)
	held := policy(ns)
	held.Spec.LegalHold = ptr.To(true)
	create(t, held, campaign(ns))
	f := startCollector(t, ns)
	post(t, f, 9, "C-1")
	waitReady(t, ns)
	c := &privacyv1alpha1.SurveyCampaign{}
	if err := get(ns, "checkout-nps", c); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Delete(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the deletion waiting on the hold", func() error {
		if err := get(ns, "checkout-nps", c); err != nil {
			return err
		}
		return hasCondition(c, privacyv1alpha1.ConditionReady, metav1.ConditionFalse, privacyv1alpha1.ReasonLegalHold,
			"deletion waits: RetentionPolicy ninety-days is under legal hold")
	})
	if err := get(ns, "checkout-nps-keys", &corev1.Secret{}); err != nil {
		t.Errorf("the key Secret under a legal hold: %v", err)
	}
	if st := adminStats(t, f); st.Body["responses"].(float64) != 1 {
		t.Errorf("the collector holds %v responses under a legal hold, want 1", st.Body["responses"])
	}

	// The held campaign keeps its data, so an erasure is carried out by its
	// collector, not recorded as done by the deletion.
	create(t, &privacyv1alpha1.ErasureRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "erase-c-1"},
		Spec:       privacyv1alpha1.ErasureRequestSpec{Subject: privacyv1alpha1.ErasureSubject{CustomerID: "C-1"}},
	})
	er := erasureStatus(t, ns, "erase-c-1", completed)
	if r := er.Status.Results; len(r) != 1 || r[0].State != privacyv1alpha1.ErasureCampaignErased || ptr.Deref(r[0].Erased, 0) != 1 {
		t.Errorf("results %+v, want checkout-nps Erased 1", r)
	}

	// Its keys gone (a foreground cascade deletes them), nothing it holds
	// can be read: an erasure reads as done by the deletion.
	if err := k8s.Delete(context.Background(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "checkout-nps-keys"}}); err != nil {
		t.Fatal(err)
	}
	create(t, &privacyv1alpha1.ErasureRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "erase-c-2"},
		Spec:       privacyv1alpha1.ErasureRequestSpec{Subject: privacyv1alpha1.ErasureSubject{CustomerID: "C-2"}},
	})
	er = erasureStatus(t, ns, "erase-c-2", completed)
	if r := er.Status.Results; len(r) != 1 || r[0].State != privacyv1alpha1.ErasureCampaignDeleted {
		t.Errorf("results %+v, want checkout-nps CampaignDeleted once its keys are gone", r)
	}

	// Lifting the hold lets the deletion go on.
	update(t, held, func() { held.Spec.LegalHold = nil })
	eventually(t, "campaign gone once the hold is lifted", func() error {
		if err := get(ns, "checkout-nps", c); !apierrors.IsNotFound(err) {
			return fmt.Errorf("still there: %v", err)
		}
		return nil
	})
	if err := get(ns, "checkout-nps-keys", &corev1.Secret{}); !apierrors.IsNotFound(err) {
		t.Errorf("the key Secret survived the deletion: %v", err)
	}
	if st := adminStats(t, f); st.Body["responses"].(float64) != 0 {
		t.Errorf("the collector still holds %v responses", st.Body["responses"])
	}
}

func TestDeletionCryptoShreds(t *testing.T) {
	ns := namespace(t)
	create(t, policy(ns), campaign(ns))
	f := startCollector(t, ns)
	post(t, f, 9, "C-1")
	post(t, f, 2, "C-2")
	waitReady(t, ns)
	deleteCampaign(t, ns)
	for _, name := range []string{"checkout-nps-keys", "checkout-nps-ca"} {
		if err := get(ns, name, &corev1.Secret{}); !apierrors.IsNotFound(err) {
			t.Errorf("Secret %s survived the deletion: %v", name, err)
		}
	}
	if st := adminStats(t, f); st.Body["responses"].(float64) != 0 {
		t.Errorf("the collector still holds %v responses", st.Body["responses"])
	}
	if v, ok := metricValue(t, "surveyguard_responses", ns); ok {
		t.Errorf("a deleted campaign is still exported: surveyguard_responses %v", v)
	}

	// The deletion is recorded once: one Purged, one KeysDestroyed, no
	// PurgeSkipped. A pass on the cache's stale copy, after the finalizer
	// was removed, used to shred again and report the purge skipped. A
	// later campaign's first event marks that earlier ones are all written.
	create(t, namedCampaign(ns, "marker-nps", nil))
	eventually(t, "the events of the deletion, then the next campaign's", func() error {
		evs := &eventsv1.EventList{}
		if err := k8s.List(context.Background(), evs, client.InNamespace(ns)); err != nil {
			return err
		}
		count := map[string]int32{}
		marker := false
		for _, e := range evs.Items {
			switch e.Regarding.Name {
			case "marker-nps":
				marker = true
			case "checkout-nps":
				n := int32(1)
				if e.Series != nil {
					n = e.Series.Count
				}
				count[e.Reason] += n
			}
		}
		if !marker || count["Purged"] == 0 || count["KeysDestroyed"] == 0 {
			return fmt.Errorf("not yet: %v (marker %v)", count, marker)
		}
		if count["Purged"] != 1 || count["KeysDestroyed"] != 1 || count["PurgeSkipped"] != 0 {
			t.Fatalf("deletion events %v: want one Purged, one KeysDestroyed and no PurgeSkipped", count)
		}
		return nil
	})
}

// metricValue gathers the campaign metrics and returns the sample of the
// campaign checkout-nps in ns.
func metricValue(t *testing.T, name, ns string) (float64, bool) {
	t.Helper()
	return gauge(t, metrics, name, map[string]string{"namespace": ns, "campaign": "checkout-nps"})
}

// gauge gathers a collector's metrics and returns the sample of name whose
// labels include want.
func gauge(t *testing.T, c prometheus.Collector, name string, want map[string]string) (float64, bool) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, fam := range families {
		if fam.GetName() != name {
			continue
		}
		for _, m := range fam.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			match := true
			for k, v := range want {
				match = match && labels[k] == v
			}
			if match {
				if c := m.GetCounter(); c != nil {
					return c.GetValue(), true
				}
				return m.GetGauge().GetValue(), true
			}
		}
	}
	return 0, false
}

func TestDeletionDoesNotHangOnAnUnreachableCollector(t *testing.T) {
	ns := namespace(t)
	create(t, policy(ns), campaign(ns))
	f := startCollector(t, ns)
	f.Stop()
	deleteCampaign(t, ns)
	if err := get(ns, "checkout-nps-keys", &corev1.Secret{}); !apierrors.IsNotFound(err) {
		t.Errorf("keys survived: %v", err)
	}
}

func TestPostgresSecretIsCheckedAndRollsThePods(t *testing.T) {
	ns := namespace(t)
	sc := campaign(ns)
	sc.Spec.Storage = privacyv1alpha1.StorageSpec{Postgres: &privacyv1alpha1.PostgresStorage{
		SecretRef: privacyv1alpha1.SecretKeyReference{Name: "pg-dsn"},
	}}
	create(t, policy(ns), sc)
	stalledWith := func(want string) {
		t.Helper()
		eventually(t, "Stalled: "+want, func() error {
			poke(t, ns)
			c := &privacyv1alpha1.SurveyCampaign{}
			if err := get(ns, "checkout-nps", c); err != nil {
				return err
			}
			cond := condition(c, privacyv1alpha1.ConditionStalled)
			if cond == nil || cond.Reason != privacyv1alpha1.ReasonSecretNotFound || !strings.Contains(cond.Message, want) {
				return fmt.Errorf("conditions %+v", c.Status.Conditions)
			}
			return nil
		})
	}
	stalledWith(`Secret "pg-dsn" named by spec.storage.postgres.secretRef does not exist`)
	if err := get(ns, "checkout-nps-collector", &appsv1.Deployment{}); !apierrors.IsNotFound(err) {
		t.Errorf("a Deployment whose pods could not mount the database Secret: %v", err)
	}

	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "pg-dsn", Namespace: ns},
		Data: map[string][]byte{"url": []byte("postgres://collector@db:5432/nps")}}
	create(t, secret)
	stalledWith(`Secret "pg-dsn" has no key "dsn"`)

	secret.Data = map[string][]byte{"dsn": []byte("postgres://collector@db:5432/nps")}
	if err := k8s.Update(context.Background(), secret); err != nil {
		t.Fatal(err)
	}
	d := &appsv1.Deployment{}
	eventually(t, "Deployment once the Secret is right", func() error {
		poke(t, ns)
		return get(ns, "checkout-nps-collector", d)
	})
	before := d.Spec.Template.Annotations["privacy.surveyguard.io/config-checksum"]
	var mounted bool
	for _, v := range d.Spec.Template.Spec.Volumes {
		// Whole: a private CA beside the string is read from the volume.
		mounted = mounted || (v.Secret != nil && v.Secret.SecretName == "pg-dsn" && len(v.Secret.Items) == 0)
	}
	if !mounted {
		t.Errorf("the database Secret is not mounted whole: %+v", d.Spec.Template.Spec.Volumes)
	}
	if err := get(ns, "checkout-nps-data", &corev1.PersistentVolumeClaim{}); !apierrors.IsNotFound(err) {
		t.Errorf("a PVC for a PostgreSQL campaign: %v", err)
	}

	egressTo := func(want ...int32) error {
		np := &networkingv1.NetworkPolicy{}
		if err := get(ns, "checkout-nps-collector", np); err != nil {
			return err
		}
		var got []int32
		for _, rule := range np.Spec.Egress {
			if len(rule.To) > 0 { // the retention Jobs' rule: to the collector's pods
				continue
			}
			for _, p := range rule.Ports {
				if p.Port != nil && p.Port.IntVal != 53 {
					got = append(got, p.Port.IntVal)
				}
			}
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("egress to the database's ports %v, want %v", got, want)
		}
		return nil
	}
	if err := egressTo(5432); err != nil {
		t.Error(err)
	}

	// Through PgBouncer, on its port: the pods roll and may reach it.
	secret.Data["dsn"] = []byte("postgres://collector@pgbouncer.db:6432/nps")
	if err := k8s.Update(context.Background(), secret); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a new connection string rolls the pods and opens its port", func() error {
		poke(t, ns)
		if err := get(ns, "checkout-nps-collector", d); err != nil {
			return err
		}
		if d.Spec.Template.Annotations["privacy.surveyguard.io/config-checksum"] == before {
			return fmt.Errorf("checksum unchanged")
		}
		return egressTo(6432)
	})
}

// TestVolumeThatCannotGrowStallsAndKeepsTheCollector: the API server refuses
// to grow the embedded store's claim (here: it is not bound). The campaign
// is Stalled naming the size and the API server's words, instead of
// failing every pass, and what it said of the collector stays. (The size
// cannot be given back: it never shrinks. The claim's storage class must
// allow expansion; the operator looks again every minute.)
func TestVolumeThatCannotGrowStallsAndKeepsTheCollector(t *testing.T) {
	ns := namespace(t)
	create(t, policy(ns), campaign(ns))
	c := &privacyv1alpha1.SurveyCampaign{}
	eventually(t, "the claim made", func() error {
		if err := get(ns, "checkout-nps", c); err != nil {
			return err
		}
		if c.Status.ObservedGeneration != c.Generation || condition(c, privacyv1alpha1.ConditionCollectorAvailable) == nil {
			return fmt.Errorf("not reconciled yet: %+v", c.Status.Conditions)
		}
		return get(ns, "checkout-nps-data", &corev1.PersistentVolumeClaim{})
	})
	available := *condition(c, privacyv1alpha1.ConditionCollectorAvailable)

	update(t, c, func() { c.Spec.Storage.Embedded.Size = ptr.To(resource.MustParse("2Gi")) })
	eventually(t, "Stalled VolumeNotExpandable", func() error {
		if err := get(ns, "checkout-nps", c); err != nil {
			return err
		}
		cond := condition(c, privacyv1alpha1.ConditionStalled)
		if cond == nil || cond.Reason != "VolumeNotExpandable" || !strings.Contains(cond.Message, "asks for 2Gi") ||
			!strings.Contains(cond.Message, "checkout-nps-data cannot grow from 1Gi") || c.Status.ObservedGeneration != c.Generation {
			return fmt.Errorf("conditions %+v", c.Status.Conditions)
		}
		return nil
	})
	if got := kstatusOf(t, c); got != status.FailedStatus {
		t.Errorf("kstatus %s, want Failed", got)
	}
	if got := condition(c, privacyv1alpha1.ConditionCollectorAvailable); got == nil || got.Status != available.Status || got.Message != available.Message {
		t.Errorf("CollectorAvailable %+v, want it as it was: %+v", got, available)
	}

	// The rest of the campaign still works: a pause (a breach's
	// containment would be the same) scales the collector to zero.
	update(t, c, func() { c.Spec.Paused = ptr.To(true) })
	eventually(t, "the collector scaled to zero while the volume stalls", func() error {
		d := &appsv1.Deployment{}
		if err := get(ns, "checkout-nps-collector", d); err != nil {
			return err
		}
		if d.Spec.Replicas == nil || *d.Spec.Replicas != 0 {
			return fmt.Errorf("replicas %v", d.Spec.Replicas)
		}
		return nil
	})
}

// TestRestoredOlderKeySecretIssuesNoKeyIDAgain: the key Secret is lost and
// restored from a backup taken before the last rotation. Its rotation time
// is old, so the operator rotates at once; the new key must not take the
// ID of the key made after the backup (which stored responses may be
// sealed by, and whose bytes the backup lacks): with the same ID and other
// bytes they would fail to decrypt, and no key would be reported missing.
func TestRestoredOlderKeySecretIssuesNoKeyIDAgain(t *testing.T) {
	ns := rotatingCampaign(t)
	t.Cleanup(func() { fakeClock.SetTime(time.Now()) })
	keys := &corev1.Secret{}
	rotateTo := func(want string) {
		t.Helper()
		fakeClock.Step(25 * time.Hour)
		eventually(t, want+" active", func() error {
			poke(t, ns)
			if err := get(ns, "checkout-nps-keys", keys); err != nil {
				return err
			}
			if string(keys.Data["active"]) != want {
				return fmt.Errorf("active %s", keys.Data["active"])
			}
			return nil
		})
		waitFor(t, ns, "checkout-nps", &privacyv1alpha1.SurveyCampaign{}, func(c *privacyv1alpha1.SurveyCampaign) error {
			if c.Status.Encryption == nil || c.Status.Encryption.ActiveKeyID != want {
				return fmt.Errorf("status.encryption %+v", c.Status.Encryption)
			}
			return nil
		})
	}
	eventually(t, "k1 active", func() error {
		if err := get(ns, "checkout-nps-keys", keys); err != nil {
			return err
		}
		if string(keys.Data["active"]) != "k1" {
			return fmt.Errorf("active %s", keys.Data["active"])
		}
		return nil
	})
	rotateTo("k2")
	backup := keys.DeepCopy()
	rotateTo("k3")
	k3 := slices.Clone(keys.Data["key-k3"])

	if err := k8s.Delete(context.Background(), keys); err != nil {
		t.Fatal(err)
	}
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: backup.Name, Namespace: ns, Labels: backup.Labels, Annotations: backup.Annotations},
		Type: backup.Type, Data: backup.Data})
	eventually(t, "a rotation after the restore", func() error {
		poke(t, ns)
		if err := get(ns, "checkout-nps-keys", keys); err != nil {
			return err
		}
		if string(keys.Data["active"]) == "k2" {
			return fmt.Errorf("active k2, keys %v", slices.Sorted(maps.Keys(keys.Data)))
		}
		return nil
	})
	if got := string(keys.Data["active"]); got != "k4" {
		t.Errorf("the key made after the restore is %s, want k4: k3 was issued before the backup's restore", got)
	}
	if b, ok := keys.Data["key-k3"]; ok && !bytes.Equal(b, k3) {
		t.Errorf("key-k3 holds other bytes than the k3 issued before: what k3 sealed would fail to decrypt")
	}
}

// TestRedactionCountsArePublished: what the collector scrubbed from
// comments is counted by kind on the campaign's status and in the
// operator's metrics; the text never is.
func TestRedactionCountsArePublished(t *testing.T) {
	ns := namespace(t)
	create(t, policy(ns), campaign(ns))
	f := startCollector(t, ns)
	for i, comment := range []string{"write to ana@example.com or call +91 98765 43210", "ana@example.org again", "nothing personal"} {
		body := fmt.Sprintf(`{"score":9,"consent":{"given":true,"noticeVersion":"2026-01"},"customerID":"C-%d","comment":%q}`, i, comment)
		if a := f.Do(t, http.MethodPost, f.Public+"/v1/responses", []byte(body), map[string]string{"Content-Type": "application/json"}); a.Status != http.StatusCreated {
			t.Fatalf("post: %d %s", a.Status, a.Raw)
		}
	}
	want := []privacyv1alpha1.RedactionCount{{Kind: "email", Count: 2}, {Kind: "phone", Count: 1}}
	c := waitFor(t, ns, "checkout-nps", &privacyv1alpha1.SurveyCampaign{}, func(c *privacyv1alpha1.SurveyCampaign) error {
		if !slices.Equal(c.Status.Redactions, want) {
			poke(t, ns)
			return fmt.Errorf("status.redactions %+v, want %+v", c.Status.Redactions, want)
		}
		return nil
	})
	raw, err := json.Marshal(c.Status)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "example") || strings.Contains(string(raw), "98765") {
		t.Errorf("the status holds scrubbed text: %s", raw)
	}
	for _, r := range want {
		eventually(t, "surveyguard_comment_redactions_total "+r.Kind, func() error {
			v, ok := gauge(t, metrics, "surveyguard_comment_redactions_total", map[string]string{"namespace": ns, "campaign": "checkout-nps", "kind": r.Kind})
			if !ok || v != float64(r.Count) {
				return fmt.Errorf("%v (exported %v), want %d", v, ok, r.Count)
			}
			return nil
		})
	}
}

// TestKeysStayWhileThePodTemplateLagsBehind: after a rotation the
// collector re-wraps everything under the new key, but the Deployment's
// pod template cannot be updated to the new keys (an admission policy
// refuses it). The pods that answered may have reloaded the Secret on
// their own, yet with several replicas another may still seal with the old
// key: the old key stays until the template carries the new keys and has
// rolled out, and goes once it does.
func TestKeysStayWhileThePodTemplateLagsBehind(t *testing.T) {
	ctx := context.Background()
	ns := rotatingCampaign(t)
	f := startCollector(t, ns)
	post(t, f, 9, "C-1")
	waitReady(t, ns)

	name := "freeze-templates-" + ns
	vap := &admissionregistrationv1.ValidatingAdmissionPolicy{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Update},
					Rule:       admissionregistrationv1.Rule{APIGroups: []string{"apps"}, APIVersions: []string{"v1"}, Resources: []string{"deployments"}},
				},
			}}},
			Validations: []admissionregistrationv1.Validation{{Expression: `object.spec.template == oldObject.spec.template`, Message: "pod templates are frozen"}},
		}}
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{PolicyName: name,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
			MatchResources: &admissionregistrationv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}}}}}
	create(t, vap, binding)
	unfreeze := func() {
		_ = k8s.Delete(ctx, binding)
		_ = k8s.Delete(ctx, vap)
	}
	t.Cleanup(unfreeze)
	eventually(t, "the policy refuses a template change", func() error {
		d := &appsv1.Deployment{}
		if err := get(ns, "checkout-nps-collector", d); err != nil {
			return err
		}
		d.Spec.Template.Annotations["test/frozen"] = "?"
		if err := k8s.Update(ctx, d, client.DryRunAll); err == nil || !strings.Contains(err.Error(), "frozen") {
			return fmt.Errorf("a template change was not refused: %v", err)
		}
		return nil
	})

	rotateAndHoldK1(t, ns, f, "the Deployment's pod template could not take the new keys")

	unfreeze()
	waitK1Retired(t, ns, f)
}

// rotateAndHoldK1 rotates the campaign's key to k2 (its clock 25 h on),
// lets the collector re-wrap everything under k2, waits until two more
// passes have read those figures (the collector counts the operator's
// calls; a pass that read them has decided about k1 once a later one has
// asked), and fails the test if k1 was retired meanwhile: why names what
// should have kept it.
func rotateAndHoldK1(t *testing.T, ns string, f *collectortest.Fixture, why string) {
	t.Helper()
	t.Cleanup(func() { fakeClock.SetTime(time.Now()) })
	fakeClock.Step(25 * time.Hour)
	keys := &corev1.Secret{}
	eventually(t, "k2 active", func() error {
		poke(t, ns)
		if err := get(ns, "checkout-nps-keys", keys); err != nil {
			return err
		}
		if string(keys.Data["active"]) != "k2" {
			return fmt.Errorf("active %s", keys.Data["active"])
		}
		return nil
	})
	// The kubelet refreshes the mounted Secret in the running pod: the
	// collector reloads it and re-wraps under k2.
	syncSecrets(t, ns, filepath.Join(f.Dir, "secrets"))
	eventually(t, "re-wrapped under k2", func() error {
		st := adminStats(t, f)
		if st.Body["activeKeyID"] != "k2" || st.Body["rewrapPending"].(float64) != 0 {
			return fmt.Errorf("stats %s", st.Raw)
		}
		return nil
	})
	read := operatorStatsCalls(t, f)
	eventually(t, "two more passes read the figures", func() error {
		markAvailable(t, ns)
		poke(t, ns)
		if n := operatorStatsCalls(t, f); n < read+2 {
			return fmt.Errorf("%v calls since the re-wrap", n-read)
		}
		return nil
	})
	if err := get(ns, "checkout-nps-keys", keys); err != nil {
		t.Fatal(err)
	}
	if _, ok := keys.Data["key-k1"]; !ok {
		t.Fatal("k1 was retired while " + why)
	}
}

// waitK1Retired waits until the operator retires k1.
func waitK1Retired(t *testing.T, ns string, f *collectortest.Fixture) {
	t.Helper()
	keys := &corev1.Secret{}
	eventually(t, "k1 retired", func() error {
		markAvailable(t, ns)
		poke(t, ns)
		if err := get(ns, "checkout-nps-keys", keys); err != nil {
			return err
		}
		if _, ok := keys.Data["key-k1"]; ok {
			return fmt.Errorf("k1 still present; stats %s", adminStats(t, f).Raw)
		}
		return nil
	})
}

// TestKeysStayWhileACollectorPodTerminates: where the Deployment's status
// does not count terminating pods (before Kubernetes 1.35; envtest's
// Deployments here have no terminatingReplicas either), a pod still
// terminating is read from its Service's EndpointSlices: within its grace
// period it may still commit an answer sealed with the old key, which
// stays until it is gone.
func TestKeysStayWhileACollectorPodTerminates(t *testing.T) {
	ctx := context.Background()
	ns := rotatingCampaign(t)
	f := startCollector(t, ns)
	post(t, f, 9, "C-1")
	waitReady(t, ns)

	// What the EndpointSlice controller keeps for the Service while an
	// old pod shuts down.
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "checkout-nps-collector-old", Namespace: ns, Labels: map[string]string{
			discoveryv1.LabelServiceName: "checkout-nps-collector", discoveryv1.LabelManagedBy: "endpointslice-controller.k8s.io",
		}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("admin"), Port: ptr.To[int32](8444)}},
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.9"},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(false), Serving: ptr.To(true), Terminating: ptr.To(true)}}},
	}
	create(t, slice)

	rotateAndHoldK1(t, ns, f, "a collector pod was still terminating")

	if err := k8s.Delete(ctx, slice); err != nil {
		t.Fatal(err)
	}
	waitK1Retired(t, ns, f)
}

// TestLastKeyIDNeverGoesDown: the key Secret is restored from a backup
// older than the last rotation, at a time no rotation is due. The status
// then names the restored active key, yet keeps the newest ID ever made,
// and the next rotation takes the ID after it.
func TestLastKeyIDNeverGoesDown(t *testing.T) {
	ns := rotatingCampaign(t)
	t.Cleanup(func() { fakeClock.SetTime(time.Now()) })
	keys := &corev1.Secret{}
	active := func(want string) {
		t.Helper()
		eventually(t, want+" active", func() error {
			poke(t, ns)
			if err := get(ns, "checkout-nps-keys", keys); err != nil {
				return err
			}
			if string(keys.Data["active"]) != want {
				return fmt.Errorf("active %s", keys.Data["active"])
			}
			return nil
		})
	}
	encryption := func(activeKey, last string) {
		t.Helper()
		waitFor(t, ns, "checkout-nps", &privacyv1alpha1.SurveyCampaign{}, func(c *privacyv1alpha1.SurveyCampaign) error {
			if e := c.Status.Encryption; e == nil || e.ActiveKeyID != activeKey || e.LastKeyID != last {
				poke(t, ns)
				return fmt.Errorf("status.encryption %+v, want active %s, last %s", e, activeKey, last)
			}
			return nil
		})
	}
	active("k1")
	fakeClock.Step(25 * time.Hour)
	active("k2")
	backup := keys.DeepCopy()
	fakeClock.Step(25 * time.Hour)
	active("k3")
	encryption("k3", "k3")

	// Restored as taken right after its rotation: none is due.
	if err := k8s.Delete(context.Background(), keys); err != nil {
		t.Fatal(err)
	}
	backup.Annotations["privacy.surveyguard.io/rotated-at"] = fakeClock.Now().UTC().Format(time.RFC3339)
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: backup.Name, Namespace: ns, Labels: backup.Labels, Annotations: backup.Annotations},
		Type: backup.Type, Data: backup.Data})
	encryption("k2", "k3")

	fakeClock.Step(25 * time.Hour)
	active("k4")
}
