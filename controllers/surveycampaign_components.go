package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
)

// A campaign's reconcile is an ordered list of components, one per child or
// concern, each in its own file with its child's name, desired object, merge
// rule, RBAC marker and the kinds it owns. Reconcile walks the list in order:
// a component may use what the ones before it read or made (the pass), and
// adds what it learns to the observation that setCampaignStatus reads.

// campaignPass is one reconcile pass of a campaign: the campaign, what the
// components read or made so far, and the observation status is computed from.
type campaignPass struct {
	c   *privacyv1alpha1.SurveyCampaign
	obs *observed
	// policy is the campaign's RetentionPolicy (the policy component).
	policy *privacyv1alpha1.RetentionPolicy
	// config is the collector's configuration file (the policy component).
	config []byte
	// dsn is the PostgreSQL connection string, nil for embedded storage.
	dsn []byte
	// token is the admin API's bearer token.
	token string
	// caCert is the CA the collector's serving certificate chains to.
	caCert []byte
	// keys is the key Secret.
	keys *corev1.Secret
	// image is what the collector and its purge Jobs run (the collector
	// image component).
	image string
}

// component is one child of a campaign, or one concern of its reconcile.
type component struct {
	name string
	// owns are the kinds of the children it makes: the controller watches
	// them (Owns) and the manager caches only those labelled as surveyguard's.
	owns []client.Object
	// reconcile brings the child to what the spec asks, or returns a
	// *stalledError when the spec cannot work as written.
	reconcile func(ctx context.Context, r *SurveyCampaignReconciler, p *campaignPass) error
}

// campaignComponents is the reconcile, in order.
var campaignComponents = []component{
	{name: "breach reports", reconcile: readBreaches},
	{name: "erasure requests", reconcile: readErasures},
	{name: "retention runs", reconcile: readPurges},
	{name: "campaign name", reconcile: checkName},
	{name: "retention policy", reconcile: readPolicy},
	{name: "database Secret", reconcile: readDatabaseSecret},
	{name: "collector image", reconcile: checkImage},
	{name: "ServiceAccount", owns: []client.Object{&corev1.ServiceAccount{}}, reconcile: reconcileServiceAccount},
	{name: "admin token", owns: []client.Object{&corev1.Secret{}}, reconcile: reconcileAdminToken},
	{name: "TLS", owns: []client.Object{&corev1.Secret{}}, reconcile: reconcileServing},
	{name: "collector figures", reconcile: readStats},
	{name: "keys", owns: []client.Object{&corev1.Secret{}}, reconcile: reconcileKeys},
	{name: "ConfigMap", owns: []client.Object{&corev1.ConfigMap{}}, reconcile: reconcileConfigMap},
	{name: "PersistentVolumeClaim", owns: []client.Object{&corev1.PersistentVolumeClaim{}}, reconcile: reconcilePVC},
	{name: "Deployment", owns: []client.Object{&appsv1.Deployment{}}, reconcile: reconcileDeployment},
	{name: "Service", owns: []client.Object{&corev1.Service{}}, reconcile: reconcileService},
	{name: "NetworkPolicy", owns: []client.Object{&networkingv1.NetworkPolicy{}}, reconcile: reconcileNetworkPolicy},
	{name: "PodDisruptionBudget", owns: []client.Object{&policyv1.PodDisruptionBudget{}}, reconcile: reconcilePDB},
	{name: "retention CronJob", owns: []client.Object{&batchv1.CronJob{}}, reconcile: reconcileRetention},
}

// CampaignChildKinds are the kinds of every child a campaign has, one object
// of each: what the controller owns and the manager caches by label.
func CampaignChildKinds() []client.Object {
	var out []client.Object
	seen := map[string]bool{}
	for _, comp := range campaignComponents {
		for _, obj := range comp.owns {
			if t := fmt.Sprintf("%T", obj); !seen[t] {
				seen[t] = true
				out = append(out, obj.DeepCopyObject().(client.Object))
			}
		}
	}
	return out
}

// WatchedManagedKinds are the built-in kinds the operator watches but does
// not make itself, which it reads only with its managed-by label: the
// retention CronJobs' Jobs, which carry the Job template's labels.
func WatchedManagedKinds() []client.Object { return []client.Object{&batchv1.Job{}} }

// stalledError is a component's conclusion that the spec cannot work until a
// person changes something: the one way a stall is signalled. Reason is the
// Stalled condition's reason.
type stalledError struct {
	reason, message string
	// recheckAfter, when set, is when to look again: nothing the operator
	// watches would report the fix (a user's Secret, cert-manager's CRD).
	recheckAfter time.Duration
}

func (e *stalledError) Error() string { return e.reason + ": " + e.message }

// stall returns a stalled error.
func stall(reason, format string, args ...any) *stalledError {
	return &stalledError{reason: reason, message: fmt.Sprintf(format, args...)}
}

// stallAndRecheck returns a stalled error that is looked at again after a minute.
func stallAndRecheck(reason, format string, args ...any) *stalledError {
	e := stall(reason, format, args...)
	e.recheckAfter = time.Minute
	return e
}

// walk runs the components in order until one fails. A stall is recorded in
// the observation and ends the pass without an error; any other error is
// returned, named by the component, for a retry with backoff. A component
// whose stall leaves the rest of the campaign working (obs.stallAfter)
// lets the pass go on, and the stall is the pass's conclusion at its end.
func (r *SurveyCampaignReconciler) walk(ctx context.Context, p *campaignPass) error {
	for _, comp := range campaignComponents {
		err := comp.reconcile(ctx, r, p)
		var st *stalledError
		switch {
		case errors.As(err, &st):
			// A stall found earlier in the pass is still true: say both.
			p.obs.stall = joinStalls(st, p.obs.stallAfter)
			return nil
		case err != nil:
			return fmt.Errorf("%s: %w", comp.name, err)
		}
	}
	p.obs.stall, p.obs.stallLate = p.obs.stallAfter, p.obs.stallAfter != nil
	return nil
}

// stallLater records a stall that lets the pass go on (obs.stallAfter),
// beside any recorded before it.
func (o *observed) stallLater(st *stalledError) { o.stallAfter = joinStalls(o.stallAfter, st) }

// joinStalls is a and b as one stall: a's reason, both messages, the
// sooner recheck. Either may be nil.
func joinStalls(a, b *stalledError) *stalledError {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	j := &stalledError{reason: a.reason, message: a.message + "; " + b.message, recheckAfter: a.recheckAfter}
	if b.recheckAfter > 0 && (j.recheckAfter == 0 || b.recheckAfter < j.recheckAfter) {
		j.recheckAfter = b.recheckAfter
	}
	return j
}
