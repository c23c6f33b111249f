package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
)

func report(ns, name string, detected time.Time, campaigns ...string) *privacyv1alpha1.BreachReport {
	b := &privacyv1alpha1.BreachReport{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: privacyv1alpha1.BreachReportSpec{
			DetectedAt: metav1.Time{Time: detected.Truncate(time.Second)},
			Category:   privacyv1alpha1.BreachCategoryDataLeak, Severity: privacyv1alpha1.BreachSeverityHigh,
			AffectedRecords: 120,
		},
	}
	for _, c := range campaigns {
		b.Spec.CampaignRefs = append(b.Spec.CampaignRefs, privacyv1alpha1.LocalObjectReference{Name: c})
	}
	return b
}

func reportStatus(t *testing.T, ns, name string, check func(*privacyv1alpha1.BreachReport) error) *privacyv1alpha1.BreachReport {
	t.Helper()
	b := &privacyv1alpha1.BreachReport{}
	eventually(t, "report "+name, func() error {
		if err := get(ns, name, b); err != nil {
			return err
		}
		return check(b)
	})
	return b
}

func deadline(b *privacyv1alpha1.BreachReport, regime privacyv1alpha1.Jurisdiction) privacyv1alpha1.BreachDeadline {
	for _, d := range b.Status.Deadlines {
		if d.Regime == regime {
			return d
		}
	}
	return privacyv1alpha1.BreachDeadline{}
}

// TestOverdueFlipsWhenTheDeadlinePasses: nobody touches the report; the
// reconciler looks again when CERT-In's six hours run out by its clock (three
// hours behind the machine's, so the machine's clock alone would have called
// it overdue from the start).
func TestOverdueFlipsWhenTheDeadlinePasses(t *testing.T) {
	ns := namespace(t)
	detected := breachClock.Now().Add(-6*time.Hour + 3*time.Second).Truncate(time.Second)
	due := detected.Add(6 * time.Hour)
	b := report(ns, "leak", detected, "checkout-nps")
	b.Spec.Jurisdictions = []privacyv1alpha1.Jurisdiction{privacyv1alpha1.JurisdictionCERTIn, privacyv1alpha1.JurisdictionGDPR}
	create(t, b)

	b = reportStatus(t, ns, "leak", func(b *privacyv1alpha1.BreachReport) error {
		if b.Status.NextDeadline == nil || len(b.Status.Deadlines) != 2 {
			return fmt.Errorf("status %+v", b.Status)
		}
		return nil
	})
	if c := meta.FindStatusCondition(b.Status.Conditions, privacyv1alpha1.ConditionOverdue); c != nil && c.Status == metav1.ConditionTrue {
		if breachClock.Now().Before(due) {
			t.Fatalf("Overdue before the deadline: %+v", c)
		}
		t.Skip("the machine was too slow to see the report before its deadline")
	}
	if !b.Status.NextDeadline.Time.Equal(due) || b.Status.Phase != privacyv1alpha1.BreachPhaseContained {
		t.Errorf("next deadline %s (want %s), phase %s", b.Status.NextDeadline, due, b.Status.Phase)
	}

	b = reportStatus(t, ns, "leak", func(b *privacyv1alpha1.BreachReport) error {
		if c := meta.FindStatusCondition(b.Status.Conditions, privacyv1alpha1.ConditionOverdue); c == nil || c.Status != metav1.ConditionTrue {
			return fmt.Errorf("not overdue yet: %+v", c)
		}
		return nil
	})
	c := meta.FindStatusCondition(b.Status.Conditions, privacyv1alpha1.ConditionOverdue)
	if flipped := c.LastTransitionTime.Time; flipped.Before(due) || flipped.After(due.Add(10*time.Second)) {
		t.Errorf("Overdue turned True at %s; the deadline was %s", flipped, due)
	}
	if !strings.Contains(c.Message, "CERTIn") || !deadline(b, "CERTIn").Overdue || deadline(b, "GDPR").Overdue {
		t.Errorf("message %q, deadlines %+v", c.Message, b.Status.Deadlines)
	}
	if gdpr := deadline(b, "GDPR").Due; b.Status.NextDeadline == nil || !b.Status.NextDeadline.Equal(gdpr) {
		t.Errorf("next deadline %v, want GDPR's %v", b.Status.NextDeadline, gdpr)
	}
	eventually(t, "a Warning event", func() error {
		evs := &eventsv1.EventList{}
		if err := k8s.List(context.Background(), evs, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, e := range evs.Items {
			if e.Regarding.Name == "leak" && e.Type == corev1.EventTypeWarning && e.Reason == privacyv1alpha1.ReasonDeadlineMissed {
				return nil
			}
		}
		return fmt.Errorf("%d events, none DeadlineMissed", len(evs.Items))
	})
	if v, ok := gauge(t, breachMetrics, "surveyguard_breach_deadline_overdue", map[string]string{"namespace": ns, "breachreport": "leak", "regime": "CERTIn"}); !ok || v != 1 {
		t.Errorf("surveyguard_breach_deadline_overdue{CERTIn} = %v (exported %v)", v, ok)
	}

	// Notifying a second after CERT-In's deadline meets GDPR; CERT-In stays missed.
	update(t, b, func() { b.Spec.NotifiedAuthorityAt = &metav1.Time{Time: due.Add(time.Second)} })
	reportStatus(t, ns, "leak", func(b *privacyv1alpha1.BreachReport) error {
		if b.Status.Phase != privacyv1alpha1.BreachPhaseNotified || !deadline(b, "GDPR").Met || !deadline(b, "CERTIn").Overdue || b.Status.NextDeadline != nil {
			return fmt.Errorf("phase %s, deadlines %+v", b.Status.Phase, b.Status.Deadlines)
		}
		return nil
	})
}

func TestContainmentPausesRotatesOnceAndResumes(t *testing.T) {
	ns := namespace(t)
	create(t, policy(ns), campaign(ns))
	keys := &corev1.Secret{}
	eventually(t, "k1", func() error { return get(ns, "checkout-nps-keys", keys) })

	b := report(ns, "stolen-laptop", breachClock.Now().Add(-time.Hour), "checkout-nps", "ghost")
	b.Spec.Containment = privacyv1alpha1.ContainmentSpec{PauseCollection: true, RotateKeys: true}
	create(t, b)

	d := &appsv1.Deployment{}
	eventually(t, "collector scaled to zero", func() error {
		if err := get(ns, "checkout-nps-collector", d); err != nil {
			return err
		}
		if *d.Spec.Replicas != 0 {
			return fmt.Errorf("%d replicas", *d.Spec.Replicas)
		}
		return nil
	})
	c := &privacyv1alpha1.SurveyCampaign{}
	eventually(t, "campaign says which report paused it", func() error {
		if err := get(ns, "checkout-nps", c); err != nil {
			return err
		}
		cond := condition(c, privacyv1alpha1.ConditionCollectorAvailable)
		if len(c.Status.PausedBy) != 1 || c.Status.PausedBy[0] != "stolen-laptop" || cond == nil || !strings.Contains(cond.Message, "BreachReport stolen-laptop") {
			return fmt.Errorf("pausedBy %v, CollectorAvailable %+v", c.Status.PausedBy, cond)
		}
		return nil
	})
	b = reportStatus(t, ns, "stolen-laptop", func(b *privacyv1alpha1.BreachReport) error {
		if b.Status.Phase != privacyv1alpha1.BreachPhaseContained || len(b.Status.Containment) != 1 {
			return fmt.Errorf("phase %s, containment %+v", b.Status.Phase, b.Status.Containment)
		}
		return nil
	})
	rec := b.Status.Containment[0]
	if rec.Campaign != "checkout-nps" || rec.PausedAt == nil || rec.KeysRotatedAt == nil || rec.KeyID != "k2" {
		t.Errorf("containment record %+v", rec)
	}
	stalled := meta.FindStatusCondition(b.Status.Conditions, privacyv1alpha1.ConditionStalled)
	if stalled == nil || stalled.Reason != privacyv1alpha1.ReasonCampaignNotFound || !strings.Contains(stalled.Message, "ghost") {
		t.Errorf("a missing campaign is not reported: %+v", stalled)
	}
	if err := get(ns, "checkout-nps-keys", keys); err != nil || string(keys.Data["active"]) != "k2" {
		t.Fatalf("active key %q: %v", keys.Data["active"], err)
	}

	// Once only: with its record lost (as if the status were wiped), the
	// report finds the rotation again, and no third key is made.
	eventually(t, "status wiped", func() error {
		if err := get(ns, "stolen-laptop", b); err != nil {
			return err
		}
		b.Status.Containment = nil
		return k8s.Status().Update(context.Background(), b)
	})
	reportStatus(t, ns, "stolen-laptop", func(b *privacyv1alpha1.BreachReport) error {
		if len(b.Status.Containment) != 1 || b.Status.Containment[0].KeyID != "k2" {
			return fmt.Errorf("containment %+v", b.Status.Containment)
		}
		return nil
	})
	for range 3 {
		poke(t, ns)
		time.Sleep(200 * time.Millisecond)
	}
	if err := get(ns, "checkout-nps-keys", keys); err != nil || string(keys.Data["active"]) != "k2" || len(keys.Data["key-k3"]) != 0 {
		t.Errorf("rotated again: active %q", keys.Data["active"])
	}

	// Resolved: the collector comes back, and the report says when.
	update(t, b, func() { b.Spec.ResolvedAt = &metav1.Time{Time: breachClock.Now().Truncate(time.Second)} })
	eventually(t, "collector back to one replica", func() error {
		if err := get(ns, "checkout-nps-collector", d); err != nil {
			return err
		}
		if *d.Spec.Replicas != 1 {
			return fmt.Errorf("%d replicas", *d.Spec.Replicas)
		}
		return nil
	})
	reportStatus(t, ns, "stolen-laptop", func(b *privacyv1alpha1.BreachReport) error {
		if b.Status.Phase != privacyv1alpha1.BreachPhaseResolved || len(b.Status.Containment) != 1 || b.Status.Containment[0].ResumedAt == nil {
			return fmt.Errorf("phase %s, containment %+v", b.Status.Phase, b.Status.Containment)
		}
		return nil
	})
	if err := get(ns, "checkout-nps", c); err != nil || len(c.Status.PausedBy) != 0 {
		t.Errorf("pausedBy %v after resolution: %v", c.Status.PausedBy, err)
	}
}

func TestBreachRateFollowsTheReports(t *testing.T) {
	ns := namespace(t)
	create(t, policy(ns), campaign(ns))
	f := startCollector(t, ns)
	for i := range 5 {
		post(t, f, 9, fmt.Sprintf("C-%d", i))
	}
	waitReady(t, ns)
	breaches := func(want privacyv1alpha1.BreachRateStatus) {
		t.Helper()
		eventually(t, fmt.Sprintf("breaches %+v", want), func() error {
			c := &privacyv1alpha1.SurveyCampaign{}
			if err := get(ns, "checkout-nps", c); err != nil {
				return err
			}
			if c.Status.Breaches == nil || *c.Status.Breaches != want {
				return fmt.Errorf("breaches %+v", c.Status.Breaches)
			}
			return nil
		})
	}
	breaches(privacyv1alpha1.BreachRateStatus{Count: 0, Customers: 5, Rate: "0", Band: privacyv1alpha1.BreachBandOptimal})

	now := fakeClock.Now()
	create(t, report(ns, "r1", now.Add(-time.Hour), "checkout-nps"))
	breaches(privacyv1alpha1.BreachRateStatus{Count: 1, Customers: 5, Rate: "0.2000", Band: privacyv1alpha1.BreachBandAcceptable})

	// A report from thirteen months ago is outside the window.
	create(t, report(ns, "r2", now.Add(-24*time.Hour), "checkout-nps"), report(ns, "r3", now.Add(-48*time.Hour), "checkout-nps"),
		report(ns, "r4", now.AddDate(0, -11, 0), "checkout-nps"), report(ns, "old", now.AddDate(0, -13, 0), "checkout-nps"))
	breaches(privacyv1alpha1.BreachRateStatus{Count: 4, Customers: 5, Rate: "0.8000", Band: privacyv1alpha1.BreachBandConcerning})

	// Deleting a report moves the count back.
	if err := k8s.Delete(context.Background(), report(ns, "r4", now, "checkout-nps")); err != nil {
		t.Fatal(err)
	}
	breaches(privacyv1alpha1.BreachRateStatus{Count: 3, Customers: 5, Rate: "0.6000", Band: privacyv1alpha1.BreachBandAcceptable})
	eventually(t, "surveyguard_breach_rate", func() error {
		if v, ok := metricValue(t, "surveyguard_breach_rate", ns); !ok || v != 0.6 {
			return fmt.Errorf("surveyguard_breach_rate = %v (exported %v)", v, ok)
		}
		return nil
	})
}
