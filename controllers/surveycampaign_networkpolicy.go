package controllers

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
)

// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=get;list;watch;create;update;patch;delete

// reconcileNetworkPolicy is the NetworkPolicy component: <campaign>-collector
// opens the public port, the admin port only to the operator's namespace and
// the campaign's retention Jobs, and egress only to DNS (and PostgreSQL).
func reconcileNetworkPolicy(ctx context.Context, r *SurveyCampaignReconciler, p *campaignPass) error {
	want := desiredNetworkPolicy(p.c, r.OperatorNamespace)
	np := &networkingv1.NetworkPolicy{ObjectMeta: nameOf(want.ObjectMeta)}
	return r.ensureSlim(ctx, p.c, np, want, p.obs, func() error {
		if !equality.Semantic.DeepEqual(want.Spec, np.Spec) {
			np.Spec = want.Spec
		}
		return nil
	})
}

// desiredNetworkPolicy opens the public port to all, the admin port to the
// operator's namespace only, and lets the collector reach DNS and (with
// PostgreSQL storage) the database port.
func desiredNetworkPolicy(c *privacyv1alpha1.SurveyCampaign, operatorNamespace string) *networkingv1.NetworkPolicy {
	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP
	port := func(p int, proto corev1.Protocol) networkingv1.NetworkPolicyPort {
		return networkingv1.NetworkPolicyPort{Port: ptr.To(intstr.FromInt(p)), Protocol: &proto}
	}
	egress := []networkingv1.NetworkPolicyEgressRule{{Ports: []networkingv1.NetworkPolicyPort{port(53, udp), port(53, tcp)}}}
	if c.Spec.Storage.Postgres != nil {
		egress = append(egress, networkingv1.NetworkPolicyEgressRule{Ports: []networkingv1.NetworkPolicyPort{port(5432, tcp)}})
	}
	return &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: childNames(c).collector, Namespace: c.Namespace, Labels: childLabels(c)},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: selectorLabels(c)},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{
				{Ports: []networkingv1.NetworkPolicyPort{port(publicPort, tcp)}},
				{
					Ports: []networkingv1.NetworkPolicyPort{port(adminPort, tcp)},
					From: []networkingv1.NetworkPolicyPeer{
						{NamespaceSelector: &metav1.LabelSelector{
							MatchLabels: map[string]string{"kubernetes.io/metadata.name": operatorNamespace},
						}},
						// The campaign's own retention Jobs, in its namespace.
						{PodSelector: &metav1.LabelSelector{MatchLabels: retentionSelectorLabels(c)}},
					},
				},
			},
			Egress: egress,
		},
	}
}
