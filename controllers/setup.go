package controllers

import (
	"fmt"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/surveyguard/surveyguard/internal/adminclient"
)

// Options configure the reconcilers.
type Options struct {
	// CollectorImage is the default image of collector pods.
	CollectorImage string
	// OperatorNamespace is the namespace allowed to reach collectors' admin ports.
	OperatorNamespace string
	// Collectors reaches the collectors' admin APIs; a default client when nil.
	Collectors *adminclient.Client
	// StatsInterval is how often campaigns' figures are read.
	StatsInterval time.Duration
}

// SetupAll registers every surveyguard reconciler with the manager.
func SetupAll(mgr ctrl.Manager, o Options) error {
	c, s := mgr.GetClient(), mgr.GetScheme()
	setups := []struct {
		name  string
		setup func(ctrl.Manager) error
	}{
		{"surveycampaign", (&SurveyCampaignReconciler{
			Client: c, Scheme: s, Recorder: mgr.GetEventRecorder("surveyguard"),
			Collectors: o.Collectors, CollectorImage: o.CollectorImage,
			OperatorNamespace: o.OperatorNamespace, StatsInterval: o.StatsInterval,
		}).SetupWithManager},
		{"retentionpolicy", (&RetentionPolicyReconciler{Client: c, Scheme: s}).SetupWithManager},
		{"breachreport", (&BreachReportReconciler{Client: c, Scheme: s}).SetupWithManager},
		{"erasurerequest", (&ErasureRequestReconciler{Client: c, Scheme: s}).SetupWithManager},
	}
	for _, s := range setups {
		if err := s.setup(mgr); err != nil {
			return fmt.Errorf("setting up the %s controller: %w", s.name, err)
		}
	}
	return nil
}
