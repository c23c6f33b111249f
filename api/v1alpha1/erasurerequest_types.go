package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ErasurePhase is where an erasure request stands.
// +kubebuilder:validation:Enum=Pending;Completed;Failed
type ErasurePhase string

const (
	// ErasurePhasePending means the erasure has not finished on every campaign.
	ErasurePhasePending ErasurePhase = "Pending"
	// ErasurePhaseCompleted means the subject's responses were erased from every selected campaign.
	ErasurePhaseCompleted ErasurePhase = "Completed"
	// ErasurePhaseFailed means the erasure cannot be carried out; the conditions say why.
	ErasurePhaseFailed ErasurePhase = "Failed"
)

// ErasureRequestSpec asks for one person's responses to be erased (the right
// to erasure). It cannot be changed once created: create a new request instead.
// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec is immutable: create a new ErasureRequest instead"
type ErasureRequestSpec struct {
	// subject identifies the person whose responses are erased.
	// +required
	Subject ErasureSubject `json:"subject,omitzero"`

	// campaignSelector selects the SurveyCampaigns in the namespace to erase
	// from by label; empty or unset selects every campaign in the namespace.
	// +optional
	CampaignSelector *metav1.LabelSelector `json:"campaignSelector,omitempty"`
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
	CustomerID string `json:"customerID,omitempty"`

	// email is the respondent's email address.
	// +optional
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=320
	// +kubebuilder:validation:Pattern=`^[^@\s]+@[^@\s]+$`
	Email string `json:"email,omitempty"`

	// secretRef names a Secret key holding the customer ID or email, so that
	// the identifier is not stored in the request itself. The Secret's key
	// "customerID" or "email" is used when key is unset.
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

	// erased is the number of responses erased; absent when none were.
	// +optional
	// +kubebuilder:validation:Minimum=1
	Erased int64 `json:"erased,omitempty"`
}

// ErasureRequestStatus is the observed state of an ErasureRequest.
type ErasureRequestStatus struct {
	// conditions are Ready, Reconciling and Stalled.
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

	// phase is Pending, Completed or Failed.
	// +optional
	Phase ErasurePhase `json:"phase,omitempty"`

	// due is the legal deadline: 30 days after the request was created.
	// +optional
	Due *metav1.Time `json:"due,omitempty"`

	// results has one entry per campaign erased from.
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
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Due",type=date,JSONPath=`.status.due`
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
