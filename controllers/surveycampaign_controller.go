package controllers

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
	"github.com/surveyguard/surveyguard/internal/adminclient"
	"github.com/surveyguard/surveyguard/internal/collectorapi"
)

// SurveyCampaignReconciler deploys and watches one collector per campaign.
type SurveyCampaignReconciler struct {
	client.Client
	Scheme   *runtime.Scheme
	Recorder events.EventRecorder
	// Clock is the time source; tests inject a fake one.
	Clock clock.PassiveClock
	// Collectors reaches the collectors' admin APIs.
	Collectors *adminclient.Client
	// CollectorImage is the image of collector pods unless the campaign names one.
	CollectorImage string
	// AllowedCollectorImages are what spec.collector.image may name besides
	// CollectorImage's repository (imageAllowed).
	AllowedCollectorImages []string
	// OperatorNamespace may reach the collectors' admin port: its pods with
	// OperatorPodLabels, all of them when there are none.
	OperatorNamespace string
	OperatorPodLabels map[string]string
	// StatsInterval is how often a campaign's figures are read (with ±20% jitter).
	StatsInterval time.Duration
	// Metrics exports the campaigns' figures; an unregistered set when nil.
	Metrics *CampaignMetrics
	// APIReader reads what the cache does not hold (cert-manager
	// Certificates); the manager's when nil.
	APIReader client.Reader
	// Workers is how many campaigns are reconciled at once (default 4).
	Workers int

	// verified remembers the slim children a pass found as asked (slimcache.go).
	verified verifiedChildren
}

// +kubebuilder:rbac:groups=privacy.surveyguard.io,resources=surveycampaigns,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=privacy.surveyguard.io,resources=surveycampaigns/status,verbs=patch
// +kubebuilder:rbac:groups=privacy.surveyguard.io,resources=surveycampaigns/finalizers,verbs=update
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// The children's RBAC markers are in their components' files.

// policyRefIndex indexes campaigns by the RetentionPolicy they name.
const policyRefIndex = "spec.retentionPolicyRef.name"

// waitPoll is how often a campaign waiting on something it does not watch
// (cert-manager issuing its certificate) looks again.
const waitPoll = 10 * time.Second

// shredTimeout bounds the purge a deletion asks of the collector: the
// admin client's wait for any purge, for a purge of tens of millions of
// responses takes minutes, and one cut short leaves the rest in the store
// (unreadable once the keys are gone, but there). An unreachable or
// unavailable collector still fails at once.
const shredTimeout = adminclient.LongCallTimeout

// Reconcile brings one campaign's children to the shape its spec asks for and
// publishes what its collector reports.
func (r *SurveyCampaignReconciler) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, retErr error) {
	c := &privacyv1alpha1.SurveyCampaign{}
	if err := r.Get(ctx, req.NamespacedName, c); err != nil {
		if apierrors.IsNotFound(err) {
			r.Metrics.forget(req.NamespacedName)
			r.verified.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !c.DeletionTimestamp.IsZero() {
		r.Metrics.forget(req.NamespacedName)
		r.verified.forget(req.NamespacedName)
		return ctrl.Result{}, r.reconcileDelete(ctx, c)
	}
	if !controllerutil.ContainsFinalizer(c, privacyv1alpha1.Finalizer) {
		patch := client.MergeFrom(c.DeepCopy())
		controllerutil.AddFinalizer(c, privacyv1alpha1.Finalizer)
		if err := r.Patch(ctx, c, patch); err != nil {
			return ctrl.Result{}, fmt.Errorf("adding the finalizer: %w", err)
		}
	}
	before := c.DeepCopy()
	obs := &observed{}
	defer func() {
		r.changeEvents(c, obs)
		setCampaignStatus(c, *obs, r.Clock.Now())
		// A stall is a conclusion about this generation, so it is observed:
		// kstatus then reads Stalled as Failed, not as still in progress.
		if retErr == nil {
			c.Status.ObservedGeneration = c.Generation
		}
		r.Metrics.observe(c)
		if !equality.Semantic.DeepEqual(before.Status, c.Status) {
			if err := r.Status().Patch(ctx, c, client.MergeFrom(before)); err != nil && !apierrors.IsNotFound(err) {
				retErr = errors.Join(retErr, fmt.Errorf("patching status: %w", err))
				// The error's backoff brings the campaign back; a
				// RequeueAfter beside an error is ignored and logged.
				res = ctrl.Result{}
			}
		}
	}()
	if err := r.walk(ctx, &campaignPass{c: c, obs: obs}); err != nil {
		obs.failed = err
		r.event(c, corev1.EventTypeWarning, "ReconcileFailed", "Reconcile", "%v", err)
		return ctrl.Result{}, err
	}
	if st := obs.stall; st != nil {
		r.event(c, corev1.EventTypeWarning, st.reason, "Reconcile", "%s", st.message)
		// A watch on the missing object, or a spec change, brings the
		// campaign back; what no watch reports is looked at again. A pass
		// that went through despite its stall keeps its figures and key
		// rotations on their schedule, unless the stall has its own
		// recheck: each pass retries what was refused (a volume's
		// growth), a write to the API server.
		if obs.stallLate && st.recheckAfter == 0 {
			return ctrl.Result{RequeueAfter: r.nextPoll(c, obs)}, nil
		}
		return ctrl.Result{RequeueAfter: st.recheckAfter}, nil
	}
	return ctrl.Result{RequeueAfter: r.nextPoll(c, obs)}, nil
}

// nextPoll is when the figures are read next, or the key rotates if sooner.
func (r *SurveyCampaignReconciler) nextPoll(c *privacyv1alpha1.SurveyCampaign, obs *observed) time.Duration {
	every := r.StatsInterval
	if every <= 0 {
		every = time.Minute
	}
	next := every - every/5 + time.Duration(rand.Int64N(int64(every*2/5)+1)) //nolint:gosec // jitter, not a secret
	if obs.waiting != "" {
		next = min(next, waitPoll)
	}
	if !obs.rotatedAt.IsZero() {
		if until := obs.rotatedAt.Add(rotationInterval(c)).Sub(r.Clock.Now()); until < next {
			next = max(until, time.Second)
		}
	}
	return next
}

// reconcileDelete purges the campaign's data through its collector, destroys
// its keys and lets the object go. It never waits on an unreachable collector.
func (r *SurveyCampaignReconciler) reconcileDelete(ctx context.Context, c *privacyv1alpha1.SurveyCampaign) error {
	if !controllerutil.ContainsFinalizer(c, privacyv1alpha1.Finalizer) {
		return nil
	}
	// The cache may be behind the finalizer's removal: the Secrets deleted
	// below bring a pass before the campaign's own deletion reaches the
	// cache, which would purge and destroy again (and report the purge
	// skipped, its Secrets gone). The API server says whether it is done.
	live := &privacyv1alpha1.SurveyCampaign{}
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(c), live); apierrors.IsNotFound(err) ||
		(err == nil && (live.UID != c.UID || !controllerutil.ContainsFinalizer(live, privacyv1alpha1.Finalizer))) {
		return nil
	} else if err != nil {
		return fmt.Errorf("reading the campaign being deleted: %w", err)
	}
	if held, err := r.holdDeletion(ctx, c); held || err != nil {
		return err
	}
	n := childNames(c)
	if err := r.purgeAll(ctx, c); err != nil {
		r.event(c, corev1.EventTypeWarning, "PurgeSkipped", "CryptoShred",
			"the collector could not purge before deletion (%v); its keys are destroyed anyway, so what it stored cannot be read", err)
	}
	if c.Spec.TLS != nil {
		// cert-manager's Secret has no owner reference: delete the
		// Certificate first so cert-manager does not issue it again.
		cert := desiredCertificate(c)
		if err := r.Delete(ctx, cert); err != nil && !apierrors.IsNotFound(err) && !meta.IsNoMatchError(err) {
			return fmt.Errorf("deleting Certificate %s: %w", cert.GetName(), err)
		}
	}
	noKeys := false // the key Secret was not there to delete
	for _, name := range []string{n.keys, n.ca, n.tls} {
		s := &corev1.Secret{}
		s.Name, s.Namespace = name, c.Namespace
		err := r.Delete(ctx, s)
		if client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("destroying Secret %s: %w", name, err)
		}
		noKeys = noKeys || name == n.keys && err != nil
	}
	if noKeys {
		r.event(c, corev1.EventTypeNormal, "KeysDestroyed", "CryptoShred", "Secret %s did not exist: no key was left to destroy", n.keys)
	} else {
		r.event(c, corev1.EventTypeNormal, "KeysDestroyed", "CryptoShred", "destroyed the data keys and HMAC key in Secret %s", n.keys)
	}
	r.Collectors.Forget(c.Namespace + "/" + c.Name)
	patch := client.MergeFrom(c.DeepCopy())
	controllerutil.RemoveFinalizer(c, privacyv1alpha1.Finalizer)
	if err := r.Patch(ctx, c, patch); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("removing the finalizer: %w", err)
	}
	return nil
}

// holdDeletion keeps a campaign whose RetentionPolicy is under legal hold
// from being purged and crypto-shredded: its deletion waits, saying why on
// Ready, until the hold is lifted (the policy's change brings the campaign
// back).
func (r *SurveyCampaignReconciler) holdDeletion(ctx context.Context, c *privacyv1alpha1.SurveyCampaign) (bool, error) {
	held, why, err := legalHold(ctx, r.Client, c)
	if !held || err != nil {
		return false, err
	}
	msg := "deletion waits: " + why + ", so the responses are not purged and the keys not destroyed until the hold is lifted"
	before := c.DeepCopy()
	setCondition(c, privacyv1alpha1.ConditionReady, false, privacyv1alpha1.ReasonLegalHold, msg)
	stampTransitions(before.Status.Conditions, c.Status.Conditions, r.Clock.Now())
	if equality.Semantic.DeepEqual(before.Status, c.Status) {
		return true, nil
	}
	if err := r.Status().Patch(ctx, c, client.MergeFrom(before)); err != nil {
		return true, client.IgnoreNotFound(err)
	}
	r.event(c, corev1.EventTypeWarning, privacyv1alpha1.ReasonLegalHold, "Delete", "%s", msg)
	return true, nil
}

// legalHold says whether the campaign's data is under legal hold, and why:
// its RetentionPolicy exists and has legalHold. A policy deleted lifts it,
// as the namespace's deletion does (which deletes the keys and the volume
// anyway).
func legalHold(ctx context.Context, cl client.Reader, c *privacyv1alpha1.SurveyCampaign) (bool, string, error) {
	name := c.Spec.RetentionPolicyRef.Name
	p := &privacyv1alpha1.RetentionPolicy{}
	switch err := cl.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: name}, p); {
	case apierrors.IsNotFound(err):
		return false, "", nil
	case err != nil:
		return false, "", fmt.Errorf("reading RetentionPolicy %s: %w", name, err)
	case ptr.Deref(p.Spec.LegalHold, false):
		return true, fmt.Sprintf("RetentionPolicy %s is under legal hold", name), nil
	}
	return false, "", nil
}

// purgeAll asks the collector to delete every response it holds.
func (r *SurveyCampaignReconciler) purgeAll(ctx context.Context, c *privacyv1alpha1.SurveyCampaign) error {
	n := childNames(c)
	target, err := collectorTarget(ctx, r.Client, c)
	if err != nil {
		return err
	}
	d := &appsv1.Deployment{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: n.collector}, d); err != nil {
		return fmt.Errorf("reading the collector Deployment: %w", err)
	}
	if target.Addr, err = collectorRoute(ctx, r.APIReader, c, d); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, shredTimeout)
	defer cancel()
	receipt, err := r.Collectors.Purge(ctx, target, collectorapi.PurgeRequest{Everything: true, Action: "Delete"})
	if err != nil {
		return err
	}
	r.event(c, corev1.EventTypeNormal, "Purged", "CryptoShred", "the collector deleted %d responses before deletion (digest %s)", receipt.Purged, receipt.Digest)
	return nil
}

// collectorTarget is how to reach the campaign's admin API, from its Secrets.
func collectorTarget(ctx context.Context, r client.Reader, c *privacyv1alpha1.SurveyCampaign) (adminclient.Target, error) {
	n := childNames(c)
	var token, tlsSecret corev1.Secret
	if err := r.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: n.adminToken}, &token); err != nil {
		return adminclient.Target{}, fmt.Errorf("reading the admin token: %w", err)
	}
	if err := r.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: n.tls}, &tlsSecret); err != nil {
		return adminclient.Target{}, fmt.Errorf("reading the TLS Secret: %w", err)
	}
	return adminclient.Target{
		Campaign: c.Namespace + "/" + c.Name, URL: adminURL(c), CA: tlsSecret.Data[caCertKey], Token: string(token.Data[tokenKey]),
	}, nil
}

// nameOf is the name and namespace of a desired child: what ensure starts
// from, so that own() never writes into a desired object's label map.
func nameOf(m metav1.ObjectMeta) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: m.Name, Namespace: m.Namespace}
}

// own labels obj as the campaign's and sets the campaign as its controller.
func (r *SurveyCampaignReconciler) own(c *privacyv1alpha1.SurveyCampaign, obj client.Object) error {
	labels := obj.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	for k, v := range childLabels(c) {
		labels[k] = v
	}
	obj.SetLabels(labels)
	return controllerutil.SetControllerReference(c, obj, r.Scheme)
}

// ensure creates obj or brings it to what mutate sets, writing only when
// something differs, and records what changed.
func (r *SurveyCampaignReconciler) ensure(ctx context.Context, c *privacyv1alpha1.SurveyCampaign, obj client.Object, obs *observed, mutate func() error) error {
	op, err := controllerutil.CreateOrUpdate(ctx, r.Client, obj, func() error {
		if err := r.own(c, obj); err != nil {
			return err
		}
		return mutate()
	})
	kind := r.kindOf(obj)
	if err != nil {
		return fmt.Errorf("%s %s: %w", kind, obj.GetName(), err)
	}
	if op != controllerutil.OperationResultNone {
		obs.recordChange(kind, obj.GetName(), string(op), "")
	}
	return nil
}

// recordChange notes a child the pass created or updated; the pass records
// them in one event per operation (changeEvents), where detail, if any,
// follows the child's name.
func (o *observed) recordChange(kind, name, op, detail string) {
	o.changed = append(o.changed, kind+"/"+name)
	if o.changedBy == nil {
		o.changedBy = map[string][]string{}
	}
	o.changedBy[op] = append(o.changedBy[op], kind+"/"+name+detail)
}

// changeEvents records what the pass created and updated: one event per
// operation, "created ServiceAccount/x, Secret/y", instead of one per child,
// so that a new campaign costs the API server one event write, not eleven.
func (r *SurveyCampaignReconciler) changeEvents(c *privacyv1alpha1.SurveyCampaign, obs *observed) {
	for _, op := range []controllerutil.OperationResult{controllerutil.OperationResultCreated, controllerutil.OperationResultUpdated} {
		if names := obs.changedBy[string(op)]; len(names) > 0 {
			r.event(c, corev1.EventTypeNormal, string(op), "Reconcile", "%s %s", op, strings.Join(names, ", "))
		}
	}
}

// event records an event on the campaign.
func (r *SurveyCampaignReconciler) event(c *privacyv1alpha1.SurveyCampaign, typ, reason, action, note string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(c, nil, typ, capitalize(reason), action, note, args...)
	}
}

func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// SetupWithManager registers the reconciler: it owns the children and
// watches RetentionPolicies, so a campaign waiting for its policy recovers
// when the policy appears.
func (r *SurveyCampaignReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if r.Collectors == nil {
		r.Collectors = adminclient.New(nil, 0)
	}
	if r.Metrics == nil {
		r.Metrics = NewCampaignMetrics(r.Clock)
	}
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &privacyv1alpha1.SurveyCampaign{}, policyRefIndex,
		func(o client.Object) []string {
			return []string{o.(*privacyv1alpha1.SurveyCampaign).Spec.RetentionPolicyRef.Name}
		}); err != nil {
		return err
	}
	if r.Workers <= 0 {
		r.Workers = 4
	}
	b := ctrl.NewControllerManagedBy(mgr).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.Workers}).
		// A campaign's own status patches do not start another pass: only
		// its spec, labels, annotations, finalizers and deletion do.
		For(&privacyv1alpha1.SurveyCampaign{}, builder.WithPredicates(campaignChanged))
	for _, kind := range CampaignChildKinds() {
		// A child's creation is the pass's own doing (and a restart's first
		// list enqueues every campaign anyway): only its changes and its
		// deletion bring the campaign back.
		b = b.Owns(kind, builder.WithPredicates(predicate.Funcs{CreateFunc: func(event.CreateEvent) bool { return false }}))
	}
	return b.
		// Only a policy's spec (or its coming and going) changes its
		// campaigns, not its status.
		Watches(&privacyv1alpha1.RetentionPolicy{}, handler.EnqueueRequestsFromMapFunc(r.campaignsOfPolicy),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		// A report's creation, change or deletion moves its campaigns' breach
		// figures and containment (old and new refs on an update).
		Watches(&privacyv1alpha1.BreachReport{}, handler.EnqueueRequestsFromMapFunc(campaignsOfReport),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		// An erasure request's results say whether a paused campaign's
		// collector must run admin-only, and its receipts move the figures.
		Watches(&privacyv1alpha1.ErasureRequest{}, handler.EnqueueRequestsFromMapFunc(campaignsOfErasure)).
		// A retention Job's start and end say whether a paused campaign's
		// collector must run admin-only (readPurges).
		Watches(&batchv1.Job{}, handler.EnqueueRequestsFromMapFunc(campaignOfJob)).
		Named("surveycampaign").
		Complete(r)
}

func campaignsOfReport(_ context.Context, o client.Object) []reconcile.Request {
	b := o.(*privacyv1alpha1.BreachReport)
	reqs := make([]reconcile.Request, 0, len(b.Spec.CampaignRefs))
	for _, ref := range b.Spec.CampaignRefs {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKey{Namespace: b.Namespace, Name: ref.Name}})
	}
	return reqs
}

func (r *SurveyCampaignReconciler) campaignsOfPolicy(ctx context.Context, o client.Object) []reconcile.Request {
	list := &privacyv1alpha1.SurveyCampaignList{}
	if err := r.List(ctx, list, client.InNamespace(o.GetNamespace()), client.MatchingFields{policyRefIndex: o.GetName()}); err != nil {
		log.FromContext(ctx).Error(err, "listing the campaigns of a policy", "policy", o.GetName())
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for _, c := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&c)})
	}
	return reqs
}
