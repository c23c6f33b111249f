package controllers

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
)

// ErasureRequestReconciler reconciles ErasureRequest objects.
type ErasureRequestReconciler struct {
	client.Client
	Scheme *runtime.Scheme
}

// +kubebuilder:rbac:groups=privacy.surveyguard.io,resources=erasurerequests,verbs=get;list;watch
// +kubebuilder:rbac:groups=privacy.surveyguard.io,resources=erasurerequests/status,verbs=get;update;patch

// Reconcile reads the ErasureRequest. Its behaviour is filled in by the issue that
// owns the kind; for now it only confirms the object can be read.
func (r *ErasureRequestReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	obj := &privacyv1alpha1.ErasureRequest{}
	if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	log.FromContext(ctx).V(1).Info("observed", "generation", obj.Generation)
	return ctrl.Result{}, nil
}

// SetupWithManager registers the reconciler with the manager.
func (r *ErasureRequestReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&privacyv1alpha1.ErasureRequest{}).
		Named("erasurerequest").
		Complete(r)
}
