package faults

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
)

// The auditor watches every campaign and breach report while faults happen
// and checks each claim the operator publishes against the objects the claim
// is about, read from the API server as soon as the claim is seen. A claim
// that holds when it is published keeps holding while the test runs: the
// children it names are never deleted (but for a campaign's own deletion,
// which is skipped), revisions only grow, and the tests pause campaigns but
// never resume them. So a claim found false is a lie, not a race.
//
// The classes of lie, each checked as a subtest:
const (
	// Ready=True while a child is missing, or for another generation than the object's.
	lieReady = "ReadyWithoutChildren"
	// status.observedGeneration is the object's generation and the campaign
	// is not Stalled (the pass judged it, built it and did not fail) while a
	// child is missing, the ConfigMap was built from an older spec, or the
	// key Secret lacks status.encryption's active key or a breach rotation
	// status.encryption.breachRotations lists. (A stall observes its
	// generation too, as a conclusion that the spec cannot work: it claims
	// no children.)
	lieObserved = "ObservedGenerationWithoutChildren"
	// The campaign says its collector is scaled to zero (status.pausedBy, or
	// CollectorAvailable or Ready with reason Paused, whose message says so)
	// while its Deployment asks for replicas.
	liePaused = "PausedButNotScaledDown"
	// A breach report records pausedAt for a campaign whose Deployment asks for replicas.
	lieReportPaused = "ReportPausedButNotScaledDown"
	// A breach report records a key rotation that the key Secret does not show.
	lieReportRotated = "ReportRotationNotInKeySecret"
	// A breach report is Contained (for its generation) while a campaign it
	// names, which exists, has no record of the containment asked for.
	lieContained = "ContainedTooEarly"
)

var lieClasses = []string{lieReady, lieObserved, liePaused, lieReportPaused, lieReportRotated, lieContained}

type auditor struct {
	k8s    client.WithWatch
	ns     string
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// checks bounds the checks under way: each event is checked at once,
	// beside the others, so that a lie is seen before the next pass mends it.
	checks chan struct{}

	mu       sync.Mutex
	lies     map[string][]string // by class, each message once
	said     map[string]bool     // class and message of every lie noted
	checked  int                 // claims checked against the objects they describe
	verified map[string]string   // object UID → the claims last found true
	lag      time.Duration       // longest time from an event to the start of its check
}

// startAuditor watches campaigns and reports in ns until stop.
func startAuditor(t *testing.T, k8s client.WithWatch, ns string) *auditor {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a := &auditor{k8s: k8s, ns: ns, cancel: cancel, checks: make(chan struct{}, 16),
		lies: map[string][]string{}, said: map[string]bool{}, verified: map[string]string{}}
	a.wg.Go(func() { a.watch(ctx, &privacyv1alpha1.SurveyCampaignList{}) })
	a.wg.Go(func() { a.watch(ctx, &privacyv1alpha1.BreachReportList{}) })
	t.Cleanup(a.stop)
	return a
}

func (a *auditor) stop() {
	a.cancel()
	a.wg.Wait()
}

// watch handles every event of one kind; a closed watch starts again (its
// first events are the objects as they are, checked again).
func (a *auditor) watch(ctx context.Context, list client.ObjectList) {
	for ctx.Err() == nil {
		w, err := a.k8s.Watch(ctx, list, client.InNamespace(a.ns))
		if err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		for ev := range w.ResultChan() {
			if ev.Type != watch.Added && ev.Type != watch.Modified {
				continue
			}
			seen := time.Now()
			a.checks <- struct{}{}
			a.wg.Go(func() {
				defer func() { <-a.checks }()
				a.mu.Lock()
				a.lag = max(a.lag, time.Since(seen))
				a.mu.Unlock()
				switch o := ev.Object.(type) {
				case *privacyv1alpha1.SurveyCampaign:
					a.campaign(ctx, o)
				case *privacyv1alpha1.BreachReport:
					a.report(ctx, o)
				}
			})
		}
		w.Stop()
	}
}

// seen says whether these claims of obj were already found true (they stay true).
func (a *auditor) seen(obj client.Object, claims string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.verified[string(obj.GetUID())] == claims {
		return true
	}
	a.checked++
	return false
}

func (a *auditor) holds(obj client.Object, claims string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.verified[string(obj.GetUID())] = claims
}

func (a *auditor) lie(class, msg string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.said[class+msg] {
		return
	}
	a.said[class+msg] = true
	a.lies[class] = append(a.lies[class], time.Now().Format("15:04:05.000")+" "+msg)
}

// gone says whether the campaign was deleted or is being deleted: its claims are no longer checked.
func (a *auditor) gone(ctx context.Context, name string) bool {
	c := &privacyv1alpha1.SurveyCampaign{}
	err := a.k8s.Get(ctx, client.ObjectKey{Namespace: a.ns, Name: name}, c)
	return apierrors.IsNotFound(err) || (err == nil && !c.DeletionTimestamp.IsZero())
}

// missingChildren lists the children of campaign name that do not exist.
func (a *auditor) missingChildren(ctx context.Context, name string) ([]string, error) {
	var missing []string
	for _, k := range childKinds {
		for _, n := range k.names(name) {
			err := a.k8s.Get(ctx, client.ObjectKey{Namespace: a.ns, Name: n}, k.object())
			switch {
			case apierrors.IsNotFound(err):
				missing = append(missing, k.kind+"/"+n)
			case err != nil:
				return nil, err
			}
		}
	}
	return missing, nil
}

// replicas is the campaign's Deployment's spec.replicas, -1 when there is none.
func (a *auditor) replicas(ctx context.Context, campaign string) (int32, error) {
	d := &appsv1.Deployment{}
	err := a.k8s.Get(ctx, client.ObjectKey{Namespace: a.ns, Name: campaign + "-collector"}, d)
	switch {
	case apierrors.IsNotFound(err):
		return -1, nil
	case err != nil:
		return 0, err
	case d.Spec.Replicas == nil:
		return 1, nil
	}
	return *d.Spec.Replicas, nil
}

func (a *auditor) campaign(ctx context.Context, c *privacyv1alpha1.SurveyCampaign) {
	if !c.DeletionTimestamp.IsZero() {
		return
	}
	ready := condition(c.Status.Conditions, privacyv1alpha1.ConditionReady)
	isReady := ready != nil && ready.Status == metav1.ConditionTrue
	stalled := condition(c.Status.Conditions, privacyv1alpha1.ConditionStalled)
	current := c.Status.ObservedGeneration > 0 && c.Status.ObservedGeneration == c.Generation &&
		(stalled == nil || stalled.Status != metav1.ConditionTrue)
	paused := len(c.Status.PausedBy) > 0
	for _, typ := range []string{privacyv1alpha1.ConditionCollectorAvailable, privacyv1alpha1.ConditionReady} {
		if cond := condition(c.Status.Conditions, typ); cond != nil && cond.Reason == privacyv1alpha1.ReasonPaused {
			paused = true
		}
	}
	if !isReady && !current && !paused {
		return
	}
	active := ""
	var rotated []privacyv1alpha1.BreachKeyRotation
	if c.Status.Encryption != nil {
		active, rotated = c.Status.Encryption.ActiveKeyID, c.Status.Encryption.BreachRotations
	}
	claims := fmt.Sprintf("ready=%v/%d current=%v/%d rev=%d paused=%v key=%s rotated=%v", isReady, condGen(ready), current, c.Generation,
		revision(c.Spec.Question), paused, active, rotated)
	if a.seen(c, claims) {
		return
	}
	var lies []string // class: message
	missing, err := a.missingChildren(ctx, c.Name)
	if err != nil {
		return // the API server did not answer: nothing learned
	}
	if isReady && (len(missing) > 0 || ready.ObservedGeneration != c.Generation) {
		lies = append(lies, fmt.Sprintf("%s:campaign %s is Ready (%s, for generation %d of %d) while %v are missing",
			lieReady, c.Name, ready.Reason, ready.ObservedGeneration, c.Generation, missing))
	}
	if current {
		why := missing
		cm := &corev1.ConfigMap{}
		if err := a.k8s.Get(ctx, client.ObjectKey{Namespace: a.ns, Name: c.Name + "-collector"}, cm); err == nil {
			if got, want := revision(cm.Data[configFile]), revision(c.Spec.Question); got < want {
				why = append(why, fmt.Sprintf("the ConfigMap is at revision %d, the spec at %d", got, want))
			}
		}
		keys := &corev1.Secret{}
		if err := a.k8s.Get(ctx, client.ObjectKey{Namespace: a.ns, Name: c.Name + "-keys"}, keys); err == nil {
			if active != "" && len(keys.Data["key-"+active]) == 0 {
				why = append(why, "the key Secret has no key "+active)
			}
			for _, r := range rotated {
				if mismatch := rotationMismatch(keys, types.UID(r.ReportUID), r.KeyID); mismatch != "" {
					why = append(why, fmt.Sprintf("status.encryption.breachRotations lists key %s for report uid %s, but %s", r.KeyID, r.ReportUID, mismatch))
				}
			}
		}
		if len(why) > 0 {
			lies = append(lies, fmt.Sprintf("%s:campaign %s says observedGeneration %d (its generation) while %v",
				lieObserved, c.Name, c.Status.ObservedGeneration, why))
		}
	}
	if paused {
		n, err := a.replicas(ctx, c.Name)
		if err != nil {
			return
		}
		if n != 0 {
			cond := condition(c.Status.Conditions, privacyv1alpha1.ConditionCollectorAvailable)
			lies = append(lies, fmt.Sprintf("%s:campaign %s says pausedBy %v, CollectorAvailable %s/%s %q, while its Deployment asks for %d replicas",
				liePaused, c.Name, c.Status.PausedBy, condStatus(cond), condReason(cond), condMessage(cond), n))
		}
	}
	a.record(ctx, c, claims, c.Name, lies)
}

// record notes lies unless the campaign went meanwhile, or that the claims hold.
func (a *auditor) record(ctx context.Context, obj client.Object, claims, campaign string, lies []string) {
	if len(lies) == 0 {
		a.holds(obj, claims)
		return
	}
	if campaign != "" && a.gone(ctx, campaign) {
		return
	}
	for _, l := range lies {
		class, msg, _ := strings.Cut(l, ":")
		a.lie(class, msg)
	}
}

func (a *auditor) report(ctx context.Context, b *privacyv1alpha1.BreachReport) {
	if !b.DeletionTimestamp.IsZero() || b.Spec.ResolvedAt != nil {
		return
	}
	contained := condition(b.Status.Conditions, privacyv1alpha1.ConditionContained)
	isContained := contained != nil && contained.Status == metav1.ConditionTrue && contained.ObservedGeneration == b.Generation
	claims := fmt.Sprintf("contained=%v %+v", isContained, b.Status.Containment)
	if a.seen(b, claims) {
		return
	}
	recs := map[string]privacyv1alpha1.CampaignContainment{}
	for _, r := range b.Status.Containment {
		recs[r.Campaign] = r
	}
	for _, rec := range b.Status.Containment {
		var lies []string
		if rec.PausedAt != nil {
			n, err := a.replicas(ctx, rec.Campaign)
			if err != nil {
				return
			}
			if n != 0 {
				lies = append(lies, fmt.Sprintf("%s:report %s records that campaign %s was paused at %s while its Deployment asks for %d replicas",
					lieReportPaused, b.Name, rec.Campaign, rec.PausedAt.UTC().Format(time.RFC3339), n))
			}
		}
		if rec.KeysRotatedAt != nil {
			keys := &corev1.Secret{}
			err := a.k8s.Get(ctx, client.ObjectKey{Namespace: a.ns, Name: rec.Campaign + "-keys"}, keys)
			if err != nil && !apierrors.IsNotFound(err) {
				return
			}
			if err != nil {
				keys = nil
			}
			if why := rotationMismatch(keys, b.UID, rec.KeyID); why != "" {
				lies = append(lies, fmt.Sprintf("%s:report %s records key %s for campaign %s, but %s", lieReportRotated, b.Name, rec.KeyID, rec.Campaign, why))
			}
		}
		if len(lies) > 0 && !a.gone(ctx, rec.Campaign) {
			for _, l := range lies {
				class, msg, _ := strings.Cut(l, ":")
				a.lie(class, msg)
			}
			return
		}
	}
	if pause, rotate := containment(b); isContained {
		for _, ref := range b.Spec.CampaignRefs {
			rec := recs[ref.Name]
			if (pause && rec.PausedAt == nil) || (rotate && rec.KeysRotatedAt == nil) {
				if !a.gone(ctx, ref.Name) {
					a.lie(lieContained, fmt.Sprintf("report %s is Contained while campaign %s has %+v", b.Name, ref.Name, rec))
					return
				}
			}
		}
	}
	a.holds(b, claims)
}

// verdict stops the auditor and returns what it found: how many claims it
// checked, the longest wait of an event for its check, the lies by class.
func (a *auditor) verdict() (checked int, lag time.Duration, lies map[string][]string) {
	a.stop()
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string][]string{}
	for k, v := range a.lies {
		out[k] = slices.Clone(v)
	}
	return a.checked, a.lag, out
}

// judge runs one subtest per class of lie: it fails on any lie of its class.
func judge(t *testing.T, lies map[string][]string) {
	t.Helper()
	classes := slices.Clone(lieClasses)
	sort.Strings(classes)
	for _, class := range classes {
		t.Run(class, func(t *testing.T) {
			if found := lies[class]; len(found) > 0 {
				t.Errorf("%d lies, first:\n%s", len(found), firstFew(found, 10))
			}
		})
	}
}

func condGen(c *metav1.Condition) int64 {
	if c == nil {
		return 0
	}
	return c.ObservedGeneration
}

func condStatus(c *metav1.Condition) metav1.ConditionStatus {
	if c == nil {
		return "-"
	}
	return c.Status
}

func condReason(c *metav1.Condition) string {
	if c == nil {
		return "-"
	}
	return c.Reason
}

func condMessage(c *metav1.Condition) string {
	if c == nil {
		return ""
	}
	return c.Message
}
