package controllers

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/surveyguard/surveyguard/internal/adminclient"
)

// readStats is the collector figures component: it asks the collector's
// admin API for its figures (NPS, storage, keys, the last purge) when the
// collector has a replica to answer, over TLS checked against the CA of the
// TLS component, with the admin token. A collector that does not answer is
// no error: status says so.
func readStats(ctx context.Context, r *SurveyCampaignReconciler, p *campaignPass) error {
	c, obs := p.c, p.obs
	t := adminclient.Target{Campaign: c.Namespace + "/" + c.Name, URL: adminURL(c), CA: p.caCert, Token: p.token}
	d := &appsv1.Deployment{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: childNames(c).collector}, d); err != nil {
		return nil //nolint:nilerr // no Deployment yet: nothing to ask
	}
	// A paused collector is asked only while it runs admin-only.
	if ok, _ := deploymentAvailable(d); !ok || (obs.paused && !runsAdminOnly(d)) {
		return nil
	}
	st, err := r.Collectors.Stats(ctx, t)
	if err != nil {
		obs.statsErr = err
		log.FromContext(ctx).V(1).Info("reading the collector's stats failed", "error", err.Error())
		return nil
	}
	obs.stats = st
	return nil
}
