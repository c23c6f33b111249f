package controllers

import (
	"context"
	"slices"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
)

// Which campaign updates other kinds care about. Without these filters every
// status patch of every campaign would wake every policy and report in its
// namespace, and a policy's status change (one per campaign bound) would
// requeue every campaign: quadratic work at a thousand campaigns.

// campaignUpdate passes a campaign update when changed says it matters, and
// always when the campaign starts being deleted.
func campaignUpdate(changed func(old, new *privacyv1alpha1.SurveyCampaign) bool) predicate.Funcs {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		old, okOld := e.ObjectOld.(*privacyv1alpha1.SurveyCampaign)
		updated, okNew := e.ObjectNew.(*privacyv1alpha1.SurveyCampaign)
		if !okOld || !okNew {
			return true
		}
		return old.DeletionTimestamp.IsZero() != updated.DeletionTimestamp.IsZero() || changed(old, updated)
	}}
}

// policyCares: the binding, and a newer purge to read a receipt for.
var policyCares = campaignUpdate(func(old, updated *privacyv1alpha1.SurveyCampaign) bool {
	return old.Spec.RetentionPolicyRef != updated.Spec.RetentionPolicyRef ||
		!equality.Semantic.DeepEqual(old.Status.Retention, updated.Status.Retention)
})

// reportCares: which reports pause the campaign, its active key, and the
// regimes a report that lists none follows.
var reportCares = campaignUpdate(func(old, updated *privacyv1alpha1.SurveyCampaign) bool {
	return !slices.Equal(old.Status.PausedBy, updated.Status.PausedBy) ||
		!slices.Equal(old.Spec.Privacy.Jurisdictions, updated.Spec.Privacy.Jurisdictions) ||
		!equality.Semantic.DeepEqual(old.Status.Encryption, updated.Status.Encryption)
})

// campaignChanged passes a campaign update that a pass acts on: its spec
// (generation), labels, annotations, deletion, or the removal of the
// operator's finalizer (which the pass puts back). It drops the pass's own
// writes, the status patch and the finalizer's addition, which would
// otherwise start a second pass for every new campaign.
var campaignChanged = predicate.Or[client.Object](
	predicate.GenerationChangedPredicate{}, predicate.LabelChangedPredicate{}, predicate.AnnotationChangedPredicate{},
	predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		return e.ObjectOld.GetDeletionTimestamp().IsZero() != e.ObjectNew.GetDeletionTimestamp().IsZero() ||
			(controllerutil.ContainsFinalizer(e.ObjectOld, privacyv1alpha1.Finalizer) &&
				!controllerutil.ContainsFinalizer(e.ObjectNew, privacyv1alpha1.Finalizer))
	}},
)

// cronJobScheduled passes what a policy reads from a retention CronJob: its
// last schedule time (a new CronJob has none; one listed at start-up may),
// and its deletion.
var cronJobScheduled = predicate.Funcs{
	CreateFunc: func(e event.CreateEvent) bool {
		cj, ok := e.Object.(*batchv1.CronJob)
		return !ok || cj.Status.LastScheduleTime != nil
	},
	UpdateFunc: func(e event.UpdateEvent) bool {
		old, okOld := e.ObjectOld.(*batchv1.CronJob)
		updated, okNew := e.ObjectNew.(*batchv1.CronJob)
		return !okOld || !okNew || !equality.Semantic.DeepEqual(old.Status.LastScheduleTime, updated.Status.LastScheduleTime)
	},
}

// enqueueAfter maps an object's events to requests, as
// handler.EnqueueRequestsFromMapFunc does, that wait delay in the queue: a
// request already waiting is not added twice, so a burst of events becomes
// one pass. An update enqueues what both the old and the new object map to.
func enqueueAfter(delay time.Duration, fn handler.MapFunc) handler.EventHandler {
	add := func(ctx context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request], objs ...client.Object) {
		for _, o := range objs {
			for _, req := range fn(ctx, o) {
				q.AddAfter(req, delay)
			}
		}
	}
	return handler.Funcs{
		CreateFunc: func(ctx context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(ctx, q, e.Object)
		},
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(ctx, q, e.ObjectOld, e.ObjectNew)
		},
		DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(ctx, q, e.Object)
		},
		GenericFunc: func(ctx context.Context, e event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(ctx, q, e.Object)
		},
	}
}
