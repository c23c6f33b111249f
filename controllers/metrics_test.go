package controllers

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
)

func TestCampaignMetrics(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	clk := clocktesting.NewFakePassiveClock(now)
	m := NewCampaignMetrics(clk)

	shown := &privacyv1alpha1.SurveyCampaign{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "checkout"}}
	shown.Status.NPS = &privacyv1alpha1.NPSStatus{Score: ptr.To[int32](-12), Responses: 40}
	shown.Status.Encryption = &privacyv1alpha1.EncryptionStatus{ActiveKeyID: "k2", RotatedAt: &metav1.Time{Time: now.Add(-90 * time.Minute)}}
	suppressed := &privacyv1alpha1.SurveyCampaign{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "returns"}}
	suppressed.Status.NPS = &privacyv1alpha1.NPSStatus{Responses: 3, Suppressed: ptr.To(true)}
	fresh := &privacyv1alpha1.SurveyCampaign{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "new"}}
	gone := &privacyv1alpha1.SurveyCampaign{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "gone"}}
	gone.Status.NPS = &privacyv1alpha1.NPSStatus{Score: ptr.To[int32](50), Responses: 99}
	for _, c := range []*privacyv1alpha1.SurveyCampaign{shown, suppressed, fresh, gone} {
		m.observe(c)
	}
	m.forget(types.NamespacedName{Namespace: "shop", Name: "gone"})

	// A suppressed campaign exports its count but no score; a campaign with
	// nothing read yet exports nothing; a forgotten one is gone.
	want := `
# HELP surveyguard_key_age_seconds Seconds since the campaign's active data key became active.
# TYPE surveyguard_key_age_seconds gauge
surveyguard_key_age_seconds{campaign="checkout",namespace="shop"} 5400
# HELP surveyguard_nps_score Net Promoter Score of the campaign (-100..100); absent while suppressed below privacy.minGroupSize.
# TYPE surveyguard_nps_score gauge
surveyguard_nps_score{campaign="checkout",namespace="shop"} -12
# HELP surveyguard_responses Responses the campaign's collector holds, as last read.
# TYPE surveyguard_responses gauge
surveyguard_responses{campaign="checkout",namespace="shop"} 40
surveyguard_responses{campaign="returns",namespace="shop"} 3
`
	if err := testutil.CollectAndCompare(m, strings.NewReader(want),
		"surveyguard_key_age_seconds", "surveyguard_nps_score", "surveyguard_responses"); err != nil {
		t.Error(err)
	}
}

// TestCampaignMetricsFromStatus: the figures the alerts and the dashboard
// read come from the campaign's spec, status and conditions, and a figure
// the status does not hold (a condition not yet known) is not exported
// rather than exported as 0.
func TestCampaignMetricsFromStatus(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	m := NewCampaignMetrics(clocktesting.NewFakePassiveClock(now))
	cond := func(typ string, status metav1.ConditionStatus, reason string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: status, Reason: reason}
	}

	troubled := &privacyv1alpha1.SurveyCampaign{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "checkout"}}
	troubled.Spec.Encryption.KeyRotationInterval = &metav1.Duration{Duration: 48 * time.Hour}
	troubled.Status.NPS = &privacyv1alpha1.NPSStatus{Score: ptr.To[int32](20), Responses: 400, MarginOfError: ptr.To(7.25)}
	troubled.Status.Breaches = &privacyv1alpha1.BreachRateStatus{Count: ptr.To[int32](4), Customers: 200, Rate: "0.0200", Band: privacyv1alpha1.BreachBandConcerning}
	troubled.Status.Conditions = []metav1.Condition{
		cond(privacyv1alpha1.ConditionCollectorAvailable, metav1.ConditionFalse, privacyv1alpha1.ReasonCollectorUnavailable),
		cond(privacyv1alpha1.ConditionRetentionEnforced, metav1.ConditionFalse, privacyv1alpha1.ReasonRetentionOverdue),
		cond(privacyv1alpha1.ConditionStorageAvailable, metav1.ConditionFalse, privacyv1alpha1.ReasonStorageBudgetExceeded),
		cond(privacyv1alpha1.ConditionStalled, metav1.ConditionTrue, privacyv1alpha1.ReasonRetentionPolicyNotFound),
	}
	troubled.Status.Retention = &privacyv1alpha1.RetentionStatus{
		Policy: "ninety-days", OldestRecordTime: &metav1.Time{Time: now.Add(-100 * 24 * time.Hour)},
		LastPurgeTime: &metav1.Time{Time: now.Add(-26 * time.Hour)}, LastPurged: 12,
	}

	// Paused by a breach: the collector is not available on purpose; a legal
	// hold keeps responses (not overdue); the last purge removed nothing.
	paused := &privacyv1alpha1.SurveyCampaign{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "returns"}}
	paused.Status.PausedBy = []string{"leak"}
	paused.Status.Breaches = &privacyv1alpha1.BreachRateStatus{Count: ptr.To[int32](1), Band: privacyv1alpha1.BreachBandAcceptable}
	paused.Status.Conditions = []metav1.Condition{
		cond(privacyv1alpha1.ConditionCollectorAvailable, metav1.ConditionFalse, privacyv1alpha1.ReasonPaused),
		cond(privacyv1alpha1.ConditionRetentionEnforced, metav1.ConditionFalse, privacyv1alpha1.ReasonLegalHold),
		cond(privacyv1alpha1.ConditionStorageAvailable, metav1.ConditionTrue, privacyv1alpha1.ReasonSucceeded),
	}
	paused.Status.Retention = &privacyv1alpha1.RetentionStatus{Policy: "hold", LastPurgeTime: &metav1.Time{Time: now.Add(-time.Hour)}}

	// New: only the spec's rotation interval (its default) and the pause
	// flag are known; Unknown conditions are not exported.
	fresh := &privacyv1alpha1.SurveyCampaign{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "new"}}
	fresh.Spec.Paused = ptr.To(true)
	fresh.Status.Conditions = []metav1.Condition{
		cond(privacyv1alpha1.ConditionRetentionEnforced, metav1.ConditionUnknown, privacyv1alpha1.ReasonCollectorUnavailable),
		cond(privacyv1alpha1.ConditionStorageAvailable, metav1.ConditionUnknown, privacyv1alpha1.ReasonCollectorUnavailable),
	}
	for _, c := range []*privacyv1alpha1.SurveyCampaign{troubled, paused, fresh} {
		m.observe(c)
	}

	oldest, lastPurge, pausedPurge := now.Add(-100*24*time.Hour).Unix(), now.Add(-26*time.Hour).Unix(), now.Add(-time.Hour).Unix()
	want := fmt.Sprintf(`
# HELP surveyguard_breaches BreachReports naming the campaign detected in the trailing 12 months (band: 0 Optimal, 1-3 Acceptable, 4 or more Concerning).
# TYPE surveyguard_breaches gauge
surveyguard_breaches{campaign="checkout",namespace="shop"} 4
surveyguard_breaches{campaign="returns",namespace="shop"} 1
# HELP surveyguard_campaign_paused 1 while the campaign is paused (spec.paused, or a breach report's containment in status.pausedBy), else 0.
# TYPE surveyguard_campaign_paused gauge
surveyguard_campaign_paused{campaign="checkout",namespace="shop"} 0
surveyguard_campaign_paused{campaign="new",namespace="shop"} 1
surveyguard_campaign_paused{campaign="returns",namespace="shop"} 1
# HELP surveyguard_campaign_stalled 1 while the campaign's Stalled condition is True (a person must act: its message says what; the other conditions, and the metrics made from them, are not updated meanwhile), else 0.
# TYPE surveyguard_campaign_stalled gauge
surveyguard_campaign_stalled{campaign="checkout",namespace="shop"} 1
surveyguard_campaign_stalled{campaign="new",namespace="shop"} 0
surveyguard_campaign_stalled{campaign="returns",namespace="shop"} 0
# HELP surveyguard_campaign_collector_available 1 while the campaign's CollectorAvailable condition is True, 0 while it is False (also when paused: see surveyguard_campaign_paused).
# TYPE surveyguard_campaign_collector_available gauge
surveyguard_campaign_collector_available{campaign="checkout",namespace="shop"} 0
surveyguard_campaign_collector_available{campaign="returns",namespace="shop"} 0
# HELP surveyguard_key_rotation_interval_seconds The campaign's spec.encryption.keyRotationInterval in seconds: how old its active data key may grow.
# TYPE surveyguard_key_rotation_interval_seconds gauge
surveyguard_key_rotation_interval_seconds{campaign="checkout",namespace="shop"} 172800
surveyguard_key_rotation_interval_seconds{campaign="new",namespace="shop"} 2.592e+06
surveyguard_key_rotation_interval_seconds{campaign="returns",namespace="shop"} 2.592e+06
# HELP surveyguard_nps_margin_of_error 95%% margin of error of the campaign's Net Promoter Score, in points; absent while suppressed.
# TYPE surveyguard_nps_margin_of_error gauge
surveyguard_nps_margin_of_error{campaign="checkout",namespace="shop"} 7.25
# HELP surveyguard_retention_last_purge_timestamp_seconds When the campaign's last purge finished (Unix time), from its receipt; absent before the first.
# TYPE surveyguard_retention_last_purge_timestamp_seconds gauge
surveyguard_retention_last_purge_timestamp_seconds{campaign="checkout",namespace="shop"} %d
surveyguard_retention_last_purge_timestamp_seconds{campaign="returns",namespace="shop"} %d
# HELP surveyguard_retention_last_purged_responses Responses the campaign's last purge deleted or anonymized; absent before the first purge.
# TYPE surveyguard_retention_last_purged_responses gauge
surveyguard_retention_last_purged_responses{campaign="checkout",namespace="shop"} 12
surveyguard_retention_last_purged_responses{campaign="returns",namespace="shop"} 0
# HELP surveyguard_retention_oldest_record_timestamp_seconds When the oldest raw response the campaign still stores was received (Unix time); absent when none is stored.
# TYPE surveyguard_retention_oldest_record_timestamp_seconds gauge
surveyguard_retention_oldest_record_timestamp_seconds{campaign="checkout",namespace="shop"} %d
# HELP surveyguard_retention_overdue 1 while the campaign's RetentionEnforced condition is False with reason RetentionOverdue (a response older than the policy allows), else 0; absent until the condition is known.
# TYPE surveyguard_retention_overdue gauge
surveyguard_retention_overdue{campaign="checkout",namespace="shop"} 1
surveyguard_retention_overdue{campaign="returns",namespace="shop"} 0
# HELP surveyguard_storage_budget_exceeded 1 while the campaign's StorageAvailable condition is False with reason StorageBudgetExceeded (new responses refused), else 0; absent until the condition is known.
# TYPE surveyguard_storage_budget_exceeded gauge
surveyguard_storage_budget_exceeded{campaign="checkout",namespace="shop"} 1
surveyguard_storage_budget_exceeded{campaign="returns",namespace="shop"} 0
`, lastPurge, pausedPurge, oldest)
	if err := testutil.CollectAndCompare(m, strings.NewReader(want),
		"surveyguard_breaches", "surveyguard_campaign_paused", "surveyguard_campaign_stalled", "surveyguard_campaign_collector_available",
		"surveyguard_key_rotation_interval_seconds", "surveyguard_nps_margin_of_error",
		"surveyguard_retention_last_purge_timestamp_seconds", "surveyguard_retention_last_purged_responses",
		"surveyguard_retention_oldest_record_timestamp_seconds", "surveyguard_retention_overdue",
		"surveyguard_storage_budget_exceeded"); err != nil {
		t.Error(err)
	}

	// The collector coming back and the purge catching up clear the alarms.
	troubled.Status.Conditions = []metav1.Condition{
		cond(privacyv1alpha1.ConditionCollectorAvailable, metav1.ConditionTrue, privacyv1alpha1.ReasonSucceeded),
		cond(privacyv1alpha1.ConditionRetentionEnforced, metav1.ConditionTrue, privacyv1alpha1.ReasonSucceeded),
		cond(privacyv1alpha1.ConditionStorageAvailable, metav1.ConditionTrue, privacyv1alpha1.ReasonSucceeded),
	}
	m.observe(troubled)
	recovered := `
# HELP surveyguard_campaign_collector_available 1 while the campaign's CollectorAvailable condition is True, 0 while it is False (also when paused: see surveyguard_campaign_paused).
# TYPE surveyguard_campaign_collector_available gauge
surveyguard_campaign_collector_available{campaign="checkout",namespace="shop"} 1
surveyguard_campaign_collector_available{campaign="returns",namespace="shop"} 0
# HELP surveyguard_campaign_stalled 1 while the campaign's Stalled condition is True (a person must act: its message says what; the other conditions, and the metrics made from them, are not updated meanwhile), else 0.
# TYPE surveyguard_campaign_stalled gauge
surveyguard_campaign_stalled{campaign="checkout",namespace="shop"} 0
surveyguard_campaign_stalled{campaign="new",namespace="shop"} 0
surveyguard_campaign_stalled{campaign="returns",namespace="shop"} 0
# HELP surveyguard_retention_overdue 1 while the campaign's RetentionEnforced condition is False with reason RetentionOverdue (a response older than the policy allows), else 0; absent until the condition is known.
# TYPE surveyguard_retention_overdue gauge
surveyguard_retention_overdue{campaign="checkout",namespace="shop"} 0
surveyguard_retention_overdue{campaign="returns",namespace="shop"} 0
# HELP surveyguard_storage_budget_exceeded 1 while the campaign's StorageAvailable condition is False with reason StorageBudgetExceeded (new responses refused), else 0; absent until the condition is known.
# TYPE surveyguard_storage_budget_exceeded gauge
surveyguard_storage_budget_exceeded{campaign="checkout",namespace="shop"} 0
surveyguard_storage_budget_exceeded{campaign="returns",namespace="shop"} 0
`
	if err := testutil.CollectAndCompare(m, strings.NewReader(recovered),
		"surveyguard_campaign_collector_available", "surveyguard_campaign_stalled", "surveyguard_retention_overdue",
		"surveyguard_storage_budget_exceeded"); err != nil {
		t.Errorf("after recovery: %v", err)
	}
}

// TestBreachDeadlineMissed: missed is 1 only while a duty is past due and
// not carried out; a duty done late stays overdue but is no longer missed.
func TestBreachDeadlineMissed(t *testing.T) {
	m := NewBreachMetrics()
	b := &privacyv1alpha1.BreachReport{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "leak"}}
	deadline := func(regime privacyv1alpha1.Jurisdiction, state string, overdue bool) privacyv1alpha1.BreachDeadline {
		return privacyv1alpha1.BreachDeadline{Regime: regime, Duty: "Authority", State: privacyv1alpha1.DeadlineState(state),
			Overdue: ptr.To(overdue), InForce: ptr.To(true)}
	}
	b.Status.Deadlines = []privacyv1alpha1.BreachDeadline{
		deadline(privacyv1alpha1.JurisdictionCERTIn, "Overdue", true),
		deadline(privacyv1alpha1.JurisdictionGDPR, "LateWithReason", true),
		deadline(privacyv1alpha1.JurisdictionLGPD, "Approaching", false),
	}
	m.observe(b)
	want := `
# HELP surveyguard_breach_deadline_missed 1 while a breach report's duty is past its due time and not carried out (state Overdue), else 0.
# TYPE surveyguard_breach_deadline_missed gauge
surveyguard_breach_deadline_missed{breachreport="leak",duty="Authority",namespace="shop",regime="CERTIn"} 1
surveyguard_breach_deadline_missed{breachreport="leak",duty="Authority",namespace="shop",regime="GDPR"} 0
surveyguard_breach_deadline_missed{breachreport="leak",duty="Authority",namespace="shop",regime="LGPD"} 0
# HELP surveyguard_breach_deadline_overdue 1 when the due time of a breach report's duty passed before the duty was carried out (Overdue, Late, LateWithReason), else 0.
# TYPE surveyguard_breach_deadline_overdue gauge
surveyguard_breach_deadline_overdue{breachreport="leak",duty="Authority",namespace="shop",regime="CERTIn"} 1
surveyguard_breach_deadline_overdue{breachreport="leak",duty="Authority",namespace="shop",regime="GDPR"} 1
surveyguard_breach_deadline_overdue{breachreport="leak",duty="Authority",namespace="shop",regime="LGPD"} 0
`
	if err := testutil.CollectAndCompare(m, strings.NewReader(want),
		"surveyguard_breach_deadline_missed", "surveyguard_breach_deadline_overdue"); err != nil {
		t.Error(err)
	}
}

// TestBreachRateMetricIsExact: the metric is count / customers, not the
// status's four decimals: one breach among 30,000 customers reads
// "0.0000" there but is not none.
func TestBreachRateMetricIsExact(t *testing.T) {
	m := NewCampaignMetrics(clocktesting.NewFakePassiveClock(time.Now()))
	c := &privacyv1alpha1.SurveyCampaign{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "big"}}
	c.Status.Breaches = &privacyv1alpha1.BreachRateStatus{Count: ptr.To[int32](1), Customers: 30000, Rate: "0.0000", Band: privacyv1alpha1.BreachBandAcceptable}
	none := &privacyv1alpha1.SurveyCampaign{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "calm"}}
	none.Status.Breaches = &privacyv1alpha1.BreachRateStatus{Count: ptr.To[int32](0), Customers: 30000, Rate: "0", Band: privacyv1alpha1.BreachBandOptimal}
	undefined := &privacyv1alpha1.SurveyCampaign{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "anonymous"}}
	undefined.Status.Breaches = &privacyv1alpha1.BreachRateStatus{Count: ptr.To[int32](1), Band: privacyv1alpha1.BreachBandAcceptable}
	for _, x := range []*privacyv1alpha1.SurveyCampaign{c, none, undefined} {
		m.observe(x)
	}
	want := fmt.Sprintf(`
# HELP surveyguard_breach_rate Breaches in the trailing 12 months per distinct respondent; absent while undefined (breaches but no known respondents).
# TYPE surveyguard_breach_rate gauge
surveyguard_breach_rate{campaign="big",namespace="shop"} %v
surveyguard_breach_rate{campaign="calm",namespace="shop"} 0
`, 1.0/30000)
	if err := testutil.CollectAndCompare(m, strings.NewReader(want), "surveyguard_breach_rate"); err != nil {
		t.Error(err)
	}
}
