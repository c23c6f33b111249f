package controllers

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
)

// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;delete

// reconcileServing is the TLS component: the collector's serving certificate
// in the Secret <campaign>-tls, issued by cert-manager when spec.tls names an
// issuer (surveycampaign_certmanager.go), else by the operator's own CA for
// the campaign. The operator trusts the CA it returns.
func reconcileServing(ctx context.Context, r *SurveyCampaignReconciler, p *campaignPass) error {
	var err error
	if p.c.Spec.TLS != nil {
		p.caCert, err = r.reconcileCertificate(ctx, p.c, p.obs)
	} else {
		p.caCert, err = r.reconcileTLS(ctx, p.c, p.obs)
	}
	return err
}

// reconcileTLS keeps a CA (its key in a Secret that is never mounted) and a
// serving certificate for the Service's names, renewed when a third of its
// life is left. It returns the CA certificate the operator trusts.
func (r *SurveyCampaignReconciler) reconcileTLS(ctx context.Context, c *privacyv1alpha1.SurveyCampaign, obs *observed) ([]byte, error) {
	n := childNames(c)
	now := r.Clock.Now()
	ca := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: n.ca, Namespace: c.Namespace}}
	err := r.ensure(ctx, c, ca, obs, func() error {
		ca.Type = corev1.SecretTypeOpaque
		if certFresh(ca.Data[caCertKey], nil, nil, now) && len(ca.Data[caKeyKey]) > 0 {
			return nil
		}
		kp, err := newCA(c.Namespace+"/"+c.Name+" collector CA", now)
		if err != nil {
			return err
		}
		ca.Data = map[string][]byte{caCertKey: kp.cert, caKeyKey: kp.key}
		return nil
	})
	if err != nil {
		return nil, err
	}
	names := serviceDNSNames(c)
	tlsSecret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: n.tls, Namespace: c.Namespace}}
	err = r.ensure(ctx, c, tlsSecret, obs, func() error {
		if err := r.releaseFromCertManager(ctx, c, tlsSecret); err != nil {
			return err
		}
		dropCertManagerAnnotations(&tlsSecret.ObjectMeta)
		if tlsSecret.Type == "" {
			tlsSecret.Type = corev1.SecretTypeTLS
		}
		d := tlsSecret.Data
		if certFresh(d[corev1.TLSCertKey], ca.Data[caCertKey], names, now) && string(d[caCertKey]) == string(ca.Data[caCertKey]) {
			return nil
		}
		kp, err := issueServing(keyPair{cert: ca.Data[caCertKey], key: ca.Data[caKeyKey]}, names, now)
		if err != nil {
			return err
		}
		tlsSecret.Data = map[string][]byte{corev1.TLSCertKey: kp.cert, corev1.TLSPrivateKeyKey: kp.key, caCertKey: ca.Data[caCertKey]}
		return nil
	})
	return ca.Data[caCertKey], err
}
