package controllers

import (
	"context"
	"fmt"

	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
)

// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;update;delete

// reconcilePDB is the PodDisruptionBudget component: <campaign>-collector
// exists while the collector has more than one replica, and is deleted
// otherwise.
func reconcilePDB(ctx context.Context, r *SurveyCampaignReconciler, p *campaignPass) error {
	c, obs, name := p.c, p.obs, childNames(p.c).collector
	if replicas(c, obs.paused) > 1 {
		want := desiredPDB(c)
		pdb := &policyv1.PodDisruptionBudget{ObjectMeta: nameOf(want.ObjectMeta)}
		return r.ensureSlim(ctx, c, pdb, want, obs, func() error {
			if !equality.Semantic.DeepDerivative(want.Spec, pdb.Spec) {
				pdb.Spec = want.Spec
			}
			return nil
		})
	}
	pdb := &policyv1.PodDisruptionBudget{}
	err := r.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: name}, pdb)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := r.Delete(ctx, pdb); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("deleting the PodDisruptionBudget: %w", err)
	}
	obs.changed = append(obs.changed, "PodDisruptionBudget/"+name)
	return nil
}

func desiredPDB(c *privacyv1alpha1.SurveyCampaign) *policyv1.PodDisruptionBudget {
	return &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: childNames(c).collector, Namespace: c.Namespace, Labels: childLabels(c)},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MaxUnavailable: ptr.To(intstr.FromInt(1)),
			Selector:       &metav1.LabelSelector{MatchLabels: selectorLabels(c)},
		},
	}
}
