package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
	"github.com/surveyguard/surveyguard/internal/regulations"
)

// BreachReportReconciler tracks a breach: its regulatory deadlines, its
// phase, and the containment carried out on its campaigns. The containment
// itself is done by SurveyCampaignReconciler, which reads the reports: it
// scales a paused campaign's collector to zero while an unresolved report
// asks for it, and rotates its keys once per report, recording the rotation
// in the same update as the new key. This reconciler records what was done.
type BreachReportReconciler struct {
	client.Client
	Scheme   *runtime.Scheme
	Recorder events.EventRecorder
	// Clock is the time source; tests inject one.
	Clock clock.PassiveClock
	// Metrics exports the reports' deadlines; an unregistered set when nil.
	Metrics *BreachMetrics
	// HolidayCalendar names the ConfigMap of holidays business-day clocks
	// skip (docs/regulations.md); none when Name is empty.
	HolidayCalendar types.NamespacedName
	// APIReader reads the holiday calendar past the cache, which holds only
	// the operator's own ConfigMaps. The manager's client when nil.
	APIReader client.Reader
}

// +kubebuilder:rbac:groups=privacy.surveyguard.io,resources=breachreports,verbs=get;list;watch
// +kubebuilder:rbac:groups=privacy.surveyguard.io,resources=breachreports/status,verbs=patch
// +kubebuilder:rbac:groups=privacy.surveyguard.io,resources=surveycampaigns,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// deadlineSlack is added to a requeue for a due time, so the pass runs after it.
const deadlineSlack = 50 * time.Millisecond

// Reconcile computes the report's deadlines, phase and containment record.
func (r *BreachReportReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	b := &privacyv1alpha1.BreachReport{}
	if err := r.Get(ctx, req.NamespacedName, b); err != nil {
		if apierrors.IsNotFound(err) {
			r.Metrics.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	now := r.Clock.Now()
	before := b.DeepCopy()

	holidays, holidaysErr := r.holidays(ctx)
	campaigns, err := r.namedCampaigns(ctx, b)
	if err != nil {
		return ctrl.Result{}, err
	}
	deadlines, next, wake := breachDeadlines(withJurisdictions(b, campaigns), now, holidays, holidaysErr)
	b.Status.Deadlines = deadlines
	b.Status.NextDeadline, b.Status.NextDuty = nil, ""
	if next != nil {
		b.Status.NextDeadline = next.Due
		b.Status.NextDuty = describeDuty(*next) + " by " + next.Due.UTC().Format(time.RFC3339)
	}
	missing := r.recordContainment(b, campaigns, now)
	setBreachReportStatus(b, missing, now)
	b.Status.ObservedGeneration = b.Generation
	r.Metrics.observe(b)

	r.deadlineEvents(b, before.Status.Deadlines, holidaysErr)
	if !equality.Semantic.DeepEqual(before.Status, b.Status) {
		if err := r.Status().Patch(ctx, b, client.MergeFrom(before)); err != nil && !apierrors.IsNotFound(err) {
			return ctrl.Result{}, fmt.Errorf("patching status: %w", err)
		}
	}
	if wake != nil {
		// Nothing else would happen when a reminder is due or a deadline
		// passes: look then.
		return ctrl.Result{RequeueAfter: wake.Sub(now) + deadlineSlack}, nil
	}
	return ctrl.Result{}, nil
}

// deadlineEvents records, once each, a deadline turning Approaching or
// Overdue, and a holiday calendar that cannot be read.
func (r *BreachReportReconciler) deadlineEvents(b *privacyv1alpha1.BreachReport, before []privacyv1alpha1.BreachDeadline, holidaysErr error) {
	was := map[string]privacyv1alpha1.BreachDeadline{}
	for _, d := range before {
		was[describeDuty(d)] = d
	}
	holidayNoted := false
	for _, d := range b.Status.Deadlines {
		prev, seen := was[describeDuty(d)]
		if d.State == prev.State && seen {
			if holidaysErr != nil && d.Note != prev.Note {
				holidayNoted = true
			}
			continue
		}
		switch d.State {
		case privacyv1alpha1.DeadlineState(regulations.Approaching):
			r.event(b, nil, corev1.EventTypeWarning, ReasonDeadlineApproaching, dutyAction("Notify", string(d.Regime), string(d.Duty)),
				"%s is due by %s (%s) and not recorded as done", describeDuty(d), d.Due.UTC().Format(time.RFC3339), d.Clock)
		case privacyv1alpha1.DeadlineState(regulations.Overdue):
			r.event(b, nil, corev1.EventTypeWarning, privacyv1alpha1.ReasonDeadlineMissed, dutyAction("Notify", string(d.Regime), string(d.Duty)),
				"%s was due by %s (%s) and is not recorded as done", describeDuty(d), d.Due.UTC().Format(time.RFC3339), d.Clock)
		}
		if holidaysErr != nil && d.Note != prev.Note {
			holidayNoted = true
		}
	}
	if holidayNoted {
		r.event(b, nil, corev1.EventTypeWarning, ReasonHolidayCalendarInvalid, "CountBusinessDays",
			"business-day deadlines skip weekends only: %v", holidaysErr)
	}
}

// Event reasons of BreachReports besides the condition reasons.
const (
	// ReasonDeadlineApproaching: 80% of a duty's clock elapsed and it is not recorded as done.
	ReasonDeadlineApproaching = "DeadlineApproaching"
	// ReasonHolidayCalendarInvalid: the holiday calendar ConfigMap is missing or has an entry that is not a date.
	ReasonHolidayCalendarInvalid = "HolidayCalendarInvalid"
)

// holidays reads the holiday calendar; none without one.
func (r *BreachReportReconciler) holidays(ctx context.Context) (regulations.Holidays, error) {
	return holidaysFrom(ctx, r.APIReader, r.HolidayCalendar)
}

// holidaysFrom reads the holiday calendar ConfigMap name; none when name is empty.
func holidaysFrom(ctx context.Context, reader client.Reader, name types.NamespacedName) (regulations.Holidays, error) {
	if name.Name == "" {
		return nil, nil
	}
	cm := &corev1.ConfigMap{}
	if err := reader.Get(ctx, name, cm); err != nil {
		return nil, fmt.Errorf("reading the holiday calendar ConfigMap %s: %w", name, err)
	}
	h, err := regulations.ParseHolidays(cm.Data)
	if err != nil {
		return nil, fmt.Errorf("holiday calendar ConfigMap %s: %w", name, err)
	}
	return h, nil
}

// namedCampaigns reads the campaigns the report names, by name; nil for one
// that does not exist.
func (r *BreachReportReconciler) namedCampaigns(ctx context.Context, b *privacyv1alpha1.BreachReport) (map[string]*privacyv1alpha1.SurveyCampaign, error) {
	out := make(map[string]*privacyv1alpha1.SurveyCampaign, len(b.Spec.CampaignRefs))
	for _, ref := range b.Spec.CampaignRefs {
		c := &privacyv1alpha1.SurveyCampaign{}
		switch err := r.Get(ctx, client.ObjectKey{Namespace: b.Namespace, Name: ref.Name}, c); {
		case apierrors.IsNotFound(err):
			out[ref.Name] = nil
		case err != nil:
			return nil, fmt.Errorf("reading SurveyCampaign %s: %w", ref.Name, err)
		default:
			out[ref.Name] = c
		}
	}
	return out, nil
}

// withJurisdictions is the report's spec with the regimes its deadlines
// follow, which it also publishes as status.jurisdictions: the report's own
// jurisdictions and every regime its campaigns list in
// spec.privacy.jurisdictions, so that a report filed in a hurry, or one
// that lists a regime only to record a notification under it, still
// tracks all of them. While a named campaign is missing (deleted), the
// regimes followed before are kept: the duties the breach started do not
// end with the campaign.
func withJurisdictions(b *privacyv1alpha1.BreachReport, campaigns map[string]*privacyv1alpha1.SurveyCampaign) *privacyv1alpha1.BreachReportSpec {
	regimes := slices.Clone(b.Spec.Jurisdictions)
	add := func(js []privacyv1alpha1.Jurisdiction) {
		for _, j := range js {
			if !slices.Contains(regimes, j) {
				regimes = append(regimes, j)
			}
		}
	}
	for _, c := range campaigns {
		if c == nil {
			add(b.Status.Jurisdictions)
			continue
		}
		add(c.Spec.Privacy.Jurisdictions)
	}
	slices.Sort(regimes)
	b.Status.Jurisdictions = regimes
	spec := b.Spec.DeepCopy()
	spec.Jurisdictions = regimes
	return spec
}

// recordContainment notes, per campaign, the containment the campaign
// reconciler carried out, and returns the campaigns that do not exist.
func (r *BreachReportReconciler) recordContainment(b *privacyv1alpha1.BreachReport, campaigns map[string]*privacyv1alpha1.SurveyCampaign, now time.Time) []string {
	var missing []string
	records := map[string]privacyv1alpha1.CampaignContainment{}
	for _, rec := range b.Status.Containment {
		records[rec.Campaign] = rec
	}
	var out []privacyv1alpha1.CampaignContainment
	stamp := &metav1.Time{Time: now.UTC().Truncate(time.Second)}
	for _, ref := range b.Spec.CampaignRefs {
		c := campaigns[ref.Name]
		if c == nil {
			missing = append(missing, ref.Name)
			if rec, ok := records[ref.Name]; ok {
				out = append(out, rec) // keep what was done before it went
			}
			continue
		}
		rec := records[ref.Name]
		rec.Campaign = ref.Name
		paused := slices.Contains(c.Status.PausedBy, b.Name)
		if ptr.Deref(b.Spec.Containment.PauseCollection, false) && paused && rec.PausedAt == nil {
			rec.PausedAt = stamp
			r.event(b, c, corev1.EventTypeNormal, "CollectionPaused", "Contain", "scaled the collector of campaign %s to zero", ref.Name)
		}
		if b.Spec.ResolvedAt != nil && rec.PausedAt != nil && rec.ResumedAt == nil && !paused {
			rec.ResumedAt = stamp
			r.event(b, c, corev1.EventTypeNormal, "CollectionResumed", "Resolve", "the collector of campaign %s runs again", ref.Name)
		}
		if ptr.Deref(b.Spec.Containment.RotateKeys, false) && rec.KeysRotatedAt == nil && c.Status.Encryption != nil {
			// The campaign publishes the rotations its key Secret records.
			i := slices.IndexFunc(c.Status.Encryption.BreachRotations, func(k privacyv1alpha1.BreachKeyRotation) bool { return k.ReportUID == string(b.UID) })
			if i >= 0 {
				rot := c.Status.Encryption.BreachRotations[i]
				rec.KeysRotatedAt, rec.KeyID = rot.RotatedAt.DeepCopy(), rot.KeyID
				r.event(b, c, corev1.EventTypeNormal, "KeysRotated", "Contain", "campaign %s encrypts with new data key %s", ref.Name, rot.KeyID)
			}
		}
		if rec != (privacyv1alpha1.CampaignContainment{Campaign: ref.Name}) {
			out = append(out, rec)
		}
	}
	b.Status.Containment = out
	return missing
}

// event records an event about b; related is the campaign it concerns, or
// nil. Events of one reason about one object are told apart by their
// action and related object only (the events API folds the others into
// the first one's count, its note kept): per-campaign events name their
// campaign, and deadline events their duty in the action.
func (r *BreachReportReconciler) event(b *privacyv1alpha1.BreachReport, related runtime.Object, typ, reason, action, note string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(b, related, typ, reason, action, note, args...)
	}
}

// dutyAction is the action of a deadline's event: the verb and the duty's
// names, "/"-separated (Notify/GDPR/Authority).
func dutyAction(verb string, names ...string) string {
	return strings.Join(append([]string{verb}, names...), "/")
}

// SetupWithManager registers the reconciler; campaign changes (their
// status says what containment was carried out) reach the reports naming them.
func (r *BreachReportReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if r.Metrics == nil {
		r.Metrics = NewBreachMetrics()
	}
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&privacyv1alpha1.BreachReport{}).
		Watches(&privacyv1alpha1.SurveyCampaign{}, handler.EnqueueRequestsFromMapFunc(r.reportsOfCampaign), builder.WithPredicates(reportCares)).
		Named("breachreport").
		Complete(r)
}

func (r *BreachReportReconciler) reportsOfCampaign(ctx context.Context, o client.Object) []reconcile.Request {
	list := &privacyv1alpha1.BreachReportList{}
	if err := r.List(ctx, list, client.InNamespace(o.GetNamespace())); err != nil {
		log.FromContext(ctx).Error(err, "listing the reports of a campaign", "campaign", o.GetName())
		return nil
	}
	var reqs []reconcile.Request
	for i := range list.Items {
		if names(&list.Items[i], o.GetName()) {
			reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: list.Items[i].Name}})
		}
	}
	return reqs
}
