package controllers

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/utils/ptr"
)

func TestPickEndpoint(t *testing.T) {
	ports := func(admin int32) []discoveryv1.EndpointPort {
		return []discoveryv1.EndpointPort{
			{Name: ptr.To("public"), Port: ptr.To[int32](8443), Protocol: ptr.To(corev1.ProtocolTCP)},
			{Name: ptr.To("admin"), Port: ptr.To(admin), Protocol: ptr.To(corev1.ProtocolTCP)},
		}
	}
	endpoint := func(addr string, terminating bool) discoveryv1.Endpoint {
		return discoveryv1.Endpoint{Addresses: []string{addr}, Conditions: discoveryv1.EndpointConditions{
			Ready: ptr.To(false), Terminating: ptr.To(terminating),
		}}
	}
	for _, tc := range []struct {
		name  string
		items []discoveryv1.EndpointSlice
		want  string
	}{
		{"none", nil, ""},
		{"a pod that is not ready", []discoveryv1.EndpointSlice{{
			AddressType: discoveryv1.AddressTypeIPv4, Ports: ports(9443), Endpoints: []discoveryv1.Endpoint{endpoint("10.1.0.7", false)},
		}}, "10.1.0.7:9443"},
		{"a terminating pod is not asked", []discoveryv1.EndpointSlice{{
			AddressType: discoveryv1.AddressTypeIPv4, Ports: ports(9443),
			Endpoints: []discoveryv1.Endpoint{endpoint("10.1.0.3", true), endpoint("10.1.0.9", false)},
		}}, "10.1.0.9:9443"},
		{"the same pod every pass, whatever the order", []discoveryv1.EndpointSlice{
			{AddressType: discoveryv1.AddressTypeIPv4, Ports: ports(9443), Endpoints: []discoveryv1.Endpoint{endpoint("10.1.0.9", false)}},
			{AddressType: discoveryv1.AddressTypeIPv4, Ports: ports(9443), Endpoints: []discoveryv1.Endpoint{endpoint("10.1.0.2", false)}},
		}, "10.1.0.2:9443"},
		{"IPv6", []discoveryv1.EndpointSlice{{
			AddressType: discoveryv1.AddressTypeIPv6, Ports: ports(9443), Endpoints: []discoveryv1.Endpoint{endpoint("fd00::7", false)},
		}}, "[fd00::7]:9443"},
		{"no admin port", []discoveryv1.EndpointSlice{{
			AddressType: discoveryv1.AddressTypeIPv4, Ports: ports(9443)[:1], Endpoints: []discoveryv1.Endpoint{endpoint("10.1.0.7", false)},
		}}, ""},
		{"FQDN slices are not dialled", []discoveryv1.EndpointSlice{{
			AddressType: discoveryv1.AddressTypeFQDN, Ports: ports(9443), Endpoints: []discoveryv1.Endpoint{endpoint("collector.example.com", false)},
		}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := pickEndpoint(tc.items); got != tc.want {
				t.Errorf("pickEndpoint = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRolledOut(t *testing.T) {
	d := func(gen, observed int64, want, replicas, updated int32, terminating *int32) *appsv1.Deployment {
		x := &appsv1.Deployment{}
		x.Generation, x.Spec.Replicas = gen, ptr.To(want)
		x.Status = appsv1.DeploymentStatus{ObservedGeneration: observed, Replicas: replicas, UpdatedReplicas: updated, TerminatingReplicas: terminating}
		return x
	}
	for name, tc := range map[string]struct {
		d    *appsv1.Deployment
		want bool
	}{
		"rolled out":                         {d(2, 2, 2, 2, 2, nil), true},
		"rolled out, none terminating":       {d(2, 2, 2, 2, 2, ptr.To[int32](0)), true},
		"a new template not yet observed":    {d(3, 2, 2, 2, 2, nil), false},
		"a pod of the template before":       {d(2, 2, 2, 2, 1, nil), false},
		"the one pod of the template before": {d(2, 2, 1, 1, 0, nil), false},
		"a surge pod":                        {d(2, 2, 2, 3, 2, nil), false},
		"a pod still terminating":            {d(2, 2, 2, 2, 2, ptr.To[int32](1)), false},
	} {
		if got := rolledOut(tc.d); got != tc.want {
			t.Errorf("%s: rolledOut = %v, want %v", name, got, tc.want)
		}
	}
}
