package controllers

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
)

// The breach logic both reconcilers share, as pure functions of the reports
// and the time.

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
