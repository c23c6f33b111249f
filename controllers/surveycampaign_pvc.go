package controllers

import (
	"context"
	"errors"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
)

// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims,verbs=get;list;watch;create;update;delete

// reconcilePVC is the PersistentVolumeClaim component: <campaign>-data holds
// the SQLite database of embedded storage (none for PostgreSQL). A bound
// claim only ever grows.
func reconcilePVC(ctx context.Context, r *SurveyCampaignReconciler, p *campaignPass) error {
	if p.c.Spec.Storage.Embedded == nil {
		return nil
	}
	want := desiredPVC(p.c)
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: nameOf(want.ObjectMeta)}
	var had resource.Quantity
	err := r.ensureSlim(ctx, p.c, pvc, want, p.obs, func() error {
		if pvc.CreationTimestamp.IsZero() {
			pvc.Spec = want.Spec
			return nil
		}
		// Only a larger size may change on a bound claim.
		have := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
		had = have.DeepCopy()
		if w := want.Spec.Resources.Requests[corev1.ResourceStorage]; w.Cmp(have) > 0 {
			pvc.Spec.Resources.Requests[corev1.ResourceStorage] = w
		}
		return nil
	})
	if err != nil && !pvc.CreationTimestamp.IsZero() && (apierrors.IsInvalid(err) || apierrors.IsForbidden(err)) {
		size := embeddedSize(p.c)
		// The cluster refuses to grow the claim (not bound yet, or its
		// storage class cannot expand): retrying changes nothing until a
		// person does. Looked at again every minute: no watch reports a
		// storage class's change. The rest of the pass goes on: a
		// breach's pause, an erasure's admin-only run and a key rotation
		// must not wait for a volume.
		p.obs.stallLater(stallAndRecheck(ReasonVolumeNotExpandable, "spec.storage.embedded.size asks for %s, but PersistentVolumeClaim %s cannot grow from %s: %v",
			size.String(), pvc.Name, had.String(), apiMessage(err)))
		return nil
	}
	return err
}

// ReasonVolumeNotExpandable is the Stalled reason when the cluster refuses to grow the embedded
// store's PersistentVolumeClaim to spec.storage.embedded.size.
const ReasonVolumeNotExpandable = "VolumeNotExpandable"

// apiMessage is the API server's own words for a refusal.
func apiMessage(err error) string {
	var status apierrors.APIStatus
	if errors.As(err, &status) && status.Status().Message != "" {
		return status.Status().Message
	}
	return err.Error()
}

func desiredPVC(c *privacyv1alpha1.SurveyCampaign) *corev1.PersistentVolumeClaim {
	size := embeddedSize(c)
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: childNames(c).data, Namespace: c.Namespace, Labels: childLabels(c)},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}},
		},
	}
	if e := c.Spec.Storage.Embedded; e != nil {
		pvc.Spec.StorageClassName = e.StorageClassName
	}
	return pvc
}
