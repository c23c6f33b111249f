package regulations

import (
	"fmt"
	"strings"
)

// Markdown renders the table as docs/regulations.md.
func Markdown() string {
	var b strings.Builder
	b.WriteString(`# Regulatory calendar

<!-- Generated from internal/regulations/table.go by "go run ./hack/regdoc"; do not edit. -->

`)
	fmt.Fprintf(&b, "Last reviewed against the primary sources: **%s**. ", Reviewed)
	b.WriteString(`This is the table the operator computes
BreachReport deadlines from, and, for data-subject requests, ErasureRequest
deadlines (docs/erasure.md). It is not legal advice: it says what the operator
tracks, and the citation says where each clock comes from.

## How clocks are counted

- **Hours** run from the instant the clock starts: 72 h from awareness at
  10:00 ends at 10:00 three days later.
- **Calendar days, business days and calendar months** exclude the day the
  clock starts and end at the end of the last day (midnight UTC), the way
  Regulation (EEC, Euratom) No 1182/71 counts periods: 30 calendar days from
  discovery on 1 June end when 1 July ends (2 July 00:00 UTC). Unlike its
  Art. 3(4), a period in days or months that ends on a Saturday, Sunday or
  holiday is not carried to the end of the next working day: the due time
  shown is the earlier, stricter one (a GDPR request received on Thursday
  14 January 2027 is due when Sunday 14 February ends).
- **Business days** skip Saturdays, Sundays and the regime's holidays from the
  holiday calendar (below): 3 business days from Friday end when Wednesday ends.
- **Calendar months** end on the same day of the month, or on the last day of
  the month when it has no such day: a month from 31 January ends with the
  last day of February.
- All days are UTC days. A clock a regime counts in local days may end up to a
  day earlier or later locally; the citation is the authority. A rule's "in
  force" date is a UTC day too: a DPDP breach detected at 02:00 in India on
  13 May 2027 (20:30 UTC on 12 May) reads Informational.
- **Without undue delay** (also "without delay", "as soon as practicable")
  has no due time: the duty is shown as pending until it is recorded, and is
  never overdue.
- **What starts a clock:** *awareness* and *discovery* are the report's
  ` + "`detectedAt`" + `; *assessment* is ` + "`assessedAt`" + ` (the clock waits until it is
  set); *notification of* a duty is when that duty was recorded as done; *receipt* is
  when a data-subject request was received.
- **In force:** a breach detected (or request received) before the day a rule
  came into force is shown with its clock, as *Informational*, and is never
  overdue.
- **Reminder:** when 80% of a fixed clock has elapsed and the duty is not
  done, it is *Approaching* (a ` + "`DeadlineApproaching`" + ` Warning event and
  metric); at the due time it is *Overdue* (` + "`DeadlineMissed`" + `).
- **Late with reasons:** where the law accepts a late notification that gives
  the reasons for the delay, a late notification with ` + "`lateReason`" + ` is
  *LateWithReason*; elsewhere it is *Late*. Both count as overdue.
- **Lawful delay:** a law-enforcement delay postpones the clocks marked
  "pausable" by its length, or holds them while it has no end.

## Breach notification duties

| Regime | Duty | To | Clock | Applies | Extension, pause | In force | Source |
|---|---|---|---|---|---|---|---|
`)
	rows(&b, Breach)
	b.WriteString(`
## Data-subject request deadlines

| Regime | Duty | To | Clock | Applies | Extension, pause | In force | Source |
|---|---|---|---|---|---|---|---|
`)
	rows(&b, Request)
	b.WriteString(`
## Notes on the rows

`)
	for _, r := range Table {
		if r.Note != "" {
			fmt.Fprintf(&b, "- **%s %s:** %s\n", r.Regime, r.Duty, r.Note)
		}
	}
	b.WriteString(`
## Not tracked

- HIPAA's notice to prominent media outlets (45 CFR 164.406), due with the
  individuals' notice when more than 500 residents of one State or
  jurisdiction are affected: the report records one count per regime, not per
  State. Track it with the individuals' notice.
- NIS2's intermediate reports on request and progress reports (Art. 23(4)(c)
  and (e)), and each Member State's transposition, which may add duties.
- Sector rules that set their own deadlines (LGPD Art. 6 of Resolução
  CD/ANPD nº 15/2024 defers to them), and the doubled LGPD deadlines of small
  processing agents.
- Duties owed by a processor to its controller.

## Holiday calendar

Business-day clocks skip the holidays listed in the ConfigMap the manager's
` + "`--holiday-calendar`" + ` flag names (` + "`<name>`" + ` in the operator's namespace, or
` + "`<namespace>/<name>`" + `; the chart's ` + "`holidayCalendar`" + ` value): one key per regime
(` + "`LGPD`" + `, ` + "`CCPA`" + `, …), each a list of dates ` + "`YYYY-MM-DD`" + ` separated by
spaces, commas or new lines; ` + "`#`" + ` starts a comment.

` + "```yaml" + `
apiVersion: v1
kind: ConfigMap
metadata: {name: holidays, namespace: surveyguard-system}
data:
  LGPD: |
    2026-12-25  # Natal
    2027-01-01  # Confraternização Universal
    2027-02-08 2027-02-09  # Carnaval
  CCPA: 2026-11-26, 2026-12-25
` + "```" + `

Without the flag only weekends are skipped. The ConfigMap is read at every
reconcile of a report. A ConfigMap that is missing or has an entry that is not
a date leaves the holidays out, which makes a due time earlier, never later;
each affected deadline says so in its ` + "`note`" + ` and the report gets a
` + "`HolidayCalendarInvalid`" + ` Warning event.
`)
	return b.String()
}

func rows(b *strings.Builder, kind Kind) {
	for _, r := range Table {
		if r.Kind != kind {
			continue
		}
		applies := "always"
		switch {
		case r.HighRiskOnly:
			applies = "high risk (severity High or Critical)"
		case r.MinResidents > 0:
			applies = fmt.Sprintf("%d or more residents", r.MinResidents)
		case r.BelowResidents > 0:
			applies = fmt.Sprintf("fewer than %d residents", r.BelowResidents)
		}
		var ext []string
		if e := r.Extension; e != nil {
			s := "extendable"
			if e.By.Amount > 0 {
				s += " by " + e.By.String()
			}
			if e.Note != "" {
				s += ", " + e.Note
			}
			if e.NoticeWithin != "" {
				s += " (announced within " + e.NoticeWithin + ")"
			}
			ext = append(ext, s)
		}
		if r.Pausable {
			ext = append(ext, "pausable by a law-enforcement delay")
		}
		if r.LateReasons {
			ext = append(ext, "late with reasons")
		}
		if len(ext) == 0 {
			ext = []string{"—"}
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | [%s](%s) |\n",
			r.Regime, r.Duty, r.Recipient, r.ClockText(), applies, strings.Join(ext, "; "), DateOf(r.InForce), r.Citation, r.URL)
	}
}
