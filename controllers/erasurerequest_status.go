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

// defaultInternalDays is regime Internal's deadline when spec.internalDays is unset.
const defaultInternalDays = 30

// Condition reasons of ErasureRequests besides the shared ones.
const (
	// ReasonErasureDone: every campaign erased (Ready).
	ReasonErasureDone = "Erased"
	// ReasonRetrying: a collector could not be reached; the erasure is retried (Ready, Reconciling).
	ReasonRetrying = "Retrying"
	// ReasonCompletedLate: the erasure finished after its deadline (Overdue).
	ReasonCompletedLate = "CompletedLate"
	// ReasonWithinDeadline: the erasure is not overdue (Overdue=False).
	ReasonWithinDeadline = "WithinDeadline"
)

// setErasureStatus computes phase, totals, deadlines and conditions from the
// results the pass recorded, and returns the next instant a deadline's state
// changes with time alone.
func setErasureStatus(er *privacyv1alpha1.ErasureRequest, problem *erasureProblem, now time.Time,
	holidays regulations.Holidays, holidaysErr error,
) *time.Time {
	st := &er.Status
	before := slices.Clone(st.Conditions)
	defer func() { stampTransitions(before, st.Conditions, now) }()
	set := func(typ string, ok bool, reason, msg string) {
		status := metav1.ConditionFalse
		if ok {
			status = metav1.ConditionTrue
		}
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{
			Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: er.Generation,
		})
	}

	var done, erasedFrom, retrying, refused int
	var total int64
	var firstRetry, firstRefusal *privacyv1alpha1.ErasureResult
	for i, res := range st.Results {
		switch res.State {
		case privacyv1alpha1.ErasureCampaignErased:
			done++
			erasedFrom++
			total += ptr.Deref(res.Erased, 0)
		case privacyv1alpha1.ErasureCampaignDeleted:
			done++
		case privacyv1alpha1.ErasureCampaignRetrying:
			retrying++
			if firstRetry == nil {
				firstRetry = &st.Results[i]
			}
		case privacyv1alpha1.ErasureCampaignFailed:
			refused++
			if firstRefusal == nil {
				firstRefusal = &st.Results[i]
			}
		}
	}
	if problem == nil && (erasedFrom > 0 || done == len(st.Results)) {
		st.Erased = ptr.To(total)
	}
	progress := fmt.Sprintf("erased from %d of %d campaigns", done, len(st.Results))
	switch {
	case problem != nil:
		st.Phase = privacyv1alpha1.ErasurePhaseFailed
		set(privacyv1alpha1.ConditionStalled, true, problem.reason, problem.message)
		set(privacyv1alpha1.ConditionReady, false, problem.reason, problem.message)
		meta.RemoveStatusCondition(&st.Conditions, privacyv1alpha1.ConditionReconciling)
	case done == len(st.Results):
		st.Phase = privacyv1alpha1.ErasurePhaseCompleted
		if st.CompletedAt == nil {
			st.CompletedAt = &metav1.Time{Time: now.UTC().Truncate(time.Second)}
		}
		msg := fmt.Sprintf("erased %d responses from %d campaigns", total, erasedFrom)
		if len(st.Results) == 0 {
			msg = "no campaign matched spec.campaignSelector when the request was first seen: nothing to erase"
		} else if deleted := done - erasedFrom; deleted > 0 {
			msg += fmt.Sprintf("; %d campaigns were deleted, with all their responses, before they were asked", deleted)
		}
		set(privacyv1alpha1.ConditionReady, true, ReasonErasureDone, msg)
		meta.RemoveStatusCondition(&st.Conditions, privacyv1alpha1.ConditionReconciling)
		meta.RemoveStatusCondition(&st.Conditions, privacyv1alpha1.ConditionStalled)
	case retrying > 0:
		st.Phase = privacyv1alpha1.ErasurePhaseFailed
		msg := fmt.Sprintf("%s; campaign %s: %s", progress, firstRetry.Campaign, firstRetry.Message)
		set(privacyv1alpha1.ConditionReady, false, ReasonRetrying, truncateMessage(msg))
		set(privacyv1alpha1.ConditionReconciling, true, ReasonRetrying, truncateMessage(msg))
		meta.RemoveStatusCondition(&st.Conditions, privacyv1alpha1.ConditionStalled)
	case refused > 0 && done+refused == len(st.Results):
		st.Phase = privacyv1alpha1.ErasurePhaseFailed
		msg := truncateMessage(fmt.Sprintf("%s; campaign %s: %s", progress, firstRefusal.Campaign, firstRefusal.Message))
		set(privacyv1alpha1.ConditionStalled, true, ReasonErasureRefused, msg)
		set(privacyv1alpha1.ConditionReady, false, ReasonErasureRefused, msg)
		meta.RemoveStatusCondition(&st.Conditions, privacyv1alpha1.ConditionReconciling)
	default:
		st.Phase = privacyv1alpha1.ErasurePhasePending
		if done+refused > 0 {
			st.Phase = privacyv1alpha1.ErasurePhaseInProgress
		}
		set(privacyv1alpha1.ConditionReady, false, privacyv1alpha1.ReasonProgressing, progress)
		set(privacyv1alpha1.ConditionReconciling, true, privacyv1alpha1.ReasonProgressing, progress)
		meta.RemoveStatusCondition(&st.Conditions, privacyv1alpha1.ConditionStalled)
	}

	deadlines, wake := erasureDeadlines(er, holidays, holidaysErr, now)
	st.Deadlines = deadlines
	st.Due = nil
	for _, d := range deadlines {
		if d.Duty != privacyv1alpha1.RequestDutyResponse {
			continue
		}
		st.Due = d.Due
		switch d.State {
		case privacyv1alpha1.DeadlineState(regulations.Overdue):
			set(privacyv1alpha1.ConditionOverdue, true, privacyv1alpha1.ReasonDeadlineMissed,
				fmt.Sprintf("the erasure was due by %s (%s) and is not completed", d.Due.UTC().Format(time.RFC3339), d.Clock))
		case privacyv1alpha1.DeadlineState(regulations.Late):
			set(privacyv1alpha1.ConditionOverdue, true, ReasonCompletedLate,
				fmt.Sprintf("completed at %s, after the deadline %s", d.DoneAt.UTC().Format(time.RFC3339), d.Due.UTC().Format(time.RFC3339)))
		default:
			msg := "due by " + d.Due.UTC().Format(time.RFC3339)
			if d.State == privacyv1alpha1.DeadlineState(regulations.Met) {
				msg = "completed by the deadline " + d.Due.UTC().Format(time.RFC3339)
			}
			set(privacyv1alpha1.ConditionOverdue, false, ReasonWithinDeadline, msg)
		}
	}
	return wake
}

// erasureRules are the duties of the request's regime: the table's request
// rows, or regime Internal's own deadline.
func erasureRules(er *privacyv1alpha1.ErasureRequest) []regulations.Rule {
	regime := er.Spec.Regime
	if regime == "" || regime == privacyv1alpha1.ErasureRegimeInternal {
		days := int(er.Spec.InternalDays)
		if days == 0 {
			days = defaultInternalDays
		}
		return []regulations.Rule{{
			Regime: regulations.Regime(privacyv1alpha1.ErasureRegimeInternal), Duty: regulations.Response, Kind: regulations.Request,
			Clock: regulations.Clock{Amount: days, Unit: regulations.CalendarDays}, Start: regulations.Receipt,
		}}
	}
	return regulations.Of(regulations.Regime(regime), regulations.Request)
}

// countsBusinessDays says whether a duty of the request's regime is counted
// in business days, so the holiday calendar matters (CCPA's acknowledgement).
func countsBusinessDays(er *privacyv1alpha1.ErasureRequest) bool {
	return slices.ContainsFunc(erasureRules(er), func(r regulations.Rule) bool { return r.Clock.Unit == regulations.BusinessDays })
}

// erasureReceivedAt is when the request's clock starts: spec.receivedAt, or
// the creation; a receivedAt after the creation is not believed.
func erasureReceivedAt(er *privacyv1alpha1.ErasureRequest) (time.Time, string) {
	created := er.CreationTimestamp.UTC()
	if r := er.Spec.ReceivedAt; r != nil {
		if r.After(created) {
			return created, "spec.receivedAt is after the request was created; the clock starts at the creation"
		}
		return r.UTC(), ""
	}
	return created, ""
}

// extendedBefore says whether the request's Response deadline was already
// extended when the operator last wrote its status.
func extendedBefore(er *privacyv1alpha1.ErasureRequest) bool {
	for _, d := range er.Status.Deadlines {
		if d.Duty == privacyv1alpha1.RequestDutyResponse && strings.Contains(d.Note, "extended") {
			return true
		}
	}
	return false
}

// erasureDeadlines evaluates each duty of the request's regime at now.
func erasureDeadlines(er *privacyv1alpha1.ErasureRequest, holidays regulations.Holidays, holidaysErr error, now time.Time,
) ([]privacyv1alpha1.RequestDeadline, *time.Time) {
	received, receivedNote := erasureReceivedAt(er)
	er.Status.ReceivedAt = &metav1.Time{Time: received}
	facts := regulations.Facts{
		Detected: received, Notices: map[string]regulations.Notice{}, Extensions: map[string]time.Time{},
		ExtensionNotices: map[string]time.Time{}, Holidays: holidays, HolidaysErr: holidaysErr,
	}
	// When the extension was first seen, kept: it counts as the notice's
	// time unless spec.extension.notifiedAt gives one.
	switch {
	case er.Spec.Extension.Until == nil:
		er.Status.ExtensionRecordedAt = nil
	case er.Status.ExtensionRecordedAt == nil && extendedBefore(er):
		// Extended under a version that kept no record: its notice time
		// is unknown, and it was granted then; taking the upgrade's time
		// would turn it late. The receipt stands in, and notifiedAt can
		// say better.
		er.Status.ExtensionRecordedAt = er.Status.ReceivedAt.DeepCopy()
	case er.Status.ExtensionRecordedAt == nil:
		er.Status.ExtensionRecordedAt = &metav1.Time{Time: now.UTC().Truncate(time.Second)}
	}
	var out []privacyv1alpha1.RequestDeadline
	var wake *time.Time
	for _, rule := range erasureRules(er) {
		switch rule.Duty {
		case regulations.Response:
			if er.Status.Phase == privacyv1alpha1.ErasurePhaseCompleted && er.Status.CompletedAt != nil {
				facts.Notices[rule.Key()] = regulations.Notice{At: er.Status.CompletedAt.Time}
			}
			if x := er.Spec.Extension.Until; x != nil {
				facts.Extensions[rule.Key()] = x.Time
				facts.ExtensionNotices[rule.Key()] = er.Status.ExtensionRecordedAt.Time
				if n := er.Spec.Extension.NotifiedAt; n != nil {
					facts.ExtensionNotices[rule.Key()] = n.Time
				}
			}
		case regulations.Acknowledgement:
			if a := er.Spec.AcknowledgedAt; a != nil {
				facts.Notices[rule.Key()] = regulations.Notice{At: a.Time}
			}
		}
		s := regulations.Evaluate(rule, facts, now)
		d := privacyv1alpha1.RequestDeadline{
			Duty: privacyv1alpha1.RequestDuty(rule.Duty), Clock: rule.ClockText(), State: privacyv1alpha1.DeadlineState(s.State),
			Note: truncateMessage(strings.Join(slices.DeleteFunc([]string{receivedNote, s.Note}, func(n string) bool { return n == "" }), "; ")),
		}
		if s.Due != nil {
			d.Due = &metav1.Time{Time: *s.Due}
		}
		if s.NotifiedAt != nil {
			d.DoneAt = &metav1.Time{Time: *s.NotifiedAt}
		}
		out = append(out, d)
		if s.Wake != nil && (wake == nil || s.Wake.Before(*wake)) {
			wake = s.Wake
		}
	}
	return out, wake
}
