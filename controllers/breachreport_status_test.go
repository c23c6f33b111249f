package controllers

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
	"github.com/surveyguard/surveyguard/internal/regulations"
)

// TestBreachDeadlines: the report's fields reach the regulatory table (the
// table's own arithmetic is tested in internal/regulations).
func TestBreachDeadlines(t *testing.T) {
	detected := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC) // a Friday
	certIn, gdpr := detected.Add(6*time.Hour), detected.Add(72*time.Hour)
	at := func(t time.Time) *metav1.Time { return &metav1.Time{Time: t} }
	spec := func() *privacyv1alpha1.BreachReportSpec {
		return &privacyv1alpha1.BreachReportSpec{
			DetectedAt: metav1.Time{Time: detected}, Severity: privacyv1alpha1.BreachSeverityMedium,
			Jurisdictions: []privacyv1alpha1.Jurisdiction{"GDPR", "CERTIn", "DPDP", "CCPA", "LGPD"},
		}
	}
	find := func(ds []privacyv1alpha1.BreachDeadline, key string) privacyv1alpha1.BreachDeadline {
		for _, d := range ds {
			if describeDuty(d) == key {
				return d
			}
		}
		t.Fatalf("no deadline %s in %+v", key, ds)
		return privacyv1alpha1.BreachDeadline{}
	}

	ds, next, wake := breachDeadlines(spec(), detected, nil, nil)
	var keys []string
	for _, d := range ds {
		keys = append(keys, describeDuty(d)+"="+string(d.State))
	}
	want := "CCPA Individuals=Pending CCPA AttorneyGeneral=Waiting CERTIn Authority=Pending " +
		"DPDP Authority=Informational DPDP DetailedReport=Informational DPDP Individuals=Informational " +
		"GDPR Authority=Pending GDPR Individuals=NotApplicable LGPD Authority=Pending LGPD Individuals=Pending"
	if got := strings.Join(keys, " "); got != want {
		t.Errorf("deadlines\n got %s\nwant %s", got, want)
	}
	if next == nil || describeDuty(*next) != "CERTIn Authority" || !next.Due.Time.Equal(certIn) {
		t.Errorf("next %+v", next)
	}
	if remind := detected.Add(4*time.Hour + 48*time.Minute); wake == nil || !wake.Equal(remind) {
		t.Errorf("wake %v, want CERT-In's 80%% at %v", wake, remind)
	}
	if d := find(ds, "CCPA Individuals"); d.Due == nil || !d.Due.Time.Equal(time.Date(2026, 12, 21, 0, 0, 0, 0, time.UTC)) || !*d.InForce {
		t.Errorf("California since 2026: 30 days, due at the end of 20 December: %+v", d)
	}
	if d := find(ds, "LGPD Authority"); !d.Due.Time.Equal(time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("LGPD from a Friday: the end of Wednesday: %+v", d)
	}
	if d := find(ds, "DPDP DetailedReport"); *d.InForce || *d.Overdue || !strings.Contains(d.Note, "2027-05-13") {
		t.Errorf("DPDP before 13 May 2027: %+v", d)
	}

	// notifiedAuthorityAt (the field before per-duty notifications) meets
	// every Authority duty not recorded separately.
	s := spec()
	s.NotifiedAuthorityAt = at(certIn.Add(time.Second))
	s.Notifications = []privacyv1alpha1.DutyNotification{{Regime: "GDPR", Duty: "Authority", At: metav1.Time{Time: gdpr.Add(time.Hour)}, LateReason: "forensics"}}
	ds, _, _ = breachDeadlines(s, gdpr.Add(2*time.Hour), nil, nil)
	if d := find(ds, "CERTIn Authority"); d.State != "Late" || !*d.Overdue || d.NotifiedAt == nil {
		t.Errorf("CERT-In a second late: %+v", d)
	}
	if d := find(ds, "GDPR Authority"); d.State != "LateWithReason" || !*d.Overdue {
		t.Errorf("GDPR late with reasons: %+v", d)
	}
	if d := find(ds, "LGPD Authority"); d.State != "Met" || !*d.Met {
		t.Errorf("LGPD met by notifiedAuthorityAt: %+v", d)
	}
	if got := overdueDuties(ds); len(got) != 2 || !strings.Contains(got[1], "with the reasons for the delay") {
		t.Errorf("overdue duties %q", got)
	}

	// A holiday calendar that cannot be read is noted on business-day clocks only.
	ds, _, _ = breachDeadlines(spec(), detected, nil, errors.New("no ConfigMap"))
	if !strings.Contains(find(ds, "LGPD Authority").Note, "no ConfigMap") || strings.Contains(find(ds, "GDPR Authority").Note, "ConfigMap") {
		t.Errorf("notes %+v", ds)
	}
	// Holidays move business-day clocks.
	h := regulations.Holidays{"LGPD": {{Year: 2026, Month: time.November, Day: 23}: true}}
	ds, _, _ = breachDeadlines(spec(), detected, h, nil)
	if d := find(ds, "LGPD Authority"); !d.Due.Time.Equal(time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("LGPD over a Monday holiday: %+v", d)
	}
}

func TestBreachPhase(t *testing.T) {
	now := metav1.Now()
	for _, tc := range []struct {
		notified, resolved *metav1.Time
		contained          bool
		notifications      []privacyv1alpha1.DutyNotification
		want               privacyv1alpha1.BreachPhase
	}{
		{nil, nil, false, nil, privacyv1alpha1.BreachPhaseOpen},
		{nil, nil, true, nil, privacyv1alpha1.BreachPhaseContained},
		{&now, nil, false, nil, privacyv1alpha1.BreachPhaseOpen}, // told, but not contained yet
		{&now, nil, true, nil, privacyv1alpha1.BreachPhaseNotified},
		{nil, nil, true, []privacyv1alpha1.DutyNotification{{Regime: "GDPR", Duty: "Authority", At: now}}, privacyv1alpha1.BreachPhaseNotified},
		{nil, nil, true, []privacyv1alpha1.DutyNotification{{Regime: "GDPR", Duty: "Individuals", At: now}}, privacyv1alpha1.BreachPhaseContained},
		{&now, &now, false, nil, privacyv1alpha1.BreachPhaseResolved},
		{nil, &now, true, nil, privacyv1alpha1.BreachPhaseResolved},
	} {
		spec := &privacyv1alpha1.BreachReportSpec{NotifiedAuthorityAt: tc.notified, ResolvedAt: tc.resolved, Notifications: tc.notifications}
		if got := breachPhase(spec, tc.contained); got != tc.want {
			t.Errorf("%+v: %s, want %s", tc, got, tc.want)
		}
	}
}

func TestBreachBandAndRate(t *testing.T) {
	for _, tc := range []struct {
		count     int32
		customers int64
		band      privacyv1alpha1.BreachBand
		rate      string
	}{
		{0, 0, privacyv1alpha1.BreachBandOptimal, "0"},
		{0, 100, privacyv1alpha1.BreachBandOptimal, "0"},
		{1, 100, privacyv1alpha1.BreachBandAcceptable, "0.0100"},
		{1, 0, privacyv1alpha1.BreachBandAcceptable, ""},
		{3, 7, privacyv1alpha1.BreachBandAcceptable, "0.4286"},
		{4, 7, privacyv1alpha1.BreachBandConcerning, "0.5714"},
		{12, 3, privacyv1alpha1.BreachBandConcerning, "4.0000"},
	} {
		if band, rate := breachBand(tc.count), breachRate(tc.count, tc.customers); band != tc.band || rate != tc.rate {
			t.Errorf("%d breaches / %d customers: %s %q, want %s %q", tc.count, tc.customers, band, rate, tc.band, tc.rate)
		}
	}
}

func TestBreachesOfTheTrailingYear(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	report := func(name string, detected time.Time, mut func(*privacyv1alpha1.BreachReport)) privacyv1alpha1.BreachReport {
		b := privacyv1alpha1.BreachReport{}
		b.Name, b.UID = name, types.UID("uid-"+name)
		b.Spec.CampaignRefs = []privacyv1alpha1.LocalObjectReference{{Name: "checkout"}}
		b.Spec.DetectedAt = metav1.Time{Time: detected}
		if mut != nil {
			mut(&b)
		}
		return b
	}
	edge := now.AddDate(0, -12, 0)
	reports := []privacyv1alpha1.BreachReport{
		report("at-the-edge", edge, nil),
		report("a-second-too-old", edge.Add(-time.Second), nil),
		report("future", now.Add(time.Hour), nil),
		report("pauses", now.Add(-time.Hour), func(b *privacyv1alpha1.BreachReport) { b.Spec.Containment.PauseCollection = ptr.To(true) }),
		report("rotates", now.Add(-time.Hour), func(b *privacyv1alpha1.BreachReport) { b.Spec.Containment.RotateKeys = ptr.To(true) }),
		report("resolved", now.Add(-time.Hour), func(b *privacyv1alpha1.BreachReport) {
			b.Spec.Containment = privacyv1alpha1.ContainmentSpec{PauseCollection: ptr.To(true), RotateKeys: ptr.To(true)}
			b.Spec.ResolvedAt = &metav1.Time{Time: now}
		}),
		report("other-campaign", now, func(b *privacyv1alpha1.BreachReport) {
			b.Spec.CampaignRefs = []privacyv1alpha1.LocalObjectReference{{Name: "returns"}}
		}),
	}
	got := breachesOf(reports, "checkout", now)
	if got.count != 4 { // at-the-edge, pauses, rotates, resolved
		t.Errorf("count %d, want 4", got.count)
	}
	if len(got.pausedBy) != 1 || got.pausedBy[0] != "pauses" || len(got.rotateFor) != 1 || got.rotateFor[0] != "uid-rotates" {
		t.Errorf("pausedBy %v, rotateFor %v", got.pausedBy, got.rotateFor)
	}
}

func TestContainedSkipsMissingCampaignsButNotAll(t *testing.T) {
	b := &privacyv1alpha1.BreachReport{}
	b.Spec.CampaignRefs = []privacyv1alpha1.LocalObjectReference{{Name: "checkout"}, {Name: "ghost"}}
	b.Spec.Containment.PauseCollection = ptr.To(true)
	now := metav1.Now()
	if ok, pending := contained(b, []string{"ghost"}); ok || len(pending) != 1 || pending[0] != "pause checkout" {
		t.Errorf("nothing done: %v %v", ok, pending)
	}
	b.Status.Containment = []privacyv1alpha1.CampaignContainment{{Campaign: "checkout", PausedAt: &now}}
	if ok, pending := contained(b, []string{"ghost"}); !ok {
		t.Errorf("checkout paused, ghost missing: %v %v", ok, pending)
	}
	if ok, _ := contained(b, []string{"checkout", "ghost"}); ok {
		t.Error("a report whose campaigns are all missing is contained")
	}
	b.Spec.Containment.PauseCollection = ptr.To(false)
	if ok, _ := contained(b, []string{"checkout", "ghost"}); !ok {
		t.Error("nothing was requested, yet not contained")
	}
}

func TestSetBreachReportStatus(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	paused := metav1.NewTime(now)
	cases := []struct {
		name                        string
		mut                         func(*privacyv1alpha1.BreachReport)
		missing                     []string
		phase                       privacyv1alpha1.BreachPhase
		contained, overdue, stalled metav1.ConditionStatus
		ready, reconciling          metav1.ConditionStatus
	}{
		{"nothing requested, nothing due", nil, nil,
			privacyv1alpha1.BreachPhaseContained, metav1.ConditionTrue, metav1.ConditionFalse, "", metav1.ConditionTrue, ""},
		{"pause pending: in progress", func(b *privacyv1alpha1.BreachReport) { b.Spec.Containment.PauseCollection = ptr.To(true) }, nil,
			privacyv1alpha1.BreachPhaseOpen, metav1.ConditionFalse, metav1.ConditionFalse, "", metav1.ConditionFalse, metav1.ConditionTrue},
		{"pause pending on one campaign, the other missing", func(b *privacyv1alpha1.BreachReport) {
			b.Spec.Containment.PauseCollection = ptr.To(true)
			b.Spec.CampaignRefs = append(b.Spec.CampaignRefs, privacyv1alpha1.LocalObjectReference{Name: "ghost"})
		}, []string{"ghost"}, privacyv1alpha1.BreachPhaseOpen, metav1.ConditionFalse, metav1.ConditionFalse, metav1.ConditionTrue, metav1.ConditionFalse, metav1.ConditionTrue},
		{"pause asked, every campaign missing: stalled, not in progress", func(b *privacyv1alpha1.BreachReport) {
			b.Spec.Containment.PauseCollection = ptr.To(true)
		}, []string{"checkout"}, privacyv1alpha1.BreachPhaseOpen, metav1.ConditionFalse, metav1.ConditionFalse, metav1.ConditionTrue, metav1.ConditionFalse, ""},
		{"paused", func(b *privacyv1alpha1.BreachReport) {
			b.Spec.Containment.PauseCollection = ptr.To(true)
			b.Status.Containment = []privacyv1alpha1.CampaignContainment{{Campaign: "checkout", PausedAt: &paused}}
		}, nil, privacyv1alpha1.BreachPhaseContained, metav1.ConditionTrue, metav1.ConditionFalse, "", metav1.ConditionTrue, ""},
		{"a deadline missed", func(b *privacyv1alpha1.BreachReport) {
			b.Status.Deadlines = []privacyv1alpha1.BreachDeadline{{Regime: "CERTIn", Overdue: ptr.To(true)}}
		}, nil, privacyv1alpha1.BreachPhaseContained, metav1.ConditionTrue, metav1.ConditionTrue, "", metav1.ConditionTrue, ""},
		{"one campaign missing", func(b *privacyv1alpha1.BreachReport) {
			b.Spec.CampaignRefs = append(b.Spec.CampaignRefs, privacyv1alpha1.LocalObjectReference{Name: "ghost"})
		}, []string{"ghost"}, privacyv1alpha1.BreachPhaseContained, metav1.ConditionTrue, metav1.ConditionFalse, metav1.ConditionTrue, metav1.ConditionFalse, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := &privacyv1alpha1.BreachReport{}
			b.Spec.CampaignRefs = []privacyv1alpha1.LocalObjectReference{{Name: "checkout"}}
			if tc.mut != nil {
				tc.mut(b)
			}
			setBreachReportStatus(b, tc.missing, now)
			for _, c := range b.Status.Conditions {
				if !c.LastTransitionTime.Time.Equal(now) {
					t.Errorf("%s changed at %s, not at the reconciler's now", c.Type, c.LastTransitionTime)
				}
			}
			if b.Status.Phase != tc.phase {
				t.Errorf("phase %s, want %s", b.Status.Phase, tc.phase)
			}
			for typ, want := range map[string]metav1.ConditionStatus{
				privacyv1alpha1.ConditionContained: tc.contained, privacyv1alpha1.ConditionOverdue: tc.overdue,
				privacyv1alpha1.ConditionStalled: tc.stalled, privacyv1alpha1.ConditionReady: tc.ready,
				privacyv1alpha1.ConditionReconciling: tc.reconciling,
			} {
				got := meta.FindStatusCondition(b.Status.Conditions, typ)
				switch {
				case want == "" && got != nil:
					t.Errorf("%s present: %+v", typ, got)
				case want != "" && (got == nil || got.Status != want):
					t.Errorf("%s = %+v, want %s", typ, got, want)
				}
			}
		})
	}
}

// TestTheCRDAgreesWithTheTable: the duties the API server accepts in
// spec.notifications and spec.extensions, and the jurisdictions it accepts,
// are exactly the regulatory table's.
func TestTheCRDAgreesWithTheTable(t *testing.T) {
	crd, err := os.ReadFile("../config/crd/bases/privacy.surveyguard.io_breachreports.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// Each rule's list, by the message that comes before it in the CRD.
	const rule = "rule: (self.regime + '/' + self.duty) in ["
	lists := map[string][]string{}
	pieces := strings.Split(string(crd), rule)
	for i := 1; i < len(pieces); i++ {
		before := pieces[i-1][strings.LastIndex(pieces[i-1], "message:"):]
		items, _, _ := strings.Cut(pieces[i], "]")
		var out []string
		for _, item := range strings.Split(items, ",") {
			out = append(out, strings.Trim(strings.TrimSpace(item), "'"))
		}
		lists[strings.Trim(strings.TrimSpace(strings.SplitN(before, ":", 3)[1]), "'")] = out
	}
	list := func(message string) []string {
		if l, ok := lists[message]; ok {
			return l
		}
		t.Fatalf("no rule with message %q in the CRD (%v)", message, lists)
		return nil
	}
	var notifiable, extendable, regimes []string
	for _, r := range regulations.Table {
		if r.Kind != regulations.Breach {
			continue
		}
		if r.Duty != regulations.Assessment {
			notifiable = append(notifiable, string(r.Regime)+"/"+string(r.Duty))
		}
		if r.Extension != nil {
			extendable = append(extendable, string(r.Regime)+"/"+string(r.Duty))
		}
	}
	for _, r := range regulations.Regimes(regulations.Breach) {
		regimes = append(regimes, string(r))
	}
	got := list("no such duty for this regime")
	slices.Sort(got)
	slices.Sort(notifiable)
	if !slices.Equal(got, notifiable) {
		t.Errorf("spec.notifications accepts\n %v\nthe table has\n %v", got, notifiable)
	}
	if got := list("the law allows no extension of this duty"); !slices.Equal(got, extendable) {
		t.Errorf("spec.extensions accepts %v, the table allows %v", got, extendable)
	}
	types, err := os.ReadFile("../api/v1alpha1/common_types.go")
	if err != nil {
		t.Fatal(err)
	}
	_, enum, _ := strings.Cut(string(types), "+kubebuilder:validation:Enum=")
	enum, _, _ = strings.Cut(enum, "\n")
	api := strings.Split(enum, ";")
	slices.Sort(api)
	slices.Sort(regimes)
	if !slices.Equal(api, regimes) {
		t.Errorf("the Jurisdiction enum is %v, the table's regimes %v", api, regimes)
	}
}
