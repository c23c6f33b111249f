package controllers

import (
	"errors"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
	"github.com/surveyguard/surveyguard/internal/collector"
	"github.com/surveyguard/surveyguard/internal/nps"
)

func available(gen int64) *appsv1.Deployment {
	d := &appsv1.Deployment{}
	d.Generation = gen
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: gen, AvailableReplicas: 1}
	return d
}

func TestSetCampaignStatus(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	stats := &collector.Stats{ActiveKeyID: "k1", Result: nps.Result{Responses: 20, Score: ptr.To[int32](30)}}
	cases := []struct {
		name                    string
		obs                     observed
		ready, reconciling      metav1.ConditionStatus // "" = absent
		stalled, collector, enc metav1.ConditionStatus
		readyReason             string
	}{
		{
			name:  "stalled: missing policy",
			obs:   observed{stalledReason: privacyv1alpha1.ReasonRetentionPolicyNotFound, stalledMessage: "no policy"},
			ready: metav1.ConditionFalse, stalled: metav1.ConditionTrue, readyReason: privacyv1alpha1.ReasonRetentionPolicyNotFound,
		},
		{
			name:  "children just created",
			obs:   observed{changed: []string{"Deployment/x"}, activeKeyID: "k1"},
			ready: metav1.ConditionFalse, reconciling: metav1.ConditionTrue, collector: metav1.ConditionFalse, enc: metav1.ConditionTrue,
			readyReason: privacyv1alpha1.ReasonProgressing,
		},
		{
			name:  "rolling out",
			obs:   observed{deployment: &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Generation: 2}}, activeKeyID: "k1"},
			ready: metav1.ConditionFalse, reconciling: metav1.ConditionTrue, collector: metav1.ConditionFalse, enc: metav1.ConditionTrue,
			readyReason: privacyv1alpha1.ReasonProgressing,
		},
		{
			name:  "healthy",
			obs:   observed{deployment: available(1), stats: stats, activeKeyID: "k1", rotatedAt: now},
			ready: metav1.ConditionTrue, collector: metav1.ConditionTrue, enc: metav1.ConditionTrue, readyReason: privacyv1alpha1.ReasonSucceeded,
		},
		{
			name:  "collector still on the old key",
			obs:   observed{deployment: available(1), stats: stats, activeKeyID: "k2"},
			ready: metav1.ConditionTrue, collector: metav1.ConditionTrue, enc: metav1.ConditionFalse, readyReason: privacyv1alpha1.ReasonSucceeded,
		},
		{
			name:  "admin API does not answer",
			obs:   observed{deployment: available(1), statsErr: errors.New("connection refused"), activeKeyID: "k1"},
			ready: metav1.ConditionFalse, collector: metav1.ConditionFalse, enc: metav1.ConditionTrue, readyReason: privacyv1alpha1.ReasonCollectorUnavailable,
		},
		{
			name:  "waiting for cert-manager",
			obs:   observed{deployment: available(1), stats: stats, activeKeyID: "k1", waiting: "waiting for cert-manager to issue Certificate x-collector"},
			ready: metav1.ConditionFalse, reconciling: metav1.ConditionTrue, collector: metav1.ConditionTrue, enc: metav1.ConditionTrue,
			readyReason: privacyv1alpha1.ReasonProgressing,
		},
		{
			name:  "paused",
			obs:   observed{paused: true, deployment: &appsv1.Deployment{}, activeKeyID: "k1"},
			ready: metav1.ConditionTrue, collector: metav1.ConditionFalse, enc: metav1.ConditionTrue, readyReason: privacyv1alpha1.ReasonPaused,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &privacyv1alpha1.SurveyCampaign{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "y", Generation: 1}}
			setCampaignStatus(c, tc.obs, now)
			for typ, want := range map[string]metav1.ConditionStatus{
				privacyv1alpha1.ConditionReady: tc.ready, privacyv1alpha1.ConditionReconciling: tc.reconciling,
				privacyv1alpha1.ConditionStalled: tc.stalled, privacyv1alpha1.ConditionCollectorAvailable: tc.collector,
				privacyv1alpha1.ConditionEncryptionEnforced: tc.enc,
			} {
				got := meta.FindStatusCondition(c.Status.Conditions, typ)
				switch {
				case want == "" && got != nil:
					t.Errorf("%s present: %+v", typ, got)
				case want != "" && (got == nil || got.Status != want):
					t.Errorf("%s = %+v, want %s", typ, got, want)
				}
			}
			if r := meta.FindStatusCondition(c.Status.Conditions, privacyv1alpha1.ConditionReady); r == nil || r.Reason != tc.readyReason {
				t.Errorf("Ready reason %+v, want %s", r, tc.readyReason)
			}
		})
	}
}

func TestNPSUpdatedAtMovesOnlyWithTheFigures(t *testing.T) {
	c := &privacyv1alpha1.SurveyCampaign{}
	t0 := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	st := &collector.Stats{Result: nps.Result{Responses: 3, Suppressed: true}}
	setNPS(c, st, t0)
	setNPS(c, st, t0.Add(time.Minute))
	if !c.Status.NPS.UpdatedAt.Time.Equal(t0) {
		t.Errorf("updatedAt moved without a change: %s", c.Status.NPS.UpdatedAt)
	}
	st.Responses = 4
	setNPS(c, st, t0.Add(2*time.Minute))
	if !c.Status.NPS.UpdatedAt.Time.Equal(t0.Add(2 * time.Minute)) {
		t.Errorf("updatedAt did not move with the figures: %s", c.Status.NPS.UpdatedAt)
	}
}

func TestKeyIDs(t *testing.T) {
	data := map[string][]byte{"key-k2": nil, "key-k10": nil, "key-k1": nil, "hmac": nil, "active": nil}
	if got := dataKeyIDs(data); len(got) != 3 || got[0] != "k1" || got[2] != "k10" {
		t.Errorf("dataKeyIDs = %v", got)
	}
	if got := nextKeyID(data); got != "k11" {
		t.Errorf("nextKeyID = %s, want k11", got)
	}
}

func TestServingCertificate(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	ca, err := newCA("test CA", now)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"x-collector.y.svc", "x-collector"}
	kp, err := issueServing(ca, names, now)
	if err != nil {
		t.Fatal(err)
	}
	if !certFresh(kp.cert, ca.cert, names, now) {
		t.Error("a new certificate is not fresh")
	}
	if certFresh(kp.cert, ca.cert, names, now.Add(61*24*time.Hour)) {
		t.Error("a certificate with under a third of its life left is still fresh")
	}
	if certFresh(kp.cert, ca.cert, []string{"other.y.svc"}, now) {
		t.Error("a certificate for other names is fresh")
	}
	other, _ := newCA("other", now)
	if certFresh(kp.cert, other.cert, names, now) {
		t.Error("a certificate from another CA is fresh")
	}
}
