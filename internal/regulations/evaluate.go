package regulations

import (
	"fmt"
	"time"
)

// State is where one duty stands.
type State string

// The states of a duty.
const (
	// Pending: the clock runs and less than 80% of it has elapsed, or the duty
	// has no fixed clock and is not done yet.
	Pending State = "Pending"
	// Approaching: 80% of the clock has elapsed and the duty is not done.
	Approaching State = "Approaching"
	// Met: done, by the due time where there is one.
	Met State = "Met"
	// Overdue: the due time passed and the duty is not done.
	Overdue State = "Overdue"
	// Late: done after the due time.
	Late State = "Late"
	// LateWithReason: done after the due time, with the reasons for the delay
	// the law asks for.
	LateWithReason State = "LateWithReason"
	// Waiting: the clock has not started (it starts at an assessment or at
	// another duty's notification).
	Waiting State = "Waiting"
	// Paused: a lawful delay without an end holds the clock.
	Paused State = "Paused"
	// Informational: the rule was not in force when the breach was detected
	// (or the request received); shown, never overdue.
	Informational State = "Informational"
	// NotApplicable: the rule's condition (high risk, number of residents) is not met.
	NotApplicable State = "NotApplicable"
)

// ReminderFraction is how much of a clock elapses before a duty is Approaching.
const ReminderFraction = 0.8

// Notice is a duty carried out.
type Notice struct {
	At time.Time
	// LateReason is the documented reason for a late notification.
	LateReason string
}

// Delay is a lawful delay (law enforcement) of the duties that allow one.
type Delay struct {
	From time.Time
	// Until is nil while the delay lasts.
	Until *time.Time
}

// Facts are what is known of a breach or a request.
type Facts struct {
	// Detected is when the breach was detected (awareness, discovery) or the
	// request received.
	Detected time.Time
	// Assessed is when the breach was assessed as notifiable.
	Assessed *time.Time
	// HighRisk: the breach is likely to result in a high risk to people.
	HighRisk bool
	// Residents is the number of affected residents per regime; a missing
	// regime is unknown.
	Residents map[Regime]int64
	// Notices are the duties carried out, by Rule.Key.
	Notices map[string]Notice
	// Extensions are granted or announced extensions, by Rule.Key.
	Extensions map[string]time.Time
	// ExtensionNotices are when the person was told of an extension, by
	// Rule.Key; an extension whose rule asks for notice (NoticeWithin)
	// told after the deadline it extends is ignored.
	ExtensionNotices map[string]time.Time
	// Delay is a lawful delay, nil when there is none.
	Delay    *Delay
	Holidays Holidays
	// HolidaysErr, when the holiday calendar could not be read, is noted on
	// the business-day clocks, which then skip weekends only.
	HolidaysErr error
}

// Status is one duty evaluated at an instant.
type Status struct {
	Rule  Rule
	State State
	// Due is nil for a duty without a fixed clock, or while Waiting or Paused.
	Due        *time.Time
	NotifiedAt *time.Time
	InForce    bool
	// Note explains the state in a sentence, or is empty.
	Note string
	// Wake is the next instant the state changes with time alone, or nil.
	Wake *time.Time
}

// Met says whether the duty was done in time.
func (s Status) Met() bool { return s.State == Met }

// Overdue says whether the due time passed before the duty was done.
func (s Status) Overdue() bool {
	return s.State == Overdue || s.State == Late || s.State == LateWithReason
}

// Evaluate is where a duty stands at now.
func Evaluate(r Rule, f Facts, now time.Time) Status {
	s := Status{Rule: r, InForce: r.InForceAt(f.Detected)}
	residents := int64(-1)
	if n, ok := f.Residents[r.Regime]; ok {
		residents = n
	}
	if ok, why := r.Applies(f.HighRisk, residents); !ok {
		s.State, s.Note = NotApplicable, why
		return s
	} else if why != "" {
		s.Note = why
	}
	notice, notified := f.Notices[r.Key()]
	if r.Duty == Assessment && f.Assessed != nil {
		notice, notified = Notice{At: *f.Assessed}, true
	}
	if notified {
		s.NotifiedAt = &notice.At
	}

	start, started, waitingFor := r.startOf(f)
	switch {
	case !r.Fixed() || !started:
		s.State = Pending
		if !started {
			s.State = Waiting
			s.Note = join(s.Note, "the clock starts at "+waitingFor)
		}
		if notified {
			s.State = Met
		} else if !s.InForce {
			s.State = Informational
		}
		return s.inForceNote()
	}

	due, _ := r.Due(start, f.Holidays)
	if until, ok := f.Extensions[r.Key()]; ok {
		var why string
		if told, ok := f.ExtensionNotices[r.Key()]; ok && r.Extension != nil && r.Extension.NoticeWithin != "" && told.After(due) {
			why = fmt.Sprintf("extension ignored: the person was told of it on %s, after the due time %s (the law asks for notice within %s)",
				told.UTC().Format(time.RFC3339), due.UTC().Format(time.RFC3339), r.Extension.NoticeWithin)
		} else {
			due, why = r.extend(start, due, until, f.Holidays)
		}
		s.Note = join(s.Note, why)
	}
	if f.Delay != nil && r.Pausable && f.Delay.From.Before(due) {
		from := maxTime(f.Delay.From, start)
		if f.Delay.Until == nil {
			if notified {
				s.State = Met
				return s.inForceNote()
			}
			s.State, s.Note = Paused, join(s.Note, "held by a lawful delay without an end yet")
			if !s.InForce {
				s.State = Informational
			}
			return s.inForceNote()
		}
		if until := *f.Delay.Until; until.After(from) {
			due = due.Add(until.Sub(from))
			s.Note = join(s.Note, "postponed by a lawful delay of "+until.Sub(from).Round(time.Second).String())
		}
	}
	remind := start.Add(time.Duration(float64(due.Sub(start)) * ReminderFraction))
	s.Due = &due
	if f.HolidaysErr != nil && r.Clock.Unit == BusinessDays {
		s.Note = join(s.Note, "holidays not counted: "+f.HolidaysErr.Error())
	}

	switch {
	case notified && !notice.At.After(due):
		s.State = Met
	case !s.InForce && notified:
		s.State = Met
	case !s.InForce:
		s.State = Informational
	case notified && notice.LateReason != "" && r.LateReasons:
		s.State = LateWithReason
	case notified:
		s.State = Late
		if notice.LateReason != "" {
			s.Note = join(s.Note, "the law makes no provision for late notification with reasons")
		}
	case now.Before(remind):
		s.State, s.Wake = Pending, &remind
	case now.Before(due):
		s.State, s.Wake = Approaching, &due
	default:
		s.State = Overdue
	}
	return s.inForceNote()
}

func (s Status) inForceNote() Status {
	if !s.InForce {
		s.Note = join(s.Note, "informational: in force from "+DateOf(s.Rule.InForce).String())
	}
	return s
}

// startOf is when the rule's clock started; when it has not, what it waits for.
func (r Rule) startOf(f Facts) (time.Time, bool, string) {
	switch r.Start {
	case Assessed:
		if f.Assessed == nil {
			return time.Time{}, false, "the assessment (spec.assessedAt)"
		}
		return *f.Assessed, true, ""
	case AfterDuty:
		n, ok := f.Notices[string(r.Regime)+" "+string(r.After)]
		if !ok {
			return time.Time{}, false, "the notification of " + string(r.Regime) + " " + string(r.After)
		}
		return n.At, true, ""
	case EndOfYear:
		return time.Date(f.Detected.UTC().Year(), time.December, 31, 0, 0, 0, 0, time.UTC), true, ""
	}
	return f.Detected, true, ""
}

// extend applies an extension to until, within what the rule allows.
func (r Rule) extend(start, due, until time.Time, h Holidays) (time.Time, string) {
	switch {
	case r.Extension == nil:
		return due, "extension ignored: the law provides none for this duty"
	case !until.After(due):
		return due, fmt.Sprintf("extension ignored: its until (%s) is not after the due time", until.UTC().Format(time.RFC3339))
	}
	if latest, ok := r.LatestDue(start, h); ok && until.After(latest) {
		return latest, fmt.Sprintf("extended to the most the law allows (%s more)", r.Extension.By)
	}
	return until, "extended"
}

func join(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
