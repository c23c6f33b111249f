package controllers

import (
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
	"github.com/surveyguard/surveyguard/internal/collector"
)

// observed is what one reconcile pass learned, from which status is computed.
type observed struct {
	// stalled, when set, is why the spec cannot work (reason, message).
	stalledReason, stalledMessage string
	// recheck: no watch reports the fix of the stall, so look again later.
	recheck bool
	// changed lists the children this pass created or updated.
	changed []string
	// waiting, when set, is what the campaign waits for that no watch reports
	// (cert-manager issuing its certificate).
	waiting string
	// policy is the campaign's RetentionPolicy, when it exists.
	policy *privacyv1alpha1.RetentionPolicy
	// breaches is what the namespace's BreachReports mean for the campaign;
	// breachesRead says they were listed.
	breaches     campaignBreaches
	breachesRead bool
	// paused is spec.paused or a breach containment.
	paused bool
	// deployment is the collector's Deployment as last read.
	deployment *appsv1.Deployment
	// stats are the collector's figures; statsErr why they could not be read.
	stats    *collector.Stats
	statsErr error
	// activeKeyID and rotatedAt describe the key Secret.
	activeKeyID string
	rotatedAt   time.Time
}

func setCondition(c *privacyv1alpha1.SurveyCampaign, typ string, ok bool, reason, msg string) {
	status := metav1.ConditionFalse
	if ok {
		status = metav1.ConditionTrue
	}
	meta.SetStatusCondition(&c.Status.Conditions, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: c.Generation,
	})
}

func setConditionUnknown(c *privacyv1alpha1.SurveyCampaign, typ, reason, msg string) {
	meta.SetStatusCondition(&c.Status.Conditions, metav1.Condition{
		Type: typ, Status: metav1.ConditionUnknown, Reason: reason, Message: msg, ObservedGeneration: c.Generation,
	})
}

// deploymentAvailable says whether the collector Deployment has rolled out
// its current spec with at least one available replica.
func deploymentAvailable(d *appsv1.Deployment) (bool, string) {
	if d == nil {
		return false, "the collector Deployment does not exist yet"
	}
	if d.Status.ObservedGeneration < d.Generation {
		return false, "the collector Deployment is rolling out"
	}
	if d.Status.AvailableReplicas < 1 {
		return false, fmt.Sprintf("the collector has %d available replicas", d.Status.AvailableReplicas)
	}
	return true, fmt.Sprintf("%d collector replicas available", d.Status.AvailableReplicas)
}

// setCampaignStatus computes every condition and published figure from obs.
func setCampaignStatus(c *privacyv1alpha1.SurveyCampaign, obs observed, now time.Time) {
	if obs.breachesRead {
		var customers *int64
		if obs.stats != nil && !obs.stats.Suppressed {
			customers = &obs.stats.DistinctCustomers
		}
		setBreaches(c, obs.breaches, customers)
	}
	if obs.stalledReason != "" {
		setCondition(c, privacyv1alpha1.ConditionStalled, true, obs.stalledReason, obs.stalledMessage)
		setCondition(c, privacyv1alpha1.ConditionReady, false, obs.stalledReason, obs.stalledMessage)
		meta.RemoveStatusCondition(&c.Status.Conditions, privacyv1alpha1.ConditionReconciling)
		return
	}
	meta.RemoveStatusCondition(&c.Status.Conditions, privacyv1alpha1.ConditionStalled)
	c.Status.Endpoint = endpoint(c)

	available, availableMsg := deploymentAvailable(obs.deployment)
	switch {
	case obs.paused:
		setCondition(c, privacyv1alpha1.ConditionCollectorAvailable, false, privacyv1alpha1.ReasonPaused, pausedMessage(c, obs.breaches.pausedBy))
	case !available:
		setCondition(c, privacyv1alpha1.ConditionCollectorAvailable, false, privacyv1alpha1.ReasonCollectorUnavailable, availableMsg)
	case obs.statsErr != nil:
		setCondition(c, privacyv1alpha1.ConditionCollectorAvailable, false, privacyv1alpha1.ReasonCollectorUnavailable,
			"the collector's admin API does not answer: "+obs.statsErr.Error())
	default:
		setCondition(c, privacyv1alpha1.ConditionCollectorAvailable, true, privacyv1alpha1.ReasonSucceeded, availableMsg)
	}

	switch {
	case obs.activeKeyID == "":
		setCondition(c, privacyv1alpha1.ConditionEncryptionEnforced, false, privacyv1alpha1.ReasonProgressing, "the key Secret is not ready")
	case obs.stats != nil && obs.stats.ActiveKeyID != obs.activeKeyID:
		setCondition(c, privacyv1alpha1.ConditionEncryptionEnforced, false, privacyv1alpha1.ReasonProgressing,
			fmt.Sprintf("the collector encrypts with %s; waiting for it to load %s", obs.stats.ActiveKeyID, obs.activeKeyID))
	default:
		msg := "personal fields are encrypted with key " + obs.activeKeyID
		if obs.stats != nil && obs.stats.RewrapPending > 0 {
			msg += fmt.Sprintf("; %d responses still sealed by an older key are being re-wrapped", obs.stats.RewrapPending)
		}
		setCondition(c, privacyv1alpha1.ConditionEncryptionEnforced, true, privacyv1alpha1.ReasonSucceeded, msg)
	}
	if obs.activeKeyID != "" {
		c.Status.Encryption = &privacyv1alpha1.EncryptionStatus{ActiveKeyID: obs.activeKeyID, RotatedAt: &metav1.Time{Time: obs.rotatedAt}}
	}
	if obs.stats != nil {
		setNPS(c, obs.stats, now)
	}
	setRetention(c, obs.policy, obs.stats, now)

	progressing := len(obs.changed) > 0 || obs.waiting != "" || (!obs.paused && !available)
	switch {
	case progressing:
		msg := availableMsg
		if obs.waiting != "" {
			msg = obs.waiting
		}
		if len(obs.changed) > 0 {
			msg = fmt.Sprintf("updated %v", obs.changed)
		}
		setCondition(c, privacyv1alpha1.ConditionReconciling, true, privacyv1alpha1.ReasonProgressing, msg)
		setCondition(c, privacyv1alpha1.ConditionReady, false, privacyv1alpha1.ReasonProgressing, msg)
	case obs.paused:
		meta.RemoveStatusCondition(&c.Status.Conditions, privacyv1alpha1.ConditionReconciling)
		setCondition(c, privacyv1alpha1.ConditionReady, true, privacyv1alpha1.ReasonPaused, pausedMessage(c, obs.breaches.pausedBy))
	case obs.statsErr != nil:
		meta.RemoveStatusCondition(&c.Status.Conditions, privacyv1alpha1.ConditionReconciling)
		setCondition(c, privacyv1alpha1.ConditionReady, false, privacyv1alpha1.ReasonCollectorUnavailable, "the collector's admin API does not answer")
	default:
		meta.RemoveStatusCondition(&c.Status.Conditions, privacyv1alpha1.ConditionReconciling)
		setCondition(c, privacyv1alpha1.ConditionReady, true, privacyv1alpha1.ReasonSucceeded, "the collector is serving")
	}
}

// setNPS publishes the collector's figures; updatedAt moves only when they
// change, so an idle campaign's status is not rewritten by every poll.
func setNPS(c *privacyv1alpha1.SurveyCampaign, st *collector.Stats, now time.Time) {
	next := &privacyv1alpha1.NPSStatus{
		Responses: st.Responses, Suppressed: st.Suppressed, Score: st.Score,
		Promoters: st.Promoters, Passives: st.Passives, Detractors: st.Detractors, MarginOfError: st.MarginOfError,
	}
	if prev := c.Status.NPS; prev != nil {
		was := prev.DeepCopy()
		was.UpdatedAt = nil
		if equality.Semantic.DeepEqual(was, next) {
			return
		}
	}
	next.UpdatedAt = &metav1.Time{Time: now}
	c.Status.NPS = next
}
