package controllers

import (
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
	"github.com/surveyguard/surveyguard/internal/collectorapi"
	"github.com/surveyguard/surveyguard/internal/store"
)

func TestSchedulePeriod(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC) // a Sunday
	for schedule, want := range map[string]time.Duration{
		"@hourly":     time.Hour,
		"@daily":      24 * time.Hour,
		"0 3 * * *":   24 * time.Hour,
		"*/5 * * * *": 5 * time.Minute,
		"0 3 * * 1-5": 72 * time.Hour, // Friday to Monday
		"@weekly":     7 * 24 * time.Hour,
	} {
		sched, err := parseSchedule(schedule)
		if err != nil {
			t.Fatalf("%s: %v", schedule, err)
		}
		if got := schedulePeriod(sched, now); got != want {
			t.Errorf("%s: period %s, want %s", schedule, got, want)
		}
	}
	for _, bad := range []string{"61 * * * *", "* * * *", "0 3 * * mon-fry", "@fortnightly"} {
		if _, err := parseSchedule(bad); err == nil || !strings.Contains(err.Error(), `spec.schedule "`+bad+`"`) {
			t.Errorf("%q: error %v", bad, err)
		}
	}
}

func TestRetentionCronJobName(t *testing.T) {
	short := &privacyv1alpha1.SurveyCampaign{ObjectMeta: metav1.ObjectMeta{Name: "checkout-nps"}}
	if got := retentionCronJobName(short); got != "checkout-nps-retention" {
		t.Errorf("got %q", got)
	}
	a := &privacyv1alpha1.SurveyCampaign{ObjectMeta: metav1.ObjectMeta{Name: strings.Repeat("a", 53)}}
	b := &privacyv1alpha1.SurveyCampaign{ObjectMeta: metav1.ObjectMeta{Name: strings.Repeat("a", 52) + "b"}}
	na, nb := retentionCronJobName(a), retentionCronJobName(b)
	if len(na) > maxCronJobName || len(nb) > maxCronJobName || na == nb || !strings.HasSuffix(na, "-retention") {
		t.Errorf("long names %q (%d) and %q (%d)", na, len(na), nb, len(nb))
	}
}

func TestSetRetention(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	policy := func(mut func(*privacyv1alpha1.RetentionPolicy)) *privacyv1alpha1.RetentionPolicy {
		p := &privacyv1alpha1.RetentionPolicy{ObjectMeta: metav1.ObjectMeta{Name: "ninety-days"}}
		p.Spec.MaxAge.Duration, p.Spec.Schedule = 90*24*time.Hour, "@daily"
		if mut != nil {
			mut(p)
		}
		return p
	}
	oldest := func(age time.Duration) *collectorapi.Stats {
		t := now.Add(-age)
		return &collectorapi.Stats{OldestRecordTime: &t}
	}
	cases := []struct {
		name        string
		policy      *privacyv1alpha1.RetentionPolicy
		stats       *collectorapi.Stats
		prior       *metav1.Condition
		want        metav1.ConditionStatus
		reason, msg string
	}{
		{"nothing stored", policy(nil), &collectorapi.Stats{}, nil, metav1.ConditionTrue, privacyv1alpha1.ReasonSucceeded, "no raw response"},
		{"young enough", policy(nil), oldest(90 * 24 * time.Hour), nil, metav1.ConditionTrue, privacyv1alpha1.ReasonSucceeded, ""},
		// 90 days plus one daily period is the limit; one second beyond is overdue.
		{"at the limit", policy(nil), oldest(91 * 24 * time.Hour), nil, metav1.ConditionTrue, privacyv1alpha1.ReasonSucceeded, ""},
		{"just past the limit", policy(nil), oldest(91*24*time.Hour + time.Second), nil, metav1.ConditionFalse, privacyv1alpha1.ReasonRetentionOverdue, "overdue by 0m"},
		{"overdue by days", policy(nil), oldest(95 * 24 * time.Hour), nil, metav1.ConditionFalse, privacyv1alpha1.ReasonRetentionOverdue, "is 95d old, overdue by 4d"},
		{"legal hold wins", policy(func(p *privacyv1alpha1.RetentionPolicy) { p.Spec.LegalHold = ptr.To(true) }), oldest(400 * 24 * time.Hour), nil,
			metav1.ConditionFalse, privacyv1alpha1.ReasonLegalHold, "legal hold"},
		{"suspended is judged by age", policy(func(p *privacyv1alpha1.RetentionPolicy) { p.Spec.Suspend = ptr.To(true) }), oldest(time.Hour), nil,
			metav1.ConditionTrue, privacyv1alpha1.ReasonSucceeded, ""},
		{"bad schedule", policy(func(p *privacyv1alpha1.RetentionPolicy) { p.Spec.Schedule = "61 * * * *" }), oldest(time.Hour), nil,
			metav1.ConditionFalse, privacyv1alpha1.ReasonInvalidSpec, "invalid schedule"},
		{"never read", policy(nil), nil, nil, metav1.ConditionUnknown, privacyv1alpha1.ReasonCollectorUnavailable, "not known"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &privacyv1alpha1.SurveyCampaign{}
			setRetention(c, tc.policy, tc.stats, now)
			got := meta.FindStatusCondition(c.Status.Conditions, privacyv1alpha1.ConditionRetentionEnforced)
			if got == nil || got.Status != tc.want || got.Reason != tc.reason || !strings.Contains(got.Message, tc.msg) {
				t.Errorf("RetentionEnforced %+v, want %s %s %q", got, tc.want, tc.reason, tc.msg)
			}
			if c.Status.Retention == nil || c.Status.Retention.Policy != "ninety-days" {
				t.Errorf("retention %+v", c.Status.Retention)
			}
		})
	}
}

func TestSetRetentionKeepsWhatWasReadWhileTheCollectorIsDown(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	p := &privacyv1alpha1.RetentionPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p"}}
	p.Spec.MaxAge.Duration, p.Spec.Schedule = time.Hour, "@hourly"
	old := now.Add(-90 * time.Minute)
	finished := now.Add(-10 * time.Minute)
	c := &privacyv1alpha1.SurveyCampaign{}
	setRetention(c, p, &collectorapi.Stats{OldestRecordTime: &old, LastPurge: &store.PurgeReceipt{Purged: 4, Anonymized: 1, FinishedAt: finished}}, now)
	if r := c.Status.Retention; r.LastPurged != 5 || !r.LastPurgeTime.Time.Equal(finished) {
		t.Errorf("retention %+v", r)
	}
	// Paused: nothing read, but an hour later the last known oldest record is overdue.
	setRetention(c, p, nil, now.Add(time.Hour))
	if got := meta.FindStatusCondition(c.Status.Conditions, privacyv1alpha1.ConditionRetentionEnforced); got.Status != metav1.ConditionFalse {
		t.Errorf("RetentionEnforced %+v", got)
	}
	// A dry run is not a purge.
	setRetention(c, p, &collectorapi.Stats{OldestRecordTime: &old, LastPurge: &store.PurgeReceipt{DryRun: true, Purged: 9, FinishedAt: now}}, now)
	if c.Status.Retention.LastPurged != 5 {
		t.Errorf("a dry run counted: %+v", c.Status.Retention)
	}
}
