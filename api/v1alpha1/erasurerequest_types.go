package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ErasurePhase is where an erasure request stands.
// +kubebuilder:validation:Enum=Pending;InProgress;Completed;Failed
type ErasurePhase string

const (
	// ErasurePhasePending means the operator has not yet asked any campaign to erase.
	ErasurePhasePending ErasurePhase = "Pending"
	// ErasurePhaseInProgress means some selected campaigns have erased and others not yet.
	ErasurePhaseInProgress ErasurePhase = "InProgress"
	// ErasurePhaseCompleted means the subject's responses were erased from every selected campaign.
	ErasurePhaseCompleted ErasurePhase = "Completed"
	// ErasurePhaseFailed means an erasure failed: the Ready condition says
	// why, and whether it is retried (a collector that cannot be reached) or
	// needs a person (a missing Secret, a refused identifier).
	ErasurePhaseFailed ErasurePhase = "Failed"
)

// ErasureRegime is the law whose deadline a request is answered under.
// +kubebuilder:validation:Enum=GDPR;UKGDPR;CCPA;DPDP;Internal
type ErasureRegime string

const (
	// ErasureRegimeGDPR is GDPR Art. 12(3): one calendar month, extendable by two.
	ErasureRegimeGDPR ErasureRegime = "GDPR"
	// ErasureRegimeUKGDPR is UK GDPR Art. 12(3): one calendar month, extendable by two.
	ErasureRegimeUKGDPR ErasureRegime = "UKGDPR"
	// ErasureRegimeCCPA is the CCPA: 45 calendar days, extendable once by 45,
	// and an acknowledgement within 10 business days.
	ErasureRegimeCCPA ErasureRegime = "CCPA"
	// ErasureRegimeDPDP is India's DPDP Rules 2025, Rule 14(3): 90 days (in force 13 May 2027).
	ErasureRegimeDPDP ErasureRegime = "DPDP"
	// ErasureRegimeInternal is the organisation's own deadline of spec.internalDays calendar days.
	ErasureRegimeInternal ErasureRegime = "Internal"
)

// RequestDuty is a duty a data-subject request creates.
// +kubebuilder:validation:Enum=Response;Acknowledgement
type RequestDuty string

const (
	// RequestDutyResponse is carrying out the request: here, the erasure.
	RequestDutyResponse RequestDuty = "Response"
	// RequestDutyAcknowledgement is confirming receipt to the person (CCPA).
	RequestDutyAcknowledgement RequestDuty = "Acknowledgement"
)

// ErasureCampaignState is where the erasure stands on one campaign.
// +kubebuilder:validation:Enum=Pending;Erased;Retrying;Failed;CampaignDeleted
type ErasureCampaignState string

const (
	// ErasureCampaignPending means the campaign has not been asked yet.
	ErasureCampaignPending ErasureCampaignState = "Pending"
	// ErasureCampaignErased means the collector erased and gave its receipt.
	ErasureCampaignErased ErasureCampaignState = "Erased"
	// ErasureCampaignRetrying means the last attempt failed in a way that
	// may pass (the collector unreachable or busy); it is retried with backoff.
	ErasureCampaignRetrying ErasureCampaignState = "Retrying"
	// ErasureCampaignFailed means the collector refused the request; it is
	// not retried until the request is recreated.
	ErasureCampaignFailed ErasureCampaignState = "Failed"
	// ErasureCampaignDeleted means the campaign was deleted before it was
	// asked: deleting a campaign purges all its responses.
	ErasureCampaignDeleted ErasureCampaignState = "CampaignDeleted"
)

// ErasureRequestSpec asks for one person's responses to be erased (the right
// to erasure). Everything but the extension and the acknowledgement is fixed
// once created: create a new request instead.
// +kubebuilder:validation:XValidation:rule="self.subject == oldSelf.subject",message="spec.subject is immutable: create a new ErasureRequest instead",fieldPath=".subject"
// +kubebuilder:validation:XValidation:rule="has(self.campaignSelector) == has(oldSelf.campaignSelector) && (!has(self.campaignSelector) || self.campaignSelector == oldSelf.campaignSelector)",message="spec.campaignSelector is immutable: create a new ErasureRequest instead",fieldPath=".campaignSelector"
// +kubebuilder:validation:XValidation:rule="self.regime == oldSelf.regime",message="spec.regime is immutable: create a new ErasureRequest instead",fieldPath=".regime"
// +kubebuilder:validation:XValidation:rule="has(self.internalDays) == has(oldSelf.internalDays) && (!has(self.internalDays) || self.internalDays == oldSelf.internalDays)",message="spec.internalDays is immutable: create a new ErasureRequest instead",fieldPath=".internalDays"
// +kubebuilder:validation:XValidation:rule="has(self.receivedAt) == has(oldSelf.receivedAt) && (!has(self.receivedAt) || self.receivedAt == oldSelf.receivedAt)",message="spec.receivedAt is immutable: create a new ErasureRequest instead",fieldPath=".receivedAt"
// +kubebuilder:validation:XValidation:rule="!has(self.internalDays) || self.regime == 'Internal'",message="spec.internalDays applies only to regime Internal",fieldPath=".internalDays"
// +kubebuilder:validation:XValidation:rule="!has(self.extension) || self.regime in ['GDPR', 'UKGDPR', 'CCPA']",message="the law allows no extension of this regime's deadline: see docs/regulations.md",fieldPath=".extension"
// +kubebuilder:validation:XValidation:rule="!has(self.acknowledgedAt) || self.regime == 'CCPA'",message="spec.acknowledgedAt applies only to regime CCPA",fieldPath=".acknowledgedAt"
// +kubebuilder:validation:XValidation:rule="!has(self.extension) || !has(self.receivedAt) || self.extension.until > self.receivedAt",message="spec.extension.until must be after spec.receivedAt",fieldPath=".extension.until"
// +kubebuilder:validation:XValidation:rule="!has(self.acknowledgedAt) || !has(self.receivedAt) || self.acknowledgedAt >= self.receivedAt",message="spec.acknowledgedAt may not precede spec.receivedAt",fieldPath=".acknowledgedAt"
// +kubebuilder:validation:XValidation:rule="!has(self.extension) || !has(self.extension.notifiedAt) || !has(self.receivedAt) || self.extension.notifiedAt >= self.receivedAt",message="spec.extension.notifiedAt may not precede spec.receivedAt",fieldPath=".extension.notifiedAt"
type ErasureRequestSpec struct {
	// subject identifies the person whose responses are erased.
	// +required
	Subject ErasureSubject `json:"subject,omitzero"`

	// campaignSelector selects the SurveyCampaigns in the namespace to erase
	// from by label; empty or unset selects every campaign in the namespace.
	// The campaigns are those that exist when the operator first sees the
	// request; campaigns created later are not touched.
	// +optional
	CampaignSelector *metav1.LabelSelector `json:"campaignSelector,omitempty"`

	// regime is the law the request is answered under, which sets its
	// deadline (docs/regulations.md): GDPR and UKGDPR one calendar month,
	// CCPA 45 days (and an acknowledgement within 10 business days), DPDP 90
	// days, or Internal: spec.internalDays calendar days.
	// +optional
	// +default="Internal"
	Regime ErasureRegime `json:"regime,omitempty"`

	// internalDays is the deadline, in calendar days after receipt, of regime
	// Internal; 30 when unset.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=365
	InternalDays int32 `json:"internalDays,omitempty"`

	// receivedAt is when the request reached the organisation, where the
	// deadline's clock starts; the request's creation when unset. It may be
	// earlier (a request that came by mail), never later than the creation.
	// +optional
	ReceivedAt *metav1.Time `json:"receivedAt,omitempty"`

	// extension moves the deadline, within what the regime allows (GDPR and
	// UK GDPR two more months, CCPA 45 more days); an extension beyond that
	// is capped and the cap noted on the deadline. Regime Internal, DPDP:
	// none. It may be added or changed after creation.
	// +optional
	Extension ErasureExtension `json:"extension,omitzero"`

	// acknowledgedAt is when receipt of the request was confirmed to the
	// consumer (CCPA only: within 10 business days). It may be added after creation.
	// +optional
	AcknowledgedAt *metav1.Time `json:"acknowledgedAt,omitempty"`
}

// ErasureExtension is a longer period for answering the request.
type ErasureExtension struct {
	// until is the new deadline (RFC 3339).
	// +required
	Until *metav1.Time `json:"until,omitempty"`

	// reason is why the extension is needed, as told to the person (no personal data).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Reason string `json:"reason,omitempty"`

	// notifiedAt is when the person was told of the extension and why. The
	// law asks for that notice within the first period (GDPR, UK GDPR: one
	// calendar month after receipt; CCPA: 45 days): an extension notified
	// after the deadline it extends is ignored, and the deadline's note
	// says so. When unset, the extension counts as notified when the
	// operator first saw it (status.extensionRecordedAt).
	// +optional
	NotifiedAt *metav1.Time `json:"notifiedAt,omitempty"`
}

// ErasureSubject identifies a respondent. Exactly one field is set. Prefer
// secretRef: customerID and email are stored in the request in plain text.
// +kubebuilder:validation:MinProperties=1
// +kubebuilder:validation:XValidation:rule="[has(self.customerID), has(self.email), has(self.secretRef)].exists_one(x, x)",message="exactly one of subject.customerID, subject.email or subject.secretRef must be set"
type ErasureSubject struct {
	// customerID is the respondent's customer ID.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="!self.matches('[\\x00-\\x1f\\x7f-\\x9f\\u202a-\\u202e\\u2066-\\u2069]')",message="customerID holds a control character or a bidirectional override, which no collector stores"
	CustomerID string `json:"customerID,omitempty"`

	// email is the respondent's email address.
	// +optional
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=320
	// +kubebuilder:validation:Pattern=`^[^@\s]+@[^@\s]+$`
	// +kubebuilder:validation:XValidation:rule="!self.matches('[\\x00-\\x1f\\x7f-\\x9f\\u202a-\\u202e\\u2066-\\u2069]')",message="email holds a control character or a bidirectional override, which no collector stores"
	Email string `json:"email,omitempty"`

	// secretRef names a Secret key holding the customer ID or email, so that
	// the identifier is not stored in the request itself. With key unset, the
	// Secret's "customerID" key is used, else its "email" key. The operator
	// reads the Secret when it asks the collectors and never changes or
	// deletes it. Only a Secret the request's author may get can be named:
	// the admission policy surveyguard-erasure-subject-secret refuses the
	// request otherwise.
	// +optional
	SecretRef *SecretKeyReference `json:"secretRef,omitempty"`
}

// ErasureResult is the outcome of an erasure on one campaign.
type ErasureResult struct {
	// campaign is the SurveyCampaign erased from.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Campaign string `json:"campaign,omitempty"`

	// state is Pending, Erased, Retrying, Failed or CampaignDeleted.
	// +required
	State ErasureCampaignState `json:"state,omitempty"`

	// erased is the number of responses the collector erased (0 when the
	// person had none there).
	// +optional
	// +kubebuilder:validation:Minimum=0
	Erased *int64 `json:"erased,omitempty"`

	// at is when the collector finished erasing, by its clock.
	// +optional
	At *metav1.Time `json:"at,omitempty"`

	// digest is the SHA-256, in hex, of the erased responses' IDs in order,
	// one per line: the collector's receipt, which its audit log also records.
	// +optional
	// +kubebuilder:validation:MinLength=64
	// +kubebuilder:validation:MaxLength=64
	Digest string `json:"digest,omitempty"`

	// attempts is how many times the operator asked the collector.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Attempts *int32 `json:"attempts,omitempty"`

	// lastAttemptAt is when the operator last asked, while Retrying: the
	// next attempt comes 5 s after the first failure, doubling up to 5 minutes.
	// +optional
	LastAttemptAt *metav1.Time `json:"lastAttemptAt,omitempty"`

	// message says, while Retrying or Failed, what went wrong (never the subject).
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Message string `json:"message,omitempty"`
}

// RequestDeadline is where one duty of a data-subject request stands.
type RequestDeadline struct {
	// duty is Response (the erasure) or Acknowledgement (CCPA).
	// +required
	Duty RequestDuty `json:"duty,omitempty"`

	// clock is the duty's clock in words: "1 calendar month after receipt".
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	Clock string `json:"clock,omitempty"`

	// state is Pending, Approaching (80% of the clock elapsed), Met, Overdue,
	// Late or Informational (the rule was not in force at receipt).
	// +optional
	State DeadlineState `json:"state,omitempty"`

	// due is when the duty must be done, any extension applied.
	// +optional
	Due *metav1.Time `json:"due,omitempty"`

	// doneAt is when the duty was done: the erasure's completion, or spec.acknowledgedAt.
	// +optional
	DoneAt *metav1.Time `json:"doneAt,omitempty"`

	// note explains the state: an extension, its cap.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Note string `json:"note,omitempty"`
}

// ErasureRequestStatus is the observed state of an ErasureRequest.
type ErasureRequestStatus struct {
	// conditions are Ready, Reconciling, Stalled and Overdue.
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

	// phase is Pending, InProgress, Completed or Failed.
	// +optional
	Phase ErasurePhase `json:"phase,omitempty"`

	// receivedAt is when the deadline's clock started: spec.receivedAt or the creation.
	// +optional
	ReceivedAt *metav1.Time `json:"receivedAt,omitempty"`

	// due is the deadline of the response (the erasure), any extension applied.
	// +optional
	Due *metav1.Time `json:"due,omitempty"`

	// extensionRecordedAt is when the operator first saw spec.extension: when
	// the extension counts as notified unless spec.extension.notifiedAt says.
	// +optional
	ExtensionRecordedAt *metav1.Time `json:"extensionRecordedAt,omitempty"`

	// deadlines has one entry per duty of the regime: Response, and for CCPA Acknowledgement.
	// +optional
	// +listType=map
	// +listMapKey=duty
	// +kubebuilder:validation:MaxItems=2
	Deadlines []RequestDeadline `json:"deadlines,omitempty"`

	// erased is the number of responses erased across the campaigns.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Erased *int64 `json:"erased,omitempty"`

	// completedAt is when the last campaign erased.
	// +optional
	CompletedAt *metav1.Time `json:"completedAt,omitempty"`

	// results has one entry per campaign selected when the request was first
	// seen; it is fixed then, and only the entries' state changes.
	// +optional
	// +listType=map
	// +listMapKey=campaign
	// +kubebuilder:validation:MaxItems=1000
	Results []ErasureResult `json:"results,omitempty"`
}

// ErasureRequest erases one respondent's responses from the selected campaigns.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=er,categories=surveyguard
// +kubebuilder:printcolumn:name="Regime",type=string,JSONPath=`.spec.regime`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Due",type=string,JSONPath=`.status.due`
// +kubebuilder:printcolumn:name="Erased",type=integer,JSONPath=`.status.erased`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ErasureRequest struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the object's standard metadata: name, namespace, labels, annotations.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec names the person and the campaigns.
	// +required
	Spec ErasureRequestSpec `json:"spec,omitzero"`

	// status is the request's observed state, written by the operator.
	// +default={}
	// +optional
	Status ErasureRequestStatus `json:"status,omitempty,omitzero"`
}

// ErasureRequestList is a list of ErasureRequests.
//
// +kubebuilder:object:root=true
type ErasureRequestList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ErasureRequest `json:"items"`
}
