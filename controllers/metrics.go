package controllers

import (
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
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
	keyAgeDesc = prometheus.NewDesc("surveyguard_key_age_seconds",
		"Seconds since the campaign's active data key became active.",
		[]string{"namespace", "campaign"}, nil)
	breachRateDesc = prometheus.NewDesc("surveyguard_breach_rate",
		"Breaches in the trailing 12 months per distinct respondent; absent while undefined (breaches but no known respondents).",
		[]string{"namespace", "campaign"}, nil)
	deadlineOverdueDesc = prometheus.NewDesc("surveyguard_breach_deadline_overdue",
		"1 when the due time of a breach report's duty passed before the duty was carried out (Overdue, Late, LateWithReason), else 0.",
		[]string{"namespace", "breachreport", "regime", "duty"}, nil)
	deadlineApproachingDesc = prometheus.NewDesc("surveyguard_breach_deadline_approaching",
		"1 while at least 80% of a breach report's duty's clock has elapsed and the duty is not carried out, else 0.",
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

// campaignFigures is what the metrics export of one campaign.
type campaignFigures struct {
	score     *int32
	responses *int64
	rotatedAt time.Time
	// breachRate is absent when undefined.
	breachRate *float64
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
	f := campaignFigures{}
	if nps := c.Status.NPS; nps != nil {
		f.score = nps.Score
		responses := nps.Responses
		f.responses = &responses
	}
	if enc := c.Status.Encryption; enc != nil && enc.RotatedAt != nil {
		f.rotatedAt = enc.RotatedAt.Time
	}
	if br := c.Status.Breaches; br != nil && br.Rate != "" {
		if rate, err := strconv.ParseFloat(br.Rate, 64); err == nil {
			f.breachRate = &rate
		}
	}
	m.set(types.NamespacedName{Namespace: c.Namespace, Name: c.Name}, f)
}

// Describe implements prometheus.Collector.
func (m *CampaignMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- npsScoreDesc
	ch <- responsesDesc
	ch <- keyAgeDesc
	ch <- breachRateDesc
}

// Collect implements prometheus.Collector.
func (m *CampaignMetrics) Collect(ch chan<- prometheus.Metric) {
	now := m.clock.Now()
	m.each(func(key types.NamespacedName, f campaignFigures) {
		if f.score != nil {
			ch <- prometheus.MustNewConstMetric(npsScoreDesc, prometheus.GaugeValue, float64(*f.score), key.Namespace, key.Name)
		}
		if f.responses != nil {
			ch <- prometheus.MustNewConstMetric(responsesDesc, prometheus.GaugeValue, float64(*f.responses), key.Namespace, key.Name)
		}
		if !f.rotatedAt.IsZero() {
			ch <- prometheus.MustNewConstMetric(keyAgeDesc, prometheus.GaugeValue, max(now.Sub(f.rotatedAt).Seconds(), 0), key.Namespace, key.Name)
		}
		if f.breachRate != nil {
			ch <- prometheus.MustNewConstMetric(breachRateDesc, prometheus.GaugeValue, *f.breachRate, key.Namespace, key.Name)
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
