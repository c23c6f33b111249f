package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unique"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
)

// Most of what the informer cache would hold for a campaign is its
// children's specs: the Deployment's and CronJob's pod templates alone are
// about 12 KiB a campaign. So the cache keeps the children a pass only
// compares slim (CacheTransform): their metadata, status and the few fields
// status and the figures poll read, plus a digest of what a pass compares
// (labels, annotations, owner references and the spec, or a ConfigMap's
// data). A pass that last found the full object as the campaign asks
// remembers both digests (verified); while the desired object and the cached
// digest are the ones it remembers, it reads nothing more. A difference (a
// new spec, a person's edit, a restart) costs one read of the full object
// from the API server, which is compared and repaired exactly as before.
// Secrets and ServiceAccounts stay whole: a pass reads the Secrets' data.

// slimPrefix starts the selfLink of a slim cached copy, which carries the
// digest of the full object it was made from. selfLink is a legacy field the
// API server has not set since Kubernetes 1.20 and does not store, so the
// digest costs the copy no map and could never reach etcd; and slim copies
// are never written back anyway (ensureSlim writes only what it read from
// the API server).
const slimPrefix = "surveyguard-slim:"

// CacheTransform is the manager cache's transform for every kind: it strips
// managedFields, which the operator never reads, makes the children a pass
// only compares slim, and shares the strings children repeat.
func CacheTransform() toolscache.TransformFunc {
	return func(in any) (any, error) {
		obj, ok := in.(client.Object)
		if !ok {
			return in, nil
		}
		if job, ok := obj.(*batchv1.Job); ok {
			// A retention Job is read for its owner, labels and
			// conditions only (readPurges): up to six finished ones are
			// kept per campaign, each with a whole pod template.
			job.Spec = batchv1.JobSpec{}
			job.SetAnnotations(nil)
		}
		if content, ok := slimContent(obj); ok && !isSlim(obj) {
			sum := liveDigest(obj, content)
			slimDown(obj)
			obj.SetSelfLink(slimPrefix + sum.String())
		}
		if obj.GetManagedFields() != nil {
			obj.SetManagedFields(nil)
		}
		internMeta(obj)
		return in, nil
	}
}

// slimContent is what a pass compares of a slim kind's object besides its
// labels, annotations and owners; ok is false for the kinds kept whole.
func slimContent(obj client.Object) (content any, ok bool) {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return o.Spec, true
	case *batchv1.CronJob:
		return o.Spec, true
	case *corev1.ConfigMap:
		return [2]any{o.Data, o.BinaryData}, true
	case *corev1.Service:
		return o.Spec, true
	case *networkingv1.NetworkPolicy:
		return o.Spec, true
	case *policyv1.PodDisruptionBudget:
		return o.Spec, true
	case *corev1.PersistentVolumeClaim:
		return o.Spec, true
	}
	return nil, false
}

// slimDown drops what nothing reads from the cache. Every kind keeps its
// name, owners and status, and loses its labels and annotations but a
// CronJob's labels (a policy lists its CronJobs by label). A Deployment
// keeps its replica count and its containers' names and args (status reads
// whether it runs admin-only); a CronJob its schedule and suspension.
func slimDown(obj client.Object) {
	obj.SetAnnotations(nil)
	if _, ok := obj.(*batchv1.CronJob); !ok {
		obj.SetLabels(nil)
	}
	switch o := obj.(type) {
	case *appsv1.Deployment:
		containers := make([]corev1.Container, len(o.Spec.Template.Spec.Containers))
		for i, c := range o.Spec.Template.Spec.Containers {
			containers[i] = corev1.Container{Name: c.Name, Args: c.Args}
		}
		o.Spec = appsv1.DeploymentSpec{Replicas: o.Spec.Replicas, Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: containers}}}
	case *batchv1.CronJob:
		o.Spec = batchv1.CronJobSpec{Schedule: o.Spec.Schedule, Suspend: o.Spec.Suspend}
	case *corev1.ConfigMap:
		o.Data, o.BinaryData = nil, nil
	case *corev1.Service:
		o.Spec = corev1.ServiceSpec{}
	case *networkingv1.NetworkPolicy:
		o.Spec = networkingv1.NetworkPolicySpec{}
	case *policyv1.PodDisruptionBudget:
		o.Spec = policyv1.PodDisruptionBudgetSpec{}
	case *corev1.PersistentVolumeClaim:
		o.Spec = corev1.PersistentVolumeClaimSpec{}
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

func isSlim(obj client.Object) bool { return strings.HasPrefix(obj.GetSelfLink(), slimPrefix) }

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

// liveDigest covers what a pass compares on a child: labels, annotations,
// owner references and spec. encoding/json writes maps in key order, so
// equal objects give equal digests.
func liveDigest(obj client.Object, spec any) digest {
	return sum(func(_ hash.Hash, enc *json.Encoder) {
		// None, however the object spells it.
		labels, annotations := obj.GetLabels(), obj.GetAnnotations()
		if len(labels) == 0 {
			labels = nil
		}
		if len(annotations) == 0 {
			annotations = nil
		}
		for _, v := range []any{labels, annotations, obj.GetOwnerReferences(), spec} {
			_ = enc.Encode(v)
		}
	})
}

// cachedDigest is the digest a slim cached copy carries, if it is one.
func cachedDigest(obj client.Object) (digest, bool) {
	var d digest
	s, ok := strings.CutPrefix(obj.GetSelfLink(), slimPrefix)
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

// verifiedChildren remembers, per campaign and slim child kind, the desired
// object's digest and the digest of the live object a pass found (or made)
// as it asks.
type verifiedChildren struct {
	mu sync.Mutex
	m  map[types.NamespacedName]map[string]verifiedPair
}

type verifiedPair struct{ want, live digest }

func (v *verifiedChildren) holds(campaign types.NamespacedName, kind string, p verifiedPair) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	got, ok := v.m[campaign][kind]
	return ok && got == p
}

func (v *verifiedChildren) record(campaign types.NamespacedName, kind string, p verifiedPair) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil {
		v.m = map[types.NamespacedName]map[string]verifiedPair{}
	}
	if v.m[campaign] == nil {
		v.m[campaign] = map[string]verifiedPair{}
	}
	v.m[campaign][kind] = p
}

// templateKeys is the kind under which the verified set records the key
// Secret's data that the collector Deployment's pod template was last
// verified to carry (its checksum rolls the pods when the keys change).
const templateKeys = "keys of the collector's pod template"

// templateKeysPair is what templateKeys records: the key Secret's data the
// template carries, and the Deployment generation that carries it (a pass
// may read the Deployment from a cache that has not seen that generation
// yet, whose rollout says nothing of these keys).
func templateKeysPair(data map[string][]byte, generation int64) verifiedPair {
	return verifiedPair{
		want: sum(func(h hash.Hash, _ *json.Encoder) { _, _ = io.WriteString(h, checksum(nil, data, nil)) }),
		live: sum(func(h hash.Hash, _ *json.Encoder) { _, _ = io.WriteString(h, strconv.FormatInt(generation, 10)) }),
	}
}

// forget drops what is remembered of a campaign's children, when it goes.
func (v *verifiedChildren) forget(campaign types.NamespacedName) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.m, campaign)
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

// ensureSlim is ensure for a child the cache keeps slim (slimContent); want
// is the desired object, what mutate brings obj to. When the cached copy is
// the live object a pass last verified for this want, obj becomes that slim
// copy and nothing is read or written; otherwise the full object is read
// from the API server and ensured as usual.
func (r *SurveyCampaignReconciler) ensureSlim(ctx context.Context, c *privacyv1alpha1.SurveyCampaign, obj, want client.Object,
	obs *observed, mutate func() error) error {
	kind := r.kindOf(obj)
	campaign, key := client.ObjectKeyFromObject(c), client.ObjectKeyFromObject(obj)
	wanted := wantDigest(c, want)
	verify := func() {
		// obj is the API server's answer to a read, create or update.
		content, _ := slimContent(obj)
		r.verified.record(campaign, kind, verifiedPair{want: wanted, live: liveDigest(obj, content)})
	}
	ownAndMutate := func() error {
		if err := r.own(c, obj); err != nil {
			return err
		}
		return mutate()
	}
	cached := obj.DeepCopyObject().(client.Object)
	switch err := r.Get(ctx, key, cached); {
	case err == nil:
		if live, ok := cachedDigest(cached); ok && r.verified.holds(campaign, kind, verifiedPair{want: wanted, live: live}) {
			// cached is a copy of obj's own kind, and this pass's.
			reflect.ValueOf(obj).Elem().Set(reflect.ValueOf(cached).Elem())
			return nil
		}
	case apierrors.IsNotFound(err):
		// A new child, as far as the cache knows: created without a read,
		// as ensure does. One the cache has not caught up with yet answers
		// AlreadyExists, and is read and compared below.
		if err := ownAndMutate(); err != nil {
			return fmt.Errorf("%s %s: %w", kind, key.Name, err)
		}
		switch err := r.Create(ctx, obj); {
		case err == nil:
			verify()
			obs.recordChange(kind, key.Name, string(controllerutil.OperationResultCreated), "")
			return nil
		case !apierrors.IsAlreadyExists(err):
			return fmt.Errorf("%s %s: %w", kind, key.Name, err)
		}
		// Back to the bare name, for the read.
		reflect.ValueOf(obj).Elem().SetZero()
		obj.SetName(key.Name)
		obj.SetNamespace(key.Namespace)
	default:
		return fmt.Errorf("%s %s: %w", kind, key.Name, err)
	}
	op, err := controllerutil.CreateOrUpdate(ctx, liveClient{Client: r.Client, reader: r.APIReader}, obj, ownAndMutate)
	if err != nil {
		return fmt.Errorf("%s %s: %w", kind, key.Name, err)
	}
	verify()
	if op != controllerutil.OperationResultNone {
		obs.recordChange(kind, key.Name, string(op), "")
	}
	return nil
}

// kindOf names obj's kind, as events and errors say it: its Go type when
// the scheme does not know it.
func (r *SurveyCampaignReconciler) kindOf(obj client.Object) string {
	if gvk, err := r.GroupVersionKindFor(obj); err == nil {
		return gvk.Kind
	}
	return fmt.Sprintf("%T", obj)
}
