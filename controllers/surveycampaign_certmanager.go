package controllers

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
)

// When spec.tls.issuerRef is set, cert-manager signs the collector's serving
// certificate: the operator keeps a Certificate for the Service's names whose
// Secret is the campaign's TLS Secret, and no longer writes that Secret.
// Certificates are handled as unstructured objects, so the operator neither
// depends on cert-manager's Go module nor needs its CRDs to start; they are
// read through the API reader, not a cache, because cert-manager may be
// installed after the operator and the cache would hold every Certificate in
// the cluster.

// certificateGVK is cert-manager's Certificate.
// +kubebuilder:rbac:groups=cert-manager.io,resources=certificates,verbs=get;create;update;delete

var certificateGVK = schema.GroupVersionKind{Group: "cert-manager.io", Version: "v1", Kind: "Certificate"}

// annotationCertificateName is set by cert-manager on the Secrets it issues.
const annotationCertificateName = "cert-manager.io/certificate-name"

// Lifetime of certificates cert-manager issues for collectors.
const (
	certManagerDuration    = "2160h0m0s"
	certManagerRenewBefore = "720h0m0s"
)

// desiredCertificate is the Certificate of a campaign with spec.tls.issuerRef.
func desiredCertificate(c *privacyv1alpha1.SurveyCampaign) *unstructured.Unstructured {
	n := childNames(c)
	ref := c.Spec.TLS.IssuerRef
	kind, group := string(ref.Kind), ref.Group
	if kind == "" {
		kind = "Issuer"
	}
	if group == "" {
		group = certificateGVK.Group
	}
	names := serviceDNSNames(c)
	dnsNames := make([]any, len(names))
	for i, s := range names {
		dnsNames[i] = s
	}
	secretLabels := map[string]any{}
	for k, v := range childLabels(c) {
		secretLabels[k] = v
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"spec": map[string]any{
			"secretName": n.tls,
			// The labels put the issued Secret in the operator's cache.
			"secretTemplate": map[string]any{"labels": secretLabels},
			"dnsNames":       dnsNames,
			"duration":       certManagerDuration,
			"renewBefore":    certManagerRenewBefore,
			"privateKey":     map[string]any{"algorithm": "ECDSA", "size": int64(256), "rotationPolicy": "Always"},
			"usages":         []any{"server auth", "digital signature"},
			"issuerRef":      map[string]any{"name": ref.Name, "kind": kind, "group": group},
		},
	}}
	u.SetGroupVersionKind(certificateGVK)
	u.SetName(n.collector)
	u.SetNamespace(c.Namespace)
	return u
}

// reconcileCertificate keeps the campaign's Certificate and returns the CA
// bundle the issued Secret carries (empty: the system roots verify it). It
// sets obs.waiting while cert-manager has not issued the Secret yet and
// stalls the campaign when cert-manager is not installed.
func (r *SurveyCampaignReconciler) reconcileCertificate(ctx context.Context, c *privacyv1alpha1.SurveyCampaign, obs *observed) ([]byte, error) {
	want := desiredCertificate(c)
	have := &unstructured.Unstructured{}
	have.SetGroupVersionKind(certificateGVK)
	err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(want), have)
	switch {
	case meta.IsNoMatchError(err):
		return nil, stallAndRecheck(privacyv1alpha1.ReasonCertManagerMissing,
			"spec.tls.issuerRef names %s %q, but cert-manager is not installed (no %s); install cert-manager or remove spec.tls",
			c.Spec.TLS.IssuerRef.Kind, c.Spec.TLS.IssuerRef.Name, certificateGVK.GroupVersion().WithResource("certificates").GroupResource())
	case apierrors.IsNotFound(err):
		if err := r.own(c, want); err != nil {
			return nil, err
		}
		if err := r.Create(ctx, want); err != nil {
			return nil, fmt.Errorf("creating Certificate %s: %w", want.GetName(), err)
		}
		obs.recordChange("Certificate", want.GetName(), "created", "")
		have = want
	case err != nil:
		return nil, fmt.Errorf("reading Certificate %s: %w", want.GetName(), err)
	default:
		updated := have.DeepCopy()
		if !equality.Semantic.DeepDerivative(want.Object["spec"], have.Object["spec"]) {
			updated.Object["spec"] = want.Object["spec"]
		}
		if err := r.own(c, updated); err != nil {
			return nil, err
		}
		if !equality.Semantic.DeepEqual(updated, have) {
			if err := r.Update(ctx, updated); err != nil {
				return nil, fmt.Errorf("updating Certificate %s: %w", want.GetName(), err)
			}
			obs.recordChange("Certificate", want.GetName(), "updated", "")
			have = updated
		}
	}
	s := &corev1.Secret{}
	err = r.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: childNames(c).tls}, s)
	if err != nil && !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("reading the TLS Secret: %w", err)
	}
	if err != nil || len(s.Data[corev1.TLSCertKey]) == 0 || s.Annotations[annotationCertificateName] != want.GetName() {
		obs.waiting = fmt.Sprintf("waiting for cert-manager to issue Certificate %s into Secret %s%s",
			want.GetName(), childNames(c).tls, certificateReadiness(have))
		return nil, nil
	}
	return s.Data[caCertKey], nil
}

// certificateReadiness quotes the Certificate's Ready condition, if any.
func certificateReadiness(u *unstructured.Unstructured) string {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, raw := range conds {
		cond, _ := raw.(map[string]any)
		if cond["type"] != "Ready" {
			continue
		}
		msg, _ := cond["message"].(string)
		return fmt.Sprintf(" (Ready=%v: %s)", cond["status"], msg)
	}
	return ""
}

// releaseFromCertManager deletes the Certificate that issued the campaign's
// TLS Secret, once spec.tls is removed, so cert-manager stops overwriting the
// Secret the operator now signs itself.
func (r *SurveyCampaignReconciler) releaseFromCertManager(ctx context.Context, c *privacyv1alpha1.SurveyCampaign, s *corev1.Secret) error {
	name := s.Annotations[annotationCertificateName]
	if name != childNames(c).collector {
		return nil // not issued for the operator's Certificate
	}
	cert := &unstructured.Unstructured{}
	cert.SetGroupVersionKind(certificateGVK)
	cert.SetNamespace(c.Namespace)
	cert.SetName(name)
	err := r.Delete(ctx, cert)
	if err != nil && !apierrors.IsNotFound(err) && !meta.IsNoMatchError(err) {
		return fmt.Errorf("deleting Certificate %s: %w", name, err)
	}
	r.event(c, corev1.EventTypeNormal, "CertificateReleased", "Reconcile",
		"spec.tls is unset: deleted Certificate %s; the operator's CA signs the collector's certificate again", name)
	return nil
}

// dropCertManagerAnnotations removes what cert-manager wrote on a Secret the
// operator takes back.
func dropCertManagerAnnotations(m *metav1.ObjectMeta) {
	for k := range m.Annotations {
		if strings.HasPrefix(k, "cert-manager.io/") {
			delete(m.Annotations, k)
		}
	}
}
