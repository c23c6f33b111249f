package controllers

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
)

func TestCampaignMetrics(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	clk := clocktesting.NewFakePassiveClock(now)
	m := NewCampaignMetrics(clk)

	shown := &privacyv1alpha1.SurveyCampaign{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "checkout"}}
	shown.Status.NPS = &privacyv1alpha1.NPSStatus{Score: ptr.To[int32](-12), Responses: 40}
	shown.Status.Encryption = &privacyv1alpha1.EncryptionStatus{ActiveKeyID: "k2", RotatedAt: &metav1.Time{Time: now.Add(-90 * time.Minute)}}
	suppressed := &privacyv1alpha1.SurveyCampaign{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "returns"}}
	suppressed.Status.NPS = &privacyv1alpha1.NPSStatus{Responses: 3, Suppressed: ptr.To(true)}
	fresh := &privacyv1alpha1.SurveyCampaign{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "new"}}
	gone := &privacyv1alpha1.SurveyCampaign{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "gone"}}
	gone.Status.NPS = &privacyv1alpha1.NPSStatus{Score: ptr.To[int32](50), Responses: 99}
	for _, c := range []*privacyv1alpha1.SurveyCampaign{shown, suppressed, fresh, gone} {
		m.observe(c)
	}
	m.forget(types.NamespacedName{Namespace: "shop", Name: "gone"})

	// A suppressed campaign exports its count but no score; a campaign with
	// nothing read yet exports nothing; a forgotten one is gone.
	want := `
# HELP surveyguard_key_age_seconds Seconds since the campaign's active data key became active.
# TYPE surveyguard_key_age_seconds gauge
surveyguard_key_age_seconds{campaign="checkout",namespace="shop"} 5400
# HELP surveyguard_nps_score Net Promoter Score of the campaign (-100..100); absent while suppressed below privacy.minGroupSize.
# TYPE surveyguard_nps_score gauge
surveyguard_nps_score{campaign="checkout",namespace="shop"} -12
# HELP surveyguard_responses Responses the campaign's collector holds, as last read.
# TYPE surveyguard_responses gauge
surveyguard_responses{campaign="checkout",namespace="shop"} 40
surveyguard_responses{campaign="returns",namespace="shop"} 3
`
	if err := testutil.CollectAndCompare(m, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}
