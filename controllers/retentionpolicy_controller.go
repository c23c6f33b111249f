package controllers

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
)

// RetentionPolicyReconciler reconciles RetentionPolicy objects.
type RetentionPolicyReconciler struct {
	client.Client
	Scheme *runtime.Scheme
}

// +kubebuilder:rbac:groups=privacy.surveyguard.io,resources=retentionpolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=privacy.surveyguard.io,resources=retentionpolicies/status,verbs=get;update;patch

// Reconcile reads the RetentionPolicy. Its behaviour is filled in by the issue that
// owns the kind; for now it only confirms the object can be read.
func (r *RetentionPolicyReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	obj := &privacyv1alpha1.RetentionPolicy{}
	if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	log.FromContext(ctx).V(1).Info("observed", "generation", obj.Generation)
	return ctrl.Result{}, nil
}

// SetupWithManager registers the reconciler with the manager.
func (r *RetentionPolicyReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&privacyv1alpha1.RetentionPolicy{}).
		Named("retentionpolicy").
		Complete(r)
}
