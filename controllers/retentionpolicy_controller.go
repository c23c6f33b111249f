package controllers

import (
	"context"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"k8s.io/utils/clock"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
)

// policyBatch is how long a campaign's or CronJob's event waits before its
// policy is looked at again; the events of a burst share one pass.
const policyBatch = time.Second

// RetentionPolicyReconciler reports on a RetentionPolicy: whether its
// schedule is valid, how many campaigns use it, when their retention
// CronJobs last ran and the receipt of the last purge. The CronJobs
// themselves belong to the campaigns (SurveyCampaignReconciler).
//
// Deleting a policy that campaigns still use is not refused: those campaigns
// turn Stalled (RetentionPolicyNotFound) and their CronJobs keep purging on
// the last settings they had, so data is never kept longer because a policy
// went missing.
type RetentionPolicyReconciler struct {
	client.Client
	Scheme   *runtime.Scheme
	Recorder events.EventRecorder
	// Clock is the time source of the conditions' transition times; tests inject one.
	Clock clock.PassiveClock
}

// +kubebuilder:rbac:groups=privacy.surveyguard.io,resources=retentionpolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=privacy.surveyguard.io,resources=retentionpolicies/status,verbs=patch
// +kubebuilder:rbac:groups=privacy.surveyguard.io,resources=surveycampaigns,verbs=get;list;watch
// +kubebuilder:rbac:groups=batch,resources=cronjobs,verbs=get;list;watch

// Reconcile computes the policy's status.
func (r *RetentionPolicyReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	p := &privacyv1alpha1.RetentionPolicy{}
	if err := r.Get(ctx, req.NamespacedName, p); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := p.DeepCopy()

	// Both lists are read, never changed (readReceipt and setPolicyStatus
	// copy what they keep): the cache's objects are used without a copy, which
	// with a thousand campaigns on one policy was most of this pass's cost.
	campaigns := &privacyv1alpha1.SurveyCampaignList{}
	if err := r.List(ctx, campaigns, client.InNamespace(p.Namespace), client.MatchingFields{policyRefIndex: p.Name},
		client.UnsafeDisableDeepCopy); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing campaigns: %w", err)
	}
	var bound []*privacyv1alpha1.SurveyCampaign
	for i := range campaigns.Items {
		if c := &campaigns.Items[i]; c.DeletionTimestamp.IsZero() {
			bound = append(bound, c)
		}
	}
	cronJobs := &batchv1.CronJobList{}
	if err := r.List(ctx, cronJobs, client.InNamespace(p.Namespace),
		client.MatchingLabels{privacyv1alpha1.LabelRetentionPolicy: p.Name, privacyv1alpha1.LabelManagedBy: privacyv1alpha1.ManagedByValue},
		client.UnsafeDisableDeepCopy); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing retention CronJobs: %w", err)
	}
	r.readReceipt(p, bound)

	_, scheduleErr := parseSchedule(policySchedule(p))
	setPolicyStatus(p, len(bound), cronJobs.Items, scheduleErr, r.Clock.Now())
	if scheduleErr != nil && r.Recorder != nil {
		r.Recorder.Eventf(p, nil, corev1.EventTypeWarning, privacyv1alpha1.ReasonInvalidSpec, "Reconcile", "%v", scheduleErr)
	}
	if !equality.Semantic.DeepEqual(before.Status, p.Status) {
		if err := r.Status().Patch(ctx, p, client.MergeFrom(before)); err != nil && !apierrors.IsNotFound(err) {
			return ctrl.Result{}, fmt.Errorf("patching status: %w", err)
		}
	}
	return ctrl.Result{}, nil
}

// readReceipt moves status.lastReceipt forward to the newest purge receipt a
// bound campaign publishes (status.retention.lastReceipt, read by the
// campaign from its collector): the policy reads the campaigns, not their
// collectors or Secrets.
func (r *RetentionPolicyReconciler) readReceipt(p *privacyv1alpha1.RetentionPolicy, bound []*privacyv1alpha1.SurveyCampaign) {
	var newest *privacyv1alpha1.SurveyCampaign
	for _, c := range bound {
		ret := c.Status.Retention
		if ret == nil || ret.Policy != p.Name || ret.LastReceipt == nil || ret.LastReceipt.At == nil {
			continue
		}
		if newest == nil || ret.LastReceipt.At.After(newest.Status.Retention.LastReceipt.At.Time) {
			newest = c
		}
	}
	if newest == nil {
		return
	}
	rc := newest.Status.Retention.LastReceipt.DeepCopy()
	if last := p.Status.LastReceipt; last != nil && last.At != nil && !rc.At.After(last.At.Time) {
		return
	}
	rc.Campaign = newest.Name
	p.Status.LastReceipt = rc
	if r.Recorder != nil {
		r.Recorder.Eventf(p, nil, corev1.EventTypeNormal, "Purged", "Retention",
			"campaign %s: %d responses deleted, %d anonymized, cutoff %s (job %q, digest %s)",
			newest.Name, rc.Purged, rc.Anonymized, rc.Cutoff.UTC().Format(time.RFC3339), rc.Job, rc.Digest)
	}
}

// SetupWithManager registers the reconciler: it follows the campaigns that
// name the policy (binding, receipts) and their retention CronJobs.
func (r *RetentionPolicyReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&privacyv1alpha1.RetentionPolicy{}).
		// On an update both the old and the new policy are enqueued, so a
		// campaign switching policy updates both. The campaigns' and
		// CronJobs' events wait policyBatch in the queue: a thousand new
		// campaigns make a few passes over the policy, not a thousand.
		Watches(&privacyv1alpha1.SurveyCampaign{}, enqueueAfter(policyBatch, func(_ context.Context, o client.Object) []reconcile.Request {
			c := o.(*privacyv1alpha1.SurveyCampaign)
			return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: c.Namespace, Name: c.Spec.RetentionPolicyRef.Name}}}
		}), builder.WithPredicates(policyCares)).
		Watches(&batchv1.CronJob{}, enqueueAfter(policyBatch, func(_ context.Context, o client.Object) []reconcile.Request {
			name := o.GetLabels()[privacyv1alpha1.LabelRetentionPolicy]
			if name == "" {
				return nil
			}
			return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: o.GetNamespace(), Name: name}}}
		}), builder.WithPredicates(cronJobScheduled)).
		Named("retentionpolicy").
		Complete(r)
}
