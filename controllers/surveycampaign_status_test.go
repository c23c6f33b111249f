package controllers

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
	"github.com/surveyguard/surveyguard/internal/collectorapi"
	"github.com/surveyguard/surveyguard/internal/nps"
)

func available(gen int64) *appsv1.Deployment {
	d := &appsv1.Deployment{}
	d.Generation = gen
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: gen, AvailableReplicas: 1}
	return d
}

func TestSetCampaignStatus(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	stats := &collectorapi.Stats{ActiveKeyID: "k1", Result: nps.Result{Responses: 20, Score: ptr.To[int32](30)},
		Storage: collectorapi.StorageStats{UsedBytes: 412 << 20, MaxBytes: 800 << 20, FreeBytes: ptr.To[int64](2308544921)}}
	full := *stats
	full.Storage = collectorapi.StorageStats{UsedBytes: 801 << 20, MaxBytes: 800 << 20, Full: true, Reason: "the store holds 801Mi, over limits.maxStoreSize 800Mi"}
	missing := *stats
	missing.MissingKeyIDs = []string{"k1"}
	hmac := *stats
	hmac.HMACKeyRejected = true
	both := full
	both.MissingKeyIDs = []string{"k3", "k1"}
	changed := *stats
	changed.MissingKeyIDs, changed.ChangedKeyIDs = []string{"k2", "k1", "k3"}, []string{"k3", "k1"}
	cases := []struct {
		name                    string
		obs                     observed
		ready, reconciling      metav1.ConditionStatus // "" = absent
		stalled, collector, enc metav1.ConditionStatus
		storage                 metav1.ConditionStatus
		readyReason, encReason  string
		// messages the conditions must say, by type.
		messages map[string]string
	}{
		{
			name:  "stalled: missing policy",
			obs:   observed{stall: stall(privacyv1alpha1.ReasonRetentionPolicyNotFound, "no policy")},
			ready: metav1.ConditionFalse, stalled: metav1.ConditionTrue, readyReason: privacyv1alpha1.ReasonRetentionPolicyNotFound,
		},
		{
			name:  "children just created",
			obs:   observed{changed: []string{"Deployment/x"}, activeKeyID: "k1"},
			ready: metav1.ConditionFalse, reconciling: metav1.ConditionTrue, collector: metav1.ConditionFalse, enc: metav1.ConditionTrue,
			storage: metav1.ConditionUnknown, readyReason: privacyv1alpha1.ReasonProgressing,
		},
		{
			name:  "rolling out",
			obs:   observed{deployment: &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Generation: 2}}, activeKeyID: "k1"},
			ready: metav1.ConditionFalse, reconciling: metav1.ConditionTrue, collector: metav1.ConditionFalse, enc: metav1.ConditionTrue,
			storage: metav1.ConditionUnknown, readyReason: privacyv1alpha1.ReasonProgressing,
		},
		{
			name:  "healthy",
			obs:   observed{deployment: available(1), stats: stats, activeKeyID: "k1", rotatedAt: now},
			ready: metav1.ConditionTrue, collector: metav1.ConditionTrue, enc: metav1.ConditionTrue, storage: metav1.ConditionTrue,
			readyReason: privacyv1alpha1.ReasonSucceeded,
			messages:    map[string]string{privacyv1alpha1.ConditionStorageAvailable: "412Mi of 800Mi used; 2.1Gi free"},
		},
		{
			name:  "collector still on the old key",
			obs:   observed{deployment: available(1), stats: stats, activeKeyID: "k2"},
			ready: metav1.ConditionTrue, collector: metav1.ConditionTrue, enc: metav1.ConditionFalse, storage: metav1.ConditionTrue,
			readyReason: privacyv1alpha1.ReasonSucceeded, encReason: privacyv1alpha1.ReasonProgressing,
		},
		{
			name:  "admin API does not answer",
			obs:   observed{deployment: available(1), statsErr: errors.New("connection refused"), activeKeyID: "k1"},
			ready: metav1.ConditionFalse, reconciling: metav1.ConditionTrue, collector: metav1.ConditionFalse, enc: metav1.ConditionTrue, storage: metav1.ConditionUnknown,
			readyReason: privacyv1alpha1.ReasonCollectorUnavailable,
		},
		{
			name:  "waiting for cert-manager",
			obs:   observed{deployment: available(1), stats: stats, activeKeyID: "k1", waiting: "waiting for cert-manager to issue Certificate x-collector"},
			ready: metav1.ConditionFalse, reconciling: metav1.ConditionTrue, collector: metav1.ConditionTrue, enc: metav1.ConditionTrue,
			storage: metav1.ConditionTrue, readyReason: privacyv1alpha1.ReasonProgressing,
		},
		{
			name:  "paused",
			obs:   observed{paused: true, deployment: &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](0)}}, activeKeyID: "k1"},
			ready: metav1.ConditionTrue, collector: metav1.ConditionFalse, enc: metav1.ConditionTrue, storage: metav1.ConditionUnknown,
			readyReason: privacyv1alpha1.ReasonPaused,
		},
		{
			// The pass failed before scaling the collector down: not paused yet.
			name:  "pause asked, the collector still running",
			obs:   observed{paused: true, deployment: available(1), activeKeyID: "k1"},
			ready: metav1.ConditionFalse, reconciling: metav1.ConditionTrue, collector: metav1.ConditionTrue, enc: metav1.ConditionTrue,
			storage: metav1.ConditionUnknown, readyReason: privacyv1alpha1.ReasonProgressing,
		},
		{
			// The last figures read before the pause said a key was
			// missing: the pause does not hide it (kstatus Failed).
			name:  "paused with a data key missing",
			obs:   observed{paused: true, deployment: &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](0)}}, stats: &missing, activeKeyID: "k1"},
			ready: metav1.ConditionFalse, stalled: metav1.ConditionTrue, collector: metav1.ConditionFalse, enc: metav1.ConditionFalse, storage: metav1.ConditionTrue,
			readyReason: privacyv1alpha1.ReasonKeyMissing, encReason: privacyv1alpha1.ReasonKeyMissing,
		},
		{
			// A paused collector takes no answers, so a full store refuses none.
			name:  "paused with the storage budget exceeded",
			obs:   observed{paused: true, deployment: &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](0)}}, stats: &full, activeKeyID: "k1"},
			ready: metav1.ConditionTrue, collector: metav1.ConditionFalse, enc: metav1.ConditionTrue, storage: metav1.ConditionFalse,
			readyReason: privacyv1alpha1.ReasonPaused,
		},
		{
			name:  "storage budget exceeded: ingest refused",
			obs:   observed{deployment: available(1), stats: &full, activeKeyID: "k1"},
			ready: metav1.ConditionFalse, stalled: metav1.ConditionTrue, collector: metav1.ConditionTrue, enc: metav1.ConditionTrue, storage: metav1.ConditionFalse,
			readyReason: privacyv1alpha1.ReasonStorageBudgetExceeded,
			messages: map[string]string{
				privacyv1alpha1.ConditionStorageAvailable: "the store holds 801Mi, over limits.maxStoreSize 800Mi; new responses are refused",
				privacyv1alpha1.ConditionReady:            "the store holds 801Mi, over limits.maxStoreSize 800Mi",
			},
		},
		{
			name:  "a data key the stored responses need is missing",
			obs:   observed{deployment: available(1), stats: &missing, activeKeyID: "k1"},
			ready: metav1.ConditionFalse, stalled: metav1.ConditionTrue, collector: metav1.ConditionTrue, enc: metav1.ConditionFalse, storage: metav1.ConditionTrue,
			readyReason: privacyv1alpha1.ReasonKeyMissing, encReason: privacyv1alpha1.ReasonKeyMissing,
			messages: map[string]string{
				privacyv1alpha1.ConditionEncryptionEnforced: "data key k1 is missing from Secret x-keys while stored responses are sealed by it; restore it from backup",
				privacyv1alpha1.ConditionReady:              "data key k1 is missing from Secret x-keys",
			},
		},
		{
			name:  "data key files hold other bytes than sealed the stored responses",
			obs:   observed{deployment: available(1), stats: &changed, activeKeyID: "k1"},
			ready: metav1.ConditionFalse, stalled: metav1.ConditionTrue, collector: metav1.ConditionTrue, enc: metav1.ConditionFalse, storage: metav1.ConditionTrue,
			readyReason: privacyv1alpha1.ReasonKeyMissing, encReason: privacyv1alpha1.ReasonKeyMissing,
			messages: map[string]string{
				privacyv1alpha1.ConditionEncryptionEnforced: "data key k2 is missing from Secret x-keys while stored responses are sealed by it; " +
					"data keys k1, k3 in Secret x-keys hold other bytes than the keys that sealed stored responses under those IDs; restore them from backup",
			},
		},
		{
			name:  "the hmac key was changed",
			obs:   observed{deployment: available(1), stats: &hmac, activeKeyID: "k1"},
			ready: metav1.ConditionFalse, stalled: metav1.ConditionTrue, collector: metav1.ConditionTrue, enc: metav1.ConditionFalse, storage: metav1.ConditionTrue,
			readyReason: privacyv1alpha1.ReasonHMACKeyRejected, encReason: privacyv1alpha1.ReasonHMACKeyRejected,
			messages: map[string]string{privacyv1alpha1.ConditionEncryptionEnforced: "the hmac key in Secret x-keys changed while stored responses carry " +
				"pseudonyms made with the previous one; the collector keeps using the previous key; restore it"},
		},
		{
			name:  "the key Secret deleted",
			obs:   observed{stall: stall(privacyv1alpha1.ReasonKeyMissing, "key Secret x-keys is gone while stored responses may be sealed by its keys")},
			ready: metav1.ConditionFalse, stalled: metav1.ConditionTrue, enc: metav1.ConditionFalse,
			readyReason: privacyv1alpha1.ReasonKeyMissing, encReason: privacyv1alpha1.ReasonKeyMissing,
		},
		{
			name:  "missing keys outrank a full store",
			obs:   observed{deployment: available(1), stats: &both, activeKeyID: "k1"},
			ready: metav1.ConditionFalse, stalled: metav1.ConditionTrue, collector: metav1.ConditionTrue, enc: metav1.ConditionFalse, storage: metav1.ConditionFalse,
			readyReason: privacyv1alpha1.ReasonKeyMissing, encReason: privacyv1alpha1.ReasonKeyMissing,
			messages: map[string]string{privacyv1alpha1.ConditionEncryptionEnforced: "data keys k1, k3 are missing from Secret x-keys while stored responses are sealed by them"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &privacyv1alpha1.SurveyCampaign{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "y", Generation: 1}}
			setCampaignStatus(c, tc.obs, now)
			for typ, want := range map[string]metav1.ConditionStatus{
				privacyv1alpha1.ConditionReady: tc.ready, privacyv1alpha1.ConditionReconciling: tc.reconciling,
				privacyv1alpha1.ConditionStalled: tc.stalled, privacyv1alpha1.ConditionCollectorAvailable: tc.collector,
				privacyv1alpha1.ConditionEncryptionEnforced: tc.enc, privacyv1alpha1.ConditionStorageAvailable: tc.storage,
			} {
				got := meta.FindStatusCondition(c.Status.Conditions, typ)
				switch {
				case want == "" && got != nil:
					t.Errorf("%s present: %+v", typ, got)
				case want != "" && (got == nil || got.Status != want):
					t.Errorf("%s = %+v, want %s", typ, got, want)
				}
			}
			if r := meta.FindStatusCondition(c.Status.Conditions, privacyv1alpha1.ConditionReady); r == nil || r.Reason != tc.readyReason {
				t.Errorf("Ready reason %+v, want %s", r, tc.readyReason)
			}
			if e := meta.FindStatusCondition(c.Status.Conditions, privacyv1alpha1.ConditionEncryptionEnforced); tc.encReason != "" && (e == nil || e.Reason != tc.encReason) {
				t.Errorf("EncryptionEnforced %+v, want reason %s", e, tc.encReason)
			}
			for typ, want := range tc.messages {
				if got := meta.FindStatusCondition(c.Status.Conditions, typ); got == nil || !strings.Contains(got.Message, want) {
					t.Errorf("%s = %+v, want a message saying %q", typ, got, want)
				}
			}
		})
	}
}

// TestAlarmsStayWhileTheCollectorIsSilent: a missing key or a full store,
// once reported, stays reported (and keeps Ready False) while the
// collector's figures cannot be read, and clears when it says so.
func TestAlarmsStayWhileTheCollectorIsSilent(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	healthy := &collectorapi.Stats{ActiveKeyID: "k1", Storage: collectorapi.StorageStats{UsedBytes: 1 << 20}}
	alarming := *healthy
	alarming.MissingKeyIDs = []string{"k1"}
	alarming.Storage = collectorapi.StorageStats{UsedBytes: 2 << 20, MaxBytes: 1 << 20, Full: true, Reason: "over limits.maxStoreSize"}
	c := &privacyv1alpha1.SurveyCampaign{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "y", Generation: 1}}
	check := func(step string, enc, storage metav1.ConditionStatus, readyReason string) {
		t.Helper()
		for typ, want := range map[string]metav1.ConditionStatus{
			privacyv1alpha1.ConditionEncryptionEnforced: enc, privacyv1alpha1.ConditionStorageAvailable: storage,
		} {
			if got := meta.FindStatusCondition(c.Status.Conditions, typ); got == nil || got.Status != want {
				t.Errorf("%s: %s = %+v, want %s", step, typ, got, want)
			}
		}
		if r := meta.FindStatusCondition(c.Status.Conditions, privacyv1alpha1.ConditionReady); r == nil || r.Reason != readyReason {
			t.Errorf("%s: Ready = %+v, want reason %s", step, r, readyReason)
		}
	}
	setCampaignStatus(c, observed{deployment: available(1), stats: &alarming, activeKeyID: "k1"}, now)
	check("reported", metav1.ConditionFalse, metav1.ConditionFalse, privacyv1alpha1.ReasonKeyMissing)
	reported := c.Status.DeepCopy()

	// The collector's /readyz fails while a key is missing: no figures.
	setCampaignStatus(c, observed{deployment: available(1), statsErr: errors.New("connection refused"), activeKeyID: "k1"}, now.Add(time.Minute))
	check("collector silent", metav1.ConditionFalse, metav1.ConditionFalse, privacyv1alpha1.ReasonKeyMissing)
	for _, typ := range []string{privacyv1alpha1.ConditionEncryptionEnforced, privacyv1alpha1.ConditionStorageAvailable} {
		if !equality.Semantic.DeepEqual(meta.FindStatusCondition(reported.Conditions, typ), meta.FindStatusCondition(c.Status.Conditions, typ)) {
			t.Errorf("%s changed while the collector was silent", typ)
		}
	}
	setCampaignStatus(c, observed{deployment: &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Generation: 1}}, activeKeyID: "k1"}, now.Add(2*time.Minute))
	check("collector unavailable", metav1.ConditionFalse, metav1.ConditionFalse, privacyv1alpha1.ReasonKeyMissing)

	setCampaignStatus(c, observed{deployment: available(1), stats: healthy, activeKeyID: "k1"}, now.Add(3*time.Minute))
	check("restored", metav1.ConditionTrue, metav1.ConditionTrue, privacyv1alpha1.ReasonSucceeded)
}

// TestSetCampaignStatusIsStable: a pass that observes the same thing again
// leaves status exactly as it was, so the reconciler writes nothing.
func TestSetCampaignStatusIsStable(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	st := &collectorapi.Stats{ActiveKeyID: "k1", MissingKeyIDs: []string{"k2", "k1"},
		Storage: collectorapi.StorageStats{UsedBytes: 5 << 20, MaxBytes: 8 << 20, FreeBytes: ptr.To[int64](3 << 30), Full: true, Reason: "full"}}
	for _, obs := range []observed{
		{deployment: available(1), stats: st, activeKeyID: "k1"},
		{deployment: available(1), stats: &collectorapi.Stats{ActiveKeyID: "k1", Storage: collectorapi.StorageStats{Full: true, Reason: "full"}}, activeKeyID: "k1"},
		{deployment: available(1), stats: &collectorapi.Stats{ActiveKeyID: "k1", HMACKeyRejected: true}, activeKeyID: "k1"},
		{deployment: available(1), stats: &collectorapi.Stats{ActiveKeyID: "k1"}, activeKeyID: "k1"},
		{deployment: available(1), statsErr: errors.New("timeout"), activeKeyID: "k1"},
		{paused: true, activeKeyID: "k1"},
	} {
		c := &privacyv1alpha1.SurveyCampaign{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "y", Generation: 1}}
		setCampaignStatus(c, obs, now)
		first := c.Status.DeepCopy()
		setCampaignStatus(c, obs, now.Add(time.Minute))
		if !equality.Semantic.DeepEqual(first, &c.Status) {
			t.Errorf("a second identical pass changed status:\nbefore %+v\nafter  %+v", first.Conditions, c.Status.Conditions)
		}
	}
}

func TestNPSUpdatedAtMovesOnlyWithTheFigures(t *testing.T) {
	c := &privacyv1alpha1.SurveyCampaign{}
	t0 := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	st := &collectorapi.Stats{Result: nps.Result{Responses: 3, Suppressed: true}}
	setNPS(c, st, t0)
	setNPS(c, st, t0.Add(time.Minute))
	if !c.Status.NPS.UpdatedAt.Time.Equal(t0) {
		t.Errorf("updatedAt moved without a change: %s", c.Status.NPS.UpdatedAt)
	}
	st.Responses = 4
	setNPS(c, st, t0.Add(2*time.Minute))
	if !c.Status.NPS.UpdatedAt.Time.Equal(t0.Add(2 * time.Minute)) {
		t.Errorf("updatedAt did not move with the figures: %s", c.Status.NPS.UpdatedAt)
	}
}

func TestKeyIDs(t *testing.T) {
	data := map[string][]byte{"key-k2": nil, "key-k10": nil, "key-k1": nil, "hmac": nil, "active": nil}
	if got := dataKeyIDs(data); len(got) != 3 || got[0] != "k1" || got[2] != "k10" {
		t.Errorf("dataKeyIDs = %v", got)
	}
	if got := nextKeyID(data); got != "k11" {
		t.Errorf("nextKeyID = %s, want k11", got)
	}
	// IDs issued before, which the Secret no longer holds, are not issued again.
	if got := nextKeyID(data, "k12", "", "x"); got != "k13" {
		t.Errorf("nextKeyID with k12 issued = %s, want k13", got)
	}
}

func TestServingCertificate(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	ca, err := newCA("test CA", now)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"x-collector.y.svc", "x-collector"}
	kp, err := issueServing(ca, names, now)
	if err != nil {
		t.Fatal(err)
	}
	if !certFresh(kp.cert, ca.cert, names, now) {
		t.Error("a new certificate is not fresh")
	}
	if certFresh(kp.cert, ca.cert, names, now.Add(61*24*time.Hour)) {
		t.Error("a certificate with under a third of its life left is still fresh")
	}
	if certFresh(kp.cert, ca.cert, []string{"other.y.svc"}, now) {
		t.Error("a certificate for other names is fresh")
	}
	other, _ := newCA("other", now)
	if certFresh(kp.cert, other.cert, names, now) {
		t.Error("a certificate from another CA is fresh")
	}
}

// TestStorageMessageIgnoresSmallMoves: the published figures stay while the
// store and the volume move by less than 5% (or 1Mi), so reads that differ
// by a checkpoint or another writer on the volume rewrite nothing.
func TestStorageMessageIgnoresSmallMoves(t *testing.T) {
	free := func(n int64) *int64 { return &n }
	const published = "412Mi of 800Mi used; 68Gi free"
	for _, tc := range []struct {
		name string
		prev string
		s    collectorapi.StorageStats
		want string
	}{
		{"first read", "", collectorapi.StorageStats{UsedBytes: 412 << 20, MaxBytes: 800 << 20, FreeBytes: free(68 << 30)}, published},
		{"a little more used and free", published, collectorapi.StorageStats{UsedBytes: 420 << 20, MaxBytes: 800 << 20, FreeBytes: free(69 << 30)}, published},
		{"used moved by more than 5%", published, collectorapi.StorageStats{UsedBytes: 440 << 20, MaxBytes: 800 << 20, FreeBytes: free(68 << 30)},
			"440Mi of 800Mi used; 68Gi free"},
		{"free fell by more than 5%", published, collectorapi.StorageStats{UsedBytes: 412 << 20, MaxBytes: 800 << 20, FreeBytes: free(60 << 30)},
			"412Mi of 800Mi used; 60Gi free"},
		{"another limit", published, collectorapi.StorageStats{UsedBytes: 412 << 20, MaxBytes: 900 << 20, FreeBytes: free(68 << 30)},
			"412Mi of 900Mi used; 68Gi free"},
		{"no limit any more", published, collectorapi.StorageStats{UsedBytes: 412 << 20, FreeBytes: free(68 << 30)}, "412Mi used; 68Gi free"},
		{"postgres: used fell", "3.5Gi used", collectorapi.StorageStats{UsedBytes: 3 << 30}, "3Gi used"},
		{"postgres: small move", "3Gi used", collectorapi.StorageStats{UsedBytes: 3<<30 + 100<<20}, "3Gi used"},
		{"a tiny store moves by bytes", "68Ki of 819Mi used; 68Gi free", collectorapi.StorageStats{UsedBytes: 229 << 10, MaxBytes: 858993459, FreeBytes: free(67 << 30)},
			"68Ki of 819Mi used; 68Gi free"},
		{"free space no longer reported", published, collectorapi.StorageStats{UsedBytes: 412 << 20, MaxBytes: 800 << 20}, "412Mi of 800Mi used"},
		{"a message from elsewhere", "the storage use is not known yet", collectorapi.StorageStats{UsedBytes: 1 << 20}, "1Mi used"},
	} {
		if got := storageMessage(tc.prev, tc.s); got != tc.want {
			t.Errorf("%s: storageMessage(%q) = %q, want %q", tc.name, tc.prev, got, tc.want)
		}
	}
}

// TestFailedPassKeepsWhatItDidNotSee: a pass that failed before it read
// the Deployment or the figures (an API error) says it is retried and
// leaves what the last full pass said of the collector, keys and storage;
// the next full pass takes over again.
func TestFailedPassKeepsWhatItDidNotSee(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	st := &collectorapi.Stats{ActiveKeyID: "k1", Storage: collectorapi.StorageStats{UsedBytes: 1 << 20}}
	c := &privacyv1alpha1.SurveyCampaign{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "y", Generation: 1}}
	setCampaignStatus(c, observed{deployment: available(1), stats: st, activeKeyID: "k1"}, now)
	healthy := c.Status.DeepCopy()

	setCampaignStatus(c, observed{failed: errors.New("PersistentVolumeClaim: the server is currently unable to handle the request")}, now.Add(time.Minute))
	for _, typ := range []string{privacyv1alpha1.ConditionReady, privacyv1alpha1.ConditionCollectorAvailable,
		privacyv1alpha1.ConditionEncryptionEnforced, privacyv1alpha1.ConditionStorageAvailable} {
		if got, was := meta.FindStatusCondition(c.Status.Conditions, typ), meta.FindStatusCondition(healthy.Conditions, typ); !equality.Semantic.DeepEqual(got, was) {
			t.Errorf("%s changed by a failed pass: %+v, was %+v", typ, got, was)
		}
	}
	r := meta.FindStatusCondition(c.Status.Conditions, privacyv1alpha1.ConditionReconciling)
	if r == nil || r.Status != metav1.ConditionTrue || r.Reason != ReasonRetrying || !strings.Contains(r.Message, "unable to handle the request") {
		t.Errorf("Reconciling = %+v, want True Retrying with the error", r)
	}

	setCampaignStatus(c, observed{deployment: available(1), stats: st, activeKeyID: "k1"}, now.Add(2*time.Minute))
	if r := meta.FindStatusCondition(c.Status.Conditions, privacyv1alpha1.ConditionReconciling); r != nil {
		t.Errorf("Reconciling %+v after a full pass, want it gone", r)
	}

	// After a stall, a failed pass is retried, not stalled: kstatus reads
	// InProgress, never Stalled and Reconciling at once.
	setCampaignStatus(c, observed{stall: stall(privacyv1alpha1.ReasonRetentionPolicyNotFound, "no policy")}, now.Add(3*time.Minute))
	setCampaignStatus(c, observed{failed: errors.New("conflict")}, now.Add(4*time.Minute))
	if s := meta.FindStatusCondition(c.Status.Conditions, privacyv1alpha1.ConditionStalled); s != nil {
		t.Errorf("Stalled %+v beside Reconciling after a failed pass", s)
	}
}

// TestBreachWindowStart: twelve months back, to the instant, clamped to
// the month's last day.
func TestBreachWindowStart(t *testing.T) {
	for now, want := range map[string]string{
		"2026-12-05T03:20:00Z":      "2025-12-05T03:20:00Z",
		"2028-02-29T12:00:00Z":      "2027-02-28T12:00:00Z",
		"2027-03-31T23:59:59.5Z":    "2026-03-31T23:59:59.5Z",
		"2026-01-01T00:00:00Z":      "2025-01-01T00:00:00Z",
		"2026-12-05T05:30:00+05:30": "2025-12-05T00:00:00Z",
	} {
		n, _ := time.Parse(time.RFC3339Nano, now)
		w, _ := time.Parse(time.RFC3339Nano, want)
		if got := breachWindowStart(n); !got.Equal(w) {
			t.Errorf("breachWindowStart(%s) = %s, want %s", now, got.Format(time.RFC3339Nano), want)
		}
	}
}

func TestJoinStalls(t *testing.T) {
	a := &stalledError{reason: "A", message: "a", recheckAfter: time.Minute}
	b := &stalledError{reason: "B", message: "b"}
	if got := joinStalls(nil, b); got != b {
		t.Errorf("joinStalls(nil, b) = %+v", got)
	}
	if got := joinStalls(a, nil); got != a {
		t.Errorf("joinStalls(a, nil) = %+v", got)
	}
	if got := joinStalls(b, a); got.reason != "B" || got.message != "b; a" || got.recheckAfter != time.Minute {
		t.Errorf("joinStalls(b, a) = %+v, want B, \"b; a\", 1m", got)
	}
	c := &stalledError{reason: "C", message: "c", recheckAfter: 10 * time.Second}
	if got := joinStalls(a, c); got.recheckAfter != 10*time.Second || got.message != "a; c" {
		t.Errorf("joinStalls(a, c) = %+v, want the sooner recheck", got)
	}
}

// TestPublishedRotationsFitTheStatus: more breach rotations than the
// status holds publish the newest 100, so the status can still be written.
func TestPublishedRotationsFitTheStatus(t *testing.T) {
	start := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	done := map[string]keyRotation{}
	for i := range 101 {
		done[fmt.Sprintf("uid-%03d", i)] = keyRotation{Key: fmt.Sprintf("k%d", i+2), At: start.Add(time.Duration(i) * time.Minute)}
	}
	s := &corev1.Secret{}
	if err := recordRotations(s, done); err != nil {
		t.Fatal(err)
	}
	got := publishedRotations(s)
	if len(got) != 100 || got[0].ReportUID != "uid-001" || got[99].ReportUID != "uid-100" {
		t.Fatalf("%d published, from %s to %s; want the newest 100, uid-001 to uid-100", len(got), got[0].ReportUID, got[len(got)-1].ReportUID)
	}
	if err := recordRotations(s, map[string]keyRotation{}); err != nil || s.Annotations[annotationBreachRotations] != "" {
		t.Errorf("an empty record: %v, annotation %q; want it removed", err, s.Annotations[annotationBreachRotations])
	}
}
