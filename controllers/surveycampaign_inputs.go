package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
)

// The components that read what a campaign's children are made from: the
// breach reports naming it, its RetentionPolicy and its database Secret.
// They make no child; a missing input stalls the campaign.

// +kubebuilder:rbac:groups=privacy.surveyguard.io,resources=breachreports,verbs=get;list;watch
// +kubebuilder:rbac:groups=privacy.surveyguard.io,resources=retentionpolicies,verbs=get;list;watch

// readBreaches reads what the namespace's breach reports mean for the
// campaign: its breach figures, and whether a containment pauses it or
// asks for a key rotation.
func readBreaches(ctx context.Context, r *SurveyCampaignReconciler, p *campaignPass) error {
	// Read, never changed (breachesOf copies the names it keeps): the
	// cache's objects are used without a copy.
	reports := &privacyv1alpha1.BreachReportList{}
	if err := r.List(ctx, reports, client.InNamespace(p.c.Namespace), client.UnsafeDisableDeepCopy); err != nil {
		return fmt.Errorf("listing BreachReports: %w", err)
	}
	p.obs.breaches = breachesOf(reports.Items, p.c.Name, r.Clock.Now())
	p.obs.breachesRead = true
	p.obs.paused = ptr.Deref(p.c.Spec.Paused, false) || len(p.obs.breaches.pausedBy) > 0
	return nil
}

// checkName stalls a campaign whose name does not fit its children's names.
func checkName(_ context.Context, _ *SurveyCampaignReconciler, p *campaignPass) error {
	if len(p.c.Name) > maxCampaignName {
		return stall(privacyv1alpha1.ReasonInvalidSpec,
			"the campaign name is %d characters; at most %d fit the collector's Service name", len(p.c.Name), maxCampaignName)
	}
	return nil
}

// readPolicy reads the campaign's RetentionPolicy and renders the collector's
// configuration from the two.
func readPolicy(ctx context.Context, r *SurveyCampaignReconciler, p *campaignPass) error {
	c := p.c
	policy := &privacyv1alpha1.RetentionPolicy{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: c.Spec.RetentionPolicyRef.Name}, policy); err != nil {
		if apierrors.IsNotFound(err) {
			return stall(privacyv1alpha1.ReasonRetentionPolicyNotFound,
				"RetentionPolicy %q does not exist in namespace %s", c.Spec.RetentionPolicyRef.Name, c.Namespace)
		}
		return fmt.Errorf("reading RetentionPolicy %s: %w", c.Spec.RetentionPolicyRef.Name, err)
	}
	p.policy, p.obs.policy = policy, policy
	config, err := collectorConfig(c, policy)
	if err != nil {
		return stall(privacyv1alpha1.ReasonInvalidSpec, "the collector configuration is invalid: %v", err)
	}
	p.config = config
	return nil
}

// readDatabaseSecret reads the PostgreSQL connection string the campaign
// names, so a missing Secret or key stalls the campaign with a message
// instead of leaving a pod that cannot mount it. User Secrets are not in the
// cache (it holds only the operator's own), so this reads through the API
// reader, and looks again every minute while stalled. Nothing for embedded
// storage.
func readDatabaseSecret(ctx context.Context, r *SurveyCampaignReconciler, p *campaignPass) error {
	c := p.c
	pg := c.Spec.Storage.Postgres
	if pg == nil {
		return nil
	}
	s := &corev1.Secret{}
	err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: pg.SecretRef.Name}, s)
	switch {
	case apierrors.IsNotFound(err):
		return stallAndRecheck(privacyv1alpha1.ReasonSecretNotFound,
			"Secret %q named by spec.storage.postgres.secretRef does not exist in namespace %s", pg.SecretRef.Name, c.Namespace)
	case err != nil:
		return fmt.Errorf("reading the database Secret %s: %w", pg.SecretRef.Name, err)
	}
	if p.dsn = s.Data[dsnKey(pg)]; len(p.dsn) == 0 {
		return stallAndRecheck(privacyv1alpha1.ReasonSecretNotFound,
			"Secret %q has no key %q with the PostgreSQL connection string (spec.storage.postgres.secretRef)", pg.SecretRef.Name, dsnKey(pg))
	}
	return nil
}
