package controllers

import (
	"strings"
	"testing"
	"unsafe"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
)

func slimTestCampaign() *privacyv1alpha1.SurveyCampaign {
	c := &privacyv1alpha1.SurveyCampaign{ObjectMeta: metav1.ObjectMeta{Name: "checkout", Namespace: "surveys", UID: types.UID("c-1")}}
	c.Spec.RetentionPolicyRef.Name = "ninety-days"
	return c
}

// live returns what the API server would hold for want: want with the
// campaign's owner reference, managedFields and status.
func liveDeployment(t *testing.T, want *appsv1.Deployment) *appsv1.Deployment {
	t.Helper()
	d := want.DeepCopy()
	d.OwnerReferences = []metav1.OwnerReference{{APIVersion: "privacy.surveyguard.io/v1alpha1", Kind: "SurveyCampaign", Name: "checkout", UID: "c-1"}}
	d.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "surveyguard"}}
	d.Generation, d.Status = 2, appsv1.DeploymentStatus{ObservedGeneration: 2, AvailableReplicas: 1}
	return d
}

func TestCacheTransformKeepsWhatStatusReads(t *testing.T) {
	c := slimTestCampaign()
	for _, adminOnly := range []bool{false, true} {
		full := liveDeployment(t, desiredDeployment(c, "example.com/sg:1", "sum", adminOnly, adminOnly))
		want := liveDigest(full, full.Spec)
		cached := full.DeepCopy()
		if _, err := CacheTransform()(cached); err != nil {
			t.Fatal(err)
		}
		if cached.ManagedFields != nil {
			t.Error("managedFields kept")
		}
		if len(cached.Spec.Template.Spec.Volumes) != 0 || cached.Spec.Template.Spec.Containers[0].Image != "" || cached.Spec.Selector != nil {
			t.Errorf("pod template kept: %+v", cached.Spec)
		}
		// What status and the figures poll read is the same on the slim copy.
		if a, _ := deploymentAvailable(cached); !a {
			t.Error("slim copy not available")
		}
		if runsAdminOnly(cached) != adminOnly || publicOff(cached) != publicOff(full) || *cached.Spec.Replicas != *full.Spec.Replicas {
			t.Errorf("adminOnly %v: slim copy reads admin-only %v, publicOff %v", adminOnly, runsAdminOnly(cached), publicOff(cached))
		}
		if got, ok := cachedDigest(cached); !ok || got != want {
			t.Errorf("cached digest %v (%v), want the full object's %v", got, ok, want)
		}
		if cached.Labels != nil || cached.Annotations != nil || cached.Name != full.Name || len(cached.OwnerReferences) != 1 {
			t.Errorf("slim metadata: labels %v, annotations %v, name %q, owners %v", cached.Labels, cached.Annotations, cached.Name, cached.OwnerReferences)
		}
		// A second transform changes nothing.
		again := cached.DeepCopy()
		if _, err := CacheTransform()(again); err != nil {
			t.Fatal(err)
		}
		if got, _ := cachedDigest(again); got != want || len(again.Spec.Template.Spec.Containers) != 1 {
			t.Error("a second transform changed the slim copy")
		}
	}
}

func TestLiveDigestSeesEveryComparedField(t *testing.T) {
	c := slimTestCampaign()
	base := liveDeployment(t, desiredDeployment(c, "example.com/sg:1", "sum", false, false))
	baseSum := liveDigest(base, base.Spec)
	edits := map[string]func(d *appsv1.Deployment){
		"a container's security context": func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[0].SecurityContext.ReadOnlyRootFilesystem = nil
		},
		"a volume":         func(d *appsv1.Deployment) { d.Spec.Template.Spec.Volumes = d.Spec.Template.Spec.Volumes[1:] },
		"replicas":         func(d *appsv1.Deployment) { d.Spec.Replicas = new(int32) },
		"a label":          func(d *appsv1.Deployment) { d.Labels[privacyv1alpha1.LabelCampaign] = "other" },
		"an annotation":    func(d *appsv1.Deployment) { d.Annotations = map[string]string{"x": "y"} },
		"the owner":        func(d *appsv1.Deployment) { d.OwnerReferences[0].UID = "c-2" },
		"the pod template": func(d *appsv1.Deployment) { d.Spec.Template.Annotations[annotationChecksum] = "other" },
	}
	for name, edit := range edits {
		d := base.DeepCopy()
		edit(d)
		if liveDigest(d, d.Spec) == baseSum {
			t.Errorf("editing %s leaves the digest unchanged", name)
		}
	}
	// Status and bookkeeping are not compared: a rollout's progress reads nothing more.
	d := base.DeepCopy()
	d.Status.AvailableReplicas, d.ResourceVersion, d.Generation, d.ManagedFields = 3, "99", 7, nil
	if liveDigest(d, d.Spec) != baseSum {
		t.Error("status or metadata bookkeeping changes the digest")
	}
}

func TestJobIsCachedSlim(t *testing.T) {
	c := slimTestCampaign()
	p := &privacyv1alpha1.RetentionPolicy{ObjectMeta: metav1.ObjectMeta{Name: "ninety-days", Namespace: "surveys"}}
	cj := desiredCronJob(c, p, "example.com/sg:1", true)
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "checkout-nps-retention-1", Namespace: "surveys", Labels: cj.Spec.JobTemplate.Labels,
			Annotations:     map[string]string{"batch.kubernetes.io/cronjob-scheduled-timestamp": "2026-12-05T03:00:00Z"},
			OwnerReferences: []metav1.OwnerReference{{Kind: "CronJob", Name: cj.Name, UID: "cj-uid"}}},
		Spec:   cj.Spec.JobTemplate.Spec,
		Status: batchv1.JobStatus{Conditions: []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}},
	}
	if _, err := CacheTransform()(job); err != nil {
		t.Fatal(err)
	}
	if len(job.Spec.Template.Spec.Containers) != 0 || job.Annotations != nil {
		t.Errorf("pod template or annotations kept: %+v", job)
	}
	if !ownedBy(job, "cj-uid") || !jobFinished(job) || job.Labels[privacyv1alpha1.LabelCampaign] != c.Name {
		t.Errorf("slim Job lost what readPurges reads: %+v", job)
	}
}

func TestCronJobIsCachedSlim(t *testing.T) {
	c := slimTestCampaign()
	p := &privacyv1alpha1.RetentionPolicy{ObjectMeta: metav1.ObjectMeta{Name: "ninety-days", Namespace: "surveys"}}
	p.Spec.Schedule = "0 3 * * *"
	full := desiredCronJob(c, p, "example.com/sg:1", true)
	now := metav1.Now()
	full.Status.LastScheduleTime = &now
	want := liveDigest(full, full.Spec)
	cached := full.DeepCopy()
	if _, err := CacheTransform()(cached); err != nil {
		t.Fatal(err)
	}
	if len(cached.Spec.JobTemplate.Spec.Template.Spec.Containers) != 0 {
		t.Error("job template kept")
	}
	if cached.Spec.Schedule != "0 3 * * *" || cached.Status.LastScheduleTime == nil || cached.Labels[privacyv1alpha1.LabelRetentionPolicy] != "ninety-days" {
		t.Errorf("slim CronJob lost what the policy reads: %+v", cached)
	}
	if got, ok := cachedDigest(cached); !ok || got != want {
		t.Error("cached digest is not the full object's")
	}
}

func TestOtherKindsAreOnlyStrippedOfManagedFields(t *testing.T) {
	for _, obj := range []client.Object{
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "m"}}}, Data: map[string][]byte{"k": []byte("v")}},
		&batchv1.Job{ObjectMeta: metav1.ObjectMeta{ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "m"}}}},
	} {
		if _, err := CacheTransform()(obj); err != nil {
			t.Fatal(err)
		}
		if obj.GetManagedFields() != nil || isSlim(obj) {
			t.Errorf("%T: managedFields %v, slim %v", obj, obj.GetManagedFields(), isSlim(obj))
		}
	}
}

func TestVerifiedChildrenAreForgottenWithTheCampaign(t *testing.T) {
	var v verifiedChildren
	checkout, other := types.NamespacedName{Namespace: "surveys", Name: "checkout"}, types.NamespacedName{Namespace: "surveys", Name: "other"}
	pair := verifiedPair{want: digest{1}, live: digest{2}}
	for _, kind := range []string{"Deployment", "ConfigMap"} {
		v.record(checkout, kind, pair)
		v.record(other, kind, pair)
	}
	if !v.holds(checkout, "Deployment", pair) || v.holds(checkout, "Deployment", verifiedPair{want: digest{1}, live: digest{3}}) ||
		v.holds(checkout, "Deployment", verifiedPair{want: digest{3}, live: digest{2}}) || v.holds(checkout, "Service", pair) {
		t.Fatal("holds does not compare both digests of that kind")
	}
	v.forget(checkout)
	if v.holds(checkout, "Deployment", pair) || v.holds(checkout, "ConfigMap", pair) || !v.holds(other, "Deployment", pair) {
		t.Error("forget did not forget exactly the campaign's children")
	}
}

func TestEveryComparedChildIsCachedSlim(t *testing.T) {
	c := slimTestCampaign()
	bound := &corev1.PersistentVolumeClaim{}
	desiredPVC(c).DeepCopyInto(bound)
	bound.Status.Phase = corev1.ClaimBound
	for _, full := range []client.Object{
		desiredConfigMap(c, []byte("campaign: checkout\n")),
		desiredService(c),
		desiredNetworkPolicy(c, "surveyguard-system", nil, []int{5432}),
		desiredPDB(c),
		bound,
	} {
		content, ok := slimContent(full)
		if !ok {
			t.Fatalf("%T is not a slim kind", full)
		}
		want := liveDigest(full, content)
		cached := full.DeepCopyObject().(client.Object)
		if _, err := CacheTransform()(cached); err != nil {
			t.Fatal(err)
		}
		if got, ok := cachedDigest(cached); !ok || got != want {
			t.Errorf("%T: cached digest is not the full object's", full)
		}
		if after, _ := slimContent(cached); equality.Semantic.DeepEqual(after, content) {
			t.Errorf("%T: the cached copy kept what a pass compares", full)
		}
		if cached.GetName() != full.GetName() || cached.GetNamespace() != full.GetNamespace() || cached.GetLabels() != nil {
			t.Errorf("%T: slim metadata %s/%s, labels %v", full, cached.GetNamespace(), cached.GetName(), cached.GetLabels())
		}
	}
	cached := bound.DeepCopy()
	if _, err := CacheTransform()(cached); err != nil {
		t.Fatal(err)
	}
	if cached.Status.Phase != corev1.ClaimBound {
		t.Error("a claim's status was dropped")
	}
}

func TestCacheTransformSharesRepeatedStrings(t *testing.T) {
	c := slimTestCampaign()
	a := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{
		Name: "checkout-collector", Namespace: "surveys", Labels: childLabels(c),
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "privacy.surveyguard.io/v1alpha1", Kind: "SurveyCampaign", Name: "checkout", UID: "c-1"}},
	}}
	// Decoding gives each object its own copies; clone to make them so.
	b := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{
		Name: strings.Clone(a.Name), Namespace: strings.Clone(a.Namespace),
		Labels: map[string]string{}, OwnerReferences: []metav1.OwnerReference{{UID: types.UID(strings.Clone(string(a.OwnerReferences[0].UID)))}},
	}}
	for k, v := range a.Labels {
		b.Labels[strings.Clone(k)] = strings.Clone(v)
	}
	for _, obj := range []client.Object{a, b} {
		if _, err := CacheTransform()(obj); err != nil {
			t.Fatal(err)
		}
	}
	same := func(x, y string) bool { return unsafe.StringData(x) == unsafe.StringData(y) }
	if !same(a.Name, b.Name) || !same(a.Namespace, b.Namespace) || !same(string(a.OwnerReferences[0].UID), string(b.OwnerReferences[0].UID)) {
		t.Error("name, namespace or owner UID not shared")
	}
	for k, v := range b.Labels {
		if !same(v, a.Labels[k]) {
			t.Errorf("label %s not shared", k)
		}
	}
	if !equality.Semantic.DeepEqual(a.Labels, b.Labels) || a.Labels[privacyv1alpha1.LabelCampaign] != "checkout" {
		t.Errorf("labels changed: %v", a.Labels)
	}
}
