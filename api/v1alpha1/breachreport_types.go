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

// BreachReportSpec records a personal-data breach affecting one or more campaigns.
// +kubebuilder:validation:XValidation:rule="!has(self.notifiedAuthorityAt) || self.notifiedAuthorityAt >= self.detectedAt",message="notifiedAuthorityAt may not precede detectedAt",fieldPath=".notifiedAuthorityAt"
// +kubebuilder:validation:XValidation:rule="!has(self.resolvedAt) || self.resolvedAt >= self.detectedAt",message="resolvedAt may not precede detectedAt",fieldPath=".resolvedAt"
type BreachReportSpec struct {
	// campaignRefs names the affected SurveyCampaigns in the same namespace; at least one.
	// +required
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=100
	CampaignRefs []LocalObjectReference `json:"campaignRefs"`

	// detectedAt is when the breach was detected (RFC 3339). Regulatory
	// deadlines run from this instant.
	// +required
	DetectedAt metav1.Time `json:"detectedAt"`

	// category is UnauthorizedAccess, DataLeak, LostDevice, Misconfiguration,
	// ThirdParty or Other.
	// +required
	Category BreachCategory `json:"category"`

	// severity is Low, Medium, High or Critical.
	// +required
	Severity BreachSeverity `json:"severity"`

	// affectedRecords is the number of responses known or believed to be affected.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000000000000
	AffectedRecords int64 `json:"affectedRecords,omitempty"`

	// description says what happened. Do not put personal data here.
	// +optional
	// +kubebuilder:validation:MaxLength=4096
	Description string `json:"description,omitempty"`

	// jurisdictions lists the regimes whose notification clocks apply:
	// CERTIn (6 h), GDPR (72 h), DPDP (72 h), CCPA (tracked, no fixed clock).
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=4
	Jurisdictions []Jurisdiction `json:"jurisdictions,omitempty"`

	// containment lists what the operator does to contain the breach.
	// +optional
	Containment ContainmentSpec `json:"containment,omitempty"`

	// notifiedAuthorityAt is when the supervisory authority was notified; not
	// before detectedAt.
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
	PauseCollection bool `json:"pauseCollection,omitempty"`

	// rotateKeys rotates the affected campaigns' data keys once, at once.
	// +optional
	RotateKeys bool `json:"rotateKeys,omitempty"`
}

// BreachDeadline is one regulatory notification clock.
type BreachDeadline struct {
	// regime is the jurisdiction whose clock this is.
	// +required
	Regime Jurisdiction `json:"regime"`

	// due is when the authority must be notified; absent for regimes with no
	// fixed clock (CCPA).
	// +optional
	Due *metav1.Time `json:"due,omitempty"`

	// met is true when the authority was notified by the due time.
	// +optional
	Met bool `json:"met,omitempty"`

	// overdue is true when the due time passed without notification.
	// +optional
	Overdue bool `json:"overdue,omitempty"`
}

// CampaignContainment is the containment carried out on one campaign.
type CampaignContainment struct {
	// campaign is the SurveyCampaign contained.
	// +required
	// +kubebuilder:validation:MaxLength=253
	Campaign string `json:"campaign"`

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
	// +kubebuilder:validation:MaxLength=64
	KeyID string `json:"keyID,omitempty"`
}

// BreachReportStatus is the observed state of a BreachReport.
type BreachReportStatus struct {
	// observedGeneration is the spec generation the operator last reconciled successfully.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// phase is Open, Contained, Notified or Resolved.
	// +optional
	Phase BreachPhase `json:"phase,omitempty"`

	// deadlines has one entry per listed jurisdiction.
	// +optional
	// +listType=map
	// +listMapKey=regime
	// +kubebuilder:validation:MaxItems=4
	Deadlines []BreachDeadline `json:"deadlines,omitempty"`

	// nextDeadline is the earliest due time that is neither met nor passed.
	// +optional
	NextDeadline *metav1.Time `json:"nextDeadline,omitempty"`

	// containment records, per affected campaign, the containment the operator
	// carried out, so that each action happens once.
	// +optional
	// +listType=map
	// +listMapKey=campaign
	// +kubebuilder:validation:MaxItems=100
	Containment []CampaignContainment `json:"containment,omitempty"`

	// conditions are Contained, Overdue, Ready, Reconciling and Stalled.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`
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
// +kubebuilder:printcolumn:name="Next Deadline",type=string,JSONPath=`.status.nextDeadline`
// +kubebuilder:printcolumn:name="Overdue",type=string,JSONPath=`.status.conditions[?(@.type=="Overdue")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type BreachReport struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec describes the breach.
	// +required
	Spec BreachReportSpec `json:"spec"`

	// status is the breach's observed state, written by the operator.
	// +optional
	Status BreachReportStatus `json:"status,omitempty"`
}

// BreachReportList is a list of BreachReports.
//
// +kubebuilder:object:root=true
type BreachReportList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []BreachReport `json:"items"`
}
