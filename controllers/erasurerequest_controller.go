package controllers

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
	"github.com/surveyguard/surveyguard/internal/adminclient"
	"github.com/surveyguard/surveyguard/internal/collectorapi"
	"github.com/surveyguard/surveyguard/internal/regulations"
)

// ErasureRequestReconciler carries out the right to erasure. The first time
// it sees a request it fixes the campaigns the request covers (status.results,
// one entry per campaign its selector matches then), then asks each
// campaign's collector, over its admin API, to erase the subject, and records
// the collector's receipt per campaign. The collector keeps the receipt under
// the request's UID, so asking again (a lost status update, a restart)
// returns the first receipt and erases nothing twice; a Completed request is
// never sent again.
//
// The subject's identifier is read when it is sent (from the request or the
// Secret it names) and goes nowhere else: not to status, events, logs or
// metrics. A campaign paused by a breach is not skipped:
// SurveyCampaignReconciler runs its collector admin-only (no public
// listener) while a request still needs it.
type ErasureRequestReconciler struct {
	client.Client
	Scheme   *runtime.Scheme
	Recorder events.EventRecorder
	// Clock is the time source; tests inject one.
	Clock clock.PassiveClock
	// Collectors reaches the collectors' admin APIs.
	Collectors *adminclient.Client
	// APIReader reads the subject's Secret and the holiday calendar, which
	// the cache (the operator's own objects only) does not hold. The
	// manager's when nil.
	APIReader client.Reader
	// HolidayCalendar names the ConfigMap of holidays business-day clocks
	// skip (CCPA's acknowledgement); none when Name is empty.
	HolidayCalendar types.NamespacedName
	// Metrics exports the requests' deadlines; an unregistered set when nil.
	Metrics *ErasureMetrics
}

// +kubebuilder:rbac:groups=privacy.surveyguard.io,resources=erasurerequests,verbs=get;list;watch
// +kubebuilder:rbac:groups=privacy.surveyguard.io,resources=erasurerequests/status,verbs=patch
// +kubebuilder:rbac:groups=privacy.surveyguard.io,resources=surveycampaigns,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Event reasons of ErasureRequests.
const (
	// ReasonInlineSubject: the subject is written in the request; a Secret keeps it out of it.
	ReasonInlineSubject = "InlineSubject"
	// ReasonErased: one campaign's collector erased the subject's responses.
	ReasonErased = "Erased"
	// ReasonErasureRetrying: a collector could not be reached; the erasure is retried.
	ReasonErasureRetrying = "ErasureRetrying"
	// ReasonErasureRefused: a collector refused the request; it is not retried.
	ReasonErasureRefused = "ErasureRefused"
	// ReasonErasureCompleted: every campaign erased.
	ReasonErasureCompleted = "ErasureCompleted"
)

// Retry timing of a campaign whose collector could not be reached: 5 s,
// doubling per attempt, at most 5 minutes apart.
const (
	erasureFirstRetry = 5 * time.Second
	erasureMaxRetry   = 5 * time.Minute
	// subjectRecheck is how often a request whose Secret is missing or
	// unusable looks again: no watch reports a user's Secret.
	subjectRecheck = time.Minute
)

// Reconcile fixes the request's campaigns, erases from those not yet erased
// whose retry is due, and publishes phase, deadlines and conditions.
func (r *ErasureRequestReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	er := &privacyv1alpha1.ErasureRequest{}
	err := r.Get(ctx, req.NamespacedName, er)
	if err == nil && er.Status.Phase != privacyv1alpha1.ErasurePhaseCompleted {
		// A request still to carry out is read from the API server: a
		// pass that published receipts while it ran is followed at once by
		// another, which the cache may show the mid-pass status, and which
		// would ask a slow collector again and complete the request twice.
		err = r.APIReader.Get(ctx, req.NamespacedName, er)
	}
	if err != nil {
		if apierrors.IsNotFound(err) {
			r.Metrics.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	now := r.Clock.Now()
	hadResults := len(er.Status.Results) > 0
	pub := &erasurePublisher{r: r, er: er, before: er.DeepCopy()}
	var problem *erasureProblem
	var retryIn time.Duration
	var passErr error

	switch {
	case !hadResults && er.Status.Phase != privacyv1alpha1.ErasurePhaseCompleted:
		// First sight: fix the campaigns, and store them before erasing,
		// so that campaigns created later are never added.
		if er.Spec.Subject.SecretRef == nil {
			r.event(er, "", corev1.EventTypeWarning, ReasonInlineSubject, "Validate",
				"the subject's identifier is written in the request in plain text, where anyone who can read ErasureRequests sees it; "+
					"put it in a Secret and name it in spec.subject.secretRef instead")
		}
		results, p, err := r.selectCampaigns(ctx, er)
		if err != nil {
			return ctrl.Result{}, err
		}
		if p == nil && len(results) > 0 {
			// A subject that cannot be read stalls the request from the
			// first status on: a paused campaign never starts its
			// admin-only collector for a request that cannot erase. (With
			// no campaign, there is nothing to erase: it completes.)
			if _, p, err = r.subject(ctx, er); err != nil {
				return ctrl.Result{}, err
			}
		}
		problem, er.Status.Results = p, results
	case er.Status.Phase != privacyv1alpha1.ErasurePhaseCompleted:
		retryIn, problem, passErr = r.erase(ctx, pub, now)
		now = r.Clock.Now() // the collectors may have taken minutes
	}

	wake, err := pub.publish(ctx, problem, now)
	switch {
	case err != nil:
		return ctrl.Result{}, err
	case pub.gone:
		return ctrl.Result{}, nil
	case passErr != nil:
		return ctrl.Result{}, passErr
	}
	var next []time.Duration
	switch {
	case !hadResults && len(er.Status.Results) > 0:
		next = append(next, time.Millisecond) // the campaigns are stored: erase now
	case problem != nil && problem.recheck:
		next = append(next, subjectRecheck)
	}
	if retryIn > 0 {
		next = append(next, retryIn)
	}
	if wake != nil {
		next = append(next, wake.Sub(now)+deadlineSlack)
	}
	if len(next) == 0 {
		return ctrl.Result{}, nil
	}
	return ctrl.Result{RequeueAfter: max(slices.Min(next), time.Millisecond)}, nil
}

// erasurePublisher writes one request's status: computed from its results,
// with events for what changed, and patched when it differs from what was
// last written. A pass publishes at its end, and while collectors are still
// being asked, what the others answered.
type erasurePublisher struct {
	r          *ErasureRequestReconciler
	er, before *privacyv1alpha1.ErasureRequest
	// The holiday calendar, read at the first publish that counts business days.
	holidays           regulations.Holidays
	holidaysErr        error
	holidaysRead, gone bool
}

// publish computes the status at now and patches it. It returns the next
// instant a deadline's state changes with time alone. gone is set when the
// request no longer exists.
func (p *erasurePublisher) publish(ctx context.Context, problem *erasureProblem, now time.Time) (*time.Time, error) {
	er := p.er
	if !p.holidaysRead && countsBusinessDays(er) { // the calendar is read past the cache: only when it counts
		p.holidays, p.holidaysErr = holidaysFrom(ctx, p.r.APIReader, p.r.HolidayCalendar)
		p.holidaysRead = true
	}
	wake := setErasureStatus(er, problem, now, p.holidays, p.holidaysErr)
	er.Status.ObservedGeneration = er.Generation
	p.r.Metrics.observe(er)
	if !equality.Semantic.DeepEqual(p.before.Status, er.Status) {
		if err := p.r.Status().Patch(ctx, er, client.MergeFrom(p.before)); err != nil {
			if apierrors.IsNotFound(err) {
				p.gone = true
				return nil, nil
			}
			return nil, fmt.Errorf("patching status: %w", err)
		}
	}
	// The events of what changed, once it is written: a failed patch is
	// published again, its events with it.
	p.r.statusEvents(er, p.before)
	p.before = er.DeepCopy()
	return wake, nil
}

// erasureProblem is what keeps a request from going on until a person acts:
// an unusable selector, a missing Secret. recheck: look again later, since
// no watch reports the fix.
type erasureProblem struct {
	reason, message string
	recheck         bool
}

// selectCampaigns lists the campaigns the request covers, in name order.
func (r *ErasureRequestReconciler) selectCampaigns(ctx context.Context, er *privacyv1alpha1.ErasureRequest) ([]privacyv1alpha1.ErasureResult, *erasureProblem, error) {
	sel := labels.Everything()
	if s := er.Spec.CampaignSelector; s != nil {
		var err error
		if sel, err = metav1.LabelSelectorAsSelector(s); err != nil {
			return nil, &erasureProblem{reason: privacyv1alpha1.ReasonInvalidSpec, message: "spec.campaignSelector: " + err.Error()}, nil
		}
	}
	list := &privacyv1alpha1.SurveyCampaignList{}
	if err := r.List(ctx, list, client.InNamespace(er.Namespace), client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return nil, nil, fmt.Errorf("listing SurveyCampaigns: %w", err)
	}
	if n := len(list.Items); n > maxErasureCampaigns {
		return nil, &erasureProblem{reason: privacyv1alpha1.ReasonInvalidSpec, message: fmt.Sprintf(
			"spec.campaignSelector selects %d campaigns; one request covers at most %d: split it by label", n, maxErasureCampaigns)}, nil
	}
	results := make([]privacyv1alpha1.ErasureResult, 0, len(list.Items))
	for _, c := range list.Items {
		results = append(results, privacyv1alpha1.ErasureResult{Campaign: c.Name, State: privacyv1alpha1.ErasureCampaignPending})
	}
	slices.SortFunc(results, func(a, b privacyv1alpha1.ErasureResult) int { return strings.Compare(a.Campaign, b.Campaign) })
	return results, nil, nil
}

// maxErasureCampaigns is status.results' limit.
const maxErasureCampaigns = 1000

// Erasure calls in flight, per request and across requests.
const (
	// erasureParallelism is how many of a request's campaigns are asked at
	// once: one collector that accepts a connection and never answers
	// holds its own call for the long-call timeout, not the others'.
	erasureParallelism = 8
	// erasureProgressEvery is how long, at most, an answer waits to be
	// published while other collectors of the pass are still being asked
	// (and how often, at most, such a pass patches the status).
	erasureProgressEvery = 2 * time.Second
	// erasureWorkers is how many requests are carried out at once.
	erasureWorkers = 4
)

// erasureAnswer is what asking one campaign's collector came to.
type erasureAnswer struct {
	campaign string
	// deleted: the campaign is gone or being deleted; nothing was asked.
	deleted bool
	receipt *collectorapi.EraseReceipt
	// err is the call's failure; readErr a failure to read the campaign,
	// which is not an attempt.
	err, readErr error
}

// erase asks every campaign not yet done whose retry is due, up to
// erasureParallelism at once, and records each answer in the request as it
// comes. It returns when the next retry is due (0: none), the problem that
// keeps it from asking at all, or the first campaign it could not read.
func (r *ErasureRequestReconciler) erase(ctx context.Context, pub *erasurePublisher, now time.Time) (time.Duration, *erasureProblem, error) {
	er := pub.er
	var todo []string
	var retryIn time.Duration
	for _, res := range er.Status.Results {
		if res.State != privacyv1alpha1.ErasureCampaignPending && res.State != privacyv1alpha1.ErasureCampaignRetrying {
			continue
		}
		if wait := retryDue(res, now); wait > 0 {
			retryIn = minPositive(retryIn, wait)
			continue
		}
		todo = append(todo, res.Campaign)
	}
	if len(todo) == 0 {
		return retryIn, nil, nil
	}
	subject, problem, err := r.subject(ctx, er)
	if problem != nil || err != nil {
		return 0, problem, err
	}
	subject.RequestID = string(er.UID)

	// The askers see only names and the subject: er is written by this
	// goroutine alone (the answers, the status patches).
	queue := make(chan string, len(todo))
	for _, name := range todo {
		queue <- name
	}
	close(queue)
	answers := make(chan erasureAnswer, len(todo))
	ns := er.Namespace
	for range min(erasureParallelism, len(todo)) {
		go func() {
			for name := range queue {
				answers <- r.ask(ctx, ns, name, subject)
			}
		}()
	}
	var readErr error
	var progress <-chan time.Time // armed while answers wait to be published
	for left := len(todo); left > 0; {
		var a erasureAnswer
		select {
		case a = <-answers:
			left--
		case <-progress:
			progress = nil
			if _, err := pub.publish(ctx, nil, r.Clock.Now()); err != nil {
				log.FromContext(ctx).Error(err, "publishing the receipts in so far")
			}
			continue
		}
		i := slices.IndexFunc(er.Status.Results, func(res privacyv1alpha1.ErasureResult) bool { return res.Campaign == a.campaign })
		switch {
		case a.readErr != nil:
			readErr = cmp.Or(readErr, a.readErr)
			continue
		case i < 0:
			continue
		}
		retryIn = minPositive(retryIn, r.record(ctx, er, &er.Status.Results[i], a, now))
		if progress == nil && left > 0 && !pub.gone {
			progress = time.After(erasureProgressEvery)
		}
	}
	return retryIn, nil, readErr
}

// ask asks one campaign's collector to erase the subject.
func (r *ErasureRequestReconciler) ask(ctx context.Context, namespace, campaign string, subject collectorapi.EraseRequest) erasureAnswer {
	a := erasureAnswer{campaign: campaign}
	c := &privacyv1alpha1.SurveyCampaign{}
	err := r.Get(ctx, client.ObjectKey{Namespace: namespace, Name: campaign}, c)
	switch {
	case apierrors.IsNotFound(err):
		a.deleted = true
		return a
	case err != nil:
		a.readErr = fmt.Errorf("reading SurveyCampaign %s: %w", campaign, err)
		return a
	case !c.DeletionTimestamp.IsZero():
		// Its deletion purges everything and destroys its keys, unless
		// a legal hold keeps them: then its collector is asked as usual,
		// as long as its keys are there (a foreground cascade deletes
		// them with the other children: nothing is readable any more).
		held, _, err := legalHold(ctx, r.Client, c)
		switch {
		case err != nil:
			a.readErr = err
			return a
		case !held:
			a.deleted = true
			return a
		}
		// The cache holds only labelled Secrets: the API server says
		// whether the key Secret is really gone.
		keys := &corev1.Secret{}
		switch err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: childNames(c).keys}, keys); {
		case apierrors.IsNotFound(err) || (err == nil && !keys.DeletionTimestamp.IsZero()):
			a.deleted = true
			return a
		case err != nil:
			a.readErr = fmt.Errorf("reading the key Secret of SurveyCampaign %s: %w", campaign, err)
			return a
		}
	}
	t, err := collectorTarget(ctx, r.Client, c)
	if err == nil {
		// A collector whose pods are not ready (a key file gone) is no
		// endpoint of its Service, yet erases: one of its pods is asked
		// directly. Otherwise the Service, whose failure says why.
		d := &appsv1.Deployment{}
		if r.Get(ctx, client.ObjectKey{Namespace: namespace, Name: childNames(c).collector}, d) == nil {
			t.Addr, _ = collectorRoute(ctx, r.APIReader, c, d)
		}
		a.receipt, err = r.Collectors.Erase(ctx, t, subject)
	}
	a.err = err
	return a
}

// record writes one campaign's answer, asked at now, into res. It returns
// when to retry (0: no retry).
func (r *ErasureRequestReconciler) record(ctx context.Context, er *privacyv1alpha1.ErasureRequest, res *privacyv1alpha1.ErasureResult,
	a erasureAnswer, now time.Time,
) time.Duration {
	if a.deleted {
		// Deleting a campaign purges every response it holds and destroys its keys.
		res.State, res.Message, res.LastAttemptAt = privacyv1alpha1.ErasureCampaignDeleted,
			"the campaign was deleted before it was asked; its deletion purges every response and destroys its keys", nil
		return 0
	}
	res.Attempts = ptr.To(ptr.Deref(res.Attempts, 0) + 1)
	res.LastAttemptAt = &metav1.Time{Time: now.UTC().Truncate(time.Second)}
	if a.err != nil {
		return r.failed(er, res, a.err)
	}
	receipt := a.receipt
	res.State, res.Message, res.LastAttemptAt = privacyv1alpha1.ErasureCampaignErased, "", nil
	res.Erased = ptr.To(receipt.Erased)
	res.At = &metav1.Time{Time: receipt.FinishedAt.UTC().Truncate(time.Second)}
	res.Digest = receipt.Digest
	r.event(er, res.Campaign, corev1.EventTypeNormal, ReasonErased, "Erase", "campaign %s erased %d responses (receipt digest %s)",
		res.Campaign, receipt.Erased, shortDigest(receipt.Digest))
	log.FromContext(ctx).Info("erased", "campaign", res.Campaign, "erased", receipt.Erased, "digest", receipt.Digest, "replayed", receipt.Replayed)
	return 0
}

// failed records a failed attempt: a refusal is final, anything else is
// retried with backoff. It returns when to retry (0: no retry).
func (r *ErasureRequestReconciler) failed(er *privacyv1alpha1.ErasureRequest, res *privacyv1alpha1.ErasureResult, err error) time.Duration {
	// The error names the call and the collector's answer, never the body.
	msg := truncateMessage(err.Error())
	if adminclient.Permanent(err) {
		res.State, res.Message, res.LastAttemptAt = privacyv1alpha1.ErasureCampaignFailed, "the collector refused the erasure: "+msg, nil
		r.event(er, res.Campaign, corev1.EventTypeWarning, ReasonErasureRefused, "Erase", "campaign %s: %s", res.Campaign, res.Message)
		return 0
	}
	wait := retryBackoff(ptr.Deref(res.Attempts, 0))
	res.State = privacyv1alpha1.ErasureCampaignRetrying
	res.Message = fmt.Sprintf("%s; attempt %d, retrying in %s", msg, ptr.Deref(res.Attempts, 0), wait)
	if ptr.Deref(res.Attempts, 0) == 1 {
		r.event(er, res.Campaign, corev1.EventTypeWarning, ReasonErasureRetrying, "Erase", "campaign %s: %s", res.Campaign, res.Message)
	}
	return wait
}

// retryBackoff is the wait after the n-th failed attempt.
func retryBackoff(attempts int32) time.Duration {
	wait := erasureFirstRetry
	for i := int32(1); i < attempts && wait < erasureMaxRetry; i++ {
		wait *= 2
	}
	return min(wait, erasureMaxRetry)
}

// retryDue is how long until a Retrying campaign may be asked again (0: now).
func retryDue(res privacyv1alpha1.ErasureResult, now time.Time) time.Duration {
	if res.State != privacyv1alpha1.ErasureCampaignRetrying || res.LastAttemptAt == nil {
		return 0
	}
	return max(res.LastAttemptAt.Add(retryBackoff(ptr.Deref(res.Attempts, 0))).Sub(now), 0)
}

func minPositive(a, b time.Duration) time.Duration {
	switch {
	case a <= 0:
		return b
	case b <= 0:
		return a
	}
	return min(a, b)
}

// subject reads the identifier to erase: from the request, or from the
// Secret it names. Nothing it returns in an error or a problem carries the
// identifier.
func (r *ErasureRequestReconciler) subject(ctx context.Context, er *privacyv1alpha1.ErasureRequest) (collectorapi.EraseRequest, *erasureProblem, error) {
	s := er.Spec.Subject
	switch {
	case s.CustomerID != "":
		return collectorapi.EraseRequest{CustomerID: s.CustomerID}, nil, nil
	case s.Email != "":
		return collectorapi.EraseRequest{Email: s.Email}, nil, nil
	case s.SecretRef == nil:
		return collectorapi.EraseRequest{}, &erasureProblem{reason: privacyv1alpha1.ReasonInvalidSpec, message: "spec.subject names no identifier"}, nil
	}
	ref := s.SecretRef
	secret := &corev1.Secret{}
	if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: er.Namespace, Name: ref.Name}, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return collectorapi.EraseRequest{}, &erasureProblem{reason: privacyv1alpha1.ReasonSecretNotFound, recheck: true,
				message: fmt.Sprintf("Secret %q (spec.subject.secretRef) does not exist in namespace %s", ref.Name, er.Namespace)}, nil
		}
		return collectorapi.EraseRequest{}, nil, fmt.Errorf("reading Secret %s: %w", ref.Name, err)
	}
	campaigns := &privacyv1alpha1.SurveyCampaignList{}
	if err := r.List(ctx, campaigns, client.InNamespace(er.Namespace)); err != nil {
		return collectorapi.EraseRequest{}, nil, fmt.Errorf("listing campaigns: %w", err)
	}
	if why := credentialSecret(secret, campaigns.Items); why != "" {
		return collectorapi.EraseRequest{}, &erasureProblem{reason: ReasonSubjectSecretInvalid, recheck: true,
			message: fmt.Sprintf("Secret %q (spec.subject.secretRef) %s, not a subject's identifier; name a Secret made for the request", secret.Name, why)}, nil
	}
	return subjectFromSecret(secret, ref.Key)
}

// credentialTypes are the Secret types that hold credentials by definition.
var credentialTypes = []corev1.SecretType{corev1.SecretTypeServiceAccountToken, corev1.SecretTypeDockercfg,
	corev1.SecretTypeDockerConfigJson, corev1.SecretTypeBasicAuth, corev1.SecretTypeSSHAuth, corev1.SecretTypeTLS,
	corev1.SecretTypeBootstrapToken}

// credentialSecret says why secret holds credentials rather than a
// subject's identifier ("" when it may): one the operator made (a
// campaign's keys, admin token or certificates), a campaign's database
// Secret, or one of Kubernetes' credential types. An ErasureRequest's
// status tells whether its subject's value matched a respondent; naming a
// credential would make that a way to test guesses at it, and would send
// it to every collector.
func credentialSecret(secret *corev1.Secret, campaigns []privacyv1alpha1.SurveyCampaign) string {
	switch {
	case secret.Labels[privacyv1alpha1.LabelManagedBy] == privacyv1alpha1.ManagedByValue:
		return "is one the operator manages (a campaign's keys or credentials)"
	case slices.Contains(credentialTypes, secret.Type):
		return "is of type " + string(secret.Type) + ", which holds credentials"
	}
	for i := range campaigns {
		if pg := campaigns[i].Spec.Storage.Postgres; pg != nil && pg.SecretRef.Name == secret.Name {
			return "holds campaign " + campaigns[i].Name + "'s database connection string"
		}
	}
	return ""
}

// subjectFromSecret picks the identifier out of the Secret: key, or
// "customerID", else "email". The key "email", or a custom key whose value
// holds an @, is an email address; anything else a customer ID. Surrounding
// whitespace (a trailing newline from a file) is dropped.
func subjectFromSecret(secret *corev1.Secret, key string) (collectorapi.EraseRequest, *erasureProblem, error) {
	bad := func(format string, args ...any) (collectorapi.EraseRequest, *erasureProblem, error) {
		return collectorapi.EraseRequest{}, &erasureProblem{reason: ReasonSubjectSecretInvalid, recheck: true,
			message: fmt.Sprintf("Secret %q (spec.subject.secretRef): ", secret.Name) + fmt.Sprintf(format, args...)}, nil
	}
	if key == "" {
		switch {
		case len(secret.Data["customerID"]) > 0:
			key = "customerID"
		case len(secret.Data["email"]) > 0:
			key = "email"
		default:
			return bad(`has neither a "customerID" nor an "email" key; name the key in spec.subject.secretRef.key`)
		}
	}
	raw, ok := secret.Data[key]
	if !ok {
		return bad("has no key %q", key)
	}
	v := strings.TrimSpace(string(raw))
	isEmail := key == "email" || (key != "customerID" && strings.Contains(v, "@"))
	switch {
	case v == "":
		return bad("key %q is empty", key)
	case !utf8.ValidString(v):
		return bad("key %q is not valid UTF-8", key)
	case hasControl(v):
		return bad("key %q holds a control character, which no collector stores", key)
	case isEmail && (utf8.RuneCountInString(v) > 320 || !storedEmailShape(v)):
		return bad("key %q does not hold an email address (one @, at most 320 characters)", key)
	case isEmail:
		return collectorapi.EraseRequest{Email: v}, nil, nil
	case utf8.RuneCountInString(v) > 256:
		// Characters, as the collector counts them; the length is not
		// told: the status is no way to learn about a Secret.
		return bad("key %q holds more than 256 characters, the most a customer ID has", key)
	}
	return collectorapi.EraseRequest{CustomerID: v}, nil, nil
}

// hasControl says whether s holds a character the collector refuses in an
// identifier: a control character, or a bidirectional override or isolate.
func hasControl(s string) bool {
	_, bad := collectorapi.ControlCharacter(s, false)
	return bad
}

// ReasonSubjectSecretInvalid is the reason given when the subject's Secret has no usable identifier.
const ReasonSubjectSecretInvalid = "SubjectSecretInvalid"

// storedEmailShape is the loosest email any collector version stored:
// one @ and at least 3 characters (white space inside was accepted before
// the collector held emails to spec.subject.email's pattern), so that a
// subject Secret can still name such an address.
func storedEmailShape(v string) bool { return strings.Count(v, "@") == 1 && len(v) >= 3 }

func shortDigest(d string) string {
	if len(d) > 12 {
		return d[:12] + "…"
	}
	return d
}

// truncateMessage keeps a status message within the API's 1024 characters.
func truncateMessage(s string) string {
	if len(s) <= 900 {
		return s
	}
	return s[:900] + "…"
}

// statusEvents records what changed between before and er's status: a
// deadline turning Approaching or Overdue, completion.
func (r *ErasureRequestReconciler) statusEvents(er, before *privacyv1alpha1.ErasureRequest) {
	was := map[privacyv1alpha1.RequestDuty]privacyv1alpha1.DeadlineState{}
	for _, d := range before.Status.Deadlines {
		was[d.Duty] = d.State
	}
	for _, d := range er.Status.Deadlines {
		if prev, seen := was[d.Duty]; seen && prev == d.State {
			continue
		}
		switch d.State {
		case privacyv1alpha1.DeadlineState("Approaching"):
			r.event(er, "", corev1.EventTypeWarning, ReasonDeadlineApproaching, dutyAction("Erase", string(d.Duty)),
				"%s %s is due by %s (%s) and not done", er.Spec.Regime, d.Duty, d.Due.UTC().Format(time.RFC3339), d.Clock)
		case privacyv1alpha1.DeadlineState("Overdue"):
			r.event(er, "", corev1.EventTypeWarning, privacyv1alpha1.ReasonDeadlineMissed, dutyAction("Erase", string(d.Duty)),
				"%s %s was due by %s (%s) and is not done", er.Spec.Regime, d.Duty, d.Due.UTC().Format(time.RFC3339), d.Clock)
		}
	}
	if er.Status.Phase == privacyv1alpha1.ErasurePhaseCompleted && before.Status.Phase != privacyv1alpha1.ErasurePhaseCompleted {
		r.event(er, "", corev1.EventTypeNormal, ReasonErasureCompleted, "Erase", "erased %d responses from %d campaigns",
			ptr.Deref(er.Status.Erased, 0), len(er.Status.Results))
	}
}

// event records an event about er; campaign names the campaign it concerns
// as the event's related object, or is empty. Events of one reason about
// one object are told apart by their action and related object only (see
// BreachReportReconciler.event).
func (r *ErasureRequestReconciler) event(er *privacyv1alpha1.ErasureRequest, campaign, typ, reason, action, note string, args ...any) {
	if r.Recorder == nil {
		return
	}
	var related runtime.Object
	if campaign != "" {
		related = &privacyv1alpha1.SurveyCampaign{ObjectMeta: metav1.ObjectMeta{Namespace: er.Namespace, Name: campaign}}
	}
	r.Recorder.Eventf(er, related, typ, reason, action, note, args...)
}

// SetupWithManager registers the reconciler. A campaign's status change (its
// collector coming back, or running admin-only for a paused campaign) brings
// the unfinished requests that cover it.
func (r *ErasureRequestReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if r.Metrics == nil {
		r.Metrics = NewErasureMetrics()
	}
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	if r.Collectors == nil {
		r.Collectors = adminclient.New(nil, 0)
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&privacyv1alpha1.ErasureRequest{}).
		Watches(&privacyv1alpha1.SurveyCampaign{}, handler.EnqueueRequestsFromMapFunc(r.requestsOfCampaign)).
		Named("erasurerequest").
		WithOptions(controller.Options{MaxConcurrentReconciles: erasureWorkers}).
		Complete(r)
}

// requestsOfCampaign lists the unfinished requests that cover the campaign.
func (r *ErasureRequestReconciler) requestsOfCampaign(ctx context.Context, o client.Object) []reconcile.Request {
	// Read, never changed: no copy of the cache's objects (see readErasures).
	list := &privacyv1alpha1.ErasureRequestList{}
	if err := r.List(ctx, list, client.InNamespace(o.GetNamespace()), client.UnsafeDisableDeepCopy); err != nil {
		log.FromContext(ctx).Error(err, "listing the erasure requests of a campaign", "campaign", o.GetName())
		return nil
	}
	var reqs []reconcile.Request
	for _, er := range list.Items {
		if erasureWaitsOn(&er, o.GetName()) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&er)})
		}
	}
	return reqs
}

// erasureWaitsOn says whether the request still has to erase from the campaign.
func erasureWaitsOn(er *privacyv1alpha1.ErasureRequest, campaign string) bool {
	if er.Status.Phase == privacyv1alpha1.ErasurePhaseCompleted {
		return false
	}
	return slices.ContainsFunc(er.Status.Results, func(res privacyv1alpha1.ErasureResult) bool {
		return res.Campaign == campaign &&
			(res.State == privacyv1alpha1.ErasureCampaignPending || res.State == privacyv1alpha1.ErasureCampaignRetrying)
	})
}
