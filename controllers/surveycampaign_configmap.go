package controllers

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
)

// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch;create;update;delete

// reconcileConfigMap is the ConfigMap component: <campaign>-collector holds
// collector.yaml, rendered from the campaign and its policy (readPolicy).
func reconcileConfigMap(ctx context.Context, r *SurveyCampaignReconciler, p *campaignPass) error {
	want := desiredConfigMap(p.c, p.config)
	cm := &corev1.ConfigMap{ObjectMeta: nameOf(want.ObjectMeta)}
	return r.ensureSlim(ctx, p.c, cm, want, p.obs, func() error {
		cm.Data = want.Data
		return nil
	})
}

func desiredConfigMap(c *privacyv1alpha1.SurveyCampaign, config []byte) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: childNames(c).collector, Namespace: c.Namespace, Labels: childLabels(c)},
		Data:       map[string]string{configFile: string(config)},
	}
}
