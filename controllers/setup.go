package controllers

import (
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"
)

// SetupAll registers every surveyguard reconciler with the manager.
func SetupAll(mgr ctrl.Manager) error {
	c, s := mgr.GetClient(), mgr.GetScheme()
	setups := []struct {
		name  string
		setup func(ctrl.Manager) error
	}{
		{"surveycampaign", (&SurveyCampaignReconciler{Client: c, Scheme: s}).SetupWithManager},
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
