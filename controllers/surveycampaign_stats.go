package controllers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
	"github.com/surveyguard/surveyguard/internal/adminclient"
)

// +kubebuilder:rbac:groups=discovery.k8s.io,resources=endpointslices,verbs=list

// readStats is the collector figures component: it asks the collector's
// admin API for its figures (NPS, storage, keys, the last purge) when the
// collector has a replica to answer, over TLS checked against the CA of the
// TLS component, with the admin token. A collector that does not answer is
// no error: status says so.
//
// A collector pod that runs but is not ready (a key file gone, the store
// not answering) is no endpoint of its Service, yet it is the one that can
// say why: when the Deployment has no available replica, one such pod is
// asked directly, at the address its Service's EndpointSlice gives, the
// certificate still checked against the Service's name. Its failure to
// answer changes nothing: the collector is not available either way.
func readStats(ctx context.Context, r *SurveyCampaignReconciler, p *campaignPass) error {
	c, obs := p.c, p.obs
	t := adminclient.Target{Campaign: c.Namespace + "/" + c.Name, URL: adminURL(c), CA: p.caCert, Token: p.token}
	d := &appsv1.Deployment{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: childNames(c).collector}, d); err != nil {
		return nil //nolint:nilerr // no Deployment yet: nothing to ask
	}
	obs.rolledOut, obs.deploymentGeneration = rolledOut(d), d.Generation
	obs.terminatingUncounted = d.Status.TerminatingReplicas == nil
	// A paused collector is asked only while it runs admin-only.
	if obs.paused && !runsAdminOnly(d) {
		return nil
	}
	route, err := collectorRoute(ctx, r.APIReader, c, d)
	if err != nil {
		return nil //nolint:nilerr // no pod to ask: the collector is not available, as status says
	}
	t.Addr = route
	st, err := r.Collectors.Stats(ctx, t)
	switch {
	case err != nil && route != "":
		// Not available either way.
		log.FromContext(ctx).V(1).Info("asking a collector pod that is not ready failed", "error", err.Error())
	case err != nil:
		obs.statsErr = err
		log.FromContext(ctx).V(1).Info("reading the collector's stats failed", "error", err.Error())
	default:
		obs.stats = st
	}
	return nil
}

// collectorRoute is how to reach the collector of Deployment d: through
// its Service ("") when it has an available replica, else at the address
// of one of its pods that is not ready (unreadyCollector); an error says
// why there is no pod to ask.
func collectorRoute(ctx context.Context, api client.Reader, c *privacyv1alpha1.SurveyCampaign, d *appsv1.Deployment) (string, error) {
	ok, msg := deploymentAvailable(d)
	if ok {
		return "", nil
	}
	if !runsUnready(d) {
		return "", errors.New(msg)
	}
	addr, err := unreadyCollector(ctx, api, c)
	switch {
	case err != nil:
		return "", fmt.Errorf("%s; listing its pods' endpoints: %w", msg, err)
	case addr == "":
		return "", errors.New(msg)
	}
	return addr, nil
}

// rolledOut says whether every pod of the Deployment runs its current
// template: the rollout is observed, no pod of an older one is left, and
// none is still terminating (within its grace period a pod may still
// commit an answer; the API server counts them where it can).
func rolledOut(d *appsv1.Deployment) bool {
	want := ptr.Deref(d.Spec.Replicas, 1)
	return d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas == d.Status.Replicas &&
		d.Status.Replicas == want && ptr.Deref(d.Status.TerminatingReplicas, 0) == 0
}

// runsUnready says whether the Deployment, rolled out, has pods of which
// none is available: running but failing its readiness probe, or not
// running at all.
func runsUnready(d *appsv1.Deployment) bool {
	return d.Status.ObservedGeneration >= d.Generation && d.Status.Replicas > 0 && d.Status.AvailableReplicas == 0
}

// unreadyCollector is the admin address ("ip:port") of one collector pod
// that is not terminating, read from the EndpointSlices the cluster keeps
// for the campaign's Service (not-ready pods are listed in them, marked
// so), or "" when there is none. Only the EndpointSlice controller's slices
// count. They are read from the API server: this is asked only while the
// collector is unavailable, and a cache would watch every slice of the
// cluster.
func unreadyCollector(ctx context.Context, api client.Reader, c *privacyv1alpha1.SurveyCampaign) (string, error) {
	items, err := collectorSlices(ctx, api, c)
	if err != nil {
		return "", err
	}
	return pickEndpoint(items), nil
}

// collectorSlices are the EndpointSlices the cluster's EndpointSlice
// controller keeps for the campaign's collector Service, read from api.
func collectorSlices(ctx context.Context, api client.Reader, c *privacyv1alpha1.SurveyCampaign) ([]discoveryv1.EndpointSlice, error) {
	list := &discoveryv1.EndpointSliceList{}
	err := api.List(ctx, list, client.InNamespace(c.Namespace), client.MatchingLabels{
		discoveryv1.LabelServiceName: childNames(c).collector,
		discoveryv1.LabelManagedBy:   endpointSliceController,
	})
	return list.Items, err
}

// terminatingCollector says whether a collector pod of the campaign is
// still terminating, by the EndpointSlices of its Service: what the
// Deployment's status does not count before Kubernetes 1.35
// (terminatingReplicas, alpha in 1.33). Read from the API server, and only
// when keys are about to be retired.
func terminatingCollector(ctx context.Context, api client.Reader, c *privacyv1alpha1.SurveyCampaign) (bool, error) {
	items, err := collectorSlices(ctx, api, c)
	if err != nil {
		return false, err
	}
	for _, s := range items {
		for _, e := range s.Endpoints {
			if ptr.Deref(e.Conditions.Terminating, false) {
				return true, nil
			}
		}
	}
	return false, nil
}

// endpointSliceController is the LabelManagedBy value of the slices the
// cluster's EndpointSlice controller keeps for a Service's selector.
const endpointSliceController = "endpointslice-controller.k8s.io"

// pickEndpoint is the admin address of an endpoint that is not
// terminating, the first in string order so that each pass asks the same
// pod; "" when there is none.
func pickEndpoint(items []discoveryv1.EndpointSlice) string {
	var addrs []string
	for _, s := range items {
		if s.AddressType != discoveryv1.AddressTypeIPv4 && s.AddressType != discoveryv1.AddressTypeIPv6 {
			continue
		}
		var port int32
		for _, p := range s.Ports {
			if p.Name != nil && *p.Name == "admin" && p.Port != nil {
				port = *p.Port
			}
		}
		if port == 0 {
			continue
		}
		for _, e := range s.Endpoints {
			if (e.Conditions.Terminating != nil && *e.Conditions.Terminating) || len(e.Addresses) == 0 {
				continue
			}
			addrs = append(addrs, net.JoinHostPort(e.Addresses[0], strconv.Itoa(int(port))))
		}
	}
	if len(addrs) == 0 {
		return ""
	}
	return slices.Min(addrs)
}
