package controllers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
	"github.com/surveyguard/surveyguard/internal/collector"
	"github.com/surveyguard/surveyguard/internal/collector/collectortest"
	"github.com/surveyguard/surveyguard/internal/testenv"
)

func namedCampaign(ns, name string, labels map[string]string) *privacyv1alpha1.SurveyCampaign {
	c := campaign(ns)
	c.Name, c.Labels = name, labels
	return c
}

// startCollectorOf runs a real collector for campaign name with the
// operator's Secrets, logging to log, on adminAddr (empty: any port), and
// points the operator's admin client at it.
func startCollectorOf(t *testing.T, ns, name, adminAddr string, log *collectortest.SyncBuffer) *collectortest.Fixture {
	t.Helper()
	return startCollectorIn(t, t.TempDir(), ns, name, adminAddr, collector.Options{}, log)
}

// startCollectorIn is startCollectorOf with the collector's files in dir
// (a restart keeps its database) and options o.
func startCollectorIn(t *testing.T, dir, ns, name, adminAddr string, o collector.Options, log *collectortest.SyncBuffer) *collectortest.Fixture {
	t.Helper()
	eventually(t, "the Secrets of "+name, func() error {
		return testenv.MountCampaignSecrets(context.Background(), k8s, ns, name, filepath.Join(dir, "secrets"))
	})
	if log != nil {
		o.Log = funcr.New(func(prefix, args string) { fmt.Fprintln(log, prefix, args) }, funcr.Options{Verbosity: 2})
	}
	f := collectortest.StartAsCampaignWith(t, dir, name+"-collector."+ns+".svc", adminAddr, o)
	collectors.Dial(ns+"/"+name, strings.TrimPrefix(f.Admin, "https://"))
	markAvailableOf(t, ns, name)
	return f
}

// markAvailableOf reports the campaign's collector Deployment as rolled out
// and available, as the Deployment controller would.
func markAvailableOf(t *testing.T, ns, name string) {
	t.Helper()
	eventually(t, name+" Deployment marked available", func() error {
		d := &appsv1.Deployment{}
		if err := get(ns, name+"-collector", d); err != nil {
			return err
		}
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 1, ReadyReplicas: 1, AvailableReplicas: 1, UpdatedReplicas: 1}
		return k8s.Status().Update(context.Background(), d)
	})
}

func responsesIn(t *testing.T, f *collectortest.Fixture) float64 {
	t.Helper()
	a := adminStats(t, f)
	n, _ := a.Body["responses"].(float64)
	return n
}

func erasureStatus(t *testing.T, ns, name string, check func(*privacyv1alpha1.ErasureRequest) error) *privacyv1alpha1.ErasureRequest {
	t.Helper()
	return waitFor(t, ns, name, &privacyv1alpha1.ErasureRequest{}, check)
}

func completed(er *privacyv1alpha1.ErasureRequest) error {
	if er.Status.Phase != privacyv1alpha1.ErasurePhaseCompleted || er.Status.ObservedGeneration != er.Generation {
		return fmt.Errorf("phase %q (generation %d observed %d): %+v", er.Status.Phase, er.Generation, er.Status.ObservedGeneration, er.Status.Results)
	}
	return nil
}

func resultOf(er *privacyv1alpha1.ErasureRequest, campaign string) privacyv1alpha1.ErasureResult {
	for _, r := range er.Status.Results {
		if r.Campaign == campaign {
			return r
		}
	}
	return privacyv1alpha1.ErasureResult{}
}

var hexDigest = regexp.MustCompile(`^[0-9a-f]{64}$`)

// TestErasureAcrossCampaigns: a request whose subject is in a Secret erases
// the person's responses from the two campaigns its selector matches, and
// only theirs; the receipts, totals and the campaigns' figures say so; a
// campaign outside the selector and one created later are not touched;
// applying it again erases nothing more; and the identifier appears in no
// log, event, status, metric or other object the operator or the collectors
// made.
func TestErasureAcrossCampaigns(t *testing.T) {
	ns := namespace(t)
	shop := map[string]string{"team": "shop"}
	create(t, policy(ns), namedCampaign(ns, "checkout-nps", shop), namedCampaign(ns, "support-nps", shop),
		namedCampaign(ns, "other-nps", map[string]string{"team": "other"}))
	var logA, logB, logC collectortest.SyncBuffer
	fa := startCollectorOf(t, ns, "checkout-nps", "", &logA)
	fb := startCollectorOf(t, ns, "support-nps", "", &logB)
	fc := startCollectorOf(t, ns, "other-nps", "", &logC)

	const subject = "CUST-erasure-7f3a9"
	for i, s := range []int{10, 9, 9, 8, 7, 6} {
		post(t, fa, s, fmt.Sprintf("C-%d", i))
		post(t, fb, s, fmt.Sprintf("C-%d", i))
	}
	post(t, fa, 0, subject)
	post(t, fa, 2, subject)
	post(t, fb, 1, subject)
	post(t, fc, 3, subject)
	beforeA, beforeB, beforeC := responsesIn(t, fa), responsesIn(t, fb), responsesIn(t, fc)

	create(t, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "erasure-subject"},
		Data:       map[string][]byte{"customerID": []byte(subject + "\n")},
	}, &privacyv1alpha1.ErasureRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "forget-me"},
		Spec: privacyv1alpha1.ErasureRequestSpec{
			Subject:          privacyv1alpha1.ErasureSubject{SecretRef: &privacyv1alpha1.SecretKeyReference{Name: "erasure-subject"}},
			CampaignSelector: &metav1.LabelSelector{MatchLabels: shop},
			Regime:           privacyv1alpha1.ErasureRegimeGDPR,
		},
	})
	er := erasureStatus(t, ns, "forget-me", completed)

	if got := []string{er.Status.Results[0].Campaign, er.Status.Results[1].Campaign}; len(er.Status.Results) != 2 || !slices.Equal(got, []string{"checkout-nps", "support-nps"}) {
		t.Fatalf("results %+v, want checkout-nps and support-nps only", er.Status.Results)
	}
	for campaign, want := range map[string]int64{"checkout-nps": 2, "support-nps": 1} {
		r := resultOf(er, campaign)
		if r.State != privacyv1alpha1.ErasureCampaignErased || ptr.Deref(r.Erased, -1) != want || r.At == nil || !hexDigest.MatchString(r.Digest) {
			t.Errorf("%s: %+v, want Erased, %d erased, a time and a SHA-256 digest", campaign, r, want)
		}
	}
	if ptr.Deref(er.Status.Erased, -1) != 3 || er.Status.CompletedAt == nil {
		t.Errorf("status.erased %v completedAt %v, want 3 and a time", er.Status.Erased, er.Status.CompletedAt)
	}
	// One Erased event for each campaign, each its own object naming the
	// campaign as related (the events API would fold two of one reason,
	// action and related object into one, keeping the first one's note).
	eventually(t, "an Erased event for each campaign", func() error {
		evs := &eventsv1.EventList{}
		if err := k8s.List(context.Background(), evs, client.InNamespace(ns)); err != nil {
			return err
		}
		var got []string
		for _, e := range evs.Items {
			if e.Regarding.Name == "forget-me" && e.Reason == "Erased" && e.Related != nil {
				got = append(got, e.Related.Kind+"/"+e.Related.Name+": "+e.Note)
			}
		}
		slices.Sort(got)
		if len(got) != 2 || !strings.HasPrefix(got[0], "SurveyCampaign/checkout-nps: campaign checkout-nps erased 2 responses") ||
			!strings.HasPrefix(got[1], "SurveyCampaign/support-nps: campaign support-nps erased 1 responses") {
			return fmt.Errorf("Erased events %q", got)
		}
		return nil
	})
	if ready := meta.FindStatusCondition(er.Status.Conditions, privacyv1alpha1.ConditionReady); ready == nil || ready.Status != metav1.ConditionTrue {
		t.Errorf("Ready %+v, want True", ready)
	}
	if got := erasureKstatus(t, er); got != status.CurrentStatus {
		t.Errorf("kstatus %s, want Current", got)
	}
	if len(er.Status.Deadlines) != 1 || er.Status.Deadlines[0].State != "Met" || er.Status.Due == nil {
		t.Errorf("deadlines %+v due %v, want the GDPR response Met", er.Status.Deadlines, er.Status.Due)
	}
	if a, b, c := responsesIn(t, fa), responsesIn(t, fb), responsesIn(t, fc); a != beforeA-2 || b != beforeB-1 || c != beforeC {
		t.Errorf("responses %v %v %v, want %v %v %v: the subject's gone from the selected campaigns only", a, b, c, beforeA-2, beforeB-1, beforeC)
	}
	// The campaigns' figures follow: the receipts bring a pass that reads them.
	eventually(t, "checkout-nps publishes the figures after the erasure", func() error {
		c := &privacyv1alpha1.SurveyCampaign{}
		if err := get(ns, "checkout-nps", c); err != nil {
			return err
		}
		if c.Status.NPS == nil || float64(c.Status.NPS.Responses) != beforeA-2 {
			return fmt.Errorf("nps %+v, want %v responses", c.Status.NPS, beforeA-2)
		}
		return nil
	})

	// The same person answers again; re-applying the request, and changing
	// what may change (an extension), erases nothing more: a completed
	// request is never run again.
	post(t, fa, 4, subject)
	applied := er.DeepCopy()
	applied.Status = privacyv1alpha1.ErasureRequestStatus{}
	if err := k8s.Update(context.Background(), applied); err != nil {
		t.Fatalf("re-applying the same request: %v", err)
	}
	if applied.Generation != er.Generation {
		t.Errorf("re-applying the same spec moved the generation %d -> %d", er.Generation, applied.Generation)
	}
	applied.Spec.Extension = privacyv1alpha1.ErasureExtension{Until: &metav1.Time{Time: er.Status.Due.Add(24 * time.Hour)}, Reason: "complex request"}
	if err := k8s.Update(context.Background(), applied); err != nil {
		t.Fatalf("adding an extension: %v", err)
	}
	again := erasureStatus(t, ns, "forget-me", completed)
	for _, campaign := range []string{"checkout-nps", "support-nps"} {
		if was, now := resultOf(er, campaign), resultOf(again, campaign); !equalResult(was, now) {
			t.Errorf("%s changed after re-applying: %+v -> %+v", campaign, was, now)
		}
	}
	if got := responsesIn(t, fa); got != beforeA-1 {
		t.Errorf("checkout-nps holds %v responses, want %v: the answer given after completion stays", got, beforeA-1)
	}

	// A campaign created after the request was first seen is not added.
	create(t, namedCampaign(ns, "late-nps", shop))
	eventually(t, "late-nps reconciled", func() error {
		c := &privacyv1alpha1.SurveyCampaign{}
		if err := get(ns, "late-nps", c); err != nil || c.Status.ObservedGeneration != c.Generation {
			return fmt.Errorf("not yet (%v)", err)
		}
		return nil
	})
	if last := erasureStatus(t, ns, "forget-me", completed); len(last.Status.Results) != 2 {
		t.Errorf("results %+v after a matching campaign was created, want the first two only", last.Status.Results)
	}

	assertNowhere(t, ns, subject, map[string]string{"manager log": managerLog.String(), "checkout-nps collector log": logA.String(),
		"support-nps collector log": logB.String(), "other-nps collector log": logC.String()}, "erasure-subject")
	if !strings.Contains(logA.String(), "erase") {
		t.Errorf("the collector's audit log does not record the erasure:\n%s", logA.String())
	}
}

// erasureKstatus is the request's kstatus as the API server returns it.
func erasureKstatus(t *testing.T, er *privacyv1alpha1.ErasureRequest) status.Status {
	t.Helper()
	u, err := unstructuredOf(er.DeepCopy())
	if err != nil {
		t.Fatal(err)
	}
	got, _ := kstatus(t, u)
	return got
}

func equalResult(a, b privacyv1alpha1.ErasureResult) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// assertNowhere fails when value appears in a log, or in any object of the
// namespace but the Secret named secret (the user's own copy), or in the
// operator's metrics.
func assertNowhere(t *testing.T, ns, value string, logs map[string]string, secret string) {
	t.Helper()
	for name, text := range logs {
		if strings.Contains(text, value) {
			t.Errorf("the %s holds the subject's identifier", name)
		}
	}
	lists := []client.ObjectList{
		&privacyv1alpha1.SurveyCampaignList{}, &privacyv1alpha1.ErasureRequestList{}, &privacyv1alpha1.BreachReportList{},
		&privacyv1alpha1.RetentionPolicyList{}, &corev1.SecretList{}, &corev1.ConfigMapList{}, &corev1.ServiceList{},
		&appsv1.DeploymentList{}, &eventsv1.EventList{}, &corev1.EventList{},
	}
	for _, l := range lists {
		if err := k8s.List(context.Background(), l, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		items, err := meta.ExtractList(l)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			o := it.(client.Object)
			if _, isSecret := o.(*corev1.Secret); isSecret && o.GetName() == secret {
				continue
			}
			data, err := json.Marshal(o)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(data, []byte(value)) {
				t.Errorf("%T %s holds the subject's identifier", o, o.GetName())
			}
		}
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(erasureMetrics, metrics, breachMetrics)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	for _, f := range families {
		_, _ = expfmt.MetricFamilyToText(&text, f)
	}
	if strings.Contains(text.String(), value) {
		t.Error("the operator's metrics hold the subject's identifier")
	}
	if !strings.Contains(text.String(), "surveyguard_erasure_overdue") {
		t.Error("surveyguard_erasure_overdue is not exported")
	}
}

// TestPausedCampaignIsErasedAndStaysPaused: a breach report pauses the
// campaign (its collector scaled to zero); an erasure runs the collector
// admin-only (one replica, public listener off) until it is erased, then
// scales it back to zero. The campaign reads paused throughout.
func TestPausedCampaignIsErasedAndStaysPaused(t *testing.T) {
	ns := namespace(t)
	create(t, policy(ns), campaign(ns))
	dir := t.TempDir()
	f := startCollectorIn(t, dir, ns, "checkout-nps", "", collector.Options{}, nil)
	const subject = "C-paused-31"
	post(t, f, 2, subject)
	post(t, f, 9, "C-other")
	admin := strings.TrimPrefix(f.Admin, "https://")
	f.Stop() // scaled to zero: no collector answers
	b := report(ns, "stolen-laptop", breachClock.Now(), "checkout-nps")
	b.Spec.Containment = privacyv1alpha1.ContainmentSpec{PauseCollection: ptr.To(true)}
	create(t, b)
	deployment := func(check func(*appsv1.Deployment) error) {
		t.Helper()
		eventually(t, "collector Deployment", func() error {
			d := &appsv1.Deployment{}
			if err := get(ns, "checkout-nps-collector", d); err != nil {
				return err
			}
			return check(d)
		})
	}
	pausedByReport := func() {
		t.Helper()
		c := &privacyv1alpha1.SurveyCampaign{}
		if err := get(ns, "checkout-nps", c); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(c.Status.PausedBy, []string{"stolen-laptop"}) {
			t.Errorf("pausedBy %v, want [stolen-laptop]", c.Status.PausedBy)
		}
	}
	scaledDown := func(d *appsv1.Deployment) error {
		if *d.Spec.Replicas != 0 || slices.Contains(d.Spec.Template.Spec.Containers[0].Args, "--admin-only") {
			return fmt.Errorf("replicas %d args %v, want 0 replicas, not admin-only", *d.Spec.Replicas, d.Spec.Template.Spec.Containers[0].Args)
		}
		return nil
	}
	deployment(scaledDown)
	eventually(t, "paused by the report", func() error {
		c := &privacyv1alpha1.SurveyCampaign{}
		if err := get(ns, "checkout-nps", c); err != nil {
			return err
		}
		if !slices.Equal(c.Status.PausedBy, []string{"stolen-laptop"}) {
			return fmt.Errorf("pausedBy %v", c.Status.PausedBy)
		}
		return nil
	})

	create(t, &privacyv1alpha1.ErasureRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "inline"},
		Spec:       privacyv1alpha1.ErasureRequestSpec{Subject: privacyv1alpha1.ErasureSubject{CustomerID: subject}, Regime: privacyv1alpha1.ErasureRegimeCCPA},
	})
	deployment(func(d *appsv1.Deployment) error {
		if *d.Spec.Replicas != 1 || !slices.Contains(d.Spec.Template.Spec.Containers[0].Args, "--admin-only") {
			return fmt.Errorf("replicas %d args %v, want one admin-only replica", *d.Spec.Replicas, d.Spec.Template.Spec.Containers[0].Args)
		}
		return nil
	})
	pausedByReport()
	erasureStatus(t, ns, "inline", func(er *privacyv1alpha1.ErasureRequest) error {
		if r := resultOf(er, "checkout-nps"); r.State != privacyv1alpha1.ErasureCampaignRetrying {
			return fmt.Errorf("result %+v, want Retrying while no collector answers", r)
		}
		return nil
	})
	// The admin-only pod comes up: a collector without its public listener.
	f = startCollectorIn(t, dir, ns, "checkout-nps", admin, collector.Options{AdminOnly: true}, nil)
	er := erasureStatus(t, ns, "inline", completed)
	if r := resultOf(er, "checkout-nps"); ptr.Deref(r.Erased, -1) != 1 {
		t.Errorf("result %+v, want 1 erased", r)
	}
	if len(er.Status.Deadlines) != 2 {
		t.Errorf("CCPA deadlines %+v, want Response and Acknowledgement", er.Status.Deadlines)
	}
	deployment(scaledDown)
	pausedByReport()
	if responsesIn(t, f) != 1 {
		t.Errorf("the other respondent's answer must stay")
	}
	eventually(t, "an InlineSubject warning", func() error {
		list := &eventsv1.EventList{}
		if err := k8s.List(context.Background(), list, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, e := range list.Items {
			if e.Reason == "InlineSubject" && e.Regarding.Name == "inline" && e.Type == corev1.EventTypeWarning {
				return nil
			}
		}
		return fmt.Errorf("no InlineSubject event among %d", len(list.Items))
	})

	// A request whose subject's Secret is missing waits on a person, not
	// on the collector: the paused campaign stays at zero replicas. The
	// spec edit brings a pass that has seen the request stalled.
	create(t, &privacyv1alpha1.ErasureRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "missing-subject"},
		Spec:       privacyv1alpha1.ErasureRequestSpec{Subject: privacyv1alpha1.ErasureSubject{SecretRef: &privacyv1alpha1.SecretKeyReference{Name: "nobody"}}},
	})
	erasureStatus(t, ns, "missing-subject", func(er *privacyv1alpha1.ErasureRequest) error {
		if st := meta.FindStatusCondition(er.Status.Conditions, privacyv1alpha1.ConditionStalled); st == nil || st.Reason != privacyv1alpha1.ReasonSecretNotFound || len(er.Status.Results) != 1 {
			return fmt.Errorf("conditions %+v results %+v, want Stalled SecretNotFound with the campaign listed", er.Status.Conditions, er.Status.Results)
		}
		return nil
	})
	// Nor is a campaign's own key Secret read as a subject: naming a
	// credential would make the request's status a test of guesses at it.
	create(t, &privacyv1alpha1.ErasureRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "key-subject"},
		Spec: privacyv1alpha1.ErasureRequestSpec{Subject: privacyv1alpha1.ErasureSubject{
			SecretRef: &privacyv1alpha1.SecretKeyReference{Name: "checkout-nps-keys", Key: "active"}}},
	})
	erasureStatus(t, ns, "key-subject", func(er *privacyv1alpha1.ErasureRequest) error {
		st := meta.FindStatusCondition(er.Status.Conditions, privacyv1alpha1.ConditionStalled)
		if st == nil || st.Reason != "SubjectSecretInvalid" || !strings.Contains(st.Message, `Secret "checkout-nps-keys" (spec.subject.secretRef) is one the operator manages`) {
			return fmt.Errorf("conditions %+v, want Stalled SubjectSecretInvalid naming the operator's Secret", er.Status.Conditions)
		}
		return nil
	})
	c := &privacyv1alpha1.SurveyCampaign{}
	if err := get(ns, "checkout-nps", c); err != nil {
		t.Fatal(err)
	}
	update(t, c, func() { c.Spec.Paused = ptr.To(true) })
	eventually(t, "a pass after the stalled request", func() error {
		if err := get(ns, "checkout-nps", c); err != nil {
			return err
		}
		if c.Status.ObservedGeneration != c.Generation {
			return fmt.Errorf("observed generation %d of %d", c.Status.ObservedGeneration, c.Generation)
		}
		return nil
	})
	deployment(scaledDown)
	if a := condition(c, privacyv1alpha1.ConditionCollectorAvailable); a == nil || strings.Contains(a.Message, "admin-only") {
		t.Errorf("CollectorAvailable %+v, want no admin-only run for a stalled request", a)
	}
}

// TestUnreachableCollectorIsRetriedThenErased: while the collector cannot be
// reached the request reads Failed, Retrying, with the reason; once it
// answers, the retry erases.
func TestUnreachableCollectorIsRetriedThenErased(t *testing.T) {
	ns := namespace(t)
	create(t, policy(ns), campaign(ns))
	addr := testenv.MustFreeAddr(t) // nothing listens there yet
	collectors.Dial(ns+"/checkout-nps", addr)
	eventually(t, "the campaign's Secrets", func() error {
		return testenv.MountCampaignSecrets(context.Background(), k8s, ns, "checkout-nps", t.TempDir())
	})
	create(t, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "subject"},
		Data:       map[string][]byte{"email": []byte("someone@example.com")},
	}, &privacyv1alpha1.ErasureRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "retry"},
		Spec:       privacyv1alpha1.ErasureRequestSpec{Subject: privacyv1alpha1.ErasureSubject{SecretRef: &privacyv1alpha1.SecretKeyReference{Name: "subject"}}},
	})
	er := erasureStatus(t, ns, "retry", func(er *privacyv1alpha1.ErasureRequest) error {
		r := resultOf(er, "checkout-nps")
		if er.Status.Phase != privacyv1alpha1.ErasurePhaseFailed || r.State != privacyv1alpha1.ErasureCampaignRetrying {
			return fmt.Errorf("phase %s result %+v", er.Status.Phase, r)
		}
		return nil
	})
	r := resultOf(er, "checkout-nps")
	if !strings.Contains(r.Message, "connection refused") || !strings.Contains(r.Message, "retrying in") || ptr.Deref(r.Attempts, 0) < 1 {
		t.Errorf("result %+v, want the reason and the retry", r)
	}
	ready := meta.FindStatusCondition(er.Status.Conditions, privacyv1alpha1.ConditionReady)
	if ready == nil || ready.Reason != "Retrying" || !strings.Contains(ready.Message, "checkout-nps") {
		t.Errorf("Ready %+v, want False/Retrying naming the campaign", ready)
	}
	if got := erasureKstatus(t, er); got != status.InProgressStatus {
		t.Errorf("kstatus %s while retrying, want InProgress", got)
	}

	f := startCollectorOf(t, ns, "checkout-nps", addr, nil)
	post(t, f, 8, "C-stays") // the retry erases nothing of anyone else
	er = erasureStatus(t, ns, "retry", completed)
	if r := resultOf(er, "checkout-nps"); ptr.Deref(r.Erased, -1) != 0 || ptr.Deref(r.Attempts, 0) < 2 {
		t.Errorf("result %+v, want 0 erased after at least 2 attempts", r)
	}
	if responsesIn(t, f) != 1 {
		t.Error("another respondent's answer was erased")
	}
}

// blackHole accepts TCP connections and never answers on them: a collector
// whose process is stuck, or a network path that drops everything after the
// handshake. Closing it closes every connection it accepted.
type blackHole struct {
	ln       net.Listener
	mu       sync.Mutex
	conns    []net.Conn
	accepted int
}

func newBlackHole(t *testing.T) *blackHole {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackHole{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.mu.Lock()
			b.conns = append(b.conns, c)
			b.accepted++
			b.mu.Unlock()
		}
	}()
	t.Cleanup(b.close)
	return b
}

func (b *blackHole) acceptedConns() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.accepted
}

func (b *blackHole) close() {
	_ = b.ln.Close()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.conns {
		_ = c.Close()
	}
	b.conns = nil
}

// TestHungCollectorHoldsOnlyItsOwnCampaign: a collector that accepts the
// connection and never answers keeps its own campaign Pending for as long
// as the call may take, but the other campaigns of the same request are
// asked at the same time and their receipts are published meanwhile, and
// another request is carried out to the end.
func TestHungCollectorHoldsOnlyItsOwnCampaign(t *testing.T) {
	ns := namespace(t)
	create(t, policy(ns), namedCampaign(ns, "a-hung", map[string]string{"team": "shop"}),
		namedCampaign(ns, "b-ok", map[string]string{"team": "shop", "only": "b"}))
	hole := newBlackHole(t)
	collectors.Dial(ns+"/a-hung", hole.ln.Addr().String())
	eventually(t, "the Secrets of a-hung", func() error {
		return testenv.MountCampaignSecrets(context.Background(), k8s, ns, "a-hung", t.TempDir())
	})
	f := startCollectorOf(t, ns, "b-ok", "", nil)
	const subject = "C-hung-test"
	post(t, f, 9, subject)
	post(t, f, 7, "C-stays")

	request := func(name string, sel map[string]string) *privacyv1alpha1.ErasureRequest {
		return &privacyv1alpha1.ErasureRequest{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: privacyv1alpha1.ErasureRequestSpec{
				Subject:          privacyv1alpha1.ErasureSubject{CustomerID: subject},
				CampaignSelector: &metav1.LabelSelector{MatchLabels: sel},
			},
		}
	}
	create(t, request("both", map[string]string{"team": "shop"}))
	er := erasureStatus(t, ns, "both", func(er *privacyv1alpha1.ErasureRequest) error {
		if r := resultOf(er, "b-ok"); r.State != privacyv1alpha1.ErasureCampaignErased {
			return fmt.Errorf("b-ok %+v, want Erased while a-hung's call is in flight", r)
		}
		return nil
	})
	if hole.acceptedConns() == 0 {
		t.Fatal("a-hung's collector was never called")
	}
	if r := resultOf(er, "a-hung"); r.State != privacyv1alpha1.ErasureCampaignPending || er.Status.Phase != privacyv1alpha1.ErasurePhaseInProgress {
		t.Errorf("phase %s, a-hung %+v: want InProgress with a-hung Pending, its call unanswered", er.Status.Phase, r)
	}
	if r := resultOf(er, "b-ok"); ptr.Deref(r.Erased, -1) != 1 || ptr.Deref(er.Status.Erased, -1) != 1 {
		t.Errorf("b-ok %+v, status.erased %v: want 1 erased", r, er.Status.Erased)
	}

	// Another request is not queued behind the one waiting on a-hung.
	create(t, request("only-b", map[string]string{"only": "b"}))
	erasureStatus(t, ns, "only-b", completed)
	if r := resultOf(erasureStatus(t, ns, "both", func(*privacyv1alpha1.ErasureRequest) error { return nil }), "a-hung"); r.State != privacyv1alpha1.ErasureCampaignPending {
		t.Fatalf("a-hung %+v, want still Pending: the test's premise, a call in flight, no longer holds", r)
	}

	// The connection drops: the call fails and is retried.
	hole.close()
	er = erasureStatus(t, ns, "both", func(er *privacyv1alpha1.ErasureRequest) error {
		if r := resultOf(er, "a-hung"); r.State != privacyv1alpha1.ErasureCampaignRetrying {
			return fmt.Errorf("a-hung %+v, want Retrying once its connection dropped", r)
		}
		return nil
	})
	if r := resultOf(er, "b-ok"); r.State != privacyv1alpha1.ErasureCampaignErased || ptr.Deref(r.Erased, -1) != 1 {
		t.Errorf("b-ok %+v after the final status, want its receipt kept", r)
	}
	if responsesIn(t, f) != 1 {
		t.Error("b-ok holds the subject's answer, or lost another's")
	}
}

// gateProxy forwards connections to target, holding everything a client
// sends after its first chunk (the TLS ClientHello) until release is called:
// a collector that answers only when the test says so.
func gateProxy(t *testing.T, target string) (addr string, release func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	gate := make(chan struct{})
	var once sync.Once
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer func() { _ = c.Close() }()
				up, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer func() { _ = up.Close() }()
				go func() { _, _ = io.Copy(c, up) }()
				buf := make([]byte, 64<<10)
				for i := 0; ; i++ {
					n, err := c.Read(buf)
					if n > 0 {
						if i > 0 {
							<-gate
						}
						if _, werr := up.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String(), func() { once.Do(func() { close(gate) }) }
}

// TestReceiptsPublishedMidPassAreNotAskedAgain: a pass that publishes one
// campaign's receipt while another's collector is still answering is not
// followed by a pass on the cache's stale copy: the slow collector is asked
// once and the request completes once. (The collector would replay its
// receipt, but completedAt, the evidence, would move.)
func TestReceiptsPublishedMidPassAreNotAskedAgain(t *testing.T) {
	ns := namespace(t)
	create(t, policy(ns), namedCampaign(ns, "a-slow", map[string]string{"team": "shop"}),
		namedCampaign(ns, "b-ok", map[string]string{"team": "shop"}))
	var logA collectortest.SyncBuffer
	fa := startCollectorOf(t, ns, "a-slow", "", &logA)
	fb := startCollectorOf(t, ns, "b-ok", "", nil)
	const subject = "C-stale-1"
	post(t, fa, 9, subject)
	post(t, fb, 9, subject)
	addr, release := gateProxy(t, strings.TrimPrefix(fa.Admin, "https://"))
	t.Cleanup(release)
	collectors.Dial(ns+"/a-slow", addr)

	create(t, &privacyv1alpha1.ErasureRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "both"},
		Spec: privacyv1alpha1.ErasureRequestSpec{
			Subject:          privacyv1alpha1.ErasureSubject{CustomerID: subject},
			CampaignSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "shop"}},
		},
	})
	erasureStatus(t, ns, "both", func(er *privacyv1alpha1.ErasureRequest) error {
		if r := resultOf(er, "b-ok"); r.State != privacyv1alpha1.ErasureCampaignErased {
			return fmt.Errorf("b-ok %+v, want its receipt published while a-slow is held", r)
		}
		return nil
	})
	release()
	first := erasureStatus(t, ns, "both", completed).Status.CompletedAt

	// A later request, and its completion, mark that the passes the first
	// one's patches brought have run.
	create(t, &privacyv1alpha1.ErasureRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "marker"},
		Spec: privacyv1alpha1.ErasureRequestSpec{
			Subject:          privacyv1alpha1.ErasureSubject{CustomerID: "C-nobody"},
			CampaignSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "none"}},
		},
	})
	erasureStatus(t, ns, "marker", completed)
	er := erasureStatus(t, ns, "both", completed)
	if n := strings.Count(logA.String(), `"action"="erase"`); n != 1 {
		t.Errorf("a-slow was asked %d times, want once", n)
	}
	if !er.Status.CompletedAt.Equal(first) {
		t.Errorf("completedAt moved from %v to %v", first, er.Status.CompletedAt)
	}
	eventually(t, "one ErasureCompleted event", func() error {
		evs := &eventsv1.EventList{}
		if err := k8s.List(context.Background(), evs, client.InNamespace(ns)); err != nil {
			return err
		}
		n := int32(0)
		for _, e := range evs.Items {
			if e.Regarding.Name == "both" && e.Reason == "ErasureCompleted" {
				n++
				if e.Series != nil {
					n += e.Series.Count - 1
				}
			}
		}
		if n != 1 {
			return fmt.Errorf("%d ErasureCompleted events, want 1", n)
		}
		return nil
	})
}

// TestRequestCoveringNoCampaignCompletes: with no campaign to erase from,
// a request completes at once, even if its subject's Secret is missing.
func TestRequestCoveringNoCampaignCompletes(t *testing.T) {
	ns := namespace(t)
	create(t, &privacyv1alpha1.ErasureRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "nothing"},
		Spec:       privacyv1alpha1.ErasureRequestSpec{Subject: privacyv1alpha1.ErasureSubject{SecretRef: &privacyv1alpha1.SecretKeyReference{Name: "nobody"}}},
	})
	er := erasureStatus(t, ns, "nothing", completed)
	if len(er.Status.Results) != 0 {
		t.Errorf("results %+v, want none", er.Status.Results)
	}
}
