package controllers

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
)

func TestBreachDeadlines(t *testing.T) {
	detected := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	certIn, gdpr := detected.Add(6*time.Hour), detected.Add(72*time.Hour)
	all := []privacyv1alpha1.Jurisdiction{"CERTIn", "GDPR", "DPDP", "CCPA"}
	at := func(t time.Time) *metav1.Time { return &metav1.Time{Time: t} }
	type want struct{ met, overdue bool }
	cases := []struct {
		name     string
		now      time.Time
		notified *metav1.Time
		want     map[privacyv1alpha1.Jurisdiction]want
		next     *time.Time
	}{
		{"just detected", detected, nil,
			map[privacyv1alpha1.Jurisdiction]want{"CERTIn": {}, "GDPR": {}, "DPDP": {}, "CCPA": {}}, &certIn},
		{"a nanosecond before CERT-In's 6 h", certIn.Add(-time.Nanosecond), nil,
			map[privacyv1alpha1.Jurisdiction]want{"CERTIn": {}, "GDPR": {}, "DPDP": {}, "CCPA": {}}, &certIn},
		{"at CERT-In's 6 h", certIn, nil,
			map[privacyv1alpha1.Jurisdiction]want{"CERTIn": {overdue: true}, "GDPR": {}, "DPDP": {}, "CCPA": {}}, &gdpr},
		{"a year on, nobody notified: CCPA is never overdue", detected.AddDate(1, 0, 0), nil,
			map[privacyv1alpha1.Jurisdiction]want{"CERTIn": {overdue: true}, "GDPR": {overdue: true}, "DPDP": {overdue: true}, "CCPA": {}}, nil},
		{"notified at exactly 6 h", certIn.Add(time.Hour), at(certIn),
			map[privacyv1alpha1.Jurisdiction]want{"CERTIn": {met: true}, "GDPR": {met: true}, "DPDP": {met: true}, "CCPA": {met: true}}, nil},
		{"notified a second late for CERT-In", certIn.Add(time.Hour), at(certIn.Add(time.Second)),
			map[privacyv1alpha1.Jurisdiction]want{"CERTIn": {overdue: true}, "GDPR": {met: true}, "DPDP": {met: true}, "CCPA": {met: true}}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := &privacyv1alpha1.BreachReportSpec{DetectedAt: metav1.Time{Time: detected}, Jurisdictions: all, NotifiedAuthorityAt: tc.notified}
			got, next := breachDeadlines(spec, tc.now)
			if len(got) != 4 {
				t.Fatalf("%d deadlines", len(got))
			}
			for _, d := range got {
				if w := tc.want[d.Regime]; d.Met != w.met || d.Overdue != w.overdue {
					t.Errorf("%s: met %v overdue %v, want %+v", d.Regime, d.Met, d.Overdue, w)
				}
				if (d.Due == nil) != (d.Regime == "CCPA") {
					t.Errorf("%s: due %v", d.Regime, d.Due)
				}
			}
			if (next == nil) != (tc.next == nil) || (next != nil && !next.Equal(*tc.next)) {
				t.Errorf("next %v, want %v", next, tc.next)
			}
		})
	}
}

func TestBreachPhase(t *testing.T) {
	now := metav1.Now()
	for _, tc := range []struct {
		notified, resolved *metav1.Time
		contained          bool
		want               privacyv1alpha1.BreachPhase
	}{
		{nil, nil, false, privacyv1alpha1.BreachPhaseOpen},
		{nil, nil, true, privacyv1alpha1.BreachPhaseContained},
		{&now, nil, false, privacyv1alpha1.BreachPhaseNotified},
		{&now, &now, false, privacyv1alpha1.BreachPhaseResolved},
		{nil, &now, true, privacyv1alpha1.BreachPhaseResolved},
	} {
		spec := &privacyv1alpha1.BreachReportSpec{NotifiedAuthorityAt: tc.notified, ResolvedAt: tc.resolved}
		if got := breachPhase(spec, tc.contained); got != tc.want {
			t.Errorf("%+v: %s, want %s", tc, got, tc.want)
		}
	}
}

func TestBreachBandAndRate(t *testing.T) {
	for _, tc := range []struct {
		count     int32
		customers int64
		band      privacyv1alpha1.BreachBand
		rate      string
	}{
		{0, 0, privacyv1alpha1.BreachBandOptimal, "0"},
		{0, 100, privacyv1alpha1.BreachBandOptimal, "0"},
		{1, 100, privacyv1alpha1.BreachBandAcceptable, "0.0100"},
		{1, 0, privacyv1alpha1.BreachBandAcceptable, ""},
		{3, 7, privacyv1alpha1.BreachBandAcceptable, "0.4286"},
		{4, 7, privacyv1alpha1.BreachBandConcerning, "0.5714"},
		{12, 3, privacyv1alpha1.BreachBandConcerning, "4.0000"},
	} {
		if band, rate := breachBand(tc.count), breachRate(tc.count, tc.customers); band != tc.band || rate != tc.rate {
			t.Errorf("%d breaches / %d customers: %s %q, want %s %q", tc.count, tc.customers, band, rate, tc.band, tc.rate)
		}
	}
}

func TestBreachesOfTheTrailingYear(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	report := func(name string, detected time.Time, mut func(*privacyv1alpha1.BreachReport)) privacyv1alpha1.BreachReport {
		b := privacyv1alpha1.BreachReport{}
		b.Name, b.UID = name, types.UID("uid-"+name)
		b.Spec.CampaignRefs = []privacyv1alpha1.LocalObjectReference{{Name: "checkout"}}
		b.Spec.DetectedAt = metav1.Time{Time: detected}
		if mut != nil {
			mut(&b)
		}
		return b
	}
	edge := now.AddDate(0, -12, 0)
	reports := []privacyv1alpha1.BreachReport{
		report("at-the-edge", edge, nil),
		report("a-second-too-old", edge.Add(-time.Second), nil),
		report("future", now.Add(time.Hour), nil),
		report("pauses", now.Add(-time.Hour), func(b *privacyv1alpha1.BreachReport) { b.Spec.Containment.PauseCollection = true }),
		report("rotates", now.Add(-time.Hour), func(b *privacyv1alpha1.BreachReport) { b.Spec.Containment.RotateKeys = true }),
		report("resolved", now.Add(-time.Hour), func(b *privacyv1alpha1.BreachReport) {
			b.Spec.Containment = privacyv1alpha1.ContainmentSpec{PauseCollection: true, RotateKeys: true}
			b.Spec.ResolvedAt = &metav1.Time{Time: now}
		}),
		report("other-campaign", now, func(b *privacyv1alpha1.BreachReport) {
			b.Spec.CampaignRefs = []privacyv1alpha1.LocalObjectReference{{Name: "returns"}}
		}),
	}
	got := breachesOf(reports, "checkout", now)
	if got.count != 4 { // at-the-edge, pauses, rotates, resolved
		t.Errorf("count %d, want 4", got.count)
	}
	if len(got.pausedBy) != 1 || got.pausedBy[0] != "pauses" || len(got.rotateFor) != 1 || got.rotateFor[0] != "uid-rotates" {
		t.Errorf("pausedBy %v, rotateFor %v", got.pausedBy, got.rotateFor)
	}
}

func TestContainedSkipsMissingCampaignsButNotAll(t *testing.T) {
	b := &privacyv1alpha1.BreachReport{}
	b.Spec.CampaignRefs = []privacyv1alpha1.LocalObjectReference{{Name: "checkout"}, {Name: "ghost"}}
	b.Spec.Containment.PauseCollection = true
	now := metav1.Now()
	if ok, pending := contained(b, []string{"ghost"}); ok || len(pending) != 1 || pending[0] != "pause checkout" {
		t.Errorf("nothing done: %v %v", ok, pending)
	}
	b.Status.Containment = []privacyv1alpha1.CampaignContainment{{Campaign: "checkout", PausedAt: &now}}
	if ok, pending := contained(b, []string{"ghost"}); !ok {
		t.Errorf("checkout paused, ghost missing: %v %v", ok, pending)
	}
	if ok, _ := contained(b, []string{"checkout", "ghost"}); ok {
		t.Error("a report whose campaigns are all missing is contained")
	}
	b.Spec.Containment.PauseCollection = false
	if ok, _ := contained(b, []string{"checkout", "ghost"}); !ok {
		t.Error("nothing was requested, yet not contained")
	}
}

func TestSetBreachReportStatus(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	paused := metav1.NewTime(now)
	cases := []struct {
		name                        string
		mut                         func(*privacyv1alpha1.BreachReport)
		missing                     []string
		phase                       privacyv1alpha1.BreachPhase
		contained, overdue, stalled metav1.ConditionStatus
		ready                       metav1.ConditionStatus
	}{
		{"nothing requested, nothing due", nil, nil,
			privacyv1alpha1.BreachPhaseContained, metav1.ConditionTrue, metav1.ConditionFalse, "", metav1.ConditionTrue},
		{"pause pending", func(b *privacyv1alpha1.BreachReport) { b.Spec.Containment.PauseCollection = true }, nil,
			privacyv1alpha1.BreachPhaseOpen, metav1.ConditionFalse, metav1.ConditionFalse, "", metav1.ConditionTrue},
		{"paused", func(b *privacyv1alpha1.BreachReport) {
			b.Spec.Containment.PauseCollection = true
			b.Status.Containment = []privacyv1alpha1.CampaignContainment{{Campaign: "checkout", PausedAt: &paused}}
		}, nil, privacyv1alpha1.BreachPhaseContained, metav1.ConditionTrue, metav1.ConditionFalse, "", metav1.ConditionTrue},
		{"a deadline missed", func(b *privacyv1alpha1.BreachReport) {
			b.Status.Deadlines = []privacyv1alpha1.BreachDeadline{{Regime: "CERTIn", Overdue: true}}
		}, nil, privacyv1alpha1.BreachPhaseContained, metav1.ConditionTrue, metav1.ConditionTrue, "", metav1.ConditionTrue},
		{"one campaign missing", func(b *privacyv1alpha1.BreachReport) {
			b.Spec.CampaignRefs = append(b.Spec.CampaignRefs, privacyv1alpha1.LocalObjectReference{Name: "ghost"})
		}, []string{"ghost"}, privacyv1alpha1.BreachPhaseContained, metav1.ConditionTrue, metav1.ConditionFalse, metav1.ConditionTrue, metav1.ConditionFalse},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := &privacyv1alpha1.BreachReport{}
			b.Spec.CampaignRefs = []privacyv1alpha1.LocalObjectReference{{Name: "checkout"}}
			if tc.mut != nil {
				tc.mut(b)
			}
			setBreachReportStatus(b, tc.missing, now)
			if b.Status.Phase != tc.phase {
				t.Errorf("phase %s, want %s", b.Status.Phase, tc.phase)
			}
			for typ, want := range map[string]metav1.ConditionStatus{
				privacyv1alpha1.ConditionContained: tc.contained, privacyv1alpha1.ConditionOverdue: tc.overdue,
				privacyv1alpha1.ConditionStalled: tc.stalled, privacyv1alpha1.ConditionReady: tc.ready,
			} {
				got := meta.FindStatusCondition(b.Status.Conditions, typ)
				switch {
				case want == "" && got != nil:
					t.Errorf("%s present: %+v", typ, got)
				case want != "" && (got == nil || got.Status != want):
					t.Errorf("%s = %+v, want %s", typ, got, want)
				}
			}
		})
	}
}
