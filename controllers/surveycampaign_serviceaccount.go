package controllers

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
)

// +kubebuilder:rbac:groups="",resources=serviceaccounts,verbs=get;list;watch;create;update;delete

// reconcileServiceAccount is the ServiceAccount component: the collector's
// pods run as <campaign>-collector, which mounts no API token (the collector
// holds no Kubernetes credentials).
func reconcileServiceAccount(ctx context.Context, r *SurveyCampaignReconciler, p *campaignPass) error {
	want := desiredServiceAccount(p.c)
	sa := &corev1.ServiceAccount{ObjectMeta: nameOf(want.ObjectMeta)}
	return r.ensure(ctx, p.c, sa, p.obs, func() error {
		sa.AutomountServiceAccountToken = want.AutomountServiceAccountToken
		return nil
	})
}

func desiredServiceAccount(c *privacyv1alpha1.SurveyCampaign) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{
		ObjectMeta:                   metav1.ObjectMeta{Name: childNames(c).collector, Namespace: c.Namespace, Labels: childLabels(c)},
		AutomountServiceAccountToken: ptr.To(false),
	}
}
