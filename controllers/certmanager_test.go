package controllers_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
	"github.com/surveyguard/surveyguard/controllers"
)

func certificate() *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("cert-manager.io/v1")
	u.SetKind("Certificate")
	return u
}

// installCertManagerCRD installs the stand-in Certificate CRD, as installing
// cert-manager would.
func installCertManagerCRD(t *testing.T) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "cert-manager-certificates.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	crd := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(raw, &crd.Object); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Create(context.Background(), crd); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// TestCertManagerIssuer: a campaign naming an issuer waits for cert-manager,
// gets a Certificate instead of the operator's CA once cert-manager is
// installed, is served with what cert-manager issued, and goes back to the
// operator's CA when spec.tls is removed.
func TestCertManagerIssuer(t *testing.T) {
	ns := namespace(t)
	sc := campaign(ns)
	sc.Spec.TLS = &privacyv1alpha1.TLSSpec{IssuerRef: privacyv1alpha1.IssuerReference{Name: "letsencrypt", Kind: "ClusterIssuer"}}
	// The API server outlives a go test -count run: after the first run the
	// Certificate CRD is installed already, and the wait for cert-manager
	// can only be seen on the first.
	crd := &unstructured.Unstructured{}
	crd.SetAPIVersion("apiextensions.k8s.io/v1")
	crd.SetKind("CustomResourceDefinition")
	installed := get("", "certificates.cert-manager.io", crd) == nil
	create(t, policy(ns), sc)

	c := &privacyv1alpha1.SurveyCampaign{}
	if installed {
		t.Log("cert-manager's CRD is installed already (an earlier -count run): the wait for it is not checked")
	}
	eventually(t, "Stalled without cert-manager", func() error {
		if installed {
			return nil
		}
		if err := get(ns, "checkout-nps", c); err != nil {
			return err
		}
		cond := condition(c, privacyv1alpha1.ConditionStalled)
		if cond == nil || cond.Reason != privacyv1alpha1.ReasonCertManagerMissing {
			return fmt.Errorf("conditions %+v", c.Status.Conditions)
		}
		if !strings.Contains(cond.Message, `ClusterIssuer "letsencrypt"`) || !strings.Contains(cond.Message, "cert-manager is not installed") {
			t.Errorf("message %q", cond.Message)
		}
		return nil
	})
	for _, name := range []string{"checkout-nps-tls", "checkout-nps-ca"} {
		if err := get(ns, name, &corev1.Secret{}); !apierrors.IsNotFound(err) {
			t.Errorf("Secret %s made while the campaign waits for cert-manager: %v", name, err)
		}
	}

	installCertManagerCRD(t)
	cert := certificate()
	eventually(t, "Certificate created once cert-manager is there", func() error {
		poke(t, ns)
		return get(ns, "checkout-nps-collector", cert)
	})
	spec, _, _ := unstructured.NestedMap(cert.Object, "spec")
	issuer, _, _ := unstructured.NestedStringMap(spec, "issuerRef")
	dnsNames, _, _ := unstructured.NestedStringSlice(spec, "dnsNames")
	if spec["secretName"] != "checkout-nps-tls" || issuer["name"] != "letsencrypt" || issuer["kind"] != "ClusterIssuer" || issuer["group"] != "cert-manager.io" {
		t.Errorf("Certificate spec %v", spec)
	}
	if len(dnsNames) == 0 || dnsNames[0] != "checkout-nps-collector."+ns+".svc" {
		t.Errorf("dnsNames %v", dnsNames)
	}
	if refs := cert.GetOwnerReferences(); len(refs) != 1 || refs[0].Name != "checkout-nps" || refs[0].Controller == nil || !*refs[0].Controller {
		t.Errorf("owner references %+v", refs)
	}
	eventually(t, "Reconciling while cert-manager issues", func() error {
		if err := get(ns, "checkout-nps", c); err != nil {
			return err
		}
		cond := condition(c, privacyv1alpha1.ConditionReconciling)
		if condition(c, privacyv1alpha1.ConditionStalled) != nil || cond == nil || !strings.Contains(cond.Message, "waiting for cert-manager to issue Certificate checkout-nps-collector") {
			return fmt.Errorf("conditions %+v", c.Status.Conditions)
		}
		return nil
	})
	if err := get(ns, "checkout-nps-tls", &corev1.Secret{}); !apierrors.IsNotFound(err) {
		t.Errorf("the operator wrote the TLS Secret cert-manager owns: %v", err)
	}

	// Play cert-manager: issue the Secret as its secretTemplate says.
	ca, crt, key, err := controllers.IssueForTest("test issuer", dnsNames, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	labels, _, _ := unstructured.NestedStringMap(spec, "secretTemplate", "labels")
	issued := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "checkout-nps-tls", Namespace: ns, Labels: labels,
			Annotations: map[string]string{"cert-manager.io/certificate-name": "checkout-nps-collector", "cert-manager.io/issuer-name": "letsencrypt"}},
		Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key, "ca.crt": ca},
	}
	create(t, issued)
	f := startCollector(t, ns) // verifies the collector against the issuer's CA
	post(t, f, 10, "C-1")
	waitReady(t, ns) // the operator read the stats over TLS checked against ca.crt

	// Back to the operator's CA: the Certificate goes, the Secret is re-signed.
	if err := get(ns, "checkout-nps", c); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(c.DeepCopy())
	c.Spec.TLS = nil
	if err := k8s.Patch(context.Background(), c, patch); err != nil {
		t.Fatal(err)
	}
	eventually(t, "Certificate deleted, Secret re-signed by the operator's CA", func() error {
		if err := get(ns, "checkout-nps-collector", certificate()); !apierrors.IsNotFound(err) {
			return fmt.Errorf("Certificate still there: %v", err)
		}
		own, s := &corev1.Secret{}, &corev1.Secret{}
		if err := get(ns, "checkout-nps-ca", own); err != nil {
			return err
		}
		if err := get(ns, "checkout-nps-tls", s); err != nil {
			return err
		}
		if string(s.Data["ca.crt"]) != string(own.Data["ca.crt"]) || len(s.Annotations) != 0 {
			return fmt.Errorf("TLS Secret not taken back: annotations %v", s.Annotations)
		}
		return nil
	})

	// Deleting a campaign that uses cert-manager takes its Certificate and
	// the TLS Secret (cert-manager's has no owner reference) with it.
	update(t, c, func() {
		c.Spec.TLS = &privacyv1alpha1.TLSSpec{IssuerRef: privacyv1alpha1.IssuerReference{Name: "letsencrypt", Kind: "ClusterIssuer"}}
	})
	eventually(t, "Certificate again", func() error { return get(ns, "checkout-nps-collector", certificate()) })
	deleteCampaign(t, ns)
	if err := get(ns, "checkout-nps-collector", certificate()); !apierrors.IsNotFound(err) {
		t.Errorf("Certificate survived the campaign: %v", err)
	}
	if err := get(ns, "checkout-nps-tls", &corev1.Secret{}); !apierrors.IsNotFound(err) {
		t.Errorf("TLS Secret survived the campaign: %v", err)
	}
}
