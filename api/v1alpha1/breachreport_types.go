package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BreachCategory is what kind of incident a breach was.
// +kubebuilder:validation:Enum=UnauthorizedAccess;DataLeak;LostDevice;Misconfiguration;ThirdParty;Other
type BreachCategory string

// The breach categories.
const (
	BreachCategoryUnauthorizedAccess BreachCategory = "UnauthorizedAccess"
	BreachCategoryDataLeak           BreachCategory = "DataLeak"
	BreachCategoryLostDevice         BreachCategory = "LostDevice"
	BreachCategoryMisconfiguration   BreachCategory = "Misconfiguration"
	BreachCategoryThirdParty         BreachCategory = "ThirdParty"
	BreachCategoryOther              BreachCategory = "Other"
)

// BreachSeverity is how serious a breach is.
// +kubebuilder:validation:Enum=Low;Medium;High;Critical
type BreachSeverity string

// The breach severities.
const (
	BreachSeverityLow      BreachSeverity = "Low"
	BreachSeverityMedium   BreachSeverity = "Medium"
	BreachSeverityHigh     BreachSeverity = "High"
	BreachSeverityCritical BreachSeverity = "Critical"
)

// BreachPhase is where a breach is in its lifecycle.
// +kubebuilder:validation:Enum=Open;Contained;Notified;Resolved
type BreachPhase string

const (
	// BreachPhaseOpen means the breach is known and not yet contained.
	BreachPhaseOpen BreachPhase = "Open"
	// BreachPhaseContained means the requested containment has been carried out.
	BreachPhaseContained BreachPhase = "Contained"
	// BreachPhaseNotified means the authority has been notified.
	BreachPhaseNotified BreachPhase = "Notified"
	// BreachPhaseResolved means the incident is closed.
	BreachPhaseResolved BreachPhase = "Resolved"
)

// BreachDuty is one duty a regime attaches to a breach; docs/regulations.md
// lists which regime has which.
// +kubebuilder:validation:Enum=Authority;Individuals;AttorneyGeneral;EarlyWarning;DetailedReport;FinalReport;Assessment;Secretary;SecretaryAnnualLog
type BreachDuty string

// DeadlineState is where one regulatory duty stands.
// +kubebuilder:validation:Enum=Pending;Approaching;Met;Overdue;Late;LateWithReason;Waiting;Paused;Informational;NotApplicable
type DeadlineState string

// BreachReportSpec records a personal-data breach affecting one or more campaigns.
// +kubebuilder:validation:XValidation:rule="!has(self.notifiedAuthorityAt) || self.notifiedAuthorityAt >= self.detectedAt",message="notifiedAuthorityAt may not precede detectedAt",fieldPath=".notifiedAuthorityAt"
// +kubebuilder:validation:XValidation:rule="!has(self.assessedAt) || self.assessedAt >= self.detectedAt",message="assessedAt may not precede detectedAt",fieldPath=".assessedAt"
// +kubebuilder:validation:XValidation:rule="!has(self.notifications) || self.notifications.all(n, n.at >= self.detectedAt)",message="a notification may not precede detectedAt",fieldPath=".notifications"
// +kubebuilder:validation:XValidation:rule="!has(self.notifications) || self.notifications.all(n, has(self.jurisdictions) && n.regime in self.jurisdictions)",message="a notification's regime must be listed in spec.jurisdictions",fieldPath=".notifications"
// +kubebuilder:validation:XValidation:rule="!has(self.extensions) || self.extensions.all(e, has(self.jurisdictions) && e.regime in self.jurisdictions)",message="an extension's regime must be listed in spec.jurisdictions",fieldPath=".extensions"
// +kubebuilder:validation:XValidation:rule="!has(self.affectedResidents) || self.affectedResidents.all(a, has(self.jurisdictions) && a.regime in self.jurisdictions)",message="an affectedResidents regime must be listed in spec.jurisdictions",fieldPath=".affectedResidents"
// +kubebuilder:validation:XValidation:rule="!has(self.resolvedAt) || self.resolvedAt >= self.detectedAt",message="resolvedAt may not precede detectedAt",fieldPath=".resolvedAt"
// +kubebuilder:validation:XValidation:rule="!has(self.extensions) || self.extensions.all(e, e.until >= self.detectedAt)",message="an extension's until may not precede detectedAt",fieldPath=".extensions"
// +kubebuilder:validation:XValidation:rule="!has(self.lawfulDelay) || !has(self.lawfulDelay.from) || self.lawfulDelay.from >= self.detectedAt",message="lawfulDelay.from may not precede detectedAt",fieldPath=".lawfulDelay.from"
// +kubebuilder:validation:XValidation:rule="!has(self.lawfulDelay) || !has(self.lawfulDelay.until) || self.lawfulDelay.until >= self.detectedAt",message="lawfulDelay.until may not precede detectedAt",fieldPath=".lawfulDelay.until"
type BreachReportSpec struct {
	// campaignRefs names the affected SurveyCampaigns in the same namespace; at least one.
	// +required
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=100
	CampaignRefs []LocalObjectReference `json:"campaignRefs,omitempty"`

	// detectedAt is when the breach was detected (RFC 3339): the awareness or
	// discovery most regulatory clocks run from.
	// +required
	DetectedAt metav1.Time `json:"detectedAt,omitempty,omitzero"`

	// assessedAt is when the breach was assessed as notifiable (Singapore,
	// Australia); the clocks that start at the assessment wait for it. Not
	// before detectedAt.
	// +optional
	AssessedAt *metav1.Time `json:"assessedAt,omitempty"`

	// category is UnauthorizedAccess, DataLeak, LostDevice, Misconfiguration,
	// ThirdParty or Other.
	// +required
	Category BreachCategory `json:"category,omitempty"`

	// severity is Low, Medium, High or Critical.
	// +required
	Severity BreachSeverity `json:"severity,omitempty"`

	// affectedRecords is the number of responses known or believed to be affected.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000000000000
	AffectedRecords *int64 `json:"affectedRecords,omitempty"`

	// description says what happened. Do not put personal data here.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=4096
	Description string `json:"description,omitempty"`

	// jurisdictions lists the regimes whose duties apply; each regime's duties
	// and clocks are in docs/regulations.md. The regimes the named campaigns
	// list in spec.privacy.jurisdictions apply too (status.jurisdictions).
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=10
	Jurisdictions []Jurisdiction `json:"jurisdictions,omitempty"`

	// affectedResidents is the number of people affected under a regime, for
	// the duties that depend on it (California's Attorney General above 500,
	// HIPAA's Secretary at 500). A threshold with no count here is assumed
	// met, the stricter way: HIPAA's Secretary duty applies and its annual
	// log (fewer than 500) does not. Each regime must be listed in
	// jurisdictions.
	// +optional
	// +listType=map
	// +listMapKey=regime
	// +kubebuilder:validation:MaxItems=10
	AffectedResidents []ResidentCount `json:"affectedResidents,omitempty"`

	// notifications records each duty carried out: when, and the authority's
	// reference. A regime's Authority duty is also met by notifiedAuthorityAt.
	// +optional
	// +listType=map
	// +listMapKey=regime
	// +listMapKey=duty
	// +kubebuilder:validation:MaxItems=32
	Notifications []DutyNotification `json:"notifications,omitempty"`

	// extensions records a longer period granted for a duty whose law allows
	// one (DPDP's detailed report, by the Board).
	// +optional
	// +listType=map
	// +listMapKey=regime
	// +listMapKey=duty
	// +kubebuilder:validation:MaxItems=32
	Extensions []DeadlineExtension `json:"extensions,omitempty"`

	// lawfulDelay is a delay a law-enforcement agency asked for; it postpones
	// the duties whose law allows it (California, HIPAA) by its length, and
	// holds them while it has no end.
	// +optional
	LawfulDelay *LawfulDelay `json:"lawfulDelay,omitempty"`

	// containment lists what the operator does to contain the breach.
	// +optional
	Containment ContainmentSpec `json:"containment,omitempty"`

	// notifiedAuthorityAt is when the supervisory authority was notified; not
	// before detectedAt. It meets the Authority duty of every listed regime
	// that spec.notifications does not record separately.
	// +optional
	NotifiedAuthorityAt *metav1.Time `json:"notifiedAuthorityAt,omitempty"`

	// resolvedAt is when the incident was closed; not before detectedAt.
	// +optional
	ResolvedAt *metav1.Time `json:"resolvedAt,omitempty"`
}

// ContainmentSpec lists the containment actions the operator carries out.
type ContainmentSpec struct {
	// pauseCollection scales the affected campaigns' collectors to zero until
	// the report is resolved.
	// +optional
	PauseCollection *bool `json:"pauseCollection,omitempty"`

	// rotateKeys rotates the affected campaigns' data keys once, at once.
	// +optional
	RotateKeys *bool `json:"rotateKeys,omitempty"`
}

// ResidentCount is how many people a breach affects under one regime.
type ResidentCount struct {
	// regime is the jurisdiction the count is for.
	// +required
	Regime Jurisdiction `json:"regime,omitempty"`

	// count is the number of affected residents (for HIPAA, individuals).
	// +required
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10000000000
	Count *int64 `json:"count,omitempty"`
}

// DutyNotification records one duty carried out.
// +kubebuilder:validation:XValidation:rule="(self.regime + '/' + self.duty) in ['CERTIn/Authority','GDPR/Authority','GDPR/Individuals','UKGDPR/Authority','UKGDPR/Individuals','DPDP/Authority','DPDP/DetailedReport','DPDP/Individuals','CCPA/Individuals','CCPA/AttorneyGeneral','LGPD/Authority','LGPD/Individuals','NIS2/EarlyWarning','NIS2/Authority','NIS2/FinalReport','SingaporePDPA/Authority','SingaporePDPA/Individuals','AustraliaNDB/Authority','AustraliaNDB/Individuals','HIPAA/Individuals','HIPAA/Secretary','HIPAA/SecretaryAnnualLog']",message="no such duty for this regime: see docs/regulations.md (an assessment is recorded in spec.assessedAt)"
type DutyNotification struct {
	// regime is the jurisdiction whose duty this is.
	// +required
	Regime Jurisdiction `json:"regime,omitempty"`

	// duty is the regime's duty: Authority, Individuals, AttorneyGeneral,
	// EarlyWarning, DetailedReport, FinalReport, Secretary or SecretaryAnnualLog.
	// +required
	Duty BreachDuty `json:"duty,omitempty"`

	// at is when the duty was carried out (RFC 3339); not before detectedAt.
	// +required
	At metav1.Time `json:"at,omitempty,omitzero"`

	// reference is the recipient's reference for the notification, if any.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	Reference string `json:"reference,omitempty"`

	// lateReason gives the reasons for a notification after the due time,
	// which GDPR, UK GDPR and LGPD accept (the deadline shows LateWithReason).
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	LateReason string `json:"lateReason,omitempty"`
}

// DeadlineExtension is a longer period granted for one duty.
// +kubebuilder:validation:XValidation:rule="(self.regime + '/' + self.duty) in ['DPDP/DetailedReport']",message="the law allows no extension of this duty: see docs/regulations.md"
type DeadlineExtension struct {
	// regime is the jurisdiction whose duty is extended.
	// +required
	Regime Jurisdiction `json:"regime,omitempty"`

	// duty is the regime's duty extended.
	// +required
	Duty BreachDuty `json:"duty,omitempty"`

	// until is the new due time (RFC 3339).
	// +required
	Until metav1.Time `json:"until,omitempty,omitzero"`

	// reference is the grant's reference, if any.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	Reference string `json:"reference,omitempty"`
}

// LawfulDelay is a law-enforcement delay of notification.
// +kubebuilder:validation:XValidation:rule="!has(self.from) || !has(self.until) || self.until >= self.from",message="lawfulDelay.until may not precede lawfulDelay.from",fieldPath=".until"
type LawfulDelay struct {
	// reason says who asked for the delay and why (no personal data).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	Reason string `json:"reason,omitempty"`

	// from is when the delay began; detectedAt when unset.
	// +optional
	From *metav1.Time `json:"from,omitempty"`

	// until is when the delay ended; unset while it lasts.
	// +optional
	Until *metav1.Time `json:"until,omitempty"`
}

// BreachDeadline is where one regulatory duty stands.
type BreachDeadline struct {
	// regime is the jurisdiction whose duty this is.
	// +required
	Regime Jurisdiction `json:"regime,omitempty"`

	// duty is the regime's duty.
	// +required
	Duty BreachDuty `json:"duty,omitempty"`

	// clock is the duty's clock in words: "72 h after awareness", "without undue delay".
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	Clock string `json:"clock,omitempty"`

	// state is Pending, Approaching (80% of the clock elapsed), Met, Overdue,
	// Late, LateWithReason, Waiting (the clock has not started), Paused (a
	// lawful delay), Informational (not in force) or NotApplicable.
	// +optional
	State DeadlineState `json:"state,omitempty"`

	// due is when the duty must be carried out; absent for a duty without a
	// fixed clock ("without undue delay") and while Waiting or Paused.
	// +optional
	Due *metav1.Time `json:"due,omitempty"`

	// met is true when the duty was carried out in time.
	// +optional
	Met *bool `json:"met,omitempty"`

	// overdue is true when the due time passed before the duty was carried out.
	// +optional
	Overdue *bool `json:"overdue,omitempty"`

	// inForce is false when the rule was not yet in force when the breach was
	// detected: the deadline is informational and never overdue.
	// +required
	InForce *bool `json:"inForce,omitempty"`

	// notifiedAt is when the duty was carried out.
	// +optional
	NotifiedAt *metav1.Time `json:"notifiedAt,omitempty"`

	// note explains the state: a threshold, an extension, a delay.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Note string `json:"note,omitempty"`
}

// CampaignContainment is the containment carried out on one campaign.
type CampaignContainment struct {
	// campaign is the SurveyCampaign contained.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Campaign string `json:"campaign,omitempty"`

	// pausedAt is when the campaign's collector was scaled to zero for this report.
	// +optional
	PausedAt *metav1.Time `json:"pausedAt,omitempty"`

	// resumedAt is when the collector resumed after the report was resolved.
	// +optional
	ResumedAt *metav1.Time `json:"resumedAt,omitempty"`

	// keysRotatedAt is when the campaign's data key was rotated for this report.
	// +optional
	KeysRotatedAt *metav1.Time `json:"keysRotatedAt,omitempty"`

	// keyID is the data key made by that rotation.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	KeyID string `json:"keyID,omitempty"`
}

// BreachReportStatus is the observed state of a BreachReport.
type BreachReportStatus struct {
	// conditions are Contained, Overdue, Ready, Reconciling and Stalled.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the spec generation the operator last reconciled
	// (successfully, or to the conclusion that it is stalled). The API server
	// sets 0 on a new object, so that it reads as in progress (kstatus) until
	// the operator has seen it.
	// +optional
	// +default=0
	// +kubebuilder:validation:Minimum=0
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// phase is Open, Contained, Notified or Resolved.
	// +optional
	Phase BreachPhase `json:"phase,omitempty"`

	// deadlines has one entry per duty of each listed jurisdiction.
	// +optional
	// +listType=map
	// +listMapKey=regime
	// +listMapKey=duty
	// +kubebuilder:validation:MaxItems=64
	Deadlines []BreachDeadline `json:"deadlines,omitempty"`

	// nextDeadline is the earliest due time that is neither met nor passed.
	// +optional
	NextDeadline *metav1.Time `json:"nextDeadline,omitempty"`

	// nextDuty names the duty due at nextDeadline and the time:
	// "GDPR Authority by 2026-11-23T10:00:00Z".
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	NextDuty string `json:"nextDuty,omitempty"`

	// containment records, per affected campaign, the containment the operator
	// carried out, so that each action happens once.
	// +optional
	// +listType=map
	// +listMapKey=campaign
	// +kubebuilder:validation:MaxItems=100
	Containment []CampaignContainment `json:"containment,omitempty"`

	// jurisdictions are the regimes whose deadlines the report tracks: those
	// spec.jurisdictions lists and those its campaigns list in
	// spec.privacy.jurisdictions. While a named campaign is missing (deleted),
	// none is dropped: the duties a breach started do not end with the campaign.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=10
	Jurisdictions []Jurisdiction `json:"jurisdictions,omitempty"`
}

// BreachReport records a personal-data breach, tracks its regulatory deadlines
// and has the operator contain it.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=br,categories=surveyguard
// +kubebuilder:printcolumn:name="Severity",type=string,JSONPath=`.spec.severity`
// +kubebuilder:printcolumn:name="Records",type=integer,JSONPath=`.spec.affectedRecords`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Next Deadline",type=string,JSONPath=`.status.nextDuty`
// +kubebuilder:printcolumn:name="Overdue",type=string,JSONPath=`.status.conditions[?(@.type=="Overdue")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type BreachReport struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the object's standard metadata: name, namespace, labels, annotations.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec describes the breach.
	// +required
	Spec BreachReportSpec `json:"spec,omitzero"`

	// status is the breach's observed state, written by the operator.
	// +default={}
	// +optional
	Status BreachReportStatus `json:"status,omitempty,omitzero"`
}

// BreachReportList is a list of BreachReports.
//
// +kubebuilder:object:root=true
type BreachReportList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []BreachReport `json:"items"`
}
