package controllers_test

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
	"github.com/surveyguard/surveyguard/internal/collectorapi"
)

// kstatus computes what Flux, Argo CD and kubectl wait read from an object
// as the API server returns it: from its JSON, where a field the Go types
// would omit (observedGeneration 0) is still there.
func kstatus(t *testing.T, u *unstructured.Unstructured) (status.Status, string) {
	t.Helper()
	res, err := status.Compute(u)
	if err != nil {
		t.Fatal(err)
	}
	return res.Status, res.Message
}

// unstructuredOf reads obj from the API server as JSON, and into obj too.
func unstructuredOf(obj client.Object) (*unstructured.Unstructured, error) {
	gvk, err := apiutil.GVKForObject(obj, k8s.Scheme())
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), u); err != nil {
		return nil, err
	}
	return u, runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj)
}

// waitKstatus waits until the object, read from the API server, has the
// kstatus want.
func waitKstatus(t *testing.T, obj client.Object, want status.Status) {
	t.Helper()
	eventually(t, fmt.Sprintf("%T %s %s", obj, obj.GetName(), want), func() error {
		u, err := unstructuredOf(obj)
		if err != nil {
			return err
		}
		if got, msg := kstatus(t, u); got != want {
			return fmt.Errorf("kstatus %s (%s)", got, msg)
		}
		return nil
	})
}

// createNew creates obj and checks the kstatus of the object the API server
// answered with, before any reconcile: a new object is not yet Current.
func createNew(t *testing.T, obj client.Object) {
	t.Helper()
	gvk := obj.GetObjectKind().GroupVersionKind()
	raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: raw}
	if err := k8s.Create(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	if got, msg := kstatus(t, u); got != status.InProgressStatus {
		t.Errorf("new %s: kstatus %s (%s), want InProgress", obj.GetName(), got, msg)
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj); err != nil {
		t.Fatal(err)
	}
	obj.GetObjectKind().SetGroupVersionKind(gvk)
}

// TestKstatusOfACampaign: new → reconciling → ready → stalled by a spec edit
// (Failed, with the edit's generation observed) → recovering → ready.
func TestKstatusOfACampaign(t *testing.T) {
	ns := namespace(t)
	create(t, policy(ns))
	c := campaign(ns)
	c.SetGroupVersionKind(privacyv1alpha1.GroupVersion.WithKind("SurveyCampaign"))
	createNew(t, c)
	waitKstatus(t, c, status.InProgressStatus) // Reconciling: the collector is not available yet
	startFakeCollector(t, ns, &collectorapi.Stats{Campaign: "checkout-nps"})
	waitCampaign(t, ns, "Ready", func(c *privacyv1alpha1.SurveyCampaign) error {
		if cond := condition(c, privacyv1alpha1.ConditionReady); cond == nil || cond.Status != metav1.ConditionTrue {
			return fmt.Errorf("conditions %+v", c.Status.Conditions)
		}
		return nil
	})
	waitKstatus(t, c, status.CurrentStatus)

	update(t, c, func() { c.Spec.RetentionPolicyRef.Name = "no-such-policy" })
	waitKstatus(t, c, status.FailedStatus)
	if c.Status.ObservedGeneration != c.Generation {
		t.Errorf("stalled: observedGeneration %d, generation %d", c.Status.ObservedGeneration, c.Generation)
	}

	update(t, c, func() { c.Spec.RetentionPolicyRef.Name = "ninety-days" })
	waitCampaign(t, ns, "Ready again", func(c *privacyv1alpha1.SurveyCampaign) error {
		if cond := condition(c, privacyv1alpha1.ConditionReady); cond == nil || cond.Status != metav1.ConditionTrue || c.Status.ObservedGeneration != c.Generation {
			return fmt.Errorf("observedGeneration %d of %d, conditions %+v", c.Status.ObservedGeneration, c.Generation, c.Status.Conditions)
		}
		return nil
	})
	waitKstatus(t, c, status.CurrentStatus)
}

// TestKstatusOfAPolicy: new → ready → stalled by an unparsable schedule
// (Failed) → recovering → ready.
func TestKstatusOfAPolicy(t *testing.T) {
	ns := namespace(t)
	p := policy(ns)
	p.SetGroupVersionKind(privacyv1alpha1.GroupVersion.WithKind("RetentionPolicy"))
	createNew(t, p)
	waitKstatus(t, p, status.CurrentStatus)
	update(t, p, func() { p.Spec.Schedule = "61 3 * * *" }) // passes the CRD's pattern, not the parser
	waitKstatus(t, p, status.FailedStatus)
	update(t, p, func() { p.Spec.Schedule = "0 3 * * *" })
	waitKstatus(t, p, status.CurrentStatus)
}

// TestKstatusOfABreachReport: new → reconciling (containment pending) →
// ready → stalled by naming a campaign that does not exist (Failed) →
// recovering → ready.
func TestKstatusOfABreachReport(t *testing.T) {
	ns := namespace(t)
	create(t, policy(ns), campaign(ns))
	b := report(ns, "leak", breachClock.Now(), "checkout-nps")
	b.Spec.Containment.PauseCollection = ptr.To(true)
	b.SetGroupVersionKind(privacyv1alpha1.GroupVersion.WithKind("BreachReport"))
	createNew(t, b)
	waitKstatus(t, b, status.CurrentStatus) // paused: the campaign reconciler scales the collector to zero
	if b.Status.Phase != privacyv1alpha1.BreachPhaseContained {
		t.Errorf("Current in phase %s", b.Status.Phase)
	}
	update(t, b, func() {
		b.Spec.CampaignRefs = append(b.Spec.CampaignRefs, privacyv1alpha1.LocalObjectReference{Name: "ghost"})
	})
	waitKstatus(t, b, status.FailedStatus)
	update(t, b, func() { b.Spec.CampaignRefs = b.Spec.CampaignRefs[:1] })
	waitKstatus(t, b, status.CurrentStatus)
}

// TestKstatusOfAnErasureRequest: new → stalled (its Secret is missing:
// Failed) → recovering once the Secret exists → erased (Current).
func TestKstatusOfAnErasureRequest(t *testing.T) {
	ns := namespace(t)
	create(t, policy(ns), campaign(ns))
	startCollectorOf(t, ns, "checkout-nps", "", nil)
	er := &privacyv1alpha1.ErasureRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "forget"},
		Spec:       privacyv1alpha1.ErasureRequestSpec{Subject: privacyv1alpha1.ErasureSubject{SecretRef: &privacyv1alpha1.SecretKeyReference{Name: "later"}}},
	}
	er.SetGroupVersionKind(privacyv1alpha1.GroupVersion.WithKind("ErasureRequest"))
	createNew(t, er)
	waitKstatus(t, er, status.FailedStatus)
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "later"}, Data: map[string][]byte{"customerID": []byte("C-1")}})
	// The request looks for its Secret again after a minute: nudge it.
	update(t, er, func() { er.Annotations = map[string]string{"nudge": "1"} })
	waitKstatus(t, er, status.CurrentStatus)
	if er.Status.Phase != privacyv1alpha1.ErasurePhaseCompleted {
		t.Errorf("Current in phase %s", er.Status.Phase)
	}
}
