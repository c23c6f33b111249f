package controllers_test

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
	"github.com/surveyguard/surveyguard/controllers"
)

func report(ns, name string, detected time.Time, campaigns ...string) *privacyv1alpha1.BreachReport {
	b := &privacyv1alpha1.BreachReport{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: privacyv1alpha1.BreachReportSpec{
			DetectedAt: metav1.Time{Time: detected.Truncate(time.Second)},
			Category:   privacyv1alpha1.BreachCategoryDataLeak, Severity: privacyv1alpha1.BreachSeverityHigh,
			AffectedRecords: ptr.To[int64](120),
		},
	}
	for _, c := range campaigns {
		b.Spec.CampaignRefs = append(b.Spec.CampaignRefs, privacyv1alpha1.LocalObjectReference{Name: c})
	}
	return b
}

func reportStatus(t *testing.T, ns, name string, check func(*privacyv1alpha1.BreachReport) error) *privacyv1alpha1.BreachReport {
	t.Helper()
	return waitFor(t, ns, name, &privacyv1alpha1.BreachReport{}, check)
}

// waitFor reads ns/name into obj until check accepts it, and returns it.
func waitFor[T client.Object](t *testing.T, ns, name string, obj T, check func(T) error) T {
	t.Helper()
	eventually(t, fmt.Sprintf("%T %s", obj, name), func() error {
		if err := get(ns, name, obj); err != nil {
			return err
		}
		return check(obj)
	})
	return obj
}

// deadline is the report's deadline for a duty: "GDPR Authority".
func deadline(b *privacyv1alpha1.BreachReport, duty string) privacyv1alpha1.BreachDeadline {
	for _, d := range b.Status.Deadlines {
		if string(d.Regime)+" "+string(d.Duty) == duty {
			return d
		}
	}
	return privacyv1alpha1.BreachDeadline{}
}

// TestOverdueFlipsWhenTheDeadlinePasses: nobody touches the report; the
// reconciler looks again when CERT-In's six hours run out by its clock (days
// behind the machine's, so the machine's clock alone would have called it
// overdue from the start).
func TestOverdueFlipsWhenTheDeadlinePasses(t *testing.T) {
	ns := namespace(t)
	detected := breachClock.Now().Add(-6*time.Hour + 3*time.Second).Truncate(time.Second)
	due := detected.Add(6 * time.Hour)
	b := report(ns, "leak", detected, "checkout-nps")
	b.Spec.Jurisdictions = []privacyv1alpha1.Jurisdiction{privacyv1alpha1.JurisdictionCERTIn, privacyv1alpha1.JurisdictionGDPR}
	create(t, b)

	b = reportStatus(t, ns, "leak", func(b *privacyv1alpha1.BreachReport) error {
		if b.Status.NextDeadline == nil || len(b.Status.Deadlines) != 3 { // CERT-In; GDPR's authority and, at High severity, individuals
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
	if !strings.Contains(c.Message, "CERTIn") || !ptr.Deref(deadline(b, "CERTIn Authority").Overdue, false) || ptr.Deref(deadline(b, "GDPR Authority").Overdue, false) {
		t.Errorf("message %q, deadlines %+v", c.Message, b.Status.Deadlines)
	}
	if gdpr := deadline(b, "GDPR Authority").Due; b.Status.NextDeadline == nil || !b.Status.NextDeadline.Equal(gdpr) ||
		b.Status.NextDuty != "GDPR Authority by "+gdpr.UTC().Format(time.RFC3339) {
		t.Errorf("next deadline %v (%q), want GDPR's %v", b.Status.NextDeadline, b.Status.NextDuty, gdpr)
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
	if v, ok := gauge(t, breachMetrics, "surveyguard_breach_deadline_overdue", map[string]string{"namespace": ns, "breachreport": "leak", "regime": "CERTIn", "duty": "Authority"}); !ok || v != 1 {
		t.Errorf("surveyguard_breach_deadline_overdue{CERTIn} = %v (exported %v)", v, ok)
	}

	// Notifying a second after CERT-In's deadline meets GDPR; CERT-In stays missed.
	update(t, b, func() { b.Spec.NotifiedAuthorityAt = &metav1.Time{Time: due.Add(time.Second)} })
	reportStatus(t, ns, "leak", func(b *privacyv1alpha1.BreachReport) error {
		if b.Status.Phase != privacyv1alpha1.BreachPhaseNotified || !ptr.Deref(deadline(b, "GDPR Authority").Met, false) || !ptr.Deref(deadline(b, "CERTIn Authority").Overdue, false) || b.Status.NextDeadline != nil {
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
	b.Spec.Containment = privacyv1alpha1.ContainmentSpec{PauseCollection: ptr.To(true), RotateKeys: ptr.To(true)}
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
	if c.Status.Encryption == nil || len(c.Status.Encryption.BreachRotations) != 1 {
		t.Errorf("breach rotations %+v after resolution, want the report's kept", c.Status.Encryption)
	}

	// Deleted: its record of the rotation goes from the key Secret and the
	// status, so that records do not pile up past what the status holds.
	if err := k8s.Delete(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the deleted report's rotation forgotten", func() error {
		if err := get(ns, "checkout-nps-keys", keys); err != nil {
			return err
		}
		if err := get(ns, "checkout-nps", c); err != nil {
			return err
		}
		if a, ok := keys.Annotations["privacy.surveyguard.io/breach-rotations"]; ok || c.Status.Encryption == nil || len(c.Status.Encryption.BreachRotations) != 0 {
			return fmt.Errorf("annotation %q, published %+v", a, c.Status.Encryption)
		}
		return nil
	})
	if string(keys.Data["active"]) != "k2" {
		t.Errorf("active key %q after the report's deletion, want k2", keys.Data["active"])
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
			if c.Status.Breaches == nil || !reflect.DeepEqual(*c.Status.Breaches, want) {
				return fmt.Errorf("breaches %+v", c.Status.Breaches)
			}
			return nil
		})
	}
	breaches(privacyv1alpha1.BreachRateStatus{Count: ptr.To[int32](0), Customers: 5, Rate: "0", Band: privacyv1alpha1.BreachBandOptimal})

	now := fakeClock.Now()
	create(t, report(ns, "r1", now.Add(-time.Hour), "checkout-nps"))
	breaches(privacyv1alpha1.BreachRateStatus{Count: ptr.To[int32](1), Customers: 5, Rate: "0.2000", Band: privacyv1alpha1.BreachBandAcceptable})

	// A report from thirteen months ago is outside the window.
	create(t, report(ns, "r2", now.Add(-24*time.Hour), "checkout-nps"), report(ns, "r3", now.Add(-48*time.Hour), "checkout-nps"),
		report(ns, "r4", now.AddDate(0, -11, 0), "checkout-nps"), report(ns, "old", now.AddDate(0, -13, 0), "checkout-nps"))
	breaches(privacyv1alpha1.BreachRateStatus{Count: ptr.To[int32](4), Customers: 5, Rate: "0.8000", Band: privacyv1alpha1.BreachBandConcerning})

	// Deleting a report moves the count back.
	if err := k8s.Delete(context.Background(), report(ns, "r4", now, "checkout-nps")); err != nil {
		t.Fatal(err)
	}
	breaches(privacyv1alpha1.BreachRateStatus{Count: ptr.To[int32](3), Customers: 5, Rate: "0.6000", Band: privacyv1alpha1.BreachBandAcceptable})
	eventually(t, "surveyguard_breach_rate", func() error {
		if v, ok := metricValue(t, "surveyguard_breach_rate", ns); !ok || v != 0.6 {
			return fmt.Errorf("surveyguard_breach_rate = %v (exported %v)", v, ok)
		}
		return nil
	})
}

// TestResolvedBeforeContainedIsReady: a report applied already resolved
// asks its campaign for nothing (no pause, no rotation), so the containment
// it names is never carried out: the report says so and is Ready, instead
// of waiting, Reconciling, for what will not come.
func TestResolvedBeforeContainedIsReady(t *testing.T) {
	ns := namespace(t)
	create(t, policy(ns), campaign(ns))
	keys := &corev1.Secret{}
	eventually(t, "k1", func() error { return get(ns, "checkout-nps-keys", keys) })

	detected := breachClock.Now().Add(-time.Hour).Truncate(time.Second)
	b := report(ns, "old-leak", detected, "checkout-nps")
	b.Spec.Containment = privacyv1alpha1.ContainmentSpec{PauseCollection: ptr.To(true), RotateKeys: ptr.To(true)}
	b.Spec.ResolvedAt = &metav1.Time{Time: detected.Add(time.Minute)}
	create(t, b)

	b = reportStatus(t, ns, "old-leak", func(b *privacyv1alpha1.BreachReport) error {
		if ready := meta.FindStatusCondition(b.Status.Conditions, privacyv1alpha1.ConditionReady); ready == nil || ready.Status != metav1.ConditionTrue {
			return fmt.Errorf("Ready %+v", ready)
		}
		return nil
	})
	c := meta.FindStatusCondition(b.Status.Conditions, privacyv1alpha1.ConditionContained)
	if b.Status.Phase != privacyv1alpha1.BreachPhaseResolved || c == nil || c.Status != metav1.ConditionFalse || c.Reason != privacyv1alpha1.ReasonResolved ||
		c.Message != "resolved before the operator could pause checkout-nps, rotate the keys of checkout-nps; that is no longer done" {
		t.Errorf("phase %s, Contained %+v", b.Status.Phase, c)
	}
	if r := meta.FindStatusCondition(b.Status.Conditions, privacyv1alpha1.ConditionReconciling); r != nil {
		t.Errorf("Reconciling %+v, want none", r)
	}
	u, err := unstructuredOf(b.DeepCopy())
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := kstatus(t, u); got != status.CurrentStatus {
		t.Errorf("kstatus %s, want Current", got)
	}
	// The campaign was never paused, and no key was made for the report.
	camp := &privacyv1alpha1.SurveyCampaign{}
	if err := get(ns, "checkout-nps", camp); err != nil {
		t.Fatal(err)
	}
	if err := get(ns, "checkout-nps-keys", keys); err != nil {
		t.Fatal(err)
	}
	if len(camp.Status.PausedBy) != 0 || string(keys.Data["active"]) != "k1" || len(keys.Data["key-k2"]) != 0 {
		t.Errorf("pausedBy %v, active key %s; want neither a pause nor a rotation", camp.Status.PausedBy, keys.Data["active"])
	}
}

// TestEachDeadlineHasItsOwnEvent: two deadlines missed at once are two
// DeadlineMissed events, each with its own note. The events API folds
// events of one reason, action and related object about one object into
// the first one's count, keeping its note: with one action for every
// deadline, GDPR's missed deadline was told only as a second count of
// CERT-In's.
func TestEachDeadlineHasItsOwnEvent(t *testing.T) {
	ns := namespace(t)
	b := report(ns, "leak", breachClock.Now().Add(-100*time.Hour), "checkout-nps")
	b.Spec.Jurisdictions = []privacyv1alpha1.Jurisdiction{privacyv1alpha1.JurisdictionCERTIn, privacyv1alpha1.JurisdictionGDPR}
	create(t, b)
	eventually(t, "a DeadlineMissed event for each of CERT-In's and GDPR's authority deadlines", func() error {
		var notes []string
		for _, e := range warnings(t, ns, "leak", privacyv1alpha1.ReasonDeadlineMissed) {
			notes = append(notes, fmt.Sprintf("%s: %s", e.Action, e.Note))
		}
		slices.Sort(notes)
		if len(notes) != 2 || !strings.HasPrefix(notes[0], "Notify/CERTIn/Authority: CERTIn Authority was due") ||
			!strings.HasPrefix(notes[1], "Notify/GDPR/Authority: GDPR Authority was due") {
			return fmt.Errorf("events %q", notes)
		}
		return nil
	})
}

// events lists the Warning events of a reason about an object.
func warnings(t *testing.T, ns, name, reason string) []eventsv1.Event {
	t.Helper()
	evs := &eventsv1.EventList{}
	if err := k8s.List(context.Background(), evs, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var out []eventsv1.Event
	for _, e := range evs.Items {
		if e.Regarding.Name == name && e.Type == corev1.EventTypeWarning && e.Reason == reason {
			out = append(out, e)
		}
	}
	return out
}

// TestDeadlineApproachingAt80Percent: nobody touches the report; when 80% of
// CERT-In's six hours has elapsed by the reconciler's clock the deadline turns
// Approaching, with one Warning event and the metric, and the NEXT DEADLINE
// column names the duty.
func TestDeadlineApproachingAt80Percent(t *testing.T) {
	ns := namespace(t)
	remindIn := 3 * time.Second
	detected := breachClock.Now().Add(-(4*time.Hour + 48*time.Minute) + remindIn).Truncate(time.Second)
	due := detected.Add(6 * time.Hour)
	b := report(ns, "laptop", detected, "checkout-nps")
	b.Spec.Severity = privacyv1alpha1.BreachSeverityLow
	b.Spec.Jurisdictions = []privacyv1alpha1.Jurisdiction{privacyv1alpha1.JurisdictionCERTIn, privacyv1alpha1.JurisdictionDPDP}
	create(t, b)

	b = reportStatus(t, ns, "laptop", func(b *privacyv1alpha1.BreachReport) error {
		if len(b.Status.Deadlines) != 4 {
			return fmt.Errorf("deadlines %+v", b.Status.Deadlines)
		}
		return nil
	})
	if d := deadline(b, "CERTIn Authority"); d.State == "Approaching" && breachClock.Now().Before(detected.Add(4*time.Hour+48*time.Minute)) {
		t.Fatalf("Approaching before 80%%: %+v", d)
	}
	if want := "CERTIn Authority by " + due.UTC().Format(time.RFC3339); b.Status.NextDuty != want {
		t.Errorf("nextDuty %q, want %q", b.Status.NextDuty, want)
	}
	for _, duty := range []string{"DPDP Authority", "DPDP DetailedReport", "DPDP Individuals"} {
		if d := deadline(b, duty); ptr.Deref(d.InForce, false) || d.State != "Informational" || ptr.Deref(d.Overdue, false) {
			t.Errorf("%s before 13 May 2027: %+v", duty, d)
		}
	}
	b = reportStatus(t, ns, "laptop", func(b *privacyv1alpha1.BreachReport) error {
		if d := deadline(b, "CERTIn Authority"); d.State != "Approaching" {
			return fmt.Errorf("CERT-In: %+v", d)
		}
		return nil
	})
	if now := breachClock.Now(); now.Before(detected.Add(4*time.Hour + 48*time.Minute)) {
		t.Errorf("Approaching at %s, before 80%% of the clock", now)
	}
	if c := meta.FindStatusCondition(b.Status.Conditions, privacyv1alpha1.ConditionOverdue); c == nil || c.Status != metav1.ConditionFalse {
		t.Errorf("Overdue %+v", c)
	}
	eventually(t, "a DeadlineApproaching event", func() error {
		if evs := warnings(t, ns, "laptop", controllers.ReasonDeadlineApproaching); len(evs) != 1 || !strings.Contains(evs[0].Note, "CERTIn Authority") {
			return fmt.Errorf("events %+v", evs)
		}
		return nil
	})
	labels := map[string]string{"namespace": ns, "breachreport": "laptop", "regime": "CERTIn", "duty": "Authority"}
	if v, ok := gauge(t, breachMetrics, "surveyguard_breach_deadline_approaching", labels); !ok || v != 1 {
		t.Errorf("surveyguard_breach_deadline_approaching = %v (exported %v)", v, ok)
	}
	if v, ok := gauge(t, breachMetrics, "surveyguard_breach_deadline_due_timestamp_seconds", labels); !ok || v != float64(due.Unix()) {
		t.Errorf("surveyguard_breach_deadline_due_timestamp_seconds = %v (exported %v), want %d", v, ok, due.Unix())
	}
	// A notification on time: Met, the metric drops, no second event.
	update(t, b, func() {
		b.Spec.Notifications = []privacyv1alpha1.DutyNotification{{Regime: "CERTIn", Duty: "Authority", At: metav1.Time{Time: breachClock.Now().Truncate(time.Second)}, Reference: "CERTIn-2026-0042"}}
	})
	reportStatus(t, ns, "laptop", func(b *privacyv1alpha1.BreachReport) error {
		if d := deadline(b, "CERTIn Authority"); d.State != "Met" || !ptr.Deref(d.Met, false) || b.Status.NextDuty != "" || b.Status.Phase != privacyv1alpha1.BreachPhaseNotified {
			return fmt.Errorf("CERT-In %+v, next %q, phase %s", d, b.Status.NextDuty, b.Status.Phase)
		}
		return nil
	})
	if v, _ := gauge(t, breachMetrics, "surveyguard_breach_deadline_approaching", labels); v != 0 {
		t.Errorf("approaching after the notification: %v", v)
	}
	if evs := warnings(t, ns, "laptop", controllers.ReasonDeadlineApproaching); len(evs) != 1 {
		t.Errorf("%d DeadlineApproaching events", len(evs))
	}
}

// TestHolidayCalendar: the ConfigMap the manager names moves LGPD's business
// days; an entry that is not a date is noted on the deadline and reported.
func TestHolidayCalendar(t *testing.T) {
	ns := namespace(t)
	ctx := context.Background()
	// A Friday far enough back that nothing is due by the reconciler's clock
	// matters: only the due time is checked.
	detected := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: holidayCalendar.Namespace, Name: holidayCalendar.Name}}
	set := func(lgpd string) {
		t.Helper()
		if _, err := controllerutil.CreateOrUpdate(ctx, k8s, cm, func() error {
			cm.Data = map[string]string{"LGPD": lgpd}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	set("2026-11-23 # a Monday holiday, for the test\n")
	t.Cleanup(func() { _ = k8s.Delete(ctx, cm) })

	b := report(ns, "brazil", detected, "checkout-nps")
	b.Spec.Jurisdictions = []privacyv1alpha1.Jurisdiction{privacyv1alpha1.JurisdictionLGPD}
	create(t, b)
	// Friday + 3 business days, Monday a holiday: the end of Thursday.
	want := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	b = reportStatus(t, ns, "brazil", func(b *privacyv1alpha1.BreachReport) error {
		if d := deadline(b, "LGPD Authority"); d.Due == nil || !d.Due.Time.Equal(want) {
			return fmt.Errorf("LGPD %+v, want due %s", d, want)
		}
		return nil
	})

	set("2026-11-23\n2026-13-01\n")
	update(t, b, func() { b.Spec.Description = "touched so that the report is read again" })
	reportStatus(t, ns, "brazil", func(b *privacyv1alpha1.BreachReport) error {
		d := deadline(b, "LGPD Authority")
		if !strings.Contains(d.Note, `"2026-13-01" is not a date`) || !d.Due.Time.Equal(want.Add(-24*time.Hour)) {
			return fmt.Errorf("LGPD %+v", d)
		}
		return nil
	})
	eventually(t, "a HolidayCalendarInvalid event", func() error {
		if evs := warnings(t, ns, "brazil", controllers.ReasonHolidayCalendarInvalid); len(evs) != 1 || !strings.Contains(evs[0].Note, "line 2") {
			return fmt.Errorf("events %+v", evs)
		}
		return nil
	})
}

// TestClocksThatWaitAndPause: Singapore's clock waits for the assessment and
// Australia's assessment duty is met by it; California's is held by an open
// law-enforcement delay and postponed by its length once it ends.
func TestClocksThatWaitAndPause(t *testing.T) {
	ns := namespace(t)
	detected := breachClock.Now().Add(-time.Hour).Truncate(time.Second)
	b := report(ns, "vendor", detected, "checkout-nps")
	b.Spec.Jurisdictions = []privacyv1alpha1.Jurisdiction{privacyv1alpha1.JurisdictionSingaporePDPA, privacyv1alpha1.JurisdictionAustraliaNDB, privacyv1alpha1.JurisdictionCCPA}
	b.Spec.AffectedResidents = []privacyv1alpha1.ResidentCount{{Regime: privacyv1alpha1.JurisdictionCCPA, Count: ptr.To[int64](300)}}
	b.Spec.LawfulDelay = &privacyv1alpha1.LawfulDelay{Reason: "county sheriff, letter of the day of detection"}
	create(t, b)
	b = reportStatus(t, ns, "vendor", func(b *privacyv1alpha1.BreachReport) error {
		if len(b.Status.Deadlines) != 7 {
			return fmt.Errorf("deadlines %+v", b.Status.Deadlines)
		}
		return nil
	})
	for duty, state := range map[string]privacyv1alpha1.DeadlineState{
		"SingaporePDPA Authority": "Waiting", "SingaporePDPA Individuals": "Waiting",
		"AustraliaNDB Assessment": "Pending", "AustraliaNDB Authority": "Waiting",
		"CCPA Individuals": "Paused", "CCPA AttorneyGeneral": "NotApplicable",
	} {
		if d := deadline(b, duty); d.State != state {
			t.Errorf("%s: %+v, want %s", duty, d, state)
		}
	}
	if d := deadline(b, "SingaporePDPA Authority"); d.Due != nil || !strings.Contains(d.Note, "spec.assessedAt") {
		t.Errorf("Singapore before the assessment: %+v", d)
	}
	if d := deadline(b, "AustraliaNDB Assessment"); d.Due == nil || !ptr.Deref(d.InForce, false) {
		t.Errorf("Australia's assessment: %+v", d)
	}

	assessed := detected.Add(30 * time.Minute)
	delayEnd := detected.Add(4 * 24 * time.Hour)
	update(t, b, func() {
		b.Spec.AssessedAt = &metav1.Time{Time: assessed}
		b.Spec.LawfulDelay.Until = &metav1.Time{Time: delayEnd}
	})
	y, m, d := assessed.UTC().Date()
	sgDue := time.Date(y, m, d+4, 0, 0, 0, 0, time.UTC) // the end of the third day after the assessment's day
	y, m, d = detected.UTC().Date()
	caDue := time.Date(y, m, d+31, 0, 0, 0, 0, time.UTC).Add(4 * 24 * time.Hour) // 30 days, then the 4-day delay
	reportStatus(t, ns, "vendor", func(b *privacyv1alpha1.BreachReport) error {
		if d := deadline(b, "SingaporePDPA Authority"); d.State != "Pending" || d.Due == nil || !d.Due.Time.Equal(sgDue) {
			return fmt.Errorf("Singapore after the assessment: %+v, want due %s", d, sgDue)
		}
		if d := deadline(b, "AustraliaNDB Assessment"); d.State != "Met" || !ptr.Deref(d.Met, false) {
			return fmt.Errorf("Australia's assessment: %+v", d)
		}
		if d := deadline(b, "CCPA Individuals"); d.State != "Pending" || d.Due == nil || !d.Due.Time.Equal(caDue) || !strings.Contains(d.Note, "lawful delay") {
			return fmt.Errorf("California after the delay: %+v, want due %s", d, caDue)
		}
		return nil
	})
}

// TestReportFollowsItsCampaignsJurisdictions: a report tracks the deadlines
// of the regimes it lists and of those its campaigns list, and follows a
// change of them; once its campaign is deleted it drops none; one with no
// regime anywhere says that it tracks no deadline.
func TestReportFollowsItsCampaignsJurisdictions(t *testing.T) {
	ns := namespace(t)
	c := campaign(ns)
	c.Spec.Privacy.Jurisdictions = []privacyv1alpha1.Jurisdiction{privacyv1alpha1.JurisdictionGDPR}
	create(t, policy(ns), c)
	detected := breachClock.Now().Add(-time.Hour).Truncate(time.Second)
	regimes := func(b *privacyv1alpha1.BreachReport) []string {
		var out []string
		for _, d := range b.Status.Deadlines {
			if !slices.Contains(out, string(d.Regime)) {
				out = append(out, string(d.Regime))
			}
		}
		return out
	}
	create(t, report(ns, "unlisted", detected, "checkout-nps"))
	b := reportStatus(t, ns, "unlisted", func(b *privacyv1alpha1.BreachReport) error {
		if got := regimes(b); !slices.Equal(got, []string{"GDPR"}) {
			return fmt.Errorf("deadlines of %v, want GDPR's, the campaign's", got)
		}
		return nil
	})
	if due := deadline(b, "GDPR Authority").Due; due == nil || !due.Equal(&metav1.Time{Time: detected.Add(72 * time.Hour)}) {
		t.Errorf("GDPR Authority due %v, want 72 hours after detection, %v", due, detected.Add(72*time.Hour))
	}
	if cond := meta.FindStatusCondition(b.Status.Conditions, privacyv1alpha1.ConditionOverdue); cond == nil || cond.Reason != privacyv1alpha1.ReasonDeadlinesMet {
		t.Errorf("Overdue %+v, want reason %s", cond, privacyv1alpha1.ReasonDeadlinesMet)
	}

	// The campaign's regimes change: the report follows without an edit.
	// (Once the campaign has settled, so that no other change of it, its
	// first key, wakes the report instead.)
	waitFor(t, ns, c.Name, c, func(c *privacyv1alpha1.SurveyCampaign) error {
		if c.Status.Encryption == nil || c.Status.ObservedGeneration != c.Generation {
			return fmt.Errorf("encryption %+v, observedGeneration %d of %d", c.Status.Encryption, c.Status.ObservedGeneration, c.Generation)
		}
		return nil
	})
	update(t, c, func() {
		c.Spec.Privacy.Jurisdictions = []privacyv1alpha1.Jurisdiction{privacyv1alpha1.JurisdictionGDPR, privacyv1alpha1.JurisdictionDPDP}
	})
	reportStatus(t, ns, "unlisted", func(b *privacyv1alpha1.BreachReport) error {
		if got := regimes(b); !slices.Equal(got, []string{"DPDP", "GDPR"}) {
			return fmt.Errorf("deadlines of %v, want DPDP's and GDPR's", got)
		}
		return nil
	})

	// A report's own list adds to its campaigns': listing a regime (to
	// record a notification under it, say) drops none of theirs.
	listed := report(ns, "listed", detected, "checkout-nps")
	listed.Spec.Jurisdictions = []privacyv1alpha1.Jurisdiction{privacyv1alpha1.JurisdictionCERTIn}
	create(t, listed)
	reportStatus(t, ns, "listed", func(b *privacyv1alpha1.BreachReport) error {
		if got := regimes(b); !slices.Equal(got, []string{"CERTIn", "DPDP", "GDPR"}) {
			return fmt.Errorf("deadlines of %v, want CERTIn's, DPDP's and GDPR's", got)
		}
		if got := b.Status.Jurisdictions; !slices.Equal(got, []privacyv1alpha1.Jurisdiction{"CERTIn", "DPDP", "GDPR"}) {
			return fmt.Errorf("status.jurisdictions %v", got)
		}
		return nil
	})

	// The campaign is deleted: the duties the breach started stay.
	deleteCampaign(t, ns)
	reportStatus(t, ns, "unlisted", func(b *privacyv1alpha1.BreachReport) error {
		if !meta.IsStatusConditionTrue(b.Status.Conditions, privacyv1alpha1.ConditionStalled) {
			return fmt.Errorf("conditions %+v, want Stalled: the campaign is gone", b.Status.Conditions)
		}
		if got := regimes(b); !slices.Equal(got, []string{"DPDP", "GDPR"}) {
			return fmt.Errorf("deadlines of %v once the campaign is gone, want DPDP's and GDPR's still", got)
		}
		return nil
	})

	// No regime anywhere: said, not read as deadlines met.
	create(t, report(ns, "nowhere", detected, "ghost"))
	reportStatus(t, ns, "nowhere", func(b *privacyv1alpha1.BreachReport) error {
		cond := meta.FindStatusCondition(b.Status.Conditions, privacyv1alpha1.ConditionOverdue)
		if len(b.Status.Deadlines) != 0 || cond == nil || cond.Status != metav1.ConditionFalse || cond.Reason != privacyv1alpha1.ReasonNoJurisdictions {
			return fmt.Errorf("deadlines %v, Overdue %+v; want none and reason %s", b.Status.Deadlines, cond, privacyv1alpha1.ReasonNoJurisdictions)
		}
		return nil
	})
}

// TestKeysMadeAfterTheReportCountAsItsRotation: a campaign whose keys are
// made after a report asked for their rotation takes its first key as that
// rotation: the breach cannot have exposed a key made after it was
// reported. The containment is recorded with it at once, and no second key
// is made for nothing (it was made at the next look, a minute later).
func TestKeysMadeAfterTheReportCountAsItsRotation(t *testing.T) {
	ns := namespace(t)
	b := report(ns, "early", breachClock.Now().Add(-time.Hour), "checkout-nps")
	b.Spec.Containment = privacyv1alpha1.ContainmentSpec{RotateKeys: ptr.To(true)}
	create(t, b)
	reportStatus(t, ns, "early", func(b *privacyv1alpha1.BreachReport) error {
		if !meta.IsStatusConditionTrue(b.Status.Conditions, privacyv1alpha1.ConditionStalled) {
			return fmt.Errorf("conditions %+v, want Stalled: its campaign does not exist yet", b.Status.Conditions)
		}
		return nil
	})
	versions := watchVersions[privacyv1alpha1.SurveyCampaign](t, ns, &privacyv1alpha1.SurveyCampaignList{})
	create(t, policy(ns), campaign(ns))
	b = reportStatus(t, ns, "early", func(b *privacyv1alpha1.BreachReport) error {
		if b.Status.Phase != privacyv1alpha1.BreachPhaseContained || len(b.Status.Containment) != 1 {
			return fmt.Errorf("phase %s, containment %+v", b.Status.Phase, b.Status.Containment)
		}
		return nil
	})
	if rec := b.Status.Containment[0]; rec.KeyID != "k1" || rec.KeysRotatedAt == nil {
		t.Errorf("containment record %+v, want the first key, k1", rec)
	}
	keys := &corev1.Secret{}
	if err := get(ns, "checkout-nps-keys", keys); err != nil {
		t.Fatal(err)
	}
	if ids := slices.Sorted(maps.Keys(keys.Data)); string(keys.Data["active"]) != "k1" || slices.Contains(ids, "key-k2") {
		t.Errorf("key Secret holds %v, active %s; want k1 alone", ids, keys.Data["active"])
	}
	// The pass that made the key published its record with it: the report,
	// which reads only the campaign, waits for no later pass (one may
	// come only at the next look, a minute later).
	var first *privacyv1alpha1.SurveyCampaign
	eventually(t, "the watch delivered the status naming the key", func() error {
		for _, c := range versions() {
			if e := c.Status.Encryption; e != nil && e.ActiveKeyID != "" {
				first = &c
				return nil
			}
		}
		return fmt.Errorf("no version names a key yet")
	})
	if e := first.Status.Encryption; len(e.BreachRotations) != 1 || e.BreachRotations[0].ReportUID != string(b.UID) || e.BreachRotations[0].KeyID != "k1" {
		t.Errorf("the first status naming the key, resourceVersion %s, publishes breach rotations %+v; want the report's, k1",
			first.ResourceVersion, e.BreachRotations)
	}
}
