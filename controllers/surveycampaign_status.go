package controllers

import (
	"fmt"
	"sort"
	"strings"
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

// breachWindowStart is the start of the trailing 12 months at now.
func breachWindowStart(now time.Time) time.Time { return now.AddDate(0, -12, 0) }

// campaignBreaches is what the campaign's reports mean for it: the names of
// unresolved reports that pause it, the UIDs of unresolved reports that want
// its keys rotated, and how many reports were detected in the trailing 12
// months (from exactly twelve months ago up to now).
type campaignBreaches struct {
	pausedBy  []string
	rotateFor []string
	count     int32
}

func breachesOf(reports []privacyv1alpha1.BreachReport, campaign string, now time.Time) campaignBreaches {
	var out campaignBreaches
	from := breachWindowStart(now)
	for i := range reports {
		b := &reports[i]
		if !b.DeletionTimestamp.IsZero() || !names(b, campaign) {
			continue
		}
		if detected := b.Spec.DetectedAt.Time; !detected.Before(from) && !detected.After(now) {
			out.count++
		}
		if b.Spec.ResolvedAt != nil {
			continue
		}
		if b.Spec.Containment.PauseCollection {
			out.pausedBy = append(out.pausedBy, b.Name)
		}
		if b.Spec.Containment.RotateKeys {
			out.rotateFor = append(out.rotateFor, string(b.UID))
		}
	}
	sort.Strings(out.pausedBy)
	sort.Strings(out.rotateFor)
	return out
}

// breachBand classifies a number of breaches in 12 months.
func breachBand(count int32) privacyv1alpha1.BreachBand {
	switch {
	case count == 0:
		return privacyv1alpha1.BreachBandOptimal
	case count <= 3:
		return privacyv1alpha1.BreachBandAcceptable
	}
	return privacyv1alpha1.BreachBandConcerning
}

// breachRate is count / customers to four decimals; "0" with no breaches,
// and empty (undefined) with breaches but no known customers.
func breachRate(count int32, customers int64) string {
	switch {
	case count == 0:
		return "0"
	case customers <= 0:
		return ""
	}
	return fmt.Sprintf("%.4f", float64(count)/float64(customers))
}

// setBreaches publishes the campaign's breach figures; customers come from
// the collector's stats, or the last figure read when there are none.
func setBreaches(c *privacyv1alpha1.SurveyCampaign, b campaignBreaches, customers *int64) {
	next := &privacyv1alpha1.BreachRateStatus{Count: b.count, Band: breachBand(b.count)}
	switch {
	case customers != nil:
		next.Customers = *customers
	case c.Status.Breaches != nil:
		next.Customers = c.Status.Breaches.Customers
	}
	next.Rate = breachRate(next.Count, next.Customers)
	c.Status.Breaches = next
	c.Status.PausedBy = b.pausedBy
}

// pausedMessage says why a campaign's collector is scaled to zero.
func pausedMessage(c *privacyv1alpha1.SurveyCampaign, pausedBy []string) string {
	var why []string
	if c.Spec.Paused {
		why = append(why, "spec.paused")
	}
	if len(pausedBy) > 0 {
		why = append(why, "the containment of BreachReport "+strings.Join(pausedBy, ", "))
	}
	return "paused by " + strings.Join(why, " and ") + ": the collector is scaled to zero; stored data is kept"
}

// setRetention publishes how the campaign's retention is carried out:
// status.retention from the collector's figures, and RetentionEnforced —
// False when the oldest response is older than maxAge plus one schedule
// period, or while a legal hold keeps everything.
func setRetention(c *privacyv1alpha1.SurveyCampaign, p *privacyv1alpha1.RetentionPolicy, st *collector.Stats, now time.Time) {
	if p == nil {
		return
	}
	r := c.Status.Retention
	if r == nil || r.Policy != p.Name {
		r = &privacyv1alpha1.RetentionStatus{Policy: p.Name}
	}
	if st != nil {
		r.OldestRecordTime = nil
		if st.OldestRecordTime != nil {
			r.OldestRecordTime = &metav1.Time{Time: st.OldestRecordTime.UTC().Truncate(time.Second)}
		}
		if lp := st.LastPurge; lp != nil && !lp.DryRun {
			r.LastPurgeTime = &metav1.Time{Time: lp.FinishedAt.UTC().Truncate(time.Second)}
			r.LastPurged = lp.Purged + lp.Anonymized
		}
	}
	c.Status.Retention = r

	if held, reason, msg := retentionSuspended(p); held && reason == privacyv1alpha1.ReasonLegalHold {
		setCondition(c, privacyv1alpha1.ConditionRetentionEnforced, false, reason, msg)
		return
	}
	sched, err := parseSchedule(policySchedule(p))
	if err != nil {
		setCondition(c, privacyv1alpha1.ConditionRetentionEnforced, false, privacyv1alpha1.ReasonInvalidSpec,
			fmt.Sprintf("RetentionPolicy %s has an invalid schedule: %v", p.Name, err))
		return
	}
	if st == nil {
		// Not read this pass (paused, not yet available): judge by the
		// oldest response last read, which only a purge makes younger.
		switch {
		case meta.FindStatusCondition(c.Status.Conditions, privacyv1alpha1.ConditionRetentionEnforced) == nil:
			setConditionUnknown(c, privacyv1alpha1.ConditionRetentionEnforced, privacyv1alpha1.ReasonCollectorUnavailable,
				"the age of the oldest response is not known yet: the collector's figures have not been read")
			return
		case r.OldestRecordTime == nil:
			return
		}
	}
	allowed := p.Spec.MaxAge.Duration + schedulePeriod(sched, now)
	if r.OldestRecordTime == nil {
		setCondition(c, privacyv1alpha1.ConditionRetentionEnforced, true, privacyv1alpha1.ReasonSucceeded, "no raw response is stored")
		return
	}
	age := now.Sub(r.OldestRecordTime.Time)
	if age > allowed {
		setCondition(c, privacyv1alpha1.ConditionRetentionEnforced, false, privacyv1alpha1.ReasonRetentionOverdue, fmt.Sprintf(
			"the oldest response is %s old, overdue by %s: RetentionPolicy %s allows %s plus one schedule period (%s)",
			coarse(age), coarse(age-allowed), p.Name, p.Spec.MaxAge.Duration, schedulePeriod(sched, now)))
		return
	}
	setCondition(c, privacyv1alpha1.ConditionRetentionEnforced, true, privacyv1alpha1.ReasonSucceeded, fmt.Sprintf(
		"no response is older than RetentionPolicy %s allows (%s plus one schedule period)", p.Name, p.Spec.MaxAge.Duration))
}

// coarse shows an age in minutes below an hour, hours below two days, days
// beyond, so an overdue campaign's message (and status) does not change on
// every poll.
func coarse(d time.Duration) string {
	switch {
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	}
	return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
}
