// Package e2e runs the operator's binary against the simulated cluster
// (kube-apiserver, etcd, kube-controller-manager, kube-scheduler and KWOK
// nodes on loopback): Deployments get pods, CronJobs make Jobs, KWOK runs them
// to completion. Collectors and purges run as local processes, since no
// container runs here.
package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
	"github.com/surveyguard/surveyguard/internal/collector/collectortest"
	"github.com/surveyguard/surveyguard/internal/manager"
	"github.com/surveyguard/surveyguard/internal/store"
	"github.com/surveyguard/surveyguard/internal/testenv"
)

var (
	cluster *testenv.Cluster
	k8s     client.Client
	bin     string // bin/surveyguard, built as the Dockerfile builds it
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "surveyguard-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()
	if bin, err = testenv.BuildSurveyguard(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cluster, err = testenv.StartCluster(2, testenv.CRDDir())
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the simulated cluster:", err)
		return 1
	}
	defer func() {
		if err := cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping the simulated cluster:", err)
		}
	}()
	fmt.Printf("simulated cluster: API server, etcd, controller manager, scheduler, KWOK and %d nodes Ready in %s\n",
		len(cluster.Nodes), cluster.Started.Round(time.Millisecond))
	if k8s, err = client.New(cluster.Config, client.Options{Scheme: manager.NewScheme()}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// eventually retries cond for up to limit.
func eventually(t *testing.T, limit time.Duration, what string, cond func() error) {
	t.Helper()
	testenv.Eventually(t, limit, what, cond)
}

// runs numbers the tests' runs in this process, for their namespaces.
var runs atomic.Int64

// TestRetentionOnASimulatedCluster follows a campaign with an every-minute
// retention policy: the collector Deployment gets a Running pod on a KWOK
// node, the real CronJob controller starts purge Jobs that KWOK completes,
// and a purge run as a local process against a local collector puts its
// receipt on the policy.
func TestRetentionOnASimulatedCluster(t *testing.T) {
	ctx := context.Background()
	begin := time.Now()
	// A namespace (and volume) of its own each run: -count runs the tests
	// again against the same cluster.
	ns, name := fmt.Sprintf("shop-%d", runs.Add(1)), "checkout-nps"
	adminAddr := testenv.MustFreeAddr(t)
	startManager(t, ns+"/"+name+"="+adminAddr)

	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		testenv.HostPathVolume("e2e-data-"+ns, t.TempDir(), resource.MustParse("1Gi")),
		&privacyv1alpha1.RetentionPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "every-minute"},
			Spec: privacyv1alpha1.RetentionPolicySpec{
				MaxAge: metav1.Duration{Duration: time.Hour}, Action: privacyv1alpha1.RetentionActionDelete, Schedule: "* * * * *",
			},
		},
		&privacyv1alpha1.SurveyCampaign{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: privacyv1alpha1.SurveyCampaignSpec{
				Question: "How likely are you to recommend Acme Checkout to a friend or colleague?",
				Consent: privacyv1alpha1.ConsentSpec{
					Required: ptr.To(true), NoticeVersion: "2026-01", Purpose: "Improve checkout", LawfulBasis: privacyv1alpha1.LawfulBasisConsent,
				},
				Collect: privacyv1alpha1.CollectSpec{
					Comment: ptr.To(true), Email: ptr.To(true), CustomerID: ptr.To(true),
					Segments: privacyv1alpha1.Segments{"plan": {"free", "pro", "enterprise"}, "region": {"eu", "in", "us"}},
				},
				RetentionPolicyRef: privacyv1alpha1.LocalObjectReference{Name: "every-minute"},
				Privacy:            privacyv1alpha1.PrivacySpec{MinGroupSize: 5},
				Storage:            privacyv1alpha1.StorageSpec{Embedded: &privacyv1alpha1.EmbeddedStorage{}},
			},
		},
	}
	for _, o := range objs {
		if err := k8s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}

	// The collector Deployment gets a Running pod on a KWOK node, its
	// claim bound to the volume.
	eventually(t, time.Minute, "collector pod Running", func() error {
		pods := &corev1.PodList{}
		if err := k8s.List(ctx, pods, client.InNamespace(ns),
			client.MatchingLabels{"app.kubernetes.io/name": "surveyguard-collector", "app.kubernetes.io/instance": name}); err != nil {
			return err
		}
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning && strings.HasPrefix(p.Spec.NodeName, "kwok-node-") {
				return nil
			}
		}
		return fmt.Errorf("%d pods, none Running", len(pods.Items))
	})
	eventually(t, 30*time.Second, "collector Deployment available", func() error {
		d := &appsv1.Deployment{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name + "-collector"}, d); err != nil {
			return err
		}
		if d.Status.AvailableReplicas != 1 {
			return fmt.Errorf("%d available replicas", d.Status.AvailableReplicas)
		}
		return nil
	})
	pvc := &corev1.PersistentVolumeClaim{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name + "-data"}, pvc); err != nil || pvc.Status.Phase != corev1.ClaimBound {
		t.Errorf("claim %s: %v", pvc.Status.Phase, err)
	}
	t.Logf("collector pod Running after %s", time.Since(begin).Round(time.Second))

	// What the pod would run, here: a collector with the campaign's Secrets.
	dir := t.TempDir()
	eventually(t, 30*time.Second, "the campaign's Secrets", func() error {
		return testenv.MountCampaignSecrets(ctx, k8s, ns, name, filepath.Join(dir, "secrets"))
	})
	f := collectortest.StartAsCampaign(t, dir, name+"-collector."+ns+".svc", adminAddr)
	for i, score := range []int{10, 9, 9, 7, 4, 2} {
		body := fmt.Sprintf(`{"score":%d,"consent":{"given":true,"noticeVersion":"2026-01"},"customerID":"C-%d"}`, score, i)
		if a := f.Do(t, http.MethodPost, f.Public+"/v1/responses", []byte(body), map[string]string{"Content-Type": "application/json"}); a.Status != http.StatusCreated {
			t.Fatalf("post: %d %s", a.Status, a.Raw)
		}
	}
	c := &privacyv1alpha1.SurveyCampaign{}
	eventually(t, time.Minute, "campaign Ready with its NPS", func() error {
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, c); err != nil {
			return err
		}
		ready := meta(c.Status.Conditions, privacyv1alpha1.ConditionReady)
		if c.Status.NPS == nil || c.Status.NPS.Responses != 6 || ready == nil || ready.Status != metav1.ConditionTrue {
			return fmt.Errorf("nps %+v, conditions %+v", c.Status.NPS, c.Status.Conditions)
		}
		return nil
	})
	// 3 promoters, 1 passive, 2 detractors of 6: NPS 17.
	if c.Status.NPS.Score == nil || *c.Status.NPS.Score != 17 {
		t.Errorf("NPS %+v", c.Status.NPS)
	}
	t.Logf("campaign Ready with NPS %d after %s", *c.Status.NPS.Score, time.Since(begin).Round(time.Second))

	// The CronJob controller starts a purge Job within a minute; KWOK
	// completes its pod.
	var job batchv1.Job
	eventually(t, 150*time.Second, "a purge Job completed", func() error {
		jobs := &batchv1.JobList{}
		if err := k8s.List(ctx, jobs, client.InNamespace(ns), client.MatchingLabels{privacyv1alpha1.LabelRetentionPolicy: "every-minute"}); err != nil {
			return err
		}
		for _, j := range jobs.Items {
			if j.Status.Succeeded > 0 {
				job = j
				return nil
			}
		}
		return fmt.Errorf("%d Jobs, none succeeded", len(jobs.Items))
	})
	pods := &corev1.PodList{}
	if err := k8s.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels{"batch.kubernetes.io/job-name": job.Name}); err != nil || len(pods.Items) == 0 {
		t.Fatalf("the Job's pods: %v", err)
	}
	if p := pods.Items[0]; p.Status.Phase != corev1.PodSucceeded || p.Spec.Containers[0].Args[0] != "purge" || p.Spec.AutomountServiceAccountToken == nil || *p.Spec.AutomountServiceAccountToken {
		t.Errorf("purge pod %s: phase %s, args %v", p.Name, p.Status.Phase, p.Spec.Containers[0].Args)
	}
	p := &privacyv1alpha1.RetentionPolicy{}
	eventually(t, 30*time.Second, "lastScheduleTime on the policy", func() error {
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "every-minute"}, p); err != nil {
			return err
		}
		if p.Status.LastScheduleTime == nil || ptr.Deref(p.Status.BoundCampaigns, 0) != 1 {
			return fmt.Errorf("status %+v", p.Status)
		}
		return nil
	})
	t.Logf("purge Job %s completed by KWOK after %s", job.Name, time.Since(begin).Round(time.Second))

	// The purge that Job's pod would run, as a local process.
	args := append([]string{"purge"}, jobPurgeArgs(t, &pods.Items[0])...)
	args = append(args, "--connect-to", adminAddr, "--token-file", f.TokenFile, "--ca-file", f.CAFile, "--job", job.Name)
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		t.Fatalf("surveyguard %v: %v", args, err)
	}
	var receipt store.PurgeReceipt
	if err := json.Unmarshal(out, &receipt); err != nil {
		t.Fatalf("receipt %q: %v", out, err)
	}
	eventually(t, time.Minute, "the receipt on the policy", func() error {
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "every-minute"}, p); err != nil {
			return err
		}
		rc := p.Status.LastReceipt
		if rc == nil || rc.Job != job.Name || rc.Campaign != name || rc.Cutoff == nil || !rc.Cutoff.Time.Equal(receipt.Cutoff) {
			return fmt.Errorf("lastReceipt %+v, want %+v", rc, receipt)
		}
		return nil
	})
	t.Logf("receipt of %s on the policy after %s", job.Name, time.Since(begin).Round(time.Second))

	// Customer C-3 asks to be forgotten: the operator's binary erases them
	// through the collector, and the campaign's figures follow.
	for _, o := range []client.Object{
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "erase-c-3"}, Data: map[string][]byte{"customerID": []byte("C-3")}},
		&privacyv1alpha1.ErasureRequest{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "erase-c-3"},
			Spec: privacyv1alpha1.ErasureRequestSpec{
				Subject: privacyv1alpha1.ErasureSubject{SecretRef: &privacyv1alpha1.SecretKeyReference{Name: "erase-c-3"}},
				Regime:  privacyv1alpha1.ErasureRegimeGDPR,
			},
		},
	} {
		if err := k8s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	er := &privacyv1alpha1.ErasureRequest{}
	eventually(t, time.Minute, "the erasure completed", func() error {
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "erase-c-3"}, er); err != nil {
			return err
		}
		if er.Status.Phase != privacyv1alpha1.ErasurePhaseCompleted {
			return fmt.Errorf("phase %q: %+v", er.Status.Phase, er.Status.Results)
		}
		return nil
	})
	if len(er.Status.Results) != 1 || ptr.Deref(er.Status.Results[0].Erased, -1) != 1 || len(er.Status.Results[0].Digest) != 64 || er.Status.Due == nil {
		t.Errorf("erasure status %+v, want one response erased from %s with a digest, and a due time", er.Status, name)
	}
	eventually(t, time.Minute, "the campaign's figures after the erasure", func() error {
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, c); err != nil {
			return err
		}
		if c.Status.NPS == nil || c.Status.NPS.Responses != 5 {
			return fmt.Errorf("nps %+v, want 5 responses", c.Status.NPS)
		}
		return nil
	})
	t.Logf("erasure of C-3 completed after %s", time.Since(begin).Round(time.Second))
}

// TestBreachContainmentSurvivesARestart: a breach report pauses a campaign
// and rotates its keys; the operator is killed and started again; nothing is
// rotated twice and the restart writes nothing.
func TestBreachContainmentSurvivesARestart(t *testing.T) {
	ctx := context.Background()
	ns := fmt.Sprintf("clinic-%d", runs.Add(1))
	stop := startManager(t, ns+"/intake-nps=127.0.0.1:1")
	for _, o := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		testenv.HostPathVolume("e2e-data-"+ns, t.TempDir(), resource.MustParse("1Gi")),
		&privacyv1alpha1.RetentionPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ninety-days"},
			Spec:       privacyv1alpha1.RetentionPolicySpec{MaxAge: metav1.Duration{Duration: 2160 * time.Hour}},
		},
		&privacyv1alpha1.SurveyCampaign{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "intake-nps"},
			Spec: privacyv1alpha1.SurveyCampaignSpec{
				Question:           "How likely are you to recommend our clinic to a friend or colleague?",
				Consent:            privacyv1alpha1.ConsentSpec{NoticeVersion: "2026-01"},
				RetentionPolicyRef: privacyv1alpha1.LocalObjectReference{Name: "ninety-days"},
				Storage:            privacyv1alpha1.StorageSpec{Embedded: &privacyv1alpha1.EmbeddedStorage{}},
			},
		},
	} {
		if err := k8s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, time.Minute, "collector Deployment available", func() error {
		d := &appsv1.Deployment{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "intake-nps-collector"}, d); err != nil {
			return err
		}
		if d.Status.AvailableReplicas != 1 {
			return fmt.Errorf("%d available", d.Status.AvailableReplicas)
		}
		return nil
	})
	report := &privacyv1alpha1.BreachReport{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "misdirected-email"},
		Spec: privacyv1alpha1.BreachReportSpec{
			CampaignRefs: []privacyv1alpha1.LocalObjectReference{{Name: "intake-nps"}},
			DetectedAt:   metav1.Time{Time: time.Now().Add(-time.Hour).Truncate(time.Second)},
			Category:     privacyv1alpha1.BreachCategoryDataLeak, Severity: privacyv1alpha1.BreachSeverityMedium,
			Jurisdictions: []privacyv1alpha1.Jurisdiction{privacyv1alpha1.JurisdictionGDPR},
			Containment:   privacyv1alpha1.ContainmentSpec{PauseCollection: ptr.To(true), RotateKeys: ptr.To(true)},
		},
	}
	if err := k8s.Create(ctx, report); err != nil {
		t.Fatal(err)
	}
	// Contained: paused (the pod is gone) and k2 active.
	eventually(t, time.Minute, "report Contained", func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(report), report); err != nil {
			return err
		}
		if report.Status.Phase != privacyv1alpha1.BreachPhaseContained {
			return fmt.Errorf("phase %q, containment %+v", report.Status.Phase, report.Status.Containment)
		}
		return nil
	})
	eventually(t, time.Minute, "collector pods gone", func() error {
		pods := &corev1.PodList{}
		if err := k8s.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels{"app.kubernetes.io/instance": "intake-nps"}); err != nil {
			return err
		}
		if len(pods.Items) != 0 {
			return fmt.Errorf("%d pods", len(pods.Items))
		}
		return nil
	})
	time.Sleep(2 * time.Second) // let the last status writes settle
	versions := func() map[string]string {
		out := map[string]string{}
		for name, o := range map[string]client.Object{
			"campaign": &privacyv1alpha1.SurveyCampaign{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "intake-nps"}},
			"report":   &privacyv1alpha1.BreachReport{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "misdirected-email"}},
			"keys":     &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "intake-nps-keys"}},
			"deploy":   &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "intake-nps-collector"}},
			"cronjob":  &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "intake-nps-retention"}},
			"policy":   &privacyv1alpha1.RetentionPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ninety-days"}},
		} {
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(o), o); err != nil {
				t.Fatal(err)
			}
			out[name] = o.GetResourceVersion()
			if s, ok := o.(*corev1.Secret); ok {
				out["active key"] = string(s.Data["active"])
			}
		}
		return out
	}
	before := versions()
	if before["active key"] != "k2" {
		t.Fatalf("active key %q after containment, want k2", before["active key"])
	}

	stop()
	restarted := time.Now()
	startManager(t, ns+"/intake-nps=127.0.0.1:1")
	ready := time.Since(restarted)
	time.Sleep(5 * time.Second) // the new manager lists and reconciles everything at start
	after := versions()
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s changed across the restart: %s -> %s", k, v, after[k])
		}
	}
	t.Logf("restart: new manager ready in %s; no write to the campaign, report, keys, Deployment, CronJob or policy in the 5 s after",
		ready.Round(time.Millisecond))
}

// jobPurgeArgs are the purge flags of the Job's pod that do not name files
// inside the pod (token and CA are given as local files instead).
func jobPurgeArgs(t *testing.T, p *corev1.Pod) []string {
	t.Helper()
	in := p.Spec.Containers[0].Args[1:]
	var out []string
	for i := 0; i+1 < len(in); i += 2 {
		switch in[i] {
		case "--token-file", "--ca-file":
			continue
		}
		out = append(out, in[i], in[i+1])
	}
	if len(out) == 0 {
		t.Fatalf("the purge pod has no flags: %v", p.Spec.Containers[0].Args)
	}
	return out
}

func meta(conds []metav1.Condition, typ string) *metav1.Condition {
	for i := range conds {
		if conds[i].Type == typ {
			return &conds[i]
		}
	}
	return nil
}

// startManager runs the operator against the cluster, dialling the campaign
// of collectorAddress ("ns/name=host:port") at a local address.
func startManager(t *testing.T, collectorAddress string) (stop func()) {
	t.Helper()
	stop, _ = testenv.StartManager(t, bin, cluster.Kubeconfig, "--collector-image=example.com/surveyguard:e2e",
		"--collector-address="+collectorAddress, "--stats-interval=2s")
	return stop
}
