package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash"
	"maps"
	"sync"
	"unique"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
)

// A campaign's Deployment and retention CronJob are most of what the
// informer cache would hold for it: their pod templates, about 12 KiB a
// campaign. So the cache keeps them slim (CacheTransform): metadata, status,
// the replica count and the containers' names and args, which is what
// status and the figures poll read, plus a digest of what a pass compares
// (labels, annotations, owner references and spec). A pass that last found
// the full object as the spec asks remembers both digests (verified); while
// the desired object and the cached digest are the ones it remembers, it
// reads nothing more. A difference (a new spec, a person's edit, a restart)
// costs one read of the full object from the API server, which is compared
// and repaired exactly as before.

// annotationCacheDigest carries, on a slim cached copy only, the digest of
// the full object it was made from. It is never written to the API server:
// slim copies are never written back (ensureSlim writes only what it read
// from the API server).
const annotationCacheDigest = "cache.surveyguard.io/digest"

// CacheTransform is the manager cache's transform for every kind: it strips
// managedFields, which the operator never reads, and makes Deployments and
// CronJobs slim.
func CacheTransform() toolscache.TransformFunc {
	strip := func(obj client.Object) {
		if obj.GetManagedFields() != nil {
			obj.SetManagedFields(nil)
		}
		internMeta(obj)
	}
	return func(in any) (any, error) {
		switch obj := in.(type) {
		case *appsv1.Deployment:
			strip(obj)
			slimDeployment(obj)
		case *batchv1.CronJob:
			strip(obj)
			slimCronJob(obj)
		case client.Object:
			strip(obj)
		}
		return in, nil
	}
}

// internMeta makes the strings a campaign's children repeat share one copy:
// the namespace, the names ("<campaign>-collector" is six objects'), label
// keys and values, annotation keys and the owner reference. Decoding gives
// every object its own copy of each, about 4 KiB a campaign.
func internMeta(obj client.Object) {
	obj.SetNamespace(intern(obj.GetNamespace()))
	obj.SetName(intern(obj.GetName()))
	if l := obj.GetLabels(); len(l) > 0 {
		obj.SetLabels(internMap(l, true))
	}
	if a := obj.GetAnnotations(); len(a) > 0 {
		obj.SetAnnotations(internMap(a, false))
	}
	refs := obj.GetOwnerReferences()
	for i := range refs {
		r := &refs[i]
		r.APIVersion, r.Kind, r.Name = intern(r.APIVersion), intern(r.Kind), intern(r.Name)
		r.UID = types.UID(intern(string(r.UID)))
	}
}

func intern(s string) string { return unique.Make(s).Value() }

// internMap returns m with its keys, and its values when values is set,
// interned.
func internMap(m map[string]string, values bool) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		if values {
			v = intern(v)
		}
		out[intern(k)] = v
	}
	return out
}

// slimDeployment keeps what status reads: metadata, status, spec.replicas
// and the containers' names and args (an admin-only collector).
func slimDeployment(d *appsv1.Deployment) {
	if isSlim(d) {
		return
	}
	sum := liveDigest(d, d.Spec)
	containers := make([]corev1.Container, len(d.Spec.Template.Spec.Containers))
	for i, c := range d.Spec.Template.Spec.Containers {
		containers[i] = corev1.Container{Name: c.Name, Args: c.Args}
	}
	d.Spec = appsv1.DeploymentSpec{Replicas: d.Spec.Replicas, Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: containers}}}
	markSlim(d, sum)
}

// slimCronJob keeps metadata, status (a policy's last schedule time), the
// schedule and whether it is suspended.
func slimCronJob(cj *batchv1.CronJob) {
	if isSlim(cj) {
		return
	}
	sum := liveDigest(cj, cj.Spec)
	cj.Spec = batchv1.CronJobSpec{Schedule: cj.Spec.Schedule, Suspend: cj.Spec.Suspend}
	markSlim(cj, sum)
}

func isSlim(obj client.Object) bool {
	_, ok := obj.GetAnnotations()[annotationCacheDigest]
	return ok
}

func markSlim(obj client.Object, d digest) {
	a := obj.GetAnnotations()
	if a == nil {
		a = make(map[string]string, 1)
	}
	a[annotationCacheDigest] = d.String()
	obj.SetAnnotations(a)
}

// digest is a truncated SHA-256: enough to tell two objects apart, half the
// memory per remembered child.
type digest [16]byte

func (d digest) String() string { return base64.RawStdEncoding.EncodeToString(d[:]) }

func sum(write func(h hash.Hash, enc *json.Encoder)) digest {
	h := sha256.New()
	write(h, json.NewEncoder(h))
	var d digest
	copy(d[:], h.Sum(nil))
	return d
}

// liveDigest covers what a pass compares on a child: labels, annotations
// (but the cache's own), owner references and spec. encoding/json writes
// maps in key order, so equal objects give equal digests.
func liveDigest(obj client.Object, spec any) digest {
	return sum(func(_ hash.Hash, enc *json.Encoder) {
		annotations := obj.GetAnnotations()
		if _, ok := annotations[annotationCacheDigest]; ok {
			annotations = maps.Clone(annotations)
			delete(annotations, annotationCacheDigest)
		}
		if len(annotations) == 0 {
			annotations = nil // none, however the object spells it
		}
		labels := obj.GetLabels()
		if len(labels) == 0 {
			labels = nil
		}
		for _, v := range []any{labels, annotations, obj.GetOwnerReferences(), spec} {
			_ = enc.Encode(v)
		}
	})
}

// cachedDigest is the digest a slim cached copy carries, if it is one.
func cachedDigest(obj client.Object) (digest, bool) {
	var d digest
	s, ok := obj.GetAnnotations()[annotationCacheDigest]
	if !ok {
		return d, false
	}
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil || len(b) != len(d) {
		return d, false
	}
	copy(d[:], b)
	return d, true
}

// wantDigest covers what a pass asks of a child: the desired object and the
// campaign that owns it.
func wantDigest(c *privacyv1alpha1.SurveyCampaign, want client.Object) digest {
	return sum(func(h hash.Hash, enc *json.Encoder) {
		_, _ = h.Write([]byte(c.UID))
		_ = enc.Encode(want)
	})
}

// verifiedChildren remembers, per slim child, the desired object's digest
// and the digest of the live object a pass found (or made) as it asks.
type verifiedChildren struct {
	mu sync.Mutex
	m  map[verifiedKey]verifiedPair
}

type verifiedKey struct {
	kind string
	types.NamespacedName
}

type verifiedPair struct{ want, live digest }

func (v *verifiedChildren) holds(k verifiedKey, p verifiedPair) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	got, ok := v.m[k]
	return ok && got == p
}

func (v *verifiedChildren) record(k verifiedKey, p verifiedPair) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil {
		v.m = map[verifiedKey]verifiedPair{}
	}
	v.m[k] = p
}

// forgetChildren drops what is remembered of a campaign's slim children,
// when it is deleted.
func (r *SurveyCampaignReconciler) forgetChildren(namespace, campaign string) {
	c := &privacyv1alpha1.SurveyCampaign{}
	c.Namespace, c.Name = namespace, campaign
	v := &r.verified
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, k := range []verifiedKey{
		{kind: "Deployment", NamespacedName: types.NamespacedName{Namespace: namespace, Name: childNames(c).collector}},
		{kind: "CronJob", NamespacedName: types.NamespacedName{Namespace: namespace, Name: retentionCronJobName(c)}},
	} {
		delete(v.m, k)
	}
}

// liveClient reads from the API server and writes through the manager's
// client: what ensureSlim compares and writes is never a slim copy.
type liveClient struct {
	client.Client
	reader client.Reader
}

func (l liveClient) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	return l.reader.Get(ctx, key, obj, opts...)
}

// ensureSlim is ensure for a child the cache keeps slim. want is the desired
// object (what mutate brings obj to) and spec returns an object's spec. When
// the cached copy is the live object a pass last verified for this want,
// obj becomes that slim copy and nothing is read or written; otherwise the
// full object is read from the API server and ensured as usual.
func (r *SurveyCampaignReconciler) ensureSlim(ctx context.Context, c *privacyv1alpha1.SurveyCampaign, obj, want client.Object,
	spec func(client.Object) any, obs *observed, mutate func() error) error {
	kind, err := r.kindOf(obj)
	if err != nil {
		return err
	}
	key := verifiedKey{kind: kind, NamespacedName: client.ObjectKeyFromObject(obj)}
	wanted := wantDigest(c, want)
	cached := obj.DeepCopyObject().(client.Object)
	switch err := r.Get(ctx, key.NamespacedName, cached); {
	case err == nil:
		if live, ok := cachedDigest(cached); ok && r.verified.holds(key, verifiedPair{want: wanted, live: live}) {
			return copyInto(cached, obj)
		}
	case !apierrors.IsNotFound(err):
		return fmt.Errorf("%s %s: %w", kind, key.Name, err)
	}
	op, err := controllerutil.CreateOrUpdate(ctx, liveClient{Client: r.Client, reader: r.APIReader}, obj, func() error {
		if err := r.own(c, obj); err != nil {
			return err
		}
		return mutate()
	})
	if err != nil {
		return fmt.Errorf("%s %s: %w", kind, key.Name, err)
	}
	// obj is now the API server's answer to the read, create or update.
	r.verified.record(key, verifiedPair{want: wanted, live: liveDigest(obj, spec(obj))})
	if op != controllerutil.OperationResultNone {
		obs.recordChange(kind, key.Name, string(op), "")
	}
	return nil
}

// kindOf names obj's kind, as events and errors say it.
func (r *SurveyCampaignReconciler) kindOf(obj client.Object) (string, error) {
	gvk, err := r.GroupVersionKindFor(obj)
	if err != nil {
		return "", err
	}
	return gvk.Kind, nil
}

// copyInto sets *dst to *src; both are the same kind.
func copyInto(src, dst client.Object) error {
	switch d := dst.(type) {
	case *appsv1.Deployment:
		src.(*appsv1.Deployment).DeepCopyInto(d)
	case *batchv1.CronJob:
		src.(*batchv1.CronJob).DeepCopyInto(d)
	default:
		return fmt.Errorf("no slim form for %T", dst)
	}
	return nil
}
