package controllers

import (
	"slices"

	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

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

// reportCares: which reports pause the campaign, and its active key.
var reportCares = campaignUpdate(func(old, updated *privacyv1alpha1.SurveyCampaign) bool {
	return !slices.Equal(old.Status.PausedBy, updated.Status.PausedBy) ||
		!equality.Semantic.DeepEqual(old.Status.Encryption, updated.Status.Encryption)
})
