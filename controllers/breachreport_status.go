package controllers

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
	"github.com/surveyguard/surveyguard/internal/regulations"
)

// A BreachReport's status, as pure functions of the report, what was done to
// its campaigns and the time.

// breachFacts are what the report says, in the regulatory table's terms.
// notifiedAuthorityAt meets each listed regime's Authority duty that
// spec.notifications does not record.
func breachFacts(spec *privacyv1alpha1.BreachReportSpec, holidays regulations.Holidays) regulations.Facts {
	f := regulations.Facts{
		Detected:  spec.DetectedAt.Time,
		HighRisk:  spec.Severity == privacyv1alpha1.BreachSeverityHigh || spec.Severity == privacyv1alpha1.BreachSeverityCritical,
		Residents: map[regulations.Regime]int64{}, Notices: map[string]regulations.Notice{},
		Extensions: map[string]time.Time{}, Holidays: holidays,
	}
	if spec.AssessedAt != nil {
		f.Assessed = &spec.AssessedAt.Time
	}
	for _, c := range spec.AffectedResidents {
		f.Residents[regulations.Regime(c.Regime)] = ptr.Deref(c.Count, 0)
	}
	for _, n := range spec.Notifications {
		f.Notices[dutyKey(n.Regime, n.Duty)] = regulations.Notice{At: n.At.Time, LateReason: n.LateReason}
	}
	if at := spec.NotifiedAuthorityAt; at != nil {
		for _, j := range spec.Jurisdictions {
			if _, ok := f.Notices[dutyKey(j, privacyv1alpha1.BreachDuty(regulations.Authority))]; !ok {
				f.Notices[dutyKey(j, privacyv1alpha1.BreachDuty(regulations.Authority))] = regulations.Notice{At: at.Time}
			}
		}
	}
	for _, e := range spec.Extensions {
		f.Extensions[dutyKey(e.Regime, e.Duty)] = e.Until.Time
	}
	if d := spec.LawfulDelay; d != nil {
		f.Delay = &regulations.Delay{From: spec.DetectedAt.Time}
		if d.From != nil {
			f.Delay.From = d.From.Time
		}
		if d.Until != nil {
			f.Delay.Until = &d.Until.Time
		}
	}
	return f
}

func dutyKey(regime privacyv1alpha1.Jurisdiction, duty privacyv1alpha1.BreachDuty) string {
	return string(regime) + " " + string(duty)
}

// breachDeadlines is where every duty of every listed regime stands at now,
// in the table's order: the deadlines, the earliest due time still ahead
// and unmet with its duty (nil when there is none), and the next instant a
// deadline changes state with time alone (nil when none will). holidaysErr,
// when the holiday calendar could not be read, is noted on the business-day
// deadlines, which are then counted over weekends only.
func breachDeadlines(spec *privacyv1alpha1.BreachReportSpec, now time.Time, holidays regulations.Holidays, holidaysErr error) (ds []privacyv1alpha1.BreachDeadline, next *privacyv1alpha1.BreachDeadline, wake *time.Time) {
	facts := breachFacts(spec, holidays)
	facts.HolidaysErr = holidaysErr
	nextAt := -1
	regimes := slices.Clone(spec.Jurisdictions)
	slices.Sort(regimes)
	for _, j := range regimes {
		for _, rule := range regulations.Of(regulations.Regime(j), regulations.Breach) {
			s := regulations.Evaluate(rule, facts, now)
			d := privacyv1alpha1.BreachDeadline{
				Regime: j, Duty: privacyv1alpha1.BreachDuty(rule.Duty), Clock: rule.ClockText(),
				State: privacyv1alpha1.DeadlineState(s.State), Met: ptr.To(s.Met()), Overdue: ptr.To(s.Overdue()),
				InForce: ptr.To(s.InForce), Due: timeOf(s.Due), NotifiedAt: timeOf(s.NotifiedAt), Note: s.Note,
			}
			if len(d.Note) > 1024 {
				d.Note = d.Note[:1021] + "..."
			}
			ds = append(ds, d)
			if (s.State == regulations.Pending || s.State == regulations.Approaching) && s.Due != nil &&
				(nextAt < 0 || s.Due.Before(ds[nextAt].Due.Time)) {
				nextAt = len(ds) - 1
			}
			if s.Wake != nil && (wake == nil || s.Wake.Before(*wake)) {
				wake = s.Wake
			}
		}
	}
	if nextAt >= 0 {
		next = &ds[nextAt]
	}
	return ds, next, wake
}

func timeOf(t *time.Time) *metav1.Time {
	if t == nil {
		return nil
	}
	return &metav1.Time{Time: *t}
}

// describeDuty names a deadline in a sentence: "GDPR Authority".
func describeDuty(d privacyv1alpha1.BreachDeadline) string { return dutyKey(d.Regime, d.Duty) }

// overdueDuties describes the deadlines that passed before their duty was
// carried out.
func overdueDuties(ds []privacyv1alpha1.BreachDeadline) []string {
	var out []string
	for _, d := range ds {
		if !ptr.Deref(d.Overdue, false) {
			continue
		}
		switch d.State {
		case privacyv1alpha1.DeadlineState(regulations.Late):
			out = append(out, describeDuty(d)+" was carried out late")
		case privacyv1alpha1.DeadlineState(regulations.LateWithReason):
			out = append(out, describeDuty(d)+" was carried out late, with the reasons for the delay")
		default:
			out = append(out, describeDuty(d)+" passed unmet")
		}
	}
	return out
}

// breachPhase is where the report is: Resolved once resolvedAt is set,
// Notified once an authority was notified (notifiedAuthorityAt, or any
// regime's Authority duty in spec.notifications), Contained once the requested
// containment is carried out, Open before.
func breachPhase(spec *privacyv1alpha1.BreachReportSpec, contained bool) privacyv1alpha1.BreachPhase {
	switch {
	case spec.ResolvedAt != nil:
		return privacyv1alpha1.BreachPhaseResolved
	case !contained:
		// Open until contained, whoever was told: what is still to do
		// comes first.
		return privacyv1alpha1.BreachPhaseOpen
	case spec.NotifiedAuthorityAt != nil || slices.ContainsFunc(spec.Notifications, func(n privacyv1alpha1.DutyNotification) bool {
		return n.Duty == privacyv1alpha1.BreachDuty(regulations.Authority)
	}):
		return privacyv1alpha1.BreachPhaseNotified
	}
	return privacyv1alpha1.BreachPhaseContained
}

// names says whether the report names the campaign.
func names(b *privacyv1alpha1.BreachReport, campaign string) bool {
	return slices.ContainsFunc(b.Spec.CampaignRefs, func(r privacyv1alpha1.LocalObjectReference) bool { return r.Name == campaign })
}

// contained says whether every requested action is done on every campaign
// that exists, and what is still pending. A report whose campaigns all are
// missing has contained nothing.
func contained(b *privacyv1alpha1.BreachReport, missing []string) (bool, []string) {
	requested := ptr.Deref(b.Spec.Containment.PauseCollection, false) || ptr.Deref(b.Spec.Containment.RotateKeys, false)
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
		if ptr.Deref(b.Spec.Containment.PauseCollection, false) && rec.PausedAt == nil {
			pending = append(pending, "pause "+ref.Name)
		}
		if ptr.Deref(b.Spec.Containment.RotateKeys, false) && rec.KeysRotatedAt == nil {
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
	// A resolved report asks its campaigns for nothing more (they resume,
	// and rotate no key for it): what was not done by then never will be,
	// and the report is no longer in progress.
	abandoned := !isContained && b.Spec.ResolvedAt != nil && len(missing) < len(b.Spec.CampaignRefs)
	switch {
	case isContained && !ptr.Deref(b.Spec.Containment.PauseCollection, false) && !ptr.Deref(b.Spec.Containment.RotateKeys, false):
		set(privacyv1alpha1.ConditionContained, true, privacyv1alpha1.ReasonSucceeded, "no containment was requested")
	case isContained:
		set(privacyv1alpha1.ConditionContained, true, privacyv1alpha1.ReasonSucceeded, "the requested containment is carried out")
	case abandoned:
		set(privacyv1alpha1.ConditionContained, false, privacyv1alpha1.ReasonResolved,
			"resolved before the operator could "+strings.Join(pending, ", ")+"; that is no longer done")
	default:
		set(privacyv1alpha1.ConditionContained, false, privacyv1alpha1.ReasonProgressing, "waiting to "+strings.Join(pending, ", "))
	}
	// While containment is carried out the report is in progress (kstatus);
	// a report whose campaigns are all missing is stalled instead (below).
	if !isContained && !abandoned && len(missing) < len(b.Spec.CampaignRefs) {
		set(privacyv1alpha1.ConditionReconciling, true, privacyv1alpha1.ReasonProgressing, "waiting to "+strings.Join(pending, ", "))
	} else {
		meta.RemoveStatusCondition(&b.Status.Conditions, privacyv1alpha1.ConditionReconciling)
	}

	if overdue := overdueDuties(b.Status.Deadlines); len(overdue) > 0 {
		set(privacyv1alpha1.ConditionOverdue, true, privacyv1alpha1.ReasonDeadlineMissed,
			"the deadline of "+strings.Join(overdue, "; "))
	} else if len(b.Status.Deadlines) == 0 {
		set(privacyv1alpha1.ConditionOverdue, false, privacyv1alpha1.ReasonNoJurisdictions,
			"no deadline is tracked: neither spec.jurisdictions nor the named campaigns' spec.privacy.jurisdictions list a regime")
	} else {
		msg := "every fixed deadline is met or still ahead"
		if b.Status.NextDuty != "" {
			msg = "the next deadline is " + b.Status.NextDuty
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
	if !isContained && !abandoned {
		set(privacyv1alpha1.ConditionReady, false, privacyv1alpha1.ReasonProgressing, "waiting to "+strings.Join(pending, ", "))
		return
	}
	set(privacyv1alpha1.ConditionReady, true, privacyv1alpha1.ReasonSucceeded, "phase "+string(b.Status.Phase))
}
