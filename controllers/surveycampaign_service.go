package controllers

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
)

// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch;create;update;delete

// reconcileService is the Service component: <campaign>-collector exposes
// the public port 8443 and the admin port 9443. Only ports and selector are
// the operator's; the cluster IP and the rest are the API server's.
func reconcileService(ctx context.Context, r *SurveyCampaignReconciler, p *campaignPass) error {
	want := desiredService(p.c)
	svc := &corev1.Service{ObjectMeta: nameOf(want.ObjectMeta)}
	return r.ensureSlim(ctx, p.c, svc, want, p.obs, func() error {
		if !equality.Semantic.DeepDerivative(want.Spec.Ports, svc.Spec.Ports) || len(svc.Spec.Ports) != len(want.Spec.Ports) {
			svc.Spec.Ports = want.Spec.Ports
		}
		if !equality.Semantic.DeepEqual(want.Spec.Selector, svc.Spec.Selector) {
			svc.Spec.Selector = want.Spec.Selector
		}
		return nil
	})
}

func desiredService(c *privacyv1alpha1.SurveyCampaign) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: childNames(c).collector, Namespace: c.Namespace, Labels: childLabels(c)},
		Spec: corev1.ServiceSpec{
			Selector: selectorLabels(c),
			Ports: []corev1.ServicePort{
				{Name: "public", Port: publicPort, TargetPort: intstr.FromString("public"), Protocol: corev1.ProtocolTCP},
				{Name: "admin", Port: adminPort, TargetPort: intstr.FromString("admin"), Protocol: corev1.ProtocolTCP},
			},
		},
	}
}
