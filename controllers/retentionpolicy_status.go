package controllers

import (
	"fmt"
	"slices"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
	"github.com/surveyguard/surveyguard/internal/collectorapi"
)

// policyReceipt is the collector's receipt as the policy shows it, to the
// second (what the API server keeps), so rereading it changes nothing.
func policyReceipt(campaign string, rc *collectorapi.PurgeReceipt) *privacyv1alpha1.PurgeReceipt {
	return &privacyv1alpha1.PurgeReceipt{
		Campaign:   campaign,
		Cutoff:     &metav1.Time{Time: rc.Cutoff.UTC().Truncate(time.Second)},
		Purged:     rc.Purged,
		Anonymized: rc.Anonymized,
		Job:        rc.Job,
		At:         &metav1.Time{Time: rc.FinishedAt.UTC().Truncate(time.Second)},
		Digest:     rc.Digest,
	}
}

// setPolicyStatus computes the policy's conditions and figures.
func setPolicyStatus(p *privacyv1alpha1.RetentionPolicy, bound int, cronJobs []batchv1.CronJob, scheduleErr error, now time.Time) {
	before := slices.Clone(p.Status.Conditions)
	defer func() { stampTransitions(before, p.Status.Conditions, now) }()
	// A stall (a schedule that does not parse) is a conclusion about this
	// generation too: observed, so that kstatus reads it as Failed.
	p.Status.ObservedGeneration = p.Generation
	p.Status.BoundCampaigns = ptr.To(int32(min(bound, 1<<31-1))) //nolint:gosec // bounded just above
	for _, cj := range cronJobs {
		if t := cj.Status.LastScheduleTime; t != nil && (p.Status.LastScheduleTime == nil || t.After(p.Status.LastScheduleTime.Time)) {
			p.Status.LastScheduleTime = t.DeepCopy()
		}
	}
	set := func(typ string, status metav1.ConditionStatus, reason, msg string) {
		meta.SetStatusCondition(&p.Status.Conditions, metav1.Condition{
			Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: p.Generation,
		})
	}
	meta.RemoveStatusCondition(&p.Status.Conditions, privacyv1alpha1.ConditionReconciling)
	if scheduleErr != nil {
		msg := scheduleErr.Error() + "; the campaigns' CronJobs keep their last schedule"
		set(privacyv1alpha1.ConditionStalled, metav1.ConditionTrue, privacyv1alpha1.ReasonInvalidSpec, msg)
		set(privacyv1alpha1.ConditionReady, metav1.ConditionFalse, privacyv1alpha1.ReasonInvalidSpec, msg)
		return
	}
	meta.RemoveStatusCondition(&p.Status.Conditions, privacyv1alpha1.ConditionStalled)
	if held, reason, msg := retentionSuspended(p); held {
		set(privacyv1alpha1.ConditionReady, metav1.ConditionTrue, reason, fmt.Sprintf("%s (%d campaigns bound)", msg, bound))
		return
	}
	action := "deleting"
	if p.Spec.Action == privacyv1alpha1.RetentionActionAnonymize {
		action = "anonymizing"
	}
	set(privacyv1alpha1.ConditionReady, metav1.ConditionTrue, privacyv1alpha1.ReasonSucceeded, fmt.Sprintf(
		"%d campaigns bound; purges run on %q, %s responses older than %s", bound, policySchedule(p), action, p.Spec.MaxAge.Duration))
}
