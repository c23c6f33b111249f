package controllers

import (
	"context"
	"fmt"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
)

// +kubebuilder:rbac:groups=privacy.surveyguard.io,resources=erasurerequests,verbs=get;list;watch

// adminOnlyFlag runs the collector without its public listener: what a
// paused campaign's collector runs as while an erasure still needs it.
const adminOnlyFlag = "--admin-only"

// readErasures is the erasure input: the ErasureRequests that still have to
// erase from the campaign. A paused campaign's collector is scaled to zero;
// while such a request waits on it, it runs admin-only instead (one replica,
// public listener off), so that a breach's containment never blocks a
// person's erasure, and goes back to zero once the requests are done. A
// request stalled on its subject (a missing or unusable Secret) waits on a
// person, not on the collector: it does not count until it is fixed.
func readErasures(ctx context.Context, r *SurveyCampaignReconciler, p *campaignPass) error {
	// Read, never changed: the cache's objects are used without a copy.
	// Requests are kept after they complete and each may hold a result per
	// campaign of the namespace, so copying them all on every pass of
	// every campaign would cost more than the pass.
	list := &privacyv1alpha1.ErasureRequestList{}
	if err := r.List(ctx, list, client.InNamespace(p.c.Namespace), client.UnsafeDisableDeepCopy); err != nil {
		return fmt.Errorf("listing ErasureRequests: %w", err)
	}
	p.obs.erasures = nil
	for i := range list.Items {
		er := &list.Items[i]
		if erasureWaitsOn(er, p.c.Name) && !meta.IsStatusConditionTrue(er.Status.Conditions, privacyv1alpha1.ConditionStalled) {
			p.obs.erasures = append(p.obs.erasures, er.Name)
		}
	}
	slices.Sort(p.obs.erasures)
	return nil
}

// adminOnly says whether the pass runs the paused collector admin-only: an
// erasure waits on it, or a retention Job runs (readPurges).
func (o *observed) adminOnly() bool { return o.paused && (len(o.erasures) > 0 || len(o.purges) > 0) }

// runsAdminOnly says whether the Deployment runs its collector admin-only.
func runsAdminOnly(d *appsv1.Deployment) bool {
	if d == nil || len(d.Spec.Template.Spec.Containers) == 0 {
		return false
	}
	return slices.Contains(d.Spec.Template.Spec.Containers[0].Args, adminOnlyFlag)
}

// publicOff says whether the Deployment takes no survey responses: scaled
// to zero, or admin-only.
func publicOff(d *appsv1.Deployment) bool { return scaledToZero(d) || runsAdminOnly(d) }

// campaignsOfErasure lists the campaigns an ErasureRequest covers: a change
// of its results may start or end a paused campaign's admin-only run.
func campaignsOfErasure(_ context.Context, o client.Object) []reconcile.Request {
	er := o.(*privacyv1alpha1.ErasureRequest)
	reqs := make([]reconcile.Request, 0, len(er.Status.Results))
	for _, res := range er.Status.Results {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKey{Namespace: er.Namespace, Name: res.Campaign}})
	}
	return reqs
}
