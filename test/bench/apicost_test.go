package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
	"github.com/surveyguard/surveyguard/internal/manager"
	"github.com/surveyguard/surveyguard/internal/testenv"
)

// firstStatus is the status the operator writes on a new campaign's first
// pass in BenchmarkOperatorScale (no collector runs under envtest).
const firstStatus = `{"conditions":[
{"type":"CollectorAvailable","status":"False","observedGeneration":1,"lastTransitionTime":"2026-12-04T17:31:40Z","reason":"CollectorUnavailable","message":"the collector Deployment is rolling out"},
{"type":"EncryptionEnforced","status":"True","observedGeneration":1,"lastTransitionTime":"2026-12-04T17:31:40Z","reason":"Succeeded","message":"personal fields are encrypted with key k1"},
{"type":"StorageAvailable","status":"Unknown","observedGeneration":1,"lastTransitionTime":"2026-12-04T17:31:40Z","reason":"CollectorUnavailable","message":"the storage use is not known yet: the collector's figures have not been read"},
{"type":"RetentionEnforced","status":"Unknown","observedGeneration":1,"lastTransitionTime":"2026-12-04T17:31:40Z","reason":"CollectorUnavailable","message":"the age of the oldest response is not known yet: the collector's figures have not been read"},
{"type":"Reconciling","status":"True","observedGeneration":1,"lastTransitionTime":"2026-12-04T17:31:40Z","reason":"Progressing","message":"the collector Deployment is rolling out"},
{"type":"Ready","status":"False","observedGeneration":1,"lastTransitionTime":"2026-12-04T17:31:40Z","reason":"Progressing","message":"the collector Deployment is rolling out"}],
"observedGeneration":1,"endpoint":"https://campaign-0000-collector.scale.svc:8443",
"breaches":{"count":0,"rate":"0","band":"Optimal"},
"encryption":{"activeKeyID":"k1","rotatedAt":"2026-12-04T17:31:40Z"},
"retention":{"policy":"ninety-days"}}`

// BenchmarkAPIWriteCost measures what one write of each kind a new campaign
// causes costs envtest's API server and etcd in CPU time: BENCH_WRITES
// (default 1000) of each, by a plain client on 8 connections, one kind at
// a time, with nothing watching. The operator's own writes on a campaign
// (the finalizer and the status, JSON on a custom resource with a schema)
// are set beside the children's (protobuf, built-in kinds).
func BenchmarkAPIWriteCost(b *testing.B) {
	log.SetLogger(logr.Discard())
	n := envInt("BENCH_WRITES", 1000)
	env, err := testenv.Start(testenv.CRDDir())
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = env.Stop() }()
	k8s, err := ctrlclient.New(env.Config, ctrlclient.Options{Scheme: manager.NewScheme()})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	const ns = "cost"
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		b.Fatal(err)
	}
	var status privacyv1alpha1.SurveyCampaignStatus
	if err := json.Unmarshal([]byte(firstStatus), &status); err != nil {
		b.Fatal(err)
	}
	cpu := cpuWatch{pids: controlPlanePIDs(b)}
	campaigns := make([]*privacyv1alpha1.SurveyCampaign, n)
	var lines []string
	measure := func(metric string, write func(i int) error) {
		start := cpu.sample(b)
		if err := onEight(n, write); err != nil {
			b.Fatalf("%s: %v", metric, err)
		}
		used := cpu.sample(b).since(start)
		api := used.procs["kube-apiserver"].Seconds() * 1e3 / float64(n)
		etcd := used.procs["etcd"].Seconds() * 1e3 / float64(n)
		b.ReportMetric(api, "apiserver-ms/"+metric)
		lines = append(lines, fmt.Sprintf("%-17s kube-apiserver %.2f ms, etcd %.2f ms of CPU per write (%d in %s)", metric, api, etcd, n, used.wall.Round(100_000_000)))
	}
	labels := map[string]string{"app.kubernetes.io/managed-by": "surveyguard", privacyv1alpha1.LabelCampaign: "campaign"}
	measure("campaign-create", func(i int) error {
		c := newCampaign(ns, i)
		campaigns[i] = c
		return k8s.Create(ctx, c)
	})
	measure("finalizer-patch", func(i int) error {
		c := campaigns[i]
		patch := ctrlclient.MergeFrom(c.DeepCopy())
		controllerutil.AddFinalizer(c, privacyv1alpha1.Finalizer)
		return k8s.Patch(ctx, c, patch)
	})
	measure("status-patch", func(i int) error {
		c := campaigns[i]
		before := c.DeepCopy()
		c.Status = *status.DeepCopy()
		return k8s.Status().Patch(ctx, c, ctrlclient.MergeFrom(before))
	})
	measure("secret-create", func(i int) error {
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("keys-%04d", i), Labels: labels},
			Data:       map[string][]byte{"keys.json": make([]byte, 600), "hmac": make([]byte, 64)},
		}
		return k8s.Create(ctx, s)
	})
	measure("configmap-create", func(i int) error {
		cm := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("config-%04d", i), Labels: labels},
			Data:       map[string]string{"collector.json": strings.Repeat("x", 1500)},
		}
		return k8s.Create(ctx, cm)
	})
	measure("event-create", func(i int) error {
		e := &eventsv1.Event{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("campaign-%04d.created", i)},
			EventTime:  metav1.NowMicro(), ReportingController: "surveyguard.io/operator", ReportingInstance: "bench",
			Action: "Reconcile", Reason: "Created", Type: corev1.EventTypeNormal,
			Regarding: corev1.ObjectReference{Kind: "SurveyCampaign", Namespace: ns, Name: fmt.Sprintf("campaign-%04d", i)},
			Note:      "created ServiceAccount/a, Secret/b, Secret/c, Secret/d, Secret/e, ConfigMap/f, PersistentVolumeClaim/g, Deployment/h, Service/i",
		}
		return k8s.Create(ctx, e)
	})
	for _, l := range lines {
		b.Log(l)
	}
}

// onEight runs write(0), ..., write(n-1) on 8 goroutines, as a plain client
// with 8 connections at work would, and returns the first error; a
// goroutine stops at its first.
func onEight(n int, write func(i int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < int64(n); i = next.Add(1) - 1 {
				if err := write(int(i)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}
