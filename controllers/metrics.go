package controllers

import (
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
	"github.com/surveyguard/surveyguard/internal/regulations"
)

func flag(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Per-campaign metrics, labelled namespace and campaign. They are computed at
// scrape time from what the last reconcile pass published, so a campaign that
// is deleted or stops reporting a figure stops being exported with it.
var (
	npsScoreDesc = prometheus.NewDesc("surveyguard_nps_score",
		"Net Promoter Score of the campaign (-100..100); absent while suppressed below privacy.minGroupSize.",
		[]string{"namespace", "campaign"}, nil)
	responsesDesc = prometheus.NewDesc("surveyguard_responses",
		"Responses the campaign's collector holds, as last read.",
		[]string{"namespace", "campaign"}, nil)
	marginOfErrorDesc = prometheus.NewDesc("surveyguard_nps_margin_of_error",
		"95% margin of error of the campaign's Net Promoter Score, in points; absent while suppressed.",
		[]string{"namespace", "campaign"}, nil)
	keyAgeDesc = prometheus.NewDesc("surveyguard_key_age_seconds",
		"Seconds since the campaign's active data key became active.",
		[]string{"namespace", "campaign"}, nil)
	keyRotationIntervalDesc = prometheus.NewDesc("surveyguard_key_rotation_interval_seconds",
		"The campaign's spec.encryption.keyRotationInterval in seconds: how old its active data key may grow.",
		[]string{"namespace", "campaign"}, nil)
	breachRateDesc = prometheus.NewDesc("surveyguard_breach_rate",
		"Breaches in the trailing 12 months per distinct respondent; absent while undefined (breaches but no known respondents).",
		[]string{"namespace", "campaign"}, nil)
	breachesDesc = prometheus.NewDesc("surveyguard_breaches",
		"BreachReports naming the campaign detected in the trailing 12 months (band: 0 Optimal, 1-3 Acceptable, 4 or more Concerning).",
		[]string{"namespace", "campaign"}, nil)
	collectorAvailableDesc = prometheus.NewDesc("surveyguard_campaign_collector_available",
		"1 while the campaign's CollectorAvailable condition is True, 0 while it is False (also when paused: see surveyguard_campaign_paused).",
		[]string{"namespace", "campaign"}, nil)
	stalledDesc = prometheus.NewDesc("surveyguard_campaign_stalled",
		"1 while the campaign's Stalled condition is True (a person must act: its message says what; the other conditions, and the metrics made from them, are not updated meanwhile), else 0.",
		[]string{"namespace", "campaign"}, nil)
	pausedDesc = prometheus.NewDesc("surveyguard_campaign_paused",
		"1 while the campaign is paused (spec.paused, or a breach report's containment in status.pausedBy), else 0.",
		[]string{"namespace", "campaign"}, nil)
	retentionOverdueDesc = prometheus.NewDesc("surveyguard_retention_overdue",
		"1 while the campaign's RetentionEnforced condition is False with reason RetentionOverdue (a response older than the policy allows), else 0; absent until the condition is known.",
		[]string{"namespace", "campaign"}, nil)
	oldestRecordDesc = prometheus.NewDesc("surveyguard_retention_oldest_record_timestamp_seconds",
		"When the oldest raw response the campaign still stores was received (Unix time); absent when none is stored.",
		[]string{"namespace", "campaign"}, nil)
	lastPurgeDesc = prometheus.NewDesc("surveyguard_retention_last_purge_timestamp_seconds",
		"When the campaign's last purge finished (Unix time), from its receipt; absent before the first.",
		[]string{"namespace", "campaign"}, nil)
	lastPurgedDesc = prometheus.NewDesc("surveyguard_retention_last_purged_responses",
		"Responses the campaign's last purge deleted or anonymized; absent before the first purge.",
		[]string{"namespace", "campaign"}, nil)
	storageExceededDesc = prometheus.NewDesc("surveyguard_storage_budget_exceeded",
		"1 while the campaign's StorageAvailable condition is False with reason StorageBudgetExceeded (new responses refused), else 0; absent until the condition is known.",
		[]string{"namespace", "campaign"}, nil)
	redactionsDesc = prometheus.NewDesc("surveyguard_comment_redactions_total",
		"Personal data of a kind (email, phone, card...) the campaign's collector scrubbed from comments since its store began (status.redactions).",
		[]string{"namespace", "campaign", "kind"}, nil)
	deadlineOverdueDesc = prometheus.NewDesc("surveyguard_breach_deadline_overdue",
		"1 when the due time of a breach report's duty passed before the duty was carried out (Overdue, Late, LateWithReason), else 0.",
		[]string{"namespace", "breachreport", "regime", "duty"}, nil)
	deadlineApproachingDesc = prometheus.NewDesc("surveyguard_breach_deadline_approaching",
		"1 while at least 80% of a breach report's duty's clock has elapsed, the due time not yet passed, and the duty not carried out (state Approaching), else 0.",
		[]string{"namespace", "breachreport", "regime", "duty"}, nil)
	deadlineMissedDesc = prometheus.NewDesc("surveyguard_breach_deadline_missed",
		"1 while a breach report's duty is past its due time and not carried out (state Overdue), else 0.",
		[]string{"namespace", "breachreport", "regime", "duty"}, nil)
	deadlineDueDesc = prometheus.NewDesc("surveyguard_breach_deadline_due_timestamp_seconds",
		"When a breach report's duty is due (Unix time); absent for duties without a fixed clock, not in force, or not started.",
		[]string{"namespace", "breachreport", "regime", "duty"}, nil)
)

// figureSet holds, per object, what the metrics export of it: written by
// the object's reconciler, read at scrape time. The zero value is empty.
type figureSet[F any] struct {
	mu      sync.Mutex
	figures map[types.NamespacedName]F
}

func (s *figureSet[F]) set(key types.NamespacedName, f F) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.figures == nil {
		s.figures = map[types.NamespacedName]F{}
	}
	s.figures[key] = f
}

// forget stops exporting an object.
func (s *figureSet[F]) forget(key types.NamespacedName) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.figures, key)
}

// each calls fn on every object's figures, holding the lock.
func (s *figureSet[F]) each(fn func(types.NamespacedName, F)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for key, f := range s.figures {
		fn(key, f)
	}
}

// campaignFigures is what the metrics export of one campaign. A nil
// figure is not exported.
type campaignFigures struct {
	score            *int32
	responses        *int64
	marginOfError    *float64
	rotatedAt        time.Time
	rotationInterval time.Duration
	// breachRate is absent when undefined.
	breachRate *float64
	breaches   *int32
	// available, retentionOverdue and storageExceeded come from conditions;
	// nil while the condition is absent or Unknown.
	available        *bool
	paused           bool
	stalled          bool
	retentionOverdue *bool
	storageExceeded  *bool
	oldestRecord     *time.Time
	lastPurge        *time.Time
	lastPurged       int64
	redactions       []privacyv1alpha1.RedactionCount
}

// conditionIs says whether a condition is True, or False with one of
// reasons; nil when it is absent or Unknown.
func conditionIs(conds []metav1.Condition, typ string, status metav1.ConditionStatus, reasons ...string) *bool {
	cond := meta.FindStatusCondition(conds, typ)
	if cond == nil || cond.Status == metav1.ConditionUnknown {
		return nil
	}
	return ptr.To(cond.Status == status && (len(reasons) == 0 || slices.Contains(reasons, cond.Reason)))
}

// CampaignMetrics exports the figures of every campaign the operator
// reconciles. It is a prometheus.Collector; the zero value is not usable,
// use NewCampaignMetrics.
type CampaignMetrics struct {
	clock clock.PassiveClock
	figureSet[campaignFigures]
}

// NewCampaignMetrics returns an empty set measured against clk (the real
// clock when nil).
func NewCampaignMetrics(clk clock.PassiveClock) *CampaignMetrics {
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &CampaignMetrics{clock: clk}
}

// observe records the figures the campaign's status publishes.
func (m *CampaignMetrics) observe(c *privacyv1alpha1.SurveyCampaign) {
	f := campaignFigures{rotationInterval: rotationInterval(c)}
	if nps := c.Status.NPS; nps != nil {
		f.score = nps.Score
		responses := nps.Responses
		f.responses = &responses
		f.marginOfError = nps.MarginOfError
	}
	if enc := c.Status.Encryption; enc != nil && enc.RotatedAt != nil {
		f.rotatedAt = enc.RotatedAt.Time
	}
	if br := c.Status.Breaches; br != nil {
		f.breaches = br.Count
		// Exact, not the status's four decimals: one breach among more
		// than 20,000 customers reads "0.0000" there, yet is not none.
		if br.Rate != "" {
			rate := 0.0
			if n := ptr.Deref(br.Count, 0); n > 0 && br.Customers > 0 {
				rate = float64(n) / float64(br.Customers)
			}
			f.breachRate = &rate
		}
	}
	conds := c.Status.Conditions
	f.available = conditionIs(conds, privacyv1alpha1.ConditionCollectorAvailable, metav1.ConditionTrue)
	f.paused = ptr.Deref(c.Spec.Paused, false) || len(c.Status.PausedBy) > 0
	f.stalled = meta.IsStatusConditionTrue(conds, privacyv1alpha1.ConditionStalled)
	f.retentionOverdue = conditionIs(conds, privacyv1alpha1.ConditionRetentionEnforced, metav1.ConditionFalse,
		privacyv1alpha1.ReasonRetentionOverdue)
	f.storageExceeded = conditionIs(conds, privacyv1alpha1.ConditionStorageAvailable, metav1.ConditionFalse,
		privacyv1alpha1.ReasonStorageBudgetExceeded)
	if r := c.Status.Retention; r != nil {
		if r.OldestRecordTime != nil {
			f.oldestRecord = &r.OldestRecordTime.Time
		}
		if r.LastPurgeTime != nil {
			f.lastPurge = &r.LastPurgeTime.Time
			f.lastPurged = r.LastPurged
		}
	}
	f.redactions = slices.Clone(c.Status.Redactions)
	m.set(types.NamespacedName{Namespace: c.Namespace, Name: c.Name}, f)
}

// Describe implements prometheus.Collector.
func (m *CampaignMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{npsScoreDesc, responsesDesc, marginOfErrorDesc, keyAgeDesc, keyRotationIntervalDesc,
		breachRateDesc, breachesDesc, collectorAvailableDesc, pausedDesc, stalledDesc, retentionOverdueDesc, oldestRecordDesc,
		lastPurgeDesc, lastPurgedDesc, storageExceededDesc, redactionsDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *CampaignMetrics) Collect(ch chan<- prometheus.Metric) {
	now := m.clock.Now()
	m.each(func(key types.NamespacedName, f campaignFigures) {
		gauge := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, key.Namespace, key.Name)
		}
		if f.score != nil {
			gauge(npsScoreDesc, float64(*f.score))
		}
		if f.responses != nil {
			gauge(responsesDesc, float64(*f.responses))
		}
		if f.marginOfError != nil {
			gauge(marginOfErrorDesc, *f.marginOfError)
		}
		if !f.rotatedAt.IsZero() {
			gauge(keyAgeDesc, max(now.Sub(f.rotatedAt).Seconds(), 0))
		}
		gauge(keyRotationIntervalDesc, f.rotationInterval.Seconds())
		if f.breachRate != nil {
			gauge(breachRateDesc, *f.breachRate)
		}
		if f.breaches != nil {
			gauge(breachesDesc, float64(*f.breaches))
		}
		if f.available != nil {
			gauge(collectorAvailableDesc, flag(*f.available))
		}
		gauge(pausedDesc, flag(f.paused))
		gauge(stalledDesc, flag(f.stalled))
		if f.retentionOverdue != nil {
			gauge(retentionOverdueDesc, flag(*f.retentionOverdue))
		}
		if f.storageExceeded != nil {
			gauge(storageExceededDesc, flag(*f.storageExceeded))
		}
		if f.oldestRecord != nil {
			gauge(oldestRecordDesc, float64(f.oldestRecord.Unix()))
		}
		if f.lastPurge != nil {
			gauge(lastPurgeDesc, float64(f.lastPurge.Unix()))
			gauge(lastPurgedDesc, float64(f.lastPurged))
		}
		for _, r := range f.redactions {
			ch <- prometheus.MustNewConstMetric(redactionsDesc, prometheus.CounterValue, float64(r.Count), key.Namespace, key.Name, r.Kind)
		}
	})
}

// BreachMetrics exports the deadlines of every breach report. It is a
// prometheus.Collector; use NewBreachMetrics.
type BreachMetrics struct {
	figureSet[[]privacyv1alpha1.BreachDeadline]
}

// NewBreachMetrics returns an empty set.
func NewBreachMetrics() *BreachMetrics { return &BreachMetrics{} }

func (m *BreachMetrics) observe(b *privacyv1alpha1.BreachReport) {
	m.set(types.NamespacedName{Namespace: b.Namespace, Name: b.Name}, slices.Clone(b.Status.Deadlines))
}

// Describe implements prometheus.Collector.
func (m *BreachMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- deadlineOverdueDesc
	ch <- deadlineApproachingDesc
	ch <- deadlineMissedDesc
	ch <- deadlineDueDesc
}

// Collect implements prometheus.Collector.
func (m *BreachMetrics) Collect(ch chan<- prometheus.Metric) {
	m.each(func(key types.NamespacedName, deadlines []privacyv1alpha1.BreachDeadline) {
		for _, d := range deadlines {
			labels := []string{key.Namespace, key.Name, string(d.Regime), string(d.Duty)}
			ch <- prometheus.MustNewConstMetric(deadlineOverdueDesc, prometheus.GaugeValue, flag(ptr.Deref(d.Overdue, false)), labels...)
			ch <- prometheus.MustNewConstMetric(deadlineApproachingDesc, prometheus.GaugeValue,
				flag(d.State == privacyv1alpha1.DeadlineState(regulations.Approaching)), labels...)
			ch <- prometheus.MustNewConstMetric(deadlineMissedDesc, prometheus.GaugeValue,
				flag(d.State == privacyv1alpha1.DeadlineState(regulations.Overdue)), labels...)
			if d.Due != nil && ptr.Deref(d.InForce, false) {
				ch <- prometheus.MustNewConstMetric(deadlineDueDesc, prometheus.GaugeValue, float64(d.Due.Unix()), labels...)
			}
		}
	})
}

var (
	erasureOverdueDesc = prometheus.NewDesc("surveyguard_erasure_overdue",
		"1 while an erasure request is past its deadline and not completed, else 0.",
		[]string{"namespace", "erasurerequest", "regime"}, nil)
	erasureDueDesc = prometheus.NewDesc("surveyguard_erasure_due_timestamp_seconds",
		"When an erasure request must be completed (Unix time), any extension applied.",
		[]string{"namespace", "erasurerequest", "regime"}, nil)
	erasureErasedDesc = prometheus.NewDesc("surveyguard_erasure_erased_responses",
		"Responses an erasure request erased across its campaigns; absent until one erased.",
		[]string{"namespace", "erasurerequest", "regime"}, nil)
)

// erasureFigures is what the metrics export of one erasure request.
type erasureFigures struct {
	regime  string
	overdue bool
	due     *time.Time
	erased  *int64
}

// ErasureMetrics exports every erasure request's deadline. It is a
// prometheus.Collector; use NewErasureMetrics.
type ErasureMetrics struct {
	figureSet[erasureFigures]
}

// NewErasureMetrics returns an empty set.
func NewErasureMetrics() *ErasureMetrics { return &ErasureMetrics{} }

func (m *ErasureMetrics) observe(er *privacyv1alpha1.ErasureRequest) {
	f := erasureFigures{regime: string(er.Spec.Regime), erased: er.Status.Erased}
	if f.regime == "" {
		f.regime = string(privacyv1alpha1.ErasureRegimeInternal)
	}
	if er.Status.Due != nil {
		f.due = &er.Status.Due.Time
	}
	for _, d := range er.Status.Deadlines {
		if d.Duty == privacyv1alpha1.RequestDutyResponse && d.State == privacyv1alpha1.DeadlineState(regulations.Overdue) {
			f.overdue = true
		}
	}
	m.set(types.NamespacedName{Namespace: er.Namespace, Name: er.Name}, f)
}

// Describe implements prometheus.Collector.
func (m *ErasureMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- erasureOverdueDesc
	ch <- erasureDueDesc
	ch <- erasureErasedDesc
}

// Collect implements prometheus.Collector.
func (m *ErasureMetrics) Collect(ch chan<- prometheus.Metric) {
	m.each(func(key types.NamespacedName, f erasureFigures) {
		labels := []string{key.Namespace, key.Name, f.regime}
		ch <- prometheus.MustNewConstMetric(erasureOverdueDesc, prometheus.GaugeValue, flag(f.overdue), labels...)
		if f.due != nil {
			ch <- prometheus.MustNewConstMetric(erasureDueDesc, prometheus.GaugeValue, float64(f.due.Unix()), labels...)
		}
		if f.erased != nil {
			ch <- prometheus.MustNewConstMetric(erasureErasedDesc, prometheus.GaugeValue, float64(*f.erased), labels...)
		}
	})
}
