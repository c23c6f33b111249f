package regulations

import (
	"os"
	"strings"
	"testing"
	"time"
)

func utc(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, time.UTC)
}

// The facts every row is tried with: detected on Tuesday 1 June 2027 at
// 10:00 UTC (after every rule came into force), assessed on Saturday 5 June
// at 08:00, the first duties of the chained clocks notified at fixed times.
var (
	detected    = utc(2027, time.June, 1, 10, 0)
	assessed    = utc(2027, time.June, 5, 8, 0)
	ccpaNotice  = utc(2027, time.June, 10, 12, 0)
	nis2Notice  = utc(2027, time.June, 3, 9, 0)
	hipaaLarge  = map[Regime]int64{CCPA: 600, HIPAA: 600}
	hipaaSmall  = map[Regime]int64{CCPA: 600, HIPAA: 100}
	chainedOnes = map[string]Notice{"CCPA Individuals": {At: ccpaNotice}, "NIS2 Authority": {At: nis2Notice}}
)

// TestEveryRowAtItsDueTime tries each row with a fixed clock a nanosecond
// before its due time, at it, notified at it and notified a nanosecond late.
// The due times are worked out by hand from the law's counting rules.
func TestEveryRowAtItsDueTime(t *testing.T) {
	want := map[string]time.Time{
		"CERTIn Authority":         utc(2027, time.June, 1, 16, 0),  // 6 h
		"GDPR Authority":           utc(2027, time.June, 4, 10, 0),  // 72 h
		"UKGDPR Authority":         utc(2027, time.June, 4, 10, 0),  // 72 h
		"DPDP DetailedReport":      utc(2027, time.June, 4, 10, 0),  // 72 h
		"CCPA Individuals":         utc(2027, time.July, 2, 0, 0),   // end of 1 July, 30 days after 1 June
		"CCPA AttorneyGeneral":     utc(2027, time.June, 26, 0, 0),  // end of 25 June, 15 days after the notice of 10 June
		"LGPD Authority":           utc(2027, time.June, 5, 0, 0),   // end of Friday 4 June: Wed, Thu, Fri
		"LGPD Individuals":         utc(2027, time.June, 5, 0, 0),   // same
		"NIS2 EarlyWarning":        utc(2027, time.June, 2, 10, 0),  // 24 h
		"NIS2 Authority":           utc(2027, time.June, 4, 10, 0),  // 72 h
		"NIS2 FinalReport":         utc(2027, time.July, 4, 0, 0),   // end of 3 July, a month after the notice of 3 June
		"SingaporePDPA Authority":  utc(2027, time.June, 9, 0, 0),   // end of 8 June, 3 days after the assessment's day
		"AustraliaNDB Assessment":  utc(2027, time.July, 2, 0, 0),   // end of 1 July
		"HIPAA Individuals":        utc(2027, time.August, 1, 0, 0), // end of 31 July, 60 days
		"HIPAA Secretary":          utc(2027, time.August, 1, 0, 0),
		"HIPAA SecretaryAnnualLog": utc(2028, time.March, 1, 0, 0), // end of 29 February 2028, 60 days after 31 December
		"GDPR Response":            utc(2027, time.July, 2, 0, 0),  // end of 1 July
		"UKGDPR Response":          utc(2027, time.July, 2, 0, 0),
		"DPDP Response":            utc(2027, time.August, 31, 0, 0), // end of 30 August, 90 days
		"CCPA Acknowledgement":     utc(2027, time.June, 16, 0, 0),   // end of Tuesday 15 June, the 10th business day
		"CCPA Response":            utc(2027, time.July, 17, 0, 0),   // end of 16 July, 45 days
	}
	tried := 0
	for _, r := range Table {
		if !r.Fixed() {
			continue
		}
		due, ok := want[r.Key()]
		if !ok {
			t.Errorf("%s: no expected due time in this test", r.Key())
			continue
		}
		tried++
		residents := hipaaLarge
		if r.Duty == SecretaryAnnualLog {
			residents = hipaaSmall
		}
		facts := func(notices map[string]Notice) Facts {
			all := map[string]Notice{}
			for k, v := range chainedOnes {
				if k != r.Key() {
					all[k] = v
				}
			}
			for k, v := range notices {
				all[k] = v
			}
			var a *time.Time
			if r.Duty != Assessment {
				a = &assessed
			}
			return Facts{Detected: detected, Assessed: a, HighRisk: true, Residents: residents, Notices: all}
		}
		t.Run(r.Key(), func(t *testing.T) {
			s := Evaluate(r, facts(nil), due.Add(-time.Nanosecond))
			if s.Due == nil || !s.Due.Equal(due) {
				t.Fatalf("due %v, want %v (%s)", s.Due, due, s.Note)
			}
			if s.State != Approaching || s.Overdue() || s.Wake == nil || !s.Wake.Equal(due) {
				t.Errorf("at due - 1ns: %s, wake %v", s.State, s.Wake)
			}
			if s := Evaluate(r, facts(nil), due); s.State != Overdue || !s.Overdue() || s.Wake != nil {
				t.Errorf("at due: %s", s.State)
			}
			onTime := map[string]Notice{r.Key(): {At: due}}
			if r.Duty == Assessment {
				a := due
				f := facts(nil)
				f.Assessed = &a
				if s := Evaluate(r, f, due.Add(time.Hour)); s.State != Met {
					t.Errorf("assessed at due: %s", s.State)
				}
				a = due.Add(time.Nanosecond)
				if s := Evaluate(r, f, due.Add(time.Hour)); s.State != Late {
					t.Errorf("assessed late: %s", s.State)
				}
				return
			}
			if s := Evaluate(r, facts(onTime), due.Add(time.Hour)); s.State != Met || !s.Met() {
				t.Errorf("notified at due: %s", s.State)
			}
			late := map[string]Notice{r.Key(): {At: due.Add(time.Nanosecond), LateReason: "forensics took 4 days"}}
			wantLate := Late
			if r.LateReasons {
				wantLate = LateWithReason
			}
			if s := Evaluate(r, facts(late), due.Add(time.Hour)); s.State != wantLate || !s.Overdue() || s.Met() {
				t.Errorf("notified 1ns late with a reason: %s, want %s", s.State, wantLate)
			}
			late[r.Key()] = Notice{At: due.Add(time.Nanosecond)}
			if s := Evaluate(r, facts(late), due.Add(time.Hour)); s.State != Late {
				t.Errorf("notified 1ns late without a reason: %s", s.State)
			}
		})
	}
	if tried != len(want) {
		t.Errorf("tried %d rows, expected %d", tried, len(want))
	}
}

func TestRowsWithoutAFixedClockAreNeverOverdue(t *testing.T) {
	for _, r := range Table {
		if r.Fixed() {
			continue
		}
		a := assessed
		f := Facts{Detected: detected, Assessed: &a, HighRisk: true}
		if s := Evaluate(r, f, detected.AddDate(5, 0, 0)); s.State != Pending || s.Due != nil || s.Overdue() || s.Wake != nil {
			t.Errorf("%s five years on: %+v", r.Key(), s)
		}
		f.Notices = map[string]Notice{r.Key(): {At: detected.AddDate(1, 0, 0)}}
		if s := Evaluate(r, f, detected.AddDate(5, 0, 0)); s.State != Met {
			t.Errorf("%s notified a year on: %s", r.Key(), s.State)
		}
	}
}

func TestTheReminderIsAt80Percent(t *testing.T) {
	r, _ := Find(CERTIn, Authority)
	f := Facts{Detected: detected}
	remind := detected.Add(4*time.Hour + 48*time.Minute)
	if s := Evaluate(r, f, remind.Add(-time.Nanosecond)); s.State != Pending || !s.Wake.Equal(remind) {
		t.Errorf("before 80%%: %s, wake %v", s.State, s.Wake)
	}
	if s := Evaluate(r, f, remind); s.State != Approaching {
		t.Errorf("at 80%%: %s", s.State)
	}
}

// DPDP's duties come into force on 13 May 2027: a breach detected before is
// shown with its clock and never overdue.
func TestDPDPIsInformationalUntil13May2027(t *testing.T) {
	r, _ := Find(DPDP, DetailedReport)
	before := utc(2027, time.May, 12, 23, 59)
	s := Evaluate(r, Facts{Detected: before}, before.AddDate(1, 0, 0))
	if s.InForce || s.State != Informational || s.Overdue() || s.Due == nil || s.Wake != nil || !strings.Contains(s.Note, "2027-05-13") {
		t.Errorf("detected 12 May 2027: %+v", s)
	}
	from := utc(2027, time.May, 13, 0, 0)
	if s := Evaluate(r, Facts{Detected: from}, from.Add(72*time.Hour)); !s.InForce || s.State != Overdue {
		t.Errorf("detected 13 May 2027: %+v", s)
	}
	// Detected now, November 2026: every DPDP row is informational.
	now := utc(2026, time.November, 23, 9, 0)
	for _, r := range Of(DPDP, Breach) {
		if s := Evaluate(r, Facts{Detected: now}, now.AddDate(0, 1, 0)); s.InForce || s.State != Informational {
			t.Errorf("%s: %s", r.Key(), s.State)
		}
	}
}

func TestBusinessDays(t *testing.T) {
	br := Holidays{LGPD: {
		{2026, time.December, 25}: true, // Natal
		{2027, time.January, 1}:   true, // Confraternização Universal
	}}
	for _, tc := range []struct {
		name  string
		start time.Time
		n     int
		want  time.Time
	}{
		{"Tuesday + 3", utc(2026, time.November, 17, 10, 0), 3, utc(2026, time.November, 21, 0, 0)},
		{"Friday + 3 skips the weekend", utc(2026, time.November, 20, 23, 59), 3, utc(2026, time.November, 26, 0, 0)},
		{"Saturday + 1 is Monday", utc(2026, time.November, 21, 0, 0), 1, utc(2026, time.November, 24, 0, 0)},
		{"Sunday 23:59 + 1 is Monday", utc(2026, time.November, 22, 23, 59), 1, utc(2026, time.November, 24, 0, 0)},
		{"Wednesday 23 December + 3 skips Christmas, the weekend and nothing else", utc(2026, time.December, 23, 12, 0), 3, utc(2026, time.December, 30, 0, 0)},
		{"Wednesday 30 December + 2 skips New Year's Day and the weekend", utc(2026, time.December, 30, 12, 0), 2, utc(2027, time.January, 5, 0, 0)},
	} {
		if got := br.AddBusinessDays(LGPD, tc.start, tc.n); !got.Equal(tc.want) {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
	// Holidays of one regime do not move another's clocks.
	if got := br.AddBusinessDays(CCPA, utc(2026, time.December, 24, 12, 0), 1); !got.Equal(utc(2026, time.December, 26, 0, 0)) {
		t.Errorf("CCPA over Brazil's Christmas: %s", got)
	}
	// Non-UTC input counts UTC days.
	ist := time.FixedZone("IST", 5*3600+1800)
	if got := br.AddBusinessDays(LGPD, time.Date(2026, time.November, 24, 3, 0, 0, 0, ist), 1); !got.Equal(utc(2026, time.November, 25, 0, 0)) {
		t.Errorf("Tuesday 03:00 IST is Monday UTC: + 1 business day ends with Tuesday: %s", got)
	}
}

func TestCalendarMonths(t *testing.T) {
	for _, tc := range []struct {
		start time.Time
		n     int
		want  time.Time
	}{
		{utc(2026, time.January, 31, 10, 0), 1, utc(2026, time.March, 1, 0, 0)},     // ends 28 February
		{utc(2028, time.January, 31, 10, 0), 1, utc(2028, time.March, 1, 0, 0)},     // ends 29 February 2028... at the end of it
		{utc(2028, time.January, 30, 10, 0), 1, utc(2028, time.March, 1, 0, 0)},     // 29 February too
		{utc(2026, time.January, 28, 10, 0), 1, utc(2026, time.March, 1, 0, 0)},     // 28 February, the same date
		{utc(2026, time.March, 31, 0, 0), 1, utc(2026, time.May, 1, 0, 0)},          // 30 April
		{utc(2026, time.March, 5, 23, 59), 1, utc(2026, time.April, 6, 0, 0)},       // 5 April
		{utc(2026, time.December, 31, 12, 0), 1, utc(2027, time.February, 1, 0, 0)}, // 31 January
		{utc(2026, time.November, 30, 12, 0), 3, utc(2027, time.March, 1, 0, 0)},    // 28 February
		{utc(2026, time.August, 31, 12, 0), 3, utc(2026, time.December, 1, 0, 0)},   // 30 November
	} {
		if got := AddCalendarMonths(tc.start, tc.n); !got.Equal(tc.want) {
			t.Errorf("%s + %d months: %s, want %s", tc.start, tc.n, got, tc.want)
		}
	}
	// 2028 is a leap year: the 29th exists.
	if got := AddCalendarMonths(utc(2028, time.January, 29, 0, 0), 1); !got.Equal(utc(2028, time.March, 1, 0, 0)) {
		t.Errorf("29 January 2028: %s", got)
	}
	if got := AddCalendarMonths(utc(2027, time.January, 29, 0, 0), 1); !got.Equal(utc(2027, time.March, 1, 0, 0)) {
		t.Errorf("29 January 2027 clamps to 28 February: %s", got)
	}
}

func TestCalendarDays(t *testing.T) {
	if got := AddCalendarDays(utc(2026, time.December, 20, 23, 59), 15); !got.Equal(utc(2027, time.January, 5, 0, 0)) {
		t.Errorf("20 December + 15: %s", got)
	}
	if got := AddCalendarDays(utc(2028, time.February, 14, 0, 0), 15); !got.Equal(utc(2028, time.March, 1, 0, 0)) {
		t.Errorf("14 February 2028 + 15 (leap): %s", got)
	}
}

// A lawful delay with an end postpones the clocks that may be postponed by
// its length; without an end it holds them; other clocks run on.
func TestLawfulDelay(t *testing.T) {
	ca, _ := Find(CCPA, Individuals)
	gdpr, _ := Find(GDPR, Authority)
	base := utc(2027, time.July, 2, 0, 0)
	now := detected.Add(time.Hour)

	open := Facts{Detected: detected, Delay: &Delay{From: detected.Add(24 * time.Hour)}}
	if s := Evaluate(ca, open, now); s.State != Paused || s.Due != nil {
		t.Errorf("open delay: %+v", s)
	}
	if s := Evaluate(gdpr, open, detected.Add(72*time.Hour)); s.State != Overdue {
		t.Errorf("GDPR is not paused by a law-enforcement delay: %s", s.State)
	}
	until := detected.Add(10 * 24 * time.Hour)
	closed := Facts{Detected: detected, Delay: &Delay{From: detected.Add(24 * time.Hour), Until: &until}}
	if s := Evaluate(ca, closed, now); s.Due == nil || !s.Due.Equal(base.Add(9*24*time.Hour)) {
		t.Errorf("9-day delay: due %v, want %v", s.Due, base.Add(9*24*time.Hour))
	}
	// A delay that starts after the due time changes nothing.
	afterwards := Facts{Detected: detected, Delay: &Delay{From: base.Add(time.Hour), Until: &until}}
	if s := Evaluate(ca, afterwards, now); !s.Due.Equal(base) {
		t.Errorf("delay after the due time: %v", s.Due)
	}
}

func TestExtensions(t *testing.T) {
	gdpr, _ := Find(GDPR, Response)
	received := utc(2027, time.January, 31, 9, 0)
	f := Facts{Detected: received, Extensions: map[string]time.Time{"GDPR Response": utc(2027, time.April, 30, 0, 0)}}
	if s := Evaluate(gdpr, f, received); !s.Due.Equal(utc(2027, time.April, 30, 0, 0)) {
		t.Errorf("extended within the law: %v", s.Due)
	}
	f.Extensions["GDPR Response"] = utc(2027, time.June, 1, 0, 0)
	if s := Evaluate(gdpr, f, received); !s.Due.Equal(utc(2027, time.May, 1, 0, 0)) || !strings.Contains(s.Note, "most the law allows") {
		t.Errorf("extended too far: %v (%s)", s.Due, s.Note)
	}
	certIn, _ := Find(CERTIn, Authority)
	f = Facts{Detected: received, Extensions: map[string]time.Time{"CERTIn Authority": received.Add(48 * time.Hour)}}
	if s := Evaluate(certIn, f, received); !s.Due.Equal(received.Add(6*time.Hour)) || !strings.Contains(s.Note, "ignored") {
		t.Errorf("CERT-In cannot be extended: %v (%s)", s.Due, s.Note)
	}
	dpdp, _ := Find(DPDP, DetailedReport)
	at := utc(2027, time.June, 1, 0, 0)
	f = Facts{Detected: at, Extensions: map[string]time.Time{"DPDP DetailedReport": at.Add(30 * 24 * time.Hour)}}
	if s := Evaluate(dpdp, f, at); !s.Due.Equal(at.Add(30 * 24 * time.Hour)) {
		t.Errorf("the Board's extension: %v", s.Due)
	}
	// An "extension" that ends before the due time changes nothing, and
	// says so (an ErasureRequest's until before its creation, which the
	// API server's rules cannot see).
	f = Facts{Detected: received, Extensions: map[string]time.Time{"GDPR Response": utc(2020, time.January, 1, 0, 0)}}
	if s := Evaluate(gdpr, f, received); !s.Due.Equal(utc(2027, time.March, 1, 0, 0)) || !strings.Contains(s.Note, "extension ignored: its until (2020-01-01T00:00:00Z) is not after the due time") {
		t.Errorf("an extension before the due time: %v (%s)", s.Due, s.Note)
	}
	// The person must be told within the first period (Art. 12(3)): told
	// at the due time it counts, told after it the extension is ignored.
	f = Facts{Detected: received, Extensions: map[string]time.Time{"GDPR Response": utc(2027, time.April, 30, 0, 0)},
		ExtensionNotices: map[string]time.Time{"GDPR Response": utc(2027, time.March, 1, 0, 0)}}
	if s := Evaluate(gdpr, f, received); !s.Due.Equal(utc(2027, time.April, 30, 0, 0)) {
		t.Errorf("an extension told at the due time: %v (%s)", s.Due, s.Note)
	}
	f.ExtensionNotices["GDPR Response"] = utc(2027, time.March, 1, 0, 1)
	if s := Evaluate(gdpr, f, utc(2027, time.March, 2, 0, 0)); !s.Due.Equal(utc(2027, time.March, 1, 0, 0)) || s.State != Overdue ||
		!strings.Contains(s.Note, "extension ignored: the person was told of it on 2027-03-01T00:01:00Z, after the due time 2027-03-01T00:00:00Z") {
		t.Errorf("an extension told too late: %v %s (%s)", s.Due, s.State, s.Note)
	}
	// The Board's extension of a DPDP report asks no notice of the person.
	f = Facts{Detected: at, Extensions: map[string]time.Time{"DPDP DetailedReport": at.Add(30 * 24 * time.Hour)},
		ExtensionNotices: map[string]time.Time{"DPDP DetailedReport": at.Add(20 * 24 * time.Hour)}}
	if s := Evaluate(dpdp, f, at); !s.Due.Equal(at.Add(30 * 24 * time.Hour)) {
		t.Errorf("the Board's extension, granted late: %v (%s)", s.Due, s.Note)
	}
}

func TestThresholds(t *testing.T) {
	ag, _ := Find(CCPA, AttorneyGeneral)
	notices := map[string]Notice{"CCPA Individuals": {At: ccpaNotice}}
	for _, tc := range []struct {
		residents map[Regime]int64
		want      State
	}{
		{map[Regime]int64{CCPA: 500}, NotApplicable},
		{map[Regime]int64{CCPA: 501}, Pending},
		{nil, Pending}, // unknown: assumed to apply
	} {
		s := Evaluate(ag, Facts{Detected: detected, Residents: tc.residents, Notices: notices}, ccpaNotice)
		if s.State != tc.want {
			t.Errorf("%v residents: %s (%s)", tc.residents, s.State, s.Note)
		}
	}
	if s := Evaluate(ag, Facts{Detected: detected}, detected); s.State != Waiting || s.Due != nil {
		t.Errorf("before the residents are notified: %+v", s)
	}
	art34, _ := Find(GDPR, Individuals)
	if s := Evaluate(art34, Facts{Detected: detected}, detected); s.State != NotApplicable {
		t.Errorf("Art. 34 without high risk: %s", s.State)
	}
	annual, _ := Find(HIPAA, SecretaryAnnualLog)
	if s := Evaluate(annual, Facts{Detected: detected}, detected); s.State != NotApplicable {
		t.Errorf("the annual log with an unknown count: %s", s.State)
	}
}

func TestTheTableIsComplete(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Table {
		if seen[r.Key()] {
			t.Errorf("%s: twice", r.Key())
		}
		seen[r.Key()] = true
		if r.Citation == "" || r.URL == "" || r.Recipient == "" || r.InForce.IsZero() || r.Start == "" || (r.Kind != Breach && r.Kind != Request) {
			t.Errorf("%s: incomplete row %+v", r.Key(), r)
		}
		if (r.Start == AfterDuty) != (r.After != "") {
			t.Errorf("%s: After %q with start %q", r.Key(), r.After, r.Start)
		}
		if r.Start == AfterDuty {
			if _, ok := Find(r.Regime, r.After); !ok {
				t.Errorf("%s waits for %s, which is not in the table", r.Key(), r.After)
			}
		}
	}
	for _, regime := range []Regime{GDPR, UKGDPR, CCPA, DPDP} {
		if _, ok := Find(regime, Response); !ok {
			t.Errorf("%s has no request deadline", regime)
		}
	}
}

// TestTheDocsShowTheTable: docs/regulations.md is the table as it is.
func TestTheDocsShowTheTable(t *testing.T) {
	got, err := os.ReadFile("../../docs/regulations.md")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != Markdown() {
		t.Error("docs/regulations.md is out of date: run go run ./hack/regdoc (make generate)")
	}
	for _, r := range Table {
		if !strings.Contains(string(got), r.Citation) {
			t.Errorf("%s: citation missing from the docs", r.Key())
		}
	}
}
