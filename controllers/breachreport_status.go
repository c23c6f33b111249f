package controllers

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
)

// A BreachReport's status, as pure functions of the report, what was done to
// its campaigns and the time.

// notificationWindow is how long after detection each regime allows for
// notifying the authority; ok is false for a regime with no fixed clock.
func notificationWindow(j privacyv1alpha1.Jurisdiction) (window time.Duration, ok bool) {
	switch j {
	case privacyv1alpha1.JurisdictionCERTIn:
		return 6 * time.Hour, true
	case privacyv1alpha1.JurisdictionGDPR, privacyv1alpha1.JurisdictionDPDP:
		return 72 * time.Hour, true
	}
	return 0, false // CCPA: "without unreasonable delay"
}

// breachDeadlines computes one deadline per listed jurisdiction at now, and
// the earliest due time still ahead and unmet (nil when there is none). A
// deadline is overdue from the instant it passes without notification, and
// stays overdue if the notification came late.
func breachDeadlines(spec *privacyv1alpha1.BreachReportSpec, now time.Time) ([]privacyv1alpha1.BreachDeadline, *time.Time) {
	detected := spec.DetectedAt.Time
	var out []privacyv1alpha1.BreachDeadline
	var next *time.Time
	for _, j := range spec.Jurisdictions {
		d := privacyv1alpha1.BreachDeadline{Regime: j}
		window, ok := notificationWindow(j)
		if !ok {
			d.Met = spec.NotifiedAuthorityAt != nil
			out = append(out, d)
			continue
		}
		due := detected.Add(window)
		d.Due = &metav1.Time{Time: due}
		switch notified := spec.NotifiedAuthorityAt; {
		case notified != nil && !notified.After(due):
			d.Met = true
		case notified != nil || !now.Before(due):
			d.Overdue = true
		default:
			if next == nil || due.Before(*next) {
				next = &due
			}
		}
		out = append(out, d)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Regime < out[b].Regime })
	return out, next
}

// overdueRegimes lists the regimes whose deadline passed unmet.
func overdueRegimes(ds []privacyv1alpha1.BreachDeadline) []string {
	var out []string
	for _, d := range ds {
		if d.Overdue {
			out = append(out, string(d.Regime))
		}
	}
	return out
}

// breachPhase is where the report is: Resolved once resolvedAt is set,
// Notified once the authority was notified, Contained once the requested
// containment is carried out, Open before.
func breachPhase(spec *privacyv1alpha1.BreachReportSpec, contained bool) privacyv1alpha1.BreachPhase {
	switch {
	case spec.ResolvedAt != nil:
		return privacyv1alpha1.BreachPhaseResolved
	case spec.NotifiedAuthorityAt != nil:
		return privacyv1alpha1.BreachPhaseNotified
	case contained:
		return privacyv1alpha1.BreachPhaseContained
	}
	return privacyv1alpha1.BreachPhaseOpen
}

// names says whether the report names the campaign.
func names(b *privacyv1alpha1.BreachReport, campaign string) bool {
	return slices.ContainsFunc(b.Spec.CampaignRefs, func(r privacyv1alpha1.LocalObjectReference) bool { return r.Name == campaign })
}

// contained says whether every requested action is done on every campaign
// that exists, and what is still pending. A report whose campaigns all are
// missing has contained nothing.
func contained(b *privacyv1alpha1.BreachReport, missing []string) (bool, []string) {
	requested := b.Spec.Containment.PauseCollection || b.Spec.Containment.RotateKeys
	if requested && len(missing) == len(b.Spec.CampaignRefs) {
		return false, []string{"contain " + strings.Join(missing, ", ") + ", which do not exist"}
	}
	done := map[string]privacyv1alpha1.CampaignContainment{}
	for _, rec := range b.Status.Containment {
		done[rec.Campaign] = rec
	}
	var pending []string
	for _, ref := range b.Spec.CampaignRefs {
		if slices.Contains(missing, ref.Name) {
			continue
		}
		rec := done[ref.Name]
		if b.Spec.Containment.PauseCollection && rec.PausedAt == nil {
			pending = append(pending, "pause "+ref.Name)
		}
		if b.Spec.Containment.RotateKeys && rec.KeysRotatedAt == nil {
			pending = append(pending, "rotate the keys of "+ref.Name)
		}
	}
	return len(pending) == 0, pending
}

// setBreachReportStatus sets the phase and the Contained, Overdue, Ready and
// Stalled conditions from the deadlines and containment already on status.
func setBreachReportStatus(b *privacyv1alpha1.BreachReport, missing []string, now time.Time) {
	set := func(typ string, ok bool, reason, msg string) {
		status := metav1.ConditionFalse
		if ok {
			status = metav1.ConditionTrue
		}
		// Transition times come from the injected clock, like the deadlines.
		meta.SetStatusCondition(&b.Status.Conditions, metav1.Condition{
			Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: b.Generation,
			LastTransitionTime: metav1.Time{Time: now.UTC().Truncate(time.Second)},
		})
	}
	isContained, pending := contained(b, missing)
	b.Status.Phase = breachPhase(&b.Spec, isContained)
	switch {
	case isContained && !b.Spec.Containment.PauseCollection && !b.Spec.Containment.RotateKeys:
		set(privacyv1alpha1.ConditionContained, true, privacyv1alpha1.ReasonSucceeded, "no containment was requested")
	case isContained:
		set(privacyv1alpha1.ConditionContained, true, privacyv1alpha1.ReasonSucceeded, "the requested containment is carried out")
	default:
		set(privacyv1alpha1.ConditionContained, false, privacyv1alpha1.ReasonProgressing, "waiting to "+strings.Join(pending, ", "))
	}

	if overdue := overdueRegimes(b.Status.Deadlines); len(overdue) > 0 {
		set(privacyv1alpha1.ConditionOverdue, true, privacyv1alpha1.ReasonDeadlineMissed,
			"the notification deadline of "+strings.Join(overdue, ", ")+" passed without notifying the authority in time")
	} else {
		msg := "every notification deadline is met"
		if b.Status.NextDeadline != nil {
			msg = "the next notification deadline is " + b.Status.NextDeadline.UTC().Format(time.RFC3339)
		}
		set(privacyv1alpha1.ConditionOverdue, false, privacyv1alpha1.ReasonDeadlinesMet, msg)
	}

	if len(missing) > 0 {
		msg := fmt.Sprintf("SurveyCampaign %s named in spec.campaignRefs does not exist in namespace %s; the other campaigns are handled",
			strings.Join(missing, ", "), b.Namespace)
		set(privacyv1alpha1.ConditionStalled, true, privacyv1alpha1.ReasonCampaignNotFound, msg)
		set(privacyv1alpha1.ConditionReady, false, privacyv1alpha1.ReasonCampaignNotFound, msg)
		return
	}
	meta.RemoveStatusCondition(&b.Status.Conditions, privacyv1alpha1.ConditionStalled)
	set(privacyv1alpha1.ConditionReady, true, privacyv1alpha1.ReasonSucceeded, "phase "+string(b.Status.Phase))
}
