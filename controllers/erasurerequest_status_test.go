package controllers

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
	"github.com/surveyguard/surveyguard/internal/regulations"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func erasureAt(regime privacyv1alpha1.ErasureRegime, received string) *privacyv1alpha1.ErasureRequest {
	er := &privacyv1alpha1.ErasureRequest{}
	er.Name, er.Namespace, er.Generation = "er", "ns", 1
	er.CreationTimestamp = metav1.Time{Time: utc(received).Add(time.Hour)}
	er.Spec.Regime = regime
	er.Spec.ReceivedAt = &metav1.Time{Time: utc(received)}
	er.Status.Results = []privacyv1alpha1.ErasureResult{{Campaign: "a", State: privacyv1alpha1.ErasureCampaignPending}}
	return er
}

func deadline(t *testing.T, er *privacyv1alpha1.ErasureRequest, duty privacyv1alpha1.RequestDuty) privacyv1alpha1.RequestDeadline {
	t.Helper()
	for _, d := range er.Status.Deadlines {
		if d.Duty == duty {
			return d
		}
	}
	t.Fatalf("no %s deadline in %+v", duty, er.Status.Deadlines)
	return privacyv1alpha1.RequestDeadline{}
}

// TestErasureDeadlinesPerRegime: each regime's due time, worked out by hand
// from the law (days and months exclude the day of receipt and end when the
// last UTC day ends).
func TestErasureDeadlinesPerRegime(t *testing.T) {
	for _, tc := range []struct {
		name     string
		regime   privacyv1alpha1.ErasureRegime
		days     int32
		received string
		ext      string
		wantDue  string
		wantNote string
	}{
		// One month from 31 January ends with the last day of February.
		{"GDPR month from the 31st", privacyv1alpha1.ErasureRegimeGDPR, 0, "2026-01-31T10:00:00Z", "", "2026-03-01T00:00:00Z", ""},
		{"UK GDPR", privacyv1alpha1.ErasureRegimeUKGDPR, 0, "2026-11-20T10:00:00Z", "", "2026-12-21T00:00:00Z", ""},
		{"GDPR extended within two months", privacyv1alpha1.ErasureRegimeGDPR, 0, "2026-11-20T10:00:00Z", "2027-01-15T00:00:00Z", "2027-01-15T00:00:00Z", "extended"},
		// Three months in all: 20 February ends the extension.
		{"GDPR extension capped", privacyv1alpha1.ErasureRegimeGDPR, 0, "2026-11-20T10:00:00Z", "2027-06-01T00:00:00Z", "2027-02-21T00:00:00Z", "most the law allows"},
		// 45 days after Friday 20 November 2026 is Monday 4 January 2027.
		{"CCPA 45 days", privacyv1alpha1.ErasureRegimeCCPA, 0, "2026-11-20T10:00:00Z", "", "2027-01-05T00:00:00Z", ""},
		{"CCPA capped at 90 days", privacyv1alpha1.ErasureRegimeCCPA, 0, "2026-11-20T10:00:00Z", "2027-03-01T00:00:00Z", "2027-02-19T00:00:00Z", "most the law allows"},
		{"DPDP 90 days, informational before May 2027", privacyv1alpha1.ErasureRegimeDPDP, 0, "2026-11-20T10:00:00Z", "", "2027-02-19T00:00:00Z", "in force from 2027-05-13"},
		{"Internal 30 days by default", privacyv1alpha1.ErasureRegimeInternal, 0, "2026-11-20T10:00:00Z", "", "2026-12-21T00:00:00Z", ""},
		{"Internal 14 days", privacyv1alpha1.ErasureRegimeInternal, 14, "2026-11-20T10:00:00Z", "", "2026-12-05T00:00:00Z", ""},
		{"no regime is Internal", "", 0, "2026-11-20T10:00:00Z", "", "2026-12-21T00:00:00Z", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			er := erasureAt(tc.regime, tc.received)
			er.Spec.InternalDays = tc.days
			if tc.ext != "" {
				er.Spec.Extension = privacyv1alpha1.ErasureExtension{Until: &metav1.Time{Time: utc(tc.ext)}, Reason: "backlog"}
			}
			setErasureStatus(er, nil, utc(tc.received), nil, nil)
			d := deadline(t, er, privacyv1alpha1.RequestDutyResponse)
			if d.Due == nil || !d.Due.Time.Equal(utc(tc.wantDue)) {
				t.Errorf("due %v, want %s", d.Due, tc.wantDue)
			}
			if er.Status.Due == nil || !er.Status.Due.Equal(d.Due) {
				t.Errorf("status.due %v, want the Response deadline %v", er.Status.Due, d.Due)
			}
			if !strings.Contains(d.Note, tc.wantNote) {
				t.Errorf("note %q, want it to contain %q", d.Note, tc.wantNote)
			}
			if got := er.Status.ReceivedAt; got == nil || !got.Time.Equal(utc(tc.received)) {
				t.Errorf("status.receivedAt %v, want %s", got, tc.received)
			}
		})
	}
}

// TestExtensionNotifiedTooLate: an extension counts only when the person
// was told of it by the deadline it extends; when notifiedAt is not given,
// the time the operator first saw the extension stands in for it, and is
// kept.
func TestExtensionNotifiedTooLate(t *testing.T) {
	ext := func(er *privacyv1alpha1.ErasureRequest, notified string) {
		er.Spec.Extension = privacyv1alpha1.ErasureExtension{Until: &metav1.Time{Time: utc("2027-03-20T00:00:00Z")}, Reason: "archives"}
		if notified != "" {
			er.Spec.Extension.NotifiedAt = &metav1.Time{Time: utc(notified)}
		}
	}
	// Received 10 January 2027: due 11 February.
	late := erasureAt(privacyv1alpha1.ErasureRegimeGDPR, "2027-01-10T09:00:00Z")
	ext(late, "2027-02-20T00:00:00Z")
	setErasureStatus(late, nil, utc("2027-02-25T00:00:00Z"), nil, nil)
	if d := deadline(t, late, privacyv1alpha1.RequestDutyResponse); !d.Due.Time.Equal(utc("2027-02-11T00:00:00Z")) ||
		d.State != privacyv1alpha1.DeadlineState(regulations.Overdue) || !strings.Contains(d.Note, "extension ignored: the person was told of it on 2027-02-20T00:00:00Z") {
		t.Errorf("told after the deadline: %+v", d)
	}

	inTime := erasureAt(privacyv1alpha1.ErasureRegimeGDPR, "2027-01-10T09:00:00Z")
	ext(inTime, "2027-02-01T00:00:00Z")
	setErasureStatus(inTime, nil, utc("2027-02-25T00:00:00Z"), nil, nil)
	if d := deadline(t, inTime, privacyv1alpha1.RequestDutyResponse); !d.Due.Time.Equal(utc("2027-03-20T00:00:00Z")) || d.State == privacyv1alpha1.DeadlineState(regulations.Overdue) {
		t.Errorf("told in time: %+v", d)
	}

	// No notifiedAt: first seen on 1 February, in time; the record stays
	// when the request is evaluated again later.
	seen := erasureAt(privacyv1alpha1.ErasureRegimeGDPR, "2027-01-10T09:00:00Z")
	ext(seen, "")
	setErasureStatus(seen, nil, utc("2027-02-01T12:00:00.5Z"), nil, nil)
	setErasureStatus(seen, nil, utc("2027-02-25T00:00:00Z"), nil, nil)
	if r := seen.Status.ExtensionRecordedAt; r == nil || !r.Time.Equal(utc("2027-02-01T12:00:00Z")) {
		t.Errorf("extensionRecordedAt %v, want the first sight, to the second", r)
	}
	if d := deadline(t, seen, privacyv1alpha1.RequestDutyResponse); !d.Due.Time.Equal(utc("2027-03-20T00:00:00Z")) {
		t.Errorf("first seen in time: %+v", d)
	}
	// First seen after the deadline: ignored.
	seenLate := erasureAt(privacyv1alpha1.ErasureRegimeGDPR, "2027-01-10T09:00:00Z")
	ext(seenLate, "")
	setErasureStatus(seenLate, nil, utc("2027-02-20T00:00:00Z"), nil, nil)
	if d := deadline(t, seenLate, privacyv1alpha1.RequestDutyResponse); d.State != privacyv1alpha1.DeadlineState(regulations.Overdue) {
		t.Errorf("first seen after the deadline: %+v", d)
	}
	// Extended under a version that kept no record (its status says
	// "extended"): the upgrade's first pass does not make it late.
	upgraded := erasureAt(privacyv1alpha1.ErasureRegimeGDPR, "2027-01-10T09:00:00Z")
	ext(upgraded, "")
	upgraded.Status.Deadlines = []privacyv1alpha1.RequestDeadline{{Duty: privacyv1alpha1.RequestDutyResponse, Note: "extended"}}
	setErasureStatus(upgraded, nil, utc("2027-03-01T00:00:00Z"), nil, nil)
	if d := deadline(t, upgraded, privacyv1alpha1.RequestDutyResponse); !d.Due.Time.Equal(utc("2027-03-20T00:00:00Z")) || d.State == privacyv1alpha1.DeadlineState(regulations.Overdue) {
		t.Errorf("extended before the upgrade: %+v", d)
	}
	if r := upgraded.Status.ExtensionRecordedAt; r == nil || !r.Time.Equal(utc("2027-01-10T09:00:00Z")) {
		t.Errorf("extensionRecordedAt %v after the upgrade, want the receipt", r)
	}

	// The extension removed: the record goes with it.
	seen.Spec.Extension = privacyv1alpha1.ErasureExtension{}
	setErasureStatus(seen, nil, utc("2027-02-26T00:00:00Z"), nil, nil)
	if seen.Status.ExtensionRecordedAt != nil {
		t.Errorf("extensionRecordedAt %v kept without an extension", seen.Status.ExtensionRecordedAt)
	}
}

// TestCCPAAcknowledgement: 10 business days after receipt, weekends and the
// calendar's holidays skipped, Met once acknowledgedAt is recorded in time.
func TestCCPAAcknowledgement(t *testing.T) {
	er := erasureAt(privacyv1alpha1.ErasureRegimeCCPA, "2026-11-20T10:00:00Z") // a Friday
	setErasureStatus(er, nil, utc("2026-11-20T10:00:00Z"), nil, nil)
	// Monday 23 November is day 1; Friday 4 December day 10.
	if d := deadline(t, er, privacyv1alpha1.RequestDutyAcknowledgement); !d.Due.Time.Equal(utc("2026-12-05T00:00:00Z")) || d.State != "Pending" {
		t.Errorf("acknowledgement %s due %v, want Pending by 2026-12-05T00:00:00Z", d.State, d.Due)
	}
	thanksgiving := regulations.Holidays{regulations.CCPA: {regulations.Date{Year: 2026, Month: time.November, Day: 26}: true}}
	setErasureStatus(er, nil, utc("2026-11-20T10:00:00Z"), thanksgiving, nil)
	if d := deadline(t, er, privacyv1alpha1.RequestDutyAcknowledgement); !d.Due.Time.Equal(utc("2026-12-08T00:00:00Z")) {
		t.Errorf("acknowledgement due %v with Thanksgiving off, want 2026-12-08T00:00:00Z (Monday 7 December)", d.Due)
	}
	er.Spec.AcknowledgedAt = &metav1.Time{Time: utc("2026-11-24T09:00:00Z")}
	setErasureStatus(er, nil, utc("2026-12-10T00:00:00Z"), nil, nil)
	if d := deadline(t, er, privacyv1alpha1.RequestDutyAcknowledgement); d.State != "Met" || d.DoneAt == nil {
		t.Errorf("acknowledged in time: %s (done %v), want Met", d.State, d.DoneAt)
	}
}

// TestErasureOverdueAndLate: past the due time an unfinished erasure is
// Overdue (condition, wake at the due time before); finished after it, Late.
func TestErasureOverdueAndLate(t *testing.T) {
	er := erasureAt(privacyv1alpha1.ErasureRegimeGDPR, "2026-11-20T10:00:00Z")
	due := utc("2026-12-21T00:00:00Z")
	wake := setErasureStatus(er, nil, due.Add(-time.Nanosecond), nil, nil)
	if d := deadline(t, er, privacyv1alpha1.RequestDutyResponse); d.State != "Approaching" || wake == nil || !wake.Equal(due) {
		t.Errorf("just before the due time: %s, wake %v; want Approaching and a wake at %s", d.State, wake, due)
	}
	if c := meta.FindStatusCondition(er.Status.Conditions, privacyv1alpha1.ConditionOverdue); c == nil || c.Status != metav1.ConditionFalse {
		t.Errorf("Overdue condition %+v, want False", c)
	}
	setErasureStatus(er, nil, due, nil, nil)
	if d := deadline(t, er, privacyv1alpha1.RequestDutyResponse); d.State != "Overdue" {
		t.Errorf("at the due time: %s, want Overdue", d.State)
	}
	if c := meta.FindStatusCondition(er.Status.Conditions, privacyv1alpha1.ConditionOverdue); c == nil || c.Status != metav1.ConditionTrue || c.Reason != privacyv1alpha1.ReasonDeadlineMissed {
		t.Errorf("Overdue condition %+v, want True/DeadlineMissed", c)
	}
	m := NewErasureMetrics()
	m.observe(er)
	if f := m.figures[types.NamespacedName{Namespace: er.Namespace, Name: er.Name}]; !f.overdue {
		t.Error("surveyguard_erasure_overdue is 0 for an overdue request")
	}

	er.Status.Results[0] = privacyv1alpha1.ErasureResult{Campaign: "a", State: privacyv1alpha1.ErasureCampaignErased, Erased: ptr.To[int64](2)}
	setErasureStatus(er, nil, due.Add(time.Hour), nil, nil)
	if d := deadline(t, er, privacyv1alpha1.RequestDutyResponse); d.State != "Late" || er.Status.Phase != privacyv1alpha1.ErasurePhaseCompleted {
		t.Errorf("completed after the due time: %s, phase %s; want Late and Completed", d.State, er.Status.Phase)
	}
	if c := meta.FindStatusCondition(er.Status.Conditions, privacyv1alpha1.ConditionOverdue); c == nil || c.Reason != ReasonCompletedLate {
		t.Errorf("Overdue condition %+v, want CompletedLate", c)
	}
	m.observe(er)
	if f := m.figures[types.NamespacedName{Namespace: er.Namespace, Name: er.Name}]; f.overdue {
		t.Error("surveyguard_erasure_overdue stays 1 after completion")
	}
}

// TestReceivedAfterCreationIsNotBelieved: a receivedAt later than the
// request's creation would move the deadline out; the creation is used.
func TestReceivedAfterCreationIsNotBelieved(t *testing.T) {
	er := erasureAt(privacyv1alpha1.ErasureRegimeInternal, "2026-11-20T10:00:00Z")
	er.CreationTimestamp = metav1.Time{Time: utc("2026-11-19T10:00:00Z")}
	setErasureStatus(er, nil, utc("2026-11-20T10:00:00Z"), nil, nil)
	d := deadline(t, er, privacyv1alpha1.RequestDutyResponse)
	if !d.Due.Time.Equal(utc("2026-12-20T00:00:00Z")) || !strings.Contains(d.Note, "after the request was created") {
		t.Errorf("due %v note %q, want 30 days from the creation with a note", d.Due, d.Note)
	}
}

// TestErasurePhases: the phase and conditions each mix of campaign states gives.
func TestErasurePhases(t *testing.T) {
	erased := privacyv1alpha1.ErasureResult{Campaign: "a", State: privacyv1alpha1.ErasureCampaignErased, Erased: ptr.To[int64](3)}
	deleted := privacyv1alpha1.ErasureResult{Campaign: "b", State: privacyv1alpha1.ErasureCampaignDeleted}
	pending := privacyv1alpha1.ErasureResult{Campaign: "c", State: privacyv1alpha1.ErasureCampaignPending}
	retrying := privacyv1alpha1.ErasureResult{Campaign: "d", State: privacyv1alpha1.ErasureCampaignRetrying, Attempts: ptr.To[int32](2), Message: "dial tcp: connection refused; attempt 2, retrying in 10s"}
	refused := privacyv1alpha1.ErasureResult{Campaign: "e", State: privacyv1alpha1.ErasureCampaignFailed, Message: "the collector refused the erasure: 422"}
	for _, tc := range []struct {
		name      string
		results   []privacyv1alpha1.ErasureResult
		problem   *erasureProblem
		phase     privacyv1alpha1.ErasurePhase
		ready     metav1.ConditionStatus
		reason    string
		stalled   bool
		erased    *int64
		inMessage string
	}{
		{"nothing asked yet", []privacyv1alpha1.ErasureResult{pending}, nil, "Pending", "False", "Progressing", false, nil, "erased from 0 of 1"},
		{"one of two", []privacyv1alpha1.ErasureResult{erased, pending}, nil, "InProgress", "False", "Progressing", false, ptr.To[int64](3), "erased from 1 of 2"},
		{"all erased or deleted", []privacyv1alpha1.ErasureResult{erased, deleted}, nil, "Completed", "True", "Erased", false, ptr.To[int64](3), "1 campaigns were deleted"},
		{"no campaign matched", nil, nil, "Completed", "True", "Erased", false, ptr.To[int64](0), "no campaign matched"},
		{"a collector unreachable", []privacyv1alpha1.ErasureResult{erased, retrying}, nil, "Failed", "False", "Retrying", false, ptr.To[int64](3), "campaign d: dial tcp"},
		{"a refusal, others done", []privacyv1alpha1.ErasureResult{erased, refused}, nil, "Failed", "False", "ErasureRefused", true, ptr.To[int64](3), "campaign e: the collector refused"},
		{"a refusal, others pending", []privacyv1alpha1.ErasureResult{refused, pending}, nil, "InProgress", "False", "Progressing", false, nil, "erased from 0 of 2"},
		{"the Secret is missing", []privacyv1alpha1.ErasureResult{pending}, &erasureProblem{reason: "SecretNotFound", message: `Secret "s" does not exist`}, "Failed", "False", "SecretNotFound", true, nil, `Secret "s"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			er := erasureAt(privacyv1alpha1.ErasureRegimeGDPR, "2026-11-20T10:00:00Z")
			er.Status.Results = tc.results
			setErasureStatus(er, tc.problem, utc("2026-11-21T10:00:00Z"), nil, nil)
			if er.Status.Phase != tc.phase {
				t.Errorf("phase %s, want %s", er.Status.Phase, tc.phase)
			}
			ready := meta.FindStatusCondition(er.Status.Conditions, privacyv1alpha1.ConditionReady)
			if ready == nil || ready.Status != tc.ready || ready.Reason != tc.reason || !strings.Contains(ready.Message, tc.inMessage) {
				t.Errorf("Ready %+v, want %s/%s with %q", ready, tc.ready, tc.reason, tc.inMessage)
			}
			if got := meta.IsStatusConditionTrue(er.Status.Conditions, privacyv1alpha1.ConditionStalled); got != tc.stalled {
				t.Errorf("Stalled %v, want %v", got, tc.stalled)
			}
			reconciling := meta.IsStatusConditionTrue(er.Status.Conditions, privacyv1alpha1.ConditionReconciling)
			if want := tc.phase == "Pending" || tc.phase == "InProgress" || tc.reason == ReasonRetrying; reconciling != want {
				t.Errorf("Reconciling %v, want %v", reconciling, want)
			}
			if ptr.Deref(er.Status.Erased, -1) != ptr.Deref(tc.erased, -1) {
				t.Errorf("erased %v, want %v", ptr.Deref(er.Status.Erased, -1), ptr.Deref(tc.erased, -1))
			}
			if (er.Status.CompletedAt != nil) != (tc.phase == "Completed") {
				t.Errorf("completedAt %v with phase %s", er.Status.CompletedAt, tc.phase)
			}
		})
	}
}

func TestRetryBackoff(t *testing.T) {
	for attempts, want := range map[int32]time.Duration{1: 5 * time.Second, 2: 10 * time.Second, 4: 40 * time.Second, 7: 5 * time.Minute, 40: 5 * time.Minute} {
		if got := retryBackoff(attempts); got != want {
			t.Errorf("after %d attempts: %s, want %s", attempts, got, want)
		}
	}
	now := utc("2026-11-21T10:00:00Z")
	res := privacyv1alpha1.ErasureResult{State: privacyv1alpha1.ErasureCampaignRetrying, Attempts: ptr.To[int32](2), LastAttemptAt: &metav1.Time{Time: now.Add(-4 * time.Second)}}
	if got := retryDue(res, now); got != 6*time.Second {
		t.Errorf("retry due in %s, want 6s", got)
	}
}

// TestSubjectFromSecret: a subject Secret's value is held to what the
// collector accepts, counted in characters as it counts them, and a
// refusal tells nothing of the value.
func TestSubjectFromSecret(t *testing.T) {
	secret := func(k, v string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "ticket"}, Data: map[string][]byte{k: []byte(v)}}
	}
	for name, tc := range map[string]struct {
		s        *corev1.Secret
		customer string
		email    string
		problem  string
	}{
		"a customer ID":                     {s: secret("customerID", "C-1234"), customer: "C-1234"},
		"256 characters of 3 bytes each":    {s: secret("customerID", strings.Repeat("क", 256)), customer: strings.Repeat("क", 256)},
		"257 characters":                    {s: secret("customerID", strings.Repeat("x", 257)), problem: `key "customerID" holds more than 256 characters`},
		"an email":                          {s: secret("email", "ana@example.com"), email: "ana@example.com"},
		"an email of 320 2-byte characters": {s: secret("email", strings.Repeat("é", 300)+"@"+strings.Repeat("é", 19)), email: strings.Repeat("é", 300) + "@" + strings.Repeat("é", 19)},
		"an email stored by an earlier collector, with a space": {s: secret("email", "jane doe@example.com"), email: "jane doe@example.com"},
		"two @":                    {s: secret("email", "a@b@example.com"), problem: "does not hold an email address"},
		"not UTF-8":                {s: secret("customerID", "C-\xff"), problem: "is not valid UTF-8"},
		"a tab inside":             {s: secret("email", "ana\t@example.com"), problem: "holds a control character"},
		"a bidirectional override": {s: secret("customerID", "C-\u202e1234"), problem: "holds a control character"},
		"a bidirectional isolate":  {s: secret("customerID", "C-\u20661234"), problem: "holds a control character"},
	} {
		got, problem, err := subjectFromSecret(tc.s, "")
		switch {
		case err != nil:
			t.Errorf("%s: %v", name, err)
		case tc.problem != "":
			if problem == nil || !strings.Contains(problem.message, tc.problem) {
				t.Errorf("%s: problem %+v, want %q", name, problem, tc.problem)
			} else if strings.Contains(problem.message, "257") {
				t.Errorf("%s: the problem tells the value's length: %s", name, problem.message)
			}
		case problem != nil || got.CustomerID != tc.customer || got.Email != tc.email:
			t.Errorf("%s: %+v %+v, want customerID %q email %q", name, got, problem, tc.customer, tc.email)
		}
	}
}

// TestCredentialSecretIsNoSubject: a Secret that holds credentials is not
// read as a subject's identifier, whoever names it in an ErasureRequest.
func TestCredentialSecretIsNoSubject(t *testing.T) {
	pg := privacyv1alpha1.SurveyCampaign{ObjectMeta: metav1.ObjectMeta{Name: "support-nps"}}
	pg.Spec.Storage.Postgres = &privacyv1alpha1.PostgresStorage{SecretRef: privacyv1alpha1.SecretKeyReference{Name: "support-nps-pg"}}
	campaigns := []privacyv1alpha1.SurveyCampaign{{ObjectMeta: metav1.ObjectMeta{Name: "checkout-nps"}}, pg}
	secret := func(name string, typ corev1.SecretType, labels map[string]string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Type: typ}
	}
	for _, tc := range []struct {
		s    *corev1.Secret
		want string
	}{
		{secret("erase-ticket-4711", "", nil), ""},
		{secret("erase-ticket-4712", corev1.SecretTypeOpaque, map[string]string{"team": "privacy"}), ""},
		{secret("checkout-nps-keys", corev1.SecretTypeOpaque, map[string]string{privacyv1alpha1.LabelManagedBy: privacyv1alpha1.ManagedByValue}), "is one the operator manages"},
		{secret("support-nps-pg", corev1.SecretTypeOpaque, nil), "holds campaign support-nps's database connection string"},
		{secret("registry", corev1.SecretTypeDockerConfigJson, nil), "is of type kubernetes.io/dockerconfigjson"},
		{secret("serving", corev1.SecretTypeTLS, nil), "is of type kubernetes.io/tls"},
		{secret("sa-token", corev1.SecretTypeServiceAccountToken, nil), "is of type kubernetes.io/service-account-token"},
	} {
		if got := credentialSecret(tc.s, campaigns); (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.s.Name, got, tc.want)
		}
	}
}
