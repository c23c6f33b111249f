package controllers

import (
	"context"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
)

func TestCampaignChangedPassesWhatAPassActsOn(t *testing.T) {
	base := &privacyv1alpha1.SurveyCampaign{ObjectMeta: metav1.ObjectMeta{
		Name: "nps", Namespace: "team", Generation: 1, Labels: map[string]string{"team": "a"},
		Finalizers: []string{privacyv1alpha1.Finalizer},
	}}
	for _, tc := range []struct {
		name   string
		change func(c *privacyv1alpha1.SurveyCampaign)
		want   bool
	}{
		{"status only (the pass's own patch)", func(c *privacyv1alpha1.SurveyCampaign) { c.Status.ObservedGeneration = 1 }, false},
		{"the spec (generation)", func(c *privacyv1alpha1.SurveyCampaign) { c.Generation = 2 }, true},
		{"a label", func(c *privacyv1alpha1.SurveyCampaign) { c.Labels["team"] = "b" }, true},
		{"an annotation", func(c *privacyv1alpha1.SurveyCampaign) { c.Annotations = map[string]string{"note": "x"} }, true},
		{"deletion", func(c *privacyv1alpha1.SurveyCampaign) { c.DeletionTimestamp = &metav1.Time{Time: time.Unix(1, 0)} }, true},
		{"the operator's finalizer removed", func(c *privacyv1alpha1.SurveyCampaign) { c.Finalizers = nil }, true},
		{"another finalizer added", func(c *privacyv1alpha1.SurveyCampaign) { c.Finalizers = append(c.Finalizers, "example.com/x") }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			updated := base.DeepCopy()
			tc.change(updated)
			if got := campaignChanged.Update(event.UpdateEvent{ObjectOld: base, ObjectNew: updated}); got != tc.want {
				t.Errorf("passes %v, want %v", got, tc.want)
			}
		})
	}

	// The pass's own finalizer addition, on a new campaign, is not a reason
	// for a second pass.
	fresh := base.DeepCopy()
	fresh.Finalizers = nil
	if campaignChanged.Update(event.UpdateEvent{ObjectOld: fresh, ObjectNew: base}) {
		t.Error("the finalizer's addition starts another pass")
	}
}

func TestCronJobScheduledPassesTheLastScheduleTime(t *testing.T) {
	cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "nps-retention", Namespace: "team"}}
	if cronJobScheduled.Create(event.CreateEvent{Object: cj}) {
		t.Error("a new CronJob with no schedule time passes")
	}
	ran := cj.DeepCopy()
	ran.Status.LastScheduleTime = &metav1.Time{Time: time.Unix(3600, 0)}
	if !cronJobScheduled.Create(event.CreateEvent{Object: ran}) {
		t.Error("a CronJob listed with a schedule time does not pass")
	}
	if !cronJobScheduled.Update(event.UpdateEvent{ObjectOld: cj, ObjectNew: ran}) {
		t.Error("a new schedule time does not pass")
	}
	relabelled := ran.DeepCopy()
	relabelled.Labels = map[string]string{"x": "y"}
	if cronJobScheduled.Update(event.UpdateEvent{ObjectOld: ran, ObjectNew: relabelled}) {
		t.Error("a change that leaves the schedule time passes")
	}
	if !cronJobScheduled.Delete(event.DeleteEvent{Object: ran}) {
		t.Error("a deletion does not pass")
	}
}

func TestEnqueueAfterMakesABurstOneRequest(t *testing.T) {
	q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
	defer q.ShutDown()
	h := enqueueAfter(10*time.Millisecond, func(_ context.Context, o client.Object) []reconcile.Request {
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: o.GetNamespace(), Name: o.GetLabels()["policy"]}}}
	})
	ctx := context.Background()
	for i := range 50 {
		c := &privacyv1alpha1.SurveyCampaign{ObjectMeta: metav1.ObjectMeta{
			Namespace: "team", Name: "c" + string(rune('a'+i%26)), Labels: map[string]string{"policy": "ninety-days"},
		}}
		h.Create(ctx, event.CreateEvent{Object: c}, q)
	}
	if n := q.Len(); n != 0 {
		t.Fatalf("%d requests ready before the delay", n)
	}
	got, _ := q.Get()
	q.Done(got)
	if want := (reconcile.Request{NamespacedName: client.ObjectKey{Namespace: "team", Name: "ninety-days"}}); got != want {
		t.Fatalf("got %v, want %v", got, want)
	}
	if n := q.Len(); n != 0 {
		t.Errorf("50 events made %d more requests", n)
	}

	// An update enqueues what the old and the new object map to (a campaign
	// moving to another policy updates both).
	old := &privacyv1alpha1.SurveyCampaign{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "c", Labels: map[string]string{"policy": "a"}}}
	moved := old.DeepCopy()
	moved.Labels["policy"] = "b"
	h.Update(ctx, event.UpdateEvent{ObjectOld: old, ObjectNew: moved}, q)
	seen := map[string]bool{}
	for range 2 {
		r, _ := q.Get()
		seen[r.Name] = true
		q.Done(r)
	}
	if !seen["a"] || !seen["b"] {
		t.Errorf("an update enqueued %v, want both a and b", seen)
	}
}
