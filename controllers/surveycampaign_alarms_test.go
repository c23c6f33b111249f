package controllers_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
	"github.com/surveyguard/surveyguard/internal/adminclient"
	"github.com/surveyguard/surveyguard/internal/collectorapi"
)

// fakeCollector answers the admin API of a campaign with the figures the
// test sets, over the campaign's own serving certificate, and records what
// the operator sends: the figures of a real collector in trouble (a key
// gone, the store full) without making the trouble.
type fakeCollector struct {
	stats atomic.Pointer[collectorapi.Stats]
	// fail makes the stats answer 503, as a collector restarting does.
	fail atomic.Bool

	mu       sync.Mutex
	callers  map[string]bool
	purges   []string // request bodies
	erasures int
}

func startFakeCollector(t *testing.T, ns string, st *collectorapi.Stats) *fakeCollector {
	t.Helper()
	f, addr := serveFakeCollector(t, ns, st)
	collectors.Dial(ns+"/checkout-nps", addr)
	return f
}

// serveFakeCollector starts a fakeCollector on loopback and returns its
// address, which the operator is not told of.
func serveFakeCollector(t *testing.T, ns string, st *collectorapi.Stats) (*fakeCollector, string) {
	t.Helper()
	secret := &corev1.Secret{}
	eventually(t, "TLS Secret", func() error { return get(ns, "checkout-nps-tls", secret) })
	cert, err := tls.X509KeyPair(secret.Data[corev1.TLSCertKey], secret.Data[corev1.TLSPrivateKeyKey])
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeCollector{callers: map[string]bool{}}
	f.stats.Store(st)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return f, srv.Listener.Addr().String()
}

func (f *fakeCollector) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.callers[r.Header.Get(adminclient.CallerHeader)] = true
	if r.URL.Path == "/admin/v1/purge" {
		f.purges = append(f.purges, string(body))
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/admin/v1/stats":
		if f.fail.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error":"restarting"}`))
			return
		}
		_ = json.NewEncoder(w).Encode(f.stats.Load())
	case "/admin/v1/purge":
		_, _ = w.Write([]byte(`{"action":"Delete","purged":0,"digest":"e3b0c44298fc1c149afbf4c8996fb924"}`))
	case "/admin/v1/erase":
		f.mu.Lock()
		f.erasures++
		f.mu.Unlock()
		now := time.Now().UTC().Format(time.RFC3339Nano)
		_, _ = fmt.Fprintf(w, `{"erased":1,"digest":"%064x","startedAt":%q,"finishedAt":%q}`, 7, now, now)
	default:
		http.NotFound(w, r)
	}
}

// keySecret is a key Secret as the operator makes it, with data keys ids
// (the last one active).
func keySecret(ns string, hmac []byte, ids ...string) *corev1.Secret {
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "checkout-nps-keys", Namespace: ns, Labels: map[string]string{
			privacyv1alpha1.LabelManagedBy: privacyv1alpha1.ManagedByValue, privacyv1alpha1.LabelCampaign: "checkout-nps",
		}, Annotations: map[string]string{"privacy.surveyguard.io/rotated-at": fakeClock.Now().UTC().Format(time.RFC3339)}},
		Data: map[string][]byte{"hmac": hmac, "active": []byte(ids[len(ids)-1])},
	}
	for i, id := range ids {
		s.Data["key-"+id] = bytes.Repeat([]byte{byte(i + 1)}, 32)
	}
	return s
}

// waitCampaign waits, marking the collector available and poking the
// campaign, until check accepts the campaign.
func waitCampaign(t *testing.T, ns, what string, check func(*privacyv1alpha1.SurveyCampaign) error) *privacyv1alpha1.SurveyCampaign {
	t.Helper()
	c := &privacyv1alpha1.SurveyCampaign{}
	eventually(t, what, func() error {
		markAvailable(t, ns)
		poke(t, ns)
		if err := get(ns, "checkout-nps", c); err != nil {
			return err
		}
		return check(c)
	})
	return c
}

// hasCondition checks one condition's status and reason, and that its
// message says want.
func hasCondition(c *privacyv1alpha1.SurveyCampaign, typ string, status metav1.ConditionStatus, reason, want string) error {
	cond := condition(c, typ)
	if cond == nil || cond.Status != status || cond.Reason != reason || !strings.Contains(cond.Message, want) {
		return fmt.Errorf("%s = %+v, want %s %s saying %q", typ, cond, status, reason, want)
	}
	return nil
}

func TestCollectorAlarmsReachStatusAndKeysStay(t *testing.T) {
	ns := namespace(t)
	hmac := bytes.Repeat([]byte{0xab}, 32)
	// k2 is active and k1 is still in the Secret, as after a rotation,
	// restored from a backup with kubectl apply: its last-applied
	// annotation holds a copy of every key.
	restored := keySecret(ns, hmac, "k1", "k2")
	if restored.Annotations == nil {
		restored.Annotations = map[string]string{}
	}
	restored.Annotations[corev1.LastAppliedConfigAnnotation] = `{"apiVersion":"v1","kind":"Secret","data":{"key-k1":"` +
		base64.StdEncoding.EncodeToString(restored.Data["key-k1"]) + `"}}`
	create(t, restored, policy(ns), campaign(ns))
	storage := collectorapi.StorageStats{UsedBytes: 1 << 20, MaxBytes: 800 << 20, FreeBytes: ptr.To[int64](700 << 20)}
	f := startFakeCollector(t, ns, &collectorapi.Stats{ActiveKeyID: "k2", MissingKeyIDs: []string{"k1"}, Storage: storage})

	// The collector misses k1 although nothing is left to re-wrap: the
	// operator reports it and keeps k1.
	waitCampaign(t, ns, "EncryptionEnforced KeyMissing", func(c *privacyv1alpha1.SurveyCampaign) error {
		want := "data key k1 is missing from Secret checkout-nps-keys while stored responses are sealed by it; restore it from backup"
		if err := hasCondition(c, privacyv1alpha1.ConditionEncryptionEnforced, metav1.ConditionFalse, privacyv1alpha1.ReasonKeyMissing, want); err != nil {
			return err
		}
		if err := hasCondition(c, privacyv1alpha1.ConditionStalled, metav1.ConditionTrue, privacyv1alpha1.ReasonKeyMissing, want); err != nil {
			return err
		}
		return hasCondition(c, privacyv1alpha1.ConditionReady, metav1.ConditionFalse, privacyv1alpha1.ReasonKeyMissing, want)
	})
	// A person must act: kstatus reads it Failed, not Current.
	c := &privacyv1alpha1.SurveyCampaign{}
	if err := get(ns, "checkout-nps", c); err != nil {
		t.Fatal(err)
	}
	if got := kstatusOf(t, c); got != status.FailedStatus {
		t.Errorf("kstatus %s with a key missing, want Failed", got)
	}
	keys := &corev1.Secret{}
	if err := get(ns, "checkout-nps-keys", keys); err != nil || len(keys.Data["key-k1"]) != 32 {
		t.Fatalf("k1 was dropped while the collector reports it missing (%v): %v", err, keys.Data)
	}

	// The hmac key was changed under the collector. Nothing is missing any
	// more, so k1 retires; the hmac key is the operator's to keep.
	f.stats.Store(&collectorapi.Stats{ActiveKeyID: "k2", HMACKeyRejected: true, Storage: storage})
	waitCampaign(t, ns, "EncryptionEnforced HMACKeyRejected", func(c *privacyv1alpha1.SurveyCampaign) error {
		want := "the hmac key in Secret checkout-nps-keys changed while stored responses carry pseudonyms made with the previous one"
		if err := hasCondition(c, privacyv1alpha1.ConditionEncryptionEnforced, metav1.ConditionFalse, privacyv1alpha1.ReasonHMACKeyRejected, want); err != nil {
			return err
		}
		return hasCondition(c, privacyv1alpha1.ConditionReady, metav1.ConditionFalse, privacyv1alpha1.ReasonHMACKeyRejected, "restore it")
	})
	eventually(t, "k1 retired once nothing misses it", func() error {
		if err := get(ns, "checkout-nps-keys", keys); err != nil {
			return err
		}
		if _, ok := keys.Data["key-k1"]; ok {
			return fmt.Errorf("k1 still there")
		}
		return nil
	})
	if !bytes.Equal(keys.Data["hmac"], hmac) {
		t.Error("the operator changed the hmac key")
	}
	if a, ok := keys.Annotations[corev1.LastAppliedConfigAnnotation]; ok {
		t.Errorf("the retired key stays in the last-applied annotation: %.40s...", a)
	}

	// The store is full: ingest is refused until a purge or a larger limit.
	f.stats.Store(&collectorapi.Stats{ActiveKeyID: "k2", Storage: collectorapi.StorageStats{
		UsedBytes: 801 << 20, MaxBytes: 800 << 20, Full: true, Reason: "the store holds 801Mi, over limits.maxStoreSize 800Mi",
	}})
	waitCampaign(t, ns, "StorageAvailable False", func(c *privacyv1alpha1.SurveyCampaign) error {
		want := "the store holds 801Mi, over limits.maxStoreSize 800Mi"
		if err := hasCondition(c, privacyv1alpha1.ConditionStorageAvailable, metav1.ConditionFalse, privacyv1alpha1.ReasonStorageBudgetExceeded, want); err != nil {
			return err
		}
		if err := hasCondition(c, privacyv1alpha1.ConditionStalled, metav1.ConditionTrue, privacyv1alpha1.ReasonStorageBudgetExceeded, want); err != nil {
			return err
		}
		return hasCondition(c, privacyv1alpha1.ConditionReady, metav1.ConditionFalse, privacyv1alpha1.ReasonStorageBudgetExceeded, want)
	})

	// Purged: everything is well again.
	f.stats.Store(&collectorapi.Stats{ActiveKeyID: "k2", Storage: storage})
	waitCampaign(t, ns, "Ready", func(c *privacyv1alpha1.SurveyCampaign) error {
		if err := hasCondition(c, privacyv1alpha1.ConditionStorageAvailable, metav1.ConditionTrue, privacyv1alpha1.ReasonSucceeded, "1Mi of 800Mi used; 700Mi free"); err != nil {
			return err
		}
		if err := hasCondition(c, privacyv1alpha1.ConditionEncryptionEnforced, metav1.ConditionTrue, privacyv1alpha1.ReasonSucceeded, "k2"); err != nil {
			return err
		}
		if cond := condition(c, privacyv1alpha1.ConditionStalled); cond != nil {
			return fmt.Errorf("still Stalled: %+v", cond)
		}
		return hasCondition(c, privacyv1alpha1.ConditionReady, metav1.ConditionTrue, privacyv1alpha1.ReasonSucceeded, "")
	})

	// The admin API stops answering while the pods are available (a
	// restart): converging, so Reconciling, and kstatus InProgress.
	f.fail.Store(true)
	waitCampaign(t, ns, "Reconciling while the admin API does not answer", func(c *privacyv1alpha1.SurveyCampaign) error {
		if err := hasCondition(c, privacyv1alpha1.ConditionReconciling, metav1.ConditionTrue, privacyv1alpha1.ReasonCollectorUnavailable, "does not answer"); err != nil {
			return err
		}
		if got := kstatusOf(t, c); got != status.InProgressStatus {
			return fmt.Errorf("kstatus %s, want InProgress", got)
		}
		return nil
	})
	f.fail.Store(false)

	// Deleting the campaign purges everything, naming the action.
	deleteCampaign(t, ns)
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.purges) != 1 {
		t.Fatalf("purge requests on deletion: %q, want one", f.purges)
	}
	var purge map[string]any
	if err := json.Unmarshal([]byte(f.purges[0]), &purge); err != nil || purge["everything"] != true || purge["action"] != "Delete" {
		t.Errorf("the deletion purge sent %s, want everything and action Delete", f.purges[0])
	}
	if len(f.callers) != 1 || !f.callers["operator"] {
		t.Errorf("%s headers %v, want only \"operator\"", adminclient.CallerHeader, f.callers)
	}
}

// TestUnreadyCollectorIsAskedWhy: a collector whose key file is gone
// fails its readiness probe, so its pod is no endpoint of its Service and
// the Deployment has no available replica; the operator asks that pod
// directly, at the address the Service's EndpointSlice lists as not
// ready, and the campaign says which key to restore rather than only that
// the collector is unavailable. Erasures and the deletion's purge reach
// the pod the same way.
func TestUnreadyCollectorIsAskedWhy(t *testing.T) {
	ns := namespace(t)
	create(t, keySecret(ns, bytes.Repeat([]byte{0xab}, 32), "k1"), policy(ns), campaign(ns))
	f, addr := serveFakeCollector(t, ns, &collectorapi.Stats{ActiveKeyID: "k1", MissingKeyIDs: []string{"k1"}})
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	portNumber, err := strconv.ParseInt(port, 10, 32)
	if err != nil {
		t.Fatal(err)
	}
	create(t, &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "checkout-nps-collector-x7k2p", Namespace: ns, Labels: map[string]string{
			discoveryv1.LabelServiceName: "checkout-nps-collector", discoveryv1.LabelManagedBy: "endpointslice-controller.k8s.io",
		}},
		AddressType: discoveryv1.AddressTypeIPv4,
		// podNetwork routes 192.0.2.7 to the fake collector's loopback address.
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"192.0.2.7"}, Conditions: discoveryv1.EndpointConditions{
			Ready: ptr.To(false), Serving: ptr.To(false), Terminating: ptr.To(false),
		}}},
		Ports: []discoveryv1.EndpointPort{
			{Name: ptr.To("public"), Port: ptr.To[int32](1), Protocol: ptr.To(corev1.ProtocolTCP)},
			{Name: ptr.To("admin"), Port: ptr.To(int32(portNumber)), Protocol: ptr.To(corev1.ProtocolTCP)},
		},
	})

	want := "data key k1 is missing from Secret checkout-nps-keys while stored responses are sealed by it; restore it from backup"
	c := &privacyv1alpha1.SurveyCampaign{}
	eventually(t, "KeyMissing read from the pod that is not ready", func() error {
		markUnready(t, ns)
		poke(t, ns)
		if err := get(ns, "checkout-nps", c); err != nil {
			return err
		}
		if err := hasCondition(c, privacyv1alpha1.ConditionEncryptionEnforced, metav1.ConditionFalse, privacyv1alpha1.ReasonKeyMissing, want); err != nil {
			return err
		}
		if err := hasCondition(c, privacyv1alpha1.ConditionStalled, metav1.ConditionTrue, privacyv1alpha1.ReasonKeyMissing, want); err != nil {
			return err
		}
		return hasCondition(c, privacyv1alpha1.ConditionCollectorAvailable, metav1.ConditionFalse, privacyv1alpha1.ReasonCollectorUnavailable, "0 available replicas")
	})
	if got := kstatusOf(t, c); got != status.FailedStatus {
		t.Errorf("kstatus %s with a key missing, want Failed", got)
	}

	// Erasure needs no data key: the pod erases while the key is missing.
	create(t, &privacyv1alpha1.ErasureRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "erase-c-42"},
		Spec:       privacyv1alpha1.ErasureRequestSpec{Subject: privacyv1alpha1.ErasureSubject{CustomerID: "C-42"}},
	})
	erasureStatus(t, ns, "erase-c-42", completed)

	// Deleting the campaign purges at the pod too, before the keys go.
	deleteCampaign(t, ns)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.erasures != 1 || len(f.purges) != 1 {
		t.Errorf("the pod that is not ready was asked %d erasures and %d purges, want 1 and 1", f.erasures, len(f.purges))
	}
}

// markUnready gives the collector Deployment one replica that is not
// ready, as a pod failing its readiness probe leaves it.
func markUnready(t *testing.T, ns string) {
	t.Helper()
	setCollectorStatus(t, ns, "unready", appsv1.DeploymentStatus{Replicas: 1, UpdatedReplicas: 1, UnavailableReplicas: 1})
}

// TestKeySecretIsNeverMadeAgain: a key Secret deleted after its keys were
// used is not replaced by new keys (a new HMAC key would orphan every
// pseudonym): the campaign stalls until it is restored. One that only lost
// its label is found and labelled again.
func TestKeySecretIsNeverMadeAgain(t *testing.T) {
	ns := namespace(t)
	create(t, policy(ns), campaign(ns))
	c := &privacyv1alpha1.SurveyCampaign{}
	eventually(t, "status.encryption", func() error {
		if err := get(ns, "checkout-nps", c); err != nil {
			return err
		}
		if c.Status.Encryption == nil || c.Status.Encryption.ActiveKeyID != "k1" {
			return fmt.Errorf("encryption status %+v", c.Status.Encryption)
		}
		return nil
	})
	original := &corev1.Secret{}
	if err := get(ns, "checkout-nps-keys", original); err != nil {
		t.Fatal(err)
	}

	// Lost its label: the cache no longer holds it, the API server does.
	unlabelled := original.DeepCopy()
	delete(unlabelled.Labels, privacyv1alpha1.LabelManagedBy)
	if err := k8s.Update(context.Background(), unlabelled); err != nil {
		t.Fatal(err)
	}
	eventually(t, "label restored", func() error {
		poke(t, ns)
		s := &corev1.Secret{}
		if err := get(ns, "checkout-nps-keys", s); err != nil {
			return err
		}
		if s.Labels[privacyv1alpha1.LabelManagedBy] != privacyv1alpha1.ManagedByValue {
			return fmt.Errorf("labels %v", s.Labels)
		}
		if !bytes.Equal(s.Data["hmac"], original.Data["hmac"]) || !bytes.Equal(s.Data["key-k1"], original.Data["key-k1"]) {
			return fmt.Errorf("the keys changed")
		}
		return nil
	})

	// Deleted: stalled, and no new Secret.
	if err := k8s.Delete(context.Background(), original); err != nil {
		t.Fatal(err)
	}
	eventually(t, "Stalled KeyMissing", func() error {
		poke(t, ns)
		if err := get(ns, "checkout-nps", c); err != nil {
			return err
		}
		if err := hasCondition(c, privacyv1alpha1.ConditionEncryptionEnforced, metav1.ConditionFalse, privacyv1alpha1.ReasonKeyMissing,
			"key Secret checkout-nps-keys is gone"); err != nil {
			return err
		}
		return hasCondition(c, privacyv1alpha1.ConditionStalled, metav1.ConditionTrue, privacyv1alpha1.ReasonKeyMissing,
			"key Secret checkout-nps-keys is gone while stored responses may be sealed by its keys (active key k1)")
	})
	if err := get(ns, "checkout-nps-keys", &corev1.Secret{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the operator made a new key Secret (get: %v)", err)
	}

	// Restored from backup (labels and data, no owner): back to work with
	// the same keys.
	restored := keySecret(ns, original.Data["hmac"], "k1")
	restored.Data = original.Data
	restored.Annotations = original.Annotations
	create(t, restored)
	eventually(t, "no longer stalled", func() error {
		poke(t, ns)
		if err := get(ns, "checkout-nps", c); err != nil {
			return err
		}
		if cond := condition(c, privacyv1alpha1.ConditionStalled); cond != nil {
			return fmt.Errorf("still stalled: %+v", cond)
		}
		return hasCondition(c, privacyv1alpha1.ConditionEncryptionEnforced, metav1.ConditionTrue, privacyv1alpha1.ReasonSucceeded, "k1")
	})
	s := &corev1.Secret{}
	if err := get(ns, "checkout-nps-keys", s); err != nil || !bytes.Equal(s.Data["hmac"], original.Data["hmac"]) {
		t.Errorf("the restored hmac key was changed (%v)", err)
	}
}

// TestKeysRetireOnlyOnceRolledOut: the collector that answers has
// re-wrapped everything under the new key, but a pod of the template
// before the rotation still runs (a rolling update of several PostgreSQL
// replicas) and may seal new answers with the old key: the old key stays
// until no such pod is left.
func TestKeysRetireOnlyOnceRolledOut(t *testing.T) {
	ns := namespace(t)
	create(t, keySecret(ns, bytes.Repeat([]byte{0xab}, 32), "k1", "k2"), policy(ns), campaign(ns))
	startFakeCollector(t, ns, &collectorapi.Stats{ActiveKeyID: "k2"})
	eventually(t, "figures read while the rollout is under way", func() error {
		d := &appsv1.Deployment{}
		if err := get(ns, "checkout-nps-collector", d); err != nil {
			return err
		}
		// The one pod wanted is available, but of the template before.
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 1, UpdatedReplicas: 0, ReadyReplicas: 1, AvailableReplicas: 1}
		if err := k8s.Status().Update(context.Background(), d); err != nil {
			return err
		}
		poke(t, ns)
		c := &privacyv1alpha1.SurveyCampaign{}
		if err := get(ns, "checkout-nps", c); err != nil {
			return err
		}
		return hasCondition(c, privacyv1alpha1.ConditionEncryptionEnforced, metav1.ConditionTrue, privacyv1alpha1.ReasonSucceeded, "k2")
	})
	keys := &corev1.Secret{}
	if err := get(ns, "checkout-nps-keys", keys); err != nil {
		t.Fatal(err)
	}
	if _, ok := keys.Data["key-k1"]; !ok {
		t.Fatal("k1 was retired while a pod of the previous template still ran")
	}

	eventually(t, "k1 retired once rolled out", func() error {
		markAvailable(t, ns)
		poke(t, ns)
		if err := get(ns, "checkout-nps-keys", keys); err != nil {
			return err
		}
		if _, ok := keys.Data["key-k1"]; ok {
			return fmt.Errorf("k1 still there")
		}
		return nil
	})
}
