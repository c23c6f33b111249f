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

	mu        sync.Mutex
	campaigns map[types.NamespacedName]campaignFigures
}

// NewCampaignMetrics returns an empty set measured against clk (the real
// clock when nil).
func NewCampaignMetrics(clk clock.PassiveClock) *CampaignMetrics {
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &CampaignMetrics{clock: clk, campaigns: map[types.NamespacedName]campaignFigures{}}
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
	m.mu.Lock()
	defer m.mu.Unlock()
	m.campaigns[types.NamespacedName{Namespace: c.Namespace, Name: c.Name}] = f
}

// forget stops exporting a campaign.
func (m *CampaignMetrics) forget(key types.NamespacedName) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.campaigns, key)
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
	m.mu.Lock()
	defer m.mu.Unlock()
	for key, f := range m.campaigns {
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
	}
}

// BreachMetrics exports the deadlines of every breach report. It is a
// prometheus.Collector; use NewBreachMetrics.
type BreachMetrics struct {
	mu      sync.Mutex
	reports map[types.NamespacedName][]privacyv1alpha1.BreachDeadline
}

// NewBreachMetrics returns an empty set.
func NewBreachMetrics() *BreachMetrics {
	return &BreachMetrics{reports: map[types.NamespacedName][]privacyv1alpha1.BreachDeadline{}}
}

func (m *BreachMetrics) observe(b *privacyv1alpha1.BreachReport) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reports[types.NamespacedName{Namespace: b.Namespace, Name: b.Name}] = slices.Clone(b.Status.Deadlines)
}

func (m *BreachMetrics) forget(key types.NamespacedName) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.reports, key)
}

// Describe implements prometheus.Collector.
func (m *BreachMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- deadlineOverdueDesc
	ch <- deadlineApproachingDesc
	ch <- deadlineDueDesc
}

// Collect implements prometheus.Collector.
func (m *BreachMetrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for key, deadlines := range m.reports {
		for _, d := range deadlines {
			labels := []string{key.Namespace, key.Name, string(d.Regime), string(d.Duty)}
			ch <- prometheus.MustNewConstMetric(deadlineOverdueDesc, prometheus.GaugeValue, flag(ptr.Deref(d.Overdue, false)), labels...)
			ch <- prometheus.MustNewConstMetric(deadlineApproachingDesc, prometheus.GaugeValue,
				flag(d.State == privacyv1alpha1.DeadlineState(regulations.Approaching)), labels...)
			if d.Due != nil && ptr.Deref(d.InForce, false) {
				ch <- prometheus.MustNewConstMetric(deadlineDueDesc, prometheus.GaugeValue, float64(d.Due.Unix()), labels...)
			}
		}
	}
}
