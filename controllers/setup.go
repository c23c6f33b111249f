package controllers

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	ctrl "sigs.k8s.io/controller-runtime"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"k8s.io/apimachinery/pkg/types"

	"github.com/surveyguard/surveyguard/internal/adminclient"
)

// Options configure the reconcilers.
type Options struct {
	// CollectorImage is the default image of collector pods.
	CollectorImage string
	// AllowedCollectorImages are the images a campaign's
	// spec.collector.image may name besides CollectorImage's repository.
	AllowedCollectorImages []string
	// OperatorNamespace is the namespace allowed to reach collectors' admin
	// ports: its pods with OperatorPodLabels, all of them when there are none.
	OperatorNamespace string
	OperatorPodLabels map[string]string
	// Collectors reaches the collectors' admin APIs; a default client when nil.
	Collectors *adminclient.Client
	// StatsInterval is how often campaigns' figures are read.
	StatsInterval time.Duration
	// Workers is how many campaigns are reconciled at once (default 4).
	Workers int
	// HolidayCalendar names the ConfigMap of holidays that business-day
	// clocks skip; none when Name is empty.
	HolidayCalendar types.NamespacedName
}

// register registers a metrics collector with the manager's registry, or
// returns the one of the same type registered before (tests set up more than
// one manager in a process).
func register[M prometheus.Collector](m M) (M, error) {
	err := ctrlmetrics.Registry.Register(m)
	if are, ok := err.(prometheus.AlreadyRegisteredError); ok { //nolint:errorlint // Register returns it unwrapped
		if existing, ok := are.ExistingCollector.(M); ok {
			return existing, nil
		}
	}
	if err != nil {
		return m, fmt.Errorf("registering metrics: %w", err)
	}
	return m, nil
}

// SetupAll registers every surveyguard reconciler with the manager.
func SetupAll(mgr ctrl.Manager, o Options) error {
	c, s := mgr.GetClient(), mgr.GetScheme()
	metrics, err := register(NewCampaignMetrics(nil))
	if err != nil {
		return err
	}
	breachMetrics, err := register(NewBreachMetrics())
	if err != nil {
		return err
	}
	erasureMetrics, err := register(NewErasureMetrics())
	if err != nil {
		return err
	}
	collectors := o.Collectors
	if collectors == nil {
		collectors = adminclient.New(nil, 0)
	}
	recorder := mgr.GetEventRecorder("surveyguard")
	setups := []struct {
		name  string
		setup func(ctrl.Manager) error
	}{
		{"surveycampaign", (&SurveyCampaignReconciler{
			Client: c, Scheme: s, Recorder: recorder,
			Collectors: collectors, CollectorImage: o.CollectorImage, AllowedCollectorImages: o.AllowedCollectorImages,
			OperatorNamespace: o.OperatorNamespace, OperatorPodLabels: o.OperatorPodLabels, StatsInterval: o.StatsInterval, Metrics: metrics, Workers: o.Workers,
		}).SetupWithManager},
		{"retentionpolicy", (&RetentionPolicyReconciler{Client: c, Scheme: s, Recorder: recorder}).SetupWithManager},
		{"breachreport", (&BreachReportReconciler{
			Client: c, Scheme: s, Recorder: recorder, Metrics: breachMetrics, HolidayCalendar: o.HolidayCalendar,
		}).SetupWithManager},
		{"erasurerequest", (&ErasureRequestReconciler{
			Client: c, Scheme: s, Recorder: recorder, Collectors: collectors, Metrics: erasureMetrics, HolidayCalendar: o.HolidayCalendar,
		}).SetupWithManager},
	}
	for _, s := range setups {
		if err := s.setup(mgr); err != nil {
			return fmt.Errorf("setting up the %s controller: %w", s.name, err)
		}
	}
	return nil
}
