package controllers

import (
	"context"
	"encoding/hex"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;delete

// reconcileAdminToken is the admin token component: the Secret
// <campaign>-admin-token with the bearer token of the collector's admin API,
// made once and never changed.
func reconcileAdminToken(ctx context.Context, r *SurveyCampaignReconciler, p *campaignPass) error {
	c := p.c
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: childNames(c).adminToken, Namespace: c.Namespace}}
	err := r.ensure(ctx, c, s, p.obs, func() error {
		s.Type = corev1.SecretTypeOpaque
		if len(s.Data[tokenKey]) >= 32 {
			return nil
		}
		b, err := randomBytes(32)
		if err != nil {
			return err
		}
		s.Data = map[string][]byte{tokenKey: []byte(hex.EncodeToString(b))}
		return nil
	})
	p.token = string(s.Data[tokenKey])
	return err
}
