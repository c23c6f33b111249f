package controllers_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
	"github.com/surveyguard/surveyguard/controllers"
	"github.com/surveyguard/surveyguard/internal/collector"
	"github.com/surveyguard/surveyguard/internal/purge"
	"github.com/surveyguard/surveyguard/internal/store"
)

func policyCondition(p *privacyv1alpha1.RetentionPolicy, typ string) *metav1.Condition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == typ {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

// update applies change to the object named like obj, retrying on conflicts.
func update(t *testing.T, obj client.Object, change func()) {
	t.Helper()
	eventually(t, "update "+obj.GetName(), func() error {
		if err := get(obj.GetNamespace(), obj.GetName(), obj); err != nil {
			return err
		}
		change()
		return k8s.Update(context.Background(), obj)
	})
}

func cronJob(t *testing.T, ns string, check func(*batchv1.CronJob) error) *batchv1.CronJob {
	t.Helper()
	cj := &batchv1.CronJob{}
	eventually(t, "retention CronJob", func() error {
		if err := get(ns, "checkout-nps-retention", cj); err != nil {
			return err
		}
		return check(cj)
	})
	return cj
}

func TestRetentionCronJobFollowsItsPolicy(t *testing.T) {
	ns := namespace(t)
	p := policy(ns)
	p.Spec.Schedule = "0 3 * * *"
	p.Spec.Action = privacyv1alpha1.RetentionActionAnonymize
	versions := watchVersions[batchv1.CronJob](t, ns, &batchv1.CronJobList{})
	create(t, p, campaign(ns))

	cj := cronJob(t, ns, func(*batchv1.CronJob) error { return nil })
	// Every version the API server ever held, from the first, labels the
	// purge pods as retention pods, which the collector's Service and
	// NetworkPolicy do not select; and the CronJob is written once.
	time.Sleep(time.Second)
	seen := versions()
	for _, v := range seen {
		for what, labels := range map[string]map[string]string{
			"CronJob": v.Labels, "Job template": v.Spec.JobTemplate.Labels, "pod template": v.Spec.JobTemplate.Spec.Template.Labels,
		} {
			if labels["app.kubernetes.io/name"] != "surveyguard-retention" {
				t.Errorf("version %s: %s labels %v", v.ResourceVersion, what, labels)
			}
		}
	}
	if len(seen) != 1 {
		t.Errorf("the CronJob was written %d times without a change asked for", len(seen))
	}

	s := cj.Spec
	if s.Schedule != "0 3 * * *" || s.ConcurrencyPolicy != batchv1.ForbidConcurrent || s.Suspend == nil || *s.Suspend ||
		s.StartingDeadlineSeconds == nil || *s.SuccessfulJobsHistoryLimit != 3 || *s.FailedJobsHistoryLimit != 3 {
		t.Errorf("CronJob spec %+v", s)
	}
	if refs := cj.OwnerReferences; len(refs) != 1 || refs[0].Kind != "SurveyCampaign" || refs[0].Name != "checkout-nps" {
		t.Errorf("owner %+v", refs)
	}
	if cj.Labels[privacyv1alpha1.LabelManagedBy] != "surveyguard" || cj.Labels[privacyv1alpha1.LabelRetentionPolicy] != "ninety-days" {
		t.Errorf("labels %v", cj.Labels)
	}
	pod := cj.Spec.JobTemplate.Spec.Template.Spec
	ctr := pod.Containers[0]
	args := strings.Join(ctr.Args, " ")
	for _, want := range []string{"purge", "--admin-url https://checkout-nps-collector." + ns + ".svc:9443", "--max-age 2160h0m0s",
		"--action Anonymize", "--token-file /secrets/admin/token", "--ca-file /secrets/tls/ca.crt"} {
		if !strings.Contains(args, want) {
			t.Errorf("args %q lack %q", args, want)
		}
	}
	sc := ctr.SecurityContext
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken || pod.SecurityContext == nil || !*pod.SecurityContext.RunAsNonRoot ||
		sc == nil || !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) ||
		sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("the purge pod is not hardened: %+v %+v", pod.SecurityContext, sc)
	}
	if ctr.TerminationMessagePath != "/dev/termination-log" || len(ctr.Env) != 1 || ctr.Env[0].ValueFrom.FieldRef.FieldPath != "metadata.labels['batch.kubernetes.io/job-name']" {
		t.Errorf("termination log %q, env %+v", ctr.TerminationMessagePath, ctr.Env)
	}
	for _, v := range pod.Volumes {
		if v.Secret == nil || len(v.Secret.Items) != 1 {
			t.Errorf("volume %s mounts more than the one key it needs: %+v", v.Name, v.VolumeSource)
		}
	}
	// The purge pods may reach the admin port, and the campaign's policy
	// holds them too: they carry the admin token, so their egress is DNS and
	// the collector's admin port, nothing else.
	np := &networkingv1.NetworkPolicy{}
	if err := get(ns, "checkout-nps-collector", np); err != nil {
		t.Fatal(err)
	}
	deploy := &appsv1.Deployment{}
	if err := get(ns, "checkout-nps-collector", deploy); err != nil {
		t.Fatal(err)
	}
	podLabels, collectorLabels := labels.Set(cj.Spec.JobTemplate.Spec.Template.Labels), labels.Set(deploy.Spec.Template.Labels)
	selects := func(sel *metav1.LabelSelector, l labels.Set) bool {
		s, err := metav1.LabelSelectorAsSelector(sel)
		if err != nil {
			t.Fatal(err)
		}
		return s.Matches(l)
	}
	if peers := np.Spec.Ingress[1].From; len(peers) != 2 || peers[1].PodSelector == nil || !selects(peers[1].PodSelector, podLabels) {
		t.Errorf("admin ingress %+v does not admit the purge pods (labels %v)", peers, podLabels)
	}
	if !selects(&np.Spec.PodSelector, podLabels) || !selects(&np.Spec.PodSelector, collectorLabels) {
		t.Errorf("the NetworkPolicy's pods %+v are not both the purge pods (%v) and the collector's (%v)", np.Spec.PodSelector, podLabels, collectorLabels)
	}
	if selects(&np.Spec.PodSelector, labels.Set{"app.kubernetes.io/name": "surveyguard-collector", "app.kubernetes.io/instance": "other-nps"}) {
		t.Errorf("the NetworkPolicy selects another campaign's pods")
	}
	if e := np.Spec.Egress; len(e) != 2 || len(e[1].To) != 1 || e[1].To[0].PodSelector == nil || !selects(e[1].To[0].PodSelector, collectorLabels) ||
		selects(e[1].To[0].PodSelector, podLabels) || len(e[1].Ports) != 1 || e[1].Ports[0].Port.IntValue() != 9443 || len(e[0].To) != 0 || e[0].Ports[0].Port.IntValue() != 53 {
		t.Errorf("egress %+v, want DNS and the collector's admin port only", e)
	}

	// The policy reports its campaign.
	eventually(t, "policy Ready with one campaign", func() error {
		if err := get(ns, "ninety-days", p); err != nil {
			return err
		}
		if c := policyCondition(p, privacyv1alpha1.ConditionReady); ptr.Deref(p.Status.BoundCampaigns, 0) != 1 || c == nil || c.Status != metav1.ConditionTrue {
			return fmt.Errorf("status %+v", p.Status)
		}
		return nil
	})

	// A policy change reaches the CronJob.
	update(t, p, func() { p.Spec.Schedule, p.Spec.MaxAge.Duration = "*/5 * * * *", 720*time.Hour })
	cronJob(t, ns, func(cj *batchv1.CronJob) error {
		if cj.Spec.Schedule != "*/5 * * * *" || !strings.Contains(strings.Join(cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args, " "), "--max-age 720h0m0s") {
			return fmt.Errorf("schedule %q, args %v", cj.Spec.Schedule, cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args)
		}
		return nil
	})

	// Suspend suspends the CronJob.
	update(t, p, func() { p.Spec.Suspend = ptr.To(true) })
	cronJob(t, ns, func(cj *batchv1.CronJob) error {
		if !*cj.Spec.Suspend {
			return fmt.Errorf("not suspended")
		}
		return nil
	})

	// A campaign that switches policy gets the new one; both policies count.
	other := policy(ns)
	other.Name, other.Spec.MaxAge.Duration, other.Spec.Schedule = "thirty-days", 720*time.Hour, "@hourly"
	create(t, other)
	c := &privacyv1alpha1.SurveyCampaign{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "checkout-nps"}}
	update(t, c, func() { c.Spec.RetentionPolicyRef.Name = "thirty-days" })
	cronJob(t, ns, func(cj *batchv1.CronJob) error {
		if cj.Spec.Schedule != "@hourly" || *cj.Spec.Suspend || cj.Labels[privacyv1alpha1.LabelRetentionPolicy] != "thirty-days" {
			return fmt.Errorf("schedule %q, suspend %v, labels %v", cj.Spec.Schedule, *cj.Spec.Suspend, cj.Labels)
		}
		return nil
	})
	eventually(t, "binding counts moved", func() error {
		if err := get(ns, "ninety-days", p); err != nil {
			return err
		}
		if err := get(ns, "thirty-days", other); err != nil {
			return err
		}
		if ptr.Deref(p.Status.BoundCampaigns, 0) != 0 || ptr.Deref(other.Status.BoundCampaigns, 0) != 1 {
			return fmt.Errorf("ninety-days %d, thirty-days %d", ptr.Deref(p.Status.BoundCampaigns, 0), ptr.Deref(other.Status.BoundCampaigns, 0))
		}
		return nil
	})
}

func TestLegalHoldStopsPurgesAndSaysSo(t *testing.T) {
	ns := namespace(t)
	p := policy(ns)
	p.Spec.LegalHold = ptr.To(true)
	create(t, p, campaign(ns))
	cronJob(t, ns, func(cj *batchv1.CronJob) error {
		if cj.Spec.Suspend == nil || !*cj.Spec.Suspend {
			return fmt.Errorf("a CronJob under legal hold is not suspended")
		}
		return nil
	})
	eventually(t, "legal hold on the policy", func() error {
		if err := get(ns, "ninety-days", p); err != nil {
			return err
		}
		c := policyCondition(p, privacyv1alpha1.ConditionReady)
		if c == nil || c.Reason != privacyv1alpha1.ReasonLegalHold || !strings.Contains(c.Message, "legal hold") {
			return fmt.Errorf("conditions %+v", p.Status.Conditions)
		}
		return nil
	})
	eventually(t, "legal hold on the campaign", func() error {
		c := &privacyv1alpha1.SurveyCampaign{}
		if err := get(ns, "checkout-nps", c); err != nil {
			return err
		}
		cond := condition(c, privacyv1alpha1.ConditionRetentionEnforced)
		if cond == nil || cond.Status != metav1.ConditionFalse || cond.Reason != privacyv1alpha1.ReasonLegalHold ||
			!strings.Contains(cond.Message, "RetentionPolicy ninety-days is under legal hold") {
			return fmt.Errorf("RetentionEnforced %+v", cond)
		}
		return nil
	})
	// Lifting the hold resumes the schedule.
	update(t, p, func() { p.Spec.LegalHold = ptr.To(false) })
	cronJob(t, ns, func(cj *batchv1.CronJob) error {
		if *cj.Spec.Suspend {
			return fmt.Errorf("still suspended after the hold was lifted")
		}
		return nil
	})
}

func TestInvalidScheduleStallsThePolicyAndKeepsTheCronJob(t *testing.T) {
	ns := namespace(t)
	p := policy(ns)
	p.Spec.Schedule = "0 3 * * *"
	create(t, p, campaign(ns))
	cronJob(t, ns, func(*batchv1.CronJob) error { return nil })

	// Five fields pass the CRD's check; minute 61 does not parse.
	update(t, p, func() { p.Spec.Schedule = "61 3 * * *" })
	eventually(t, "policy Stalled with the parser's message", func() error {
		if err := get(ns, "ninety-days", p); err != nil {
			return err
		}
		c := policyCondition(p, privacyv1alpha1.ConditionStalled)
		if c == nil || c.Status != metav1.ConditionTrue || !strings.Contains(c.Message, `spec.schedule "61 3 * * *"`) ||
			!strings.Contains(c.Message, "above maximum") {
			return fmt.Errorf("conditions %+v", p.Status.Conditions)
		}
		return nil
	})
	poke(t, ns)
	time.Sleep(500 * time.Millisecond)
	if cj := cronJob(t, ns, func(*batchv1.CronJob) error { return nil }); cj.Spec.Schedule != "0 3 * * *" {
		t.Errorf("the CronJob took the invalid schedule %q", cj.Spec.Schedule)
	}

	// A legal hold and a new maxAge still reach the CronJob: only the
	// schedule is kept. Scheduled purges stop while the status says held.
	update(t, p, func() {
		p.Spec.LegalHold = ptr.To(true)
		p.Spec.MaxAge.Duration = 48 * time.Hour
	})
	cj := cronJob(t, ns, func(cj *batchv1.CronJob) error {
		if !ptr.Deref(cj.Spec.Suspend, false) || !slices.Contains(cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args, "48h0m0s") {
			return fmt.Errorf("suspend %v, args %v", cj.Spec.Suspend, cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args)
		}
		return nil
	})
	if cj.Spec.Schedule != "0 3 * * *" {
		t.Errorf("the CronJob took the invalid schedule %q with the hold", cj.Spec.Schedule)
	}

	// An argument appended by hand (every purge a dry run) is reverted.
	update(t, cj, func() {
		c := &cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0]
		c.Args = append(c.Args, "--dry-run")
	})
	cronJob(t, ns, func(cj *batchv1.CronJob) error {
		if args := cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args; slices.Contains(args, "--dry-run") {
			return fmt.Errorf("args %v", args)
		}
		return nil
	})
}

// TestPurgeReceiptAndRetentionEnforced runs a purge the way the CronJob's pod
// would, as a local process against a real collector, and follows its
// receipt to the campaign's and the policy's status; then lets the operator's
// clock run past the policy's limit.
func TestPurgeReceiptAndRetentionEnforced(t *testing.T) {
	ns := namespace(t)
	p := policy(ns)
	p.Spec.MaxAge.Duration, p.Spec.Schedule = time.Hour, "@hourly"
	create(t, p, campaign(ns))
	f := startCollector(t, ns)
	for i, s := range []int{9, 10, 3, 7, 8} {
		post(t, f, s, fmt.Sprintf("C-%d", i))
	}
	waitReady(t, ns)
	c := &privacyv1alpha1.SurveyCampaign{}
	eventually(t, "RetentionEnforced with the oldest record", func() error {
		poke(t, ns)
		if err := get(ns, "checkout-nps", c); err != nil {
			return err
		}
		cond := condition(c, privacyv1alpha1.ConditionRetentionEnforced)
		if cond == nil || cond.Status != metav1.ConditionTrue || c.Status.Retention == nil || c.Status.Retention.OldestRecordTime == nil {
			return fmt.Errorf("RetentionEnforced %+v, retention %+v", cond, c.Status.Retention)
		}
		return nil
	})

	// The purge as the Job runs it: a two-hour-old cutoff purges nothing
	// just posted, and the receipt names the Job.
	receipt, err := purge.Run(context.Background(), purge.Options{
		AdminURL: "https://checkout-nps-collector." + ns + ".svc:9443", ConnectTo: strings.TrimPrefix(f.Admin, "https://"), TokenFile: f.TokenFile, CAFile: f.CAFile,
		MaxAge: time.Hour, Action: store.ActionDelete, Job: "checkout-nps-retention-29388000", Timeout: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the receipt on the campaign and the policy", func() error {
		poke(t, ns)
		if err := get(ns, "checkout-nps", c); err != nil {
			return err
		}
		if r := c.Status.Retention; r.LastPurgeTime == nil || r.Policy != "ninety-days" {
			return fmt.Errorf("campaign retention %+v", r)
		}
		if err := get(ns, "ninety-days", p); err != nil {
			return err
		}
		rc := p.Status.LastReceipt
		if rc == nil || rc.Job != "checkout-nps-retention-29388000" || rc.Campaign != "checkout-nps" || rc.Purged != receipt.Purged ||
			!rc.Cutoff.Equal(&metav1.Time{Time: receipt.Cutoff.Truncate(time.Second)}) {
			return fmt.Errorf("policy receipt %+v, want %+v", rc, receipt)
		}
		return nil
	})

	// Three hours later by the operator's clock the responses are older
	// than maxAge (1h) plus one period (1h): overdue by about an hour.
	t.Cleanup(func() { fakeClock.SetTime(time.Now()) })
	fakeClock.Step(3 * time.Hour)
	eventually(t, "RetentionEnforced=False with the overdue age", func() error {
		poke(t, ns)
		if err := get(ns, "checkout-nps", c); err != nil {
			return err
		}
		cond := condition(c, privacyv1alpha1.ConditionRetentionEnforced)
		if cond == nil || cond.Status != metav1.ConditionFalse || cond.Reason != privacyv1alpha1.ReasonRetentionOverdue ||
			!strings.Contains(cond.Message, "overdue by") {
			return fmt.Errorf("RetentionEnforced %+v", cond)
		}
		return nil
	})
}

// Deleting a policy in use is allowed: the campaign turns Stalled naming it,
// and its CronJob keeps purging on the last settings.
func TestDeletingAPolicyInUseStallsItsCampaigns(t *testing.T) {
	ns := namespace(t)
	p := policy(ns)
	create(t, p, campaign(ns))
	before := cronJob(t, ns, func(*batchv1.CronJob) error { return nil })
	if err := k8s.Delete(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	eventually(t, "campaign Stalled", func() error {
		c := &privacyv1alpha1.SurveyCampaign{}
		if err := get(ns, "checkout-nps", c); err != nil {
			return err
		}
		cond := condition(c, privacyv1alpha1.ConditionStalled)
		if cond == nil || cond.Reason != privacyv1alpha1.ReasonRetentionPolicyNotFound || !strings.Contains(cond.Message, `"ninety-days"`) {
			return fmt.Errorf("conditions %+v", c.Status.Conditions)
		}
		return nil
	})
	after := cronJob(t, ns, func(*batchv1.CronJob) error { return nil })
	if after.Spec.Schedule != before.Spec.Schedule || *after.Spec.Suspend {
		t.Errorf("the CronJob changed when its policy went: %+v", after.Spec)
	}
}

// watchVersions records every version of the objects of list's kind, T,
// in ns from now on.
func watchVersions[T any](t *testing.T, ns string, list client.ObjectList) func() []T {
	t.Helper()
	wc, err := client.NewWithWatch(restConfig, client.Options{Scheme: k8s.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	w, err := wc.Watch(ctx, list, client.InNamespace(ns))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []T
	go func() {
		for ev := range w.ResultChan() {
			if o, ok := any(ev.Object).(*T); ok {
				mu.Lock()
				seen = append(seen, *o)
				mu.Unlock()
			}
		}
	}()
	return func() []T {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
}

// TestPausedCampaignIsPurged: a paused campaign's collector (scaled to zero)
// runs admin-only, one replica with its public listener off, while a Job of
// its retention CronJob runs; the purge goes through it and its receipt
// reaches the campaign; when the Job ends the collector goes back to zero.
// The campaign reads paused throughout.
func TestPausedCampaignIsPurged(t *testing.T) {
	ns := namespace(t)
	c := campaign(ns)
	c.Spec.Paused = ptr.To(true)
	create(t, policy(ns), c)
	deployment := func(what string, check func(replicas int32, adminOnly bool) error) {
		t.Helper()
		eventually(t, what, func() error {
			d := &appsv1.Deployment{}
			if err := get(ns, "checkout-nps-collector", d); err != nil {
				return err
			}
			return check(*d.Spec.Replicas, slices.Contains(d.Spec.Template.Spec.Containers[0].Args, "--admin-only"))
		})
	}
	scaledDown := func(replicas int32, adminOnly bool) error {
		if replicas != 0 || adminOnly {
			return fmt.Errorf("replicas %d, admin-only %v; want 0 replicas", replicas, adminOnly)
		}
		return nil
	}
	deployment("the paused collector at zero", scaledDown)
	running := func(jobs ...string) {
		t.Helper()
		cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "checkout-nps-retention"}}
		eventually(t, "the CronJob's running Jobs", func() error {
			if err := get(ns, cj.Name, cj); err != nil {
				return err
			}
			cj.Status.Active = nil
			for _, job := range jobs {
				cj.Status.Active = append(cj.Status.Active, corev1.ObjectReference{APIVersion: "batch/v1", Kind: "Job", Namespace: ns, Name: job})
			}
			return k8s.Status().Update(context.Background(), cj)
		})
	}

	// runsAdminOnlyFor waits for one admin-only replica, and for the
	// campaign to name job, and no other, as what it runs for.
	runsAdminOnlyFor := func(job string) {
		t.Helper()
		deployment("one admin-only replica for "+job, func(replicas int32, adminOnly bool) error {
			if replicas != 1 || !adminOnly {
				return fmt.Errorf("replicas %d, admin-only %v; want one admin-only replica", replicas, adminOnly)
			}
			return nil
		})
		eventually(t, "CollectorAvailable naming "+job, func() error {
			if err := get(ns, "checkout-nps", c); err != nil {
				return err
			}
			a := condition(c, privacyv1alpha1.ConditionCollectorAvailable)
			if a == nil || a.Reason != privacyv1alpha1.ReasonPaused || !strings.HasSuffix(a.Message, "admin-only (public listener off) until retention Job "+job+" finished; stored data is kept") {
				return fmt.Errorf("CollectorAvailable %+v", a)
			}
			return nil
		})
	}

	// The CronJob controller starts a run, as the schedule says.
	const job = "checkout-nps-retention-29388000"
	running(job)
	runsAdminOnlyFor(job)
	// The admin-only pod comes up and the run purges through it.
	f := startCollectorIn(t, t.TempDir(), ns, "checkout-nps", "", collector.Options{AdminOnly: true}, nil)
	receipt, err := purge.Run(context.Background(), purge.Options{
		AdminURL: "https://checkout-nps-collector." + ns + ".svc:9443", ConnectTo: strings.TrimPrefix(f.Admin, "https://"), TokenFile: f.TokenFile, CAFile: f.CAFile,
		MaxAge: time.Hour, Action: store.ActionDelete, Job: job, Timeout: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the run's receipt on the campaign", func() error {
		poke(t, ns)
		if err := get(ns, "checkout-nps", c); err != nil {
			return err
		}
		if r := c.Status.Retention; r == nil || r.LastPurgeTime == nil {
			return fmt.Errorf("retention %+v, want the run's purge (%s)", r, receipt.Digest)
		}
		return nil
	})

	// The run ends: back to zero, still paused.
	running()
	deployment("the collector back at zero", scaledDown)

	// A run made by hand (kubectl create job --from=cronjob/...) carries
	// the Job template's labels and the CronJob as its owner, and is not in
	// the CronJob's status: it counts as long as it is unfinished.
	cj := &batchv1.CronJob{}
	if err := get(ns, "checkout-nps-retention", cj); err != nil {
		t.Fatal(err)
	}
	byHand := func(name string, owned bool) *batchv1.Job {
		job := &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: cj.Spec.JobTemplate.Labels},
			Spec:       *cj.Spec.JobTemplate.Spec.DeepCopy(),
		}
		job.Spec.Template.Labels = nil // the API server's own job-name and controller-uid labels go there
		if owned {
			job.OwnerReferences = []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "CronJob", Name: cj.Name, UID: cj.UID}}
		}
		create(t, job)
		return job
	}
	// Labels alone do not make a run: a Job the CronJob does not own
	// leaves the collector at zero.
	byHand("checkout-nps-lookalike", false)
	manual := byHand("checkout-nps-manual", true)
	runsAdminOnlyFor(manual.Name)
	if err := k8s.Delete(context.Background(), manual, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil {
		t.Fatal(err)
	}
	deployment("the collector back at zero after the run made by hand", scaledDown)
	eventually(t, "Ready, paused", func() error {
		if err := get(ns, "checkout-nps", c); err != nil {
			return err
		}
		if r := condition(c, privacyv1alpha1.ConditionReady); r == nil || r.Reason != privacyv1alpha1.ReasonPaused {
			return fmt.Errorf("Ready %+v, want Paused", r)
		}
		return nil
	})
}

func TestJobFinished(t *testing.T) {
	for _, tc := range []struct {
		conditions []batchv1.JobCondition
		want       bool
	}{
		{nil, false},
		{[]batchv1.JobCondition{{Type: batchv1.JobSuspended, Status: corev1.ConditionTrue}}, false},
		{[]batchv1.JobCondition{{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue}}, false},
		{[]batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionFalse}}, false},
		{[]batchv1.JobCondition{{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue}, {Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}, true},
		{[]batchv1.JobCondition{{Type: batchv1.JobFailed, Status: corev1.ConditionTrue}}, true},
	} {
		if got := controllers.JobFinished(&batchv1.Job{Status: batchv1.JobStatus{Conditions: tc.conditions}}); got != tc.want {
			t.Errorf("conditions %+v: finished %v, want %v", tc.conditions, got, tc.want)
		}
	}
}
