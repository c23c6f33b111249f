// Package regulations is surveyguard's regulatory calendar: which duties a
// personal-data breach or a data-subject request creates under each regime,
// how long each may take, and the arithmetic that turns a clock into a due
// instant. The rules themselves are data, in table.go; this file is the logic.
//
// Counting follows the convention of Regulation (EEC, Euratom) No 1182/71,
// which most of the regimes share: a clock counted in hours runs from the
// instant it starts; a clock counted in days, business days or months
// excludes the day it starts and ends at the end of its last day. Days are
// UTC days. Its Art. 3(4), which carries a period ending on a weekend or
// holiday to the next working day, is not applied: the due time is the
// earlier, stricter one.
package regulations

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
)

// Regime is a body of law whose duties apply to a breach or a request. Its
// values are the API's jurisdiction names.
type Regime string

// The regimes in the table.
const (
	CERTIn        Regime = "CERTIn"
	GDPR          Regime = "GDPR"
	UKGDPR        Regime = "UKGDPR"
	DPDP          Regime = "DPDP"
	CCPA          Regime = "CCPA"
	LGPD          Regime = "LGPD"
	NIS2          Regime = "NIS2"
	SingaporePDPA Regime = "SingaporePDPA"
	AustraliaNDB  Regime = "AustraliaNDB"
	HIPAA         Regime = "HIPAA"
)

// Duty is one thing a regime requires, named by whom it is owed or what it is.
type Duty string

// The duties in the table.
const (
	// Authority: notify the supervisory authority (or CERT-In, the Board, the
	// ANPD, the Commission, the Commissioner).
	Authority Duty = "Authority"
	// Individuals: notify the affected people.
	Individuals Duty = "Individuals"
	// AttorneyGeneral: send California's Attorney General a sample notice.
	AttorneyGeneral Duty = "AttorneyGeneral"
	// EarlyWarning: NIS2's first notice to the CSIRT or authority.
	EarlyWarning Duty = "EarlyWarning"
	// DetailedReport: a fuller report after the first notice (DPDP).
	DetailedReport Duty = "DetailedReport"
	// FinalReport: NIS2's final report after the incident notification.
	FinalReport Duty = "FinalReport"
	// Assessment: finish assessing whether the breach must be notified.
	Assessment Duty = "Assessment"
	// Secretary: notify the US Secretary of Health and Human Services.
	Secretary Duty = "Secretary"
	// SecretaryAnnualLog: HIPAA's yearly notice of breaches under 500 people.
	SecretaryAnnualLog Duty = "SecretaryAnnualLog"
	// Response: answer a data-subject request.
	Response Duty = "Response"
	// Acknowledgement: confirm receipt of a data-subject request.
	Acknowledgement Duty = "Acknowledgement"
)

// Kind says whether a rule concerns a breach or a data-subject request.
type Kind string

// The kinds of rule.
const (
	Breach  Kind = "breach"
	Request Kind = "request"
)

// Unit is what a clock counts.
type Unit string

// The units a clock counts in.
const (
	Hours          Unit = "hours"
	CalendarDays   Unit = "calendar days"
	BusinessDays   Unit = "business days"
	CalendarMonths Unit = "calendar months"
	// WithoutUndueDelay has no fixed end: promptly, judged case by case.
	WithoutUndueDelay Unit = "without undue delay"
)

// Start is the event a clock runs from.
type Start string

// The events a clock can run from. Awareness and discovery are both the
// report's detectedAt; the table keeps the law's own word.
const (
	Awareness Start = "awareness"
	Discovery Start = "discovery"
	Assessed  Start = "assessment"
	Receipt   Start = "receipt"
	AfterDuty Start = "after duty" // the notification of Rule.After
	EndOfYear Start = "end of the calendar year"
)

// Clock is how long a duty may take.
type Clock struct {
	Amount int
	Unit   Unit
}

func (c Clock) String() string {
	switch {
	case c.Unit == WithoutUndueDelay:
		return string(WithoutUndueDelay)
	case c.Unit == Hours:
		return fmt.Sprintf("%d h", c.Amount)
	case c.Amount == 1 && c.Unit == CalendarMonths:
		return "1 calendar month"
	}
	return fmt.Sprintf("%d %s", c.Amount, c.Unit)
}

// Extension is how far the law lets a due time be moved.
type Extension struct {
	// By is the most it may add; zero Amount means as far as the authority allows.
	By Clock
	// NoticeWithin is when the person must be told of it, counted like the clock.
	NoticeWithin string
	// Note says who grants it.
	Note string
}

// Rule is one row of the table: a duty of a regime and its clock.
type Rule struct {
	Regime    Regime
	Duty      Duty
	Kind      Kind
	Recipient string
	Clock     Clock
	Start     Start
	// After is the duty whose notification starts this clock (Start AfterDuty).
	After Duty
	// InForce is the first day the duty applies; breaches detected and
	// requests received before it are shown but never overdue.
	InForce time.Time
	// Extension is nil when the due time cannot be moved.
	Extension *Extension
	// Pausable: a lawful delay (law enforcement) may postpone this duty.
	Pausable bool
	// LateReasons: the law accepts a late notification that gives its reasons.
	LateReasons bool
	// HighRiskOnly: the duty applies only when the breach is likely to result
	// in a high risk to people (a report of severity High or Critical).
	HighRiskOnly bool
	// MinResidents and BelowResidents bound the number of affected residents
	// for which the duty applies (0: no bound).
	MinResidents, BelowResidents int64
	Citation                     string
	URL                          string
	Note                         string
}

// Key names a rule: regime and duty.
func (r Rule) Key() string { return string(r.Regime) + " " + string(r.Duty) }

// Fixed says whether the clock has a due time.
func (r Rule) Fixed() bool { return r.Clock.Unit != WithoutUndueDelay }

// StartsText is the clock's start in words.
func (r Rule) StartsText() string {
	switch r.Start {
	case AfterDuty:
		return "notification of " + string(r.After)
	case Assessed:
		return "assessment that the breach is notifiable"
	}
	return string(r.Start)
}

// ClockText is the clock and its start in words: "72 h after awareness".
func (r Rule) ClockText() string {
	if !r.Fixed() {
		return string(WithoutUndueDelay)
	}
	return r.Clock.String() + " after " + r.StartsText()
}

// Holidays are the days, by regime, that are not business days besides
// Saturdays and Sundays.
type Holidays map[Regime]map[Date]bool

// Date is a UTC calendar day.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf is the UTC day of t.
func DateOf(t time.Time) Date {
	y, m, d := t.UTC().Date()
	return Date{y, m, d}
}

// ParseDate reads YYYY-MM-DD.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, fmt.Errorf("%q is not a date (YYYY-MM-DD)", s)
	}
	return DateOf(t), nil
}

func (d Date) String() string { return d.midnight().Format(time.DateOnly) }

func (d Date) midnight() time.Time { return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC) }

// endOf is the end of day d: midnight UTC of the next day.
func endOf(d Date) time.Time { return d.midnight().AddDate(0, 0, 1) }

// businessDay says whether d is a working day under the regime.
func (h Holidays) businessDay(regime Regime, d Date) bool {
	switch d.midnight().Weekday() {
	case time.Saturday, time.Sunday:
		return false
	}
	return !h[regime][d]
}

// AddBusinessDays is the end of the n-th business day after the day of t.
func (h Holidays) AddBusinessDays(regime Regime, t time.Time, n int) time.Time {
	d := DateOf(t)
	for n > 0 {
		d = DateOf(d.midnight().AddDate(0, 0, 1))
		if h.businessDay(regime, d) {
			n--
		}
	}
	return endOf(d)
}

// AddCalendarMonths is the end of the day n months after the day of t: the
// same day of the month, or the month's last day when it has no such day (a
// month from 31 January ends on the last day of February).
func AddCalendarMonths(t time.Time, n int) time.Time {
	y, m, d := t.UTC().Date()
	first := time.Date(y, m+time.Month(n), 1, 0, 0, 0, 0, time.UTC)
	last := first.AddDate(0, 1, -1).Day()
	return endOf(Date{first.Year(), first.Month(), min(d, last)})
}

// AddCalendarDays is the end of the n-th day after the day of t.
func AddCalendarDays(t time.Time, n int) time.Time {
	return endOf(DateOf(t.UTC().AddDate(0, 0, n)))
}

// Due is when a clock that started at start ends; ok is false for a clock
// with no fixed end.
func (r Rule) Due(start time.Time, h Holidays) (due time.Time, ok bool) {
	switch r.Clock.Unit {
	case Hours:
		return start.Add(time.Duration(r.Clock.Amount) * time.Hour), true
	case CalendarDays:
		return AddCalendarDays(start, r.Clock.Amount), true
	case BusinessDays:
		return h.AddBusinessDays(r.Regime, start, r.Clock.Amount), true
	case CalendarMonths:
		return AddCalendarMonths(start, r.Clock.Amount), true
	}
	return time.Time{}, false
}

// LatestDue is the furthest the due time may be extended to; ok is false
// when the rule has no extension of a fixed length.
func (r Rule) LatestDue(start time.Time, h Holidays) (time.Time, bool) {
	if r.Extension == nil || r.Extension.By.Amount == 0 || r.Extension.By.Unit != r.Clock.Unit {
		return time.Time{}, false
	}
	longer := r
	longer.Clock.Amount += r.Extension.By.Amount
	return longer.Due(start, h)
}

// InForceAt says whether the rule applies to an event at t.
func (r Rule) InForceAt(t time.Time) bool { return !t.Before(r.InForce) }

// Applies says whether the rule applies to a breach of the given risk with
// the given number of affected residents (unknown when residents < 0). A
// threshold the count is unknown for is assumed met when it asks for at least
// some number (the earlier duty), and not met when it asks for fewer.
func (r Rule) Applies(highRisk bool, residents int64) (bool, string) {
	if r.HighRiskOnly && !highRisk {
		return false, "applies only when the breach is likely to result in a high risk (severity High or Critical)"
	}
	if r.MinResidents > 0 {
		switch {
		case residents < 0:
			return true, fmt.Sprintf("applies when %d or more residents are affected; assumed, as no count is given", r.MinResidents)
		case residents < r.MinResidents:
			return false, fmt.Sprintf("%d residents affected: applies only to %d or more", residents, r.MinResidents)
		}
	}
	if r.BelowResidents > 0 && (residents < 0 || residents >= r.BelowResidents) {
		return false, fmt.Sprintf("applies only when fewer than %d residents are affected", r.BelowResidents)
	}
	return true, ""
}

// Find returns the rule of a regime's duty.
func Find(regime Regime, duty Duty) (Rule, bool) {
	for _, r := range Table {
		if r.Regime == regime && r.Duty == duty {
			return r, true
		}
	}
	return Rule{}, false
}

// Of lists a regime's rules of a kind, in table order.
func Of(regime Regime, kind Kind) []Rule {
	var out []Rule
	for _, r := range Table {
		if r.Regime == regime && r.Kind == kind {
			out = append(out, r)
		}
	}
	return out
}

// Regimes lists the regimes with rules of a kind, in table order.
func Regimes(kind Kind) []Regime {
	var out []Regime
	seen := map[Regime]bool{}
	for _, r := range Table {
		if r.Kind == kind && !seen[r.Regime] {
			seen[r.Regime] = true
			out = append(out, r.Regime)
		}
	}
	return out
}

// day is a civil date for the table.
func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// ParseHolidays reads a holiday calendar: one key per regime, each a list of
// dates (YYYY-MM-DD) separated by spaces, commas or new lines, "#" starting a
// comment to the end of the line. It names the first entry it cannot read.
func ParseHolidays(data map[string]string) (Holidays, error) {
	known := map[Regime]bool{}
	for _, r := range Table {
		known[r.Regime] = true
	}
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	h := Holidays{}
	for _, key := range keys {
		regime := Regime(key)
		if !known[regime] {
			return nil, fmt.Errorf("key %q is not a regime (one of %s)", key, regimeList())
		}
		h[regime] = map[Date]bool{}
		for n, line := range strings.Split(data[key], "\n") {
			line, _, _ = strings.Cut(line, "#")
			for _, field := range strings.FieldsFunc(line, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
				d, err := ParseDate(field)
				if err != nil {
					return nil, fmt.Errorf("key %s line %d: %w", key, n+1, err)
				}
				h[regime][d] = true
			}
		}
	}
	return h, nil
}

func regimeList() string {
	var names []string
	for _, r := range Regimes(Breach) { // every regime has breach duties
		names = append(names, string(r))
	}
	return strings.Join(names, ", ")
}
