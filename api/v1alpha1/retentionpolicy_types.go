package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RetentionAction is what a purge does to a response older than maxAge.
// +kubebuilder:validation:Enum=Delete;Anonymize
type RetentionAction string

const (
	// RetentionActionDelete deletes the whole response.
	RetentionActionDelete RetentionAction = "Delete"
	// RetentionActionAnonymize drops the personal fields and keeps the score,
	// the segments and the day.
	RetentionActionAnonymize RetentionAction = "Anonymize"
)

// RetentionPolicySpec says how long raw responses are kept and when they are purged.
type RetentionPolicySpec struct {
	// maxAge is how long a raw response is kept, at least 1h and at most 87600h
	// (ten years); older responses are purged, for example 2160h (90 days).
	// +required
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+([.][0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?(ns|us|µs|ms|s|m|h))+$') || (duration(self) >= duration('1h') && duration(self) <= duration('87600h'))",message="maxAge must be between 1h and 87600h"
	MaxAge metav1.Duration `json:"maxAge,omitempty,omitzero"`

	// action is Delete (remove the response) or Anonymize (drop the personal
	// fields, keep the score, the segments and the day). Defaults to Delete.
	// +optional
	// +default="Delete"
	Action RetentionAction `json:"action,omitempty"`

	// schedule is when purges run, in cron syntax ("0 3 * * *") or a macro
	// (@hourly, @daily or its alias @midnight, @weekly, @monthly, @yearly or
	// its alias @annually). Defaults to @daily.
	// +optional
	// +default="@daily"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:XValidation:rule="self.matches('^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|[^ ]+( +[^ ]+){4})$')",message="schedule must be five cron fields (minute hour day-of-month month day-of-week) or one of @hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually"
	Schedule string `json:"schedule,omitempty"`

	// legalHold stops every scheduled purge while true, for example during
	// litigation, and holds the deletion of a bound campaign: its responses
	// are not purged nor its keys destroyed until the hold is lifted (it
	// stays Terminating, Ready False with reason LegalHold); deleting the
	// policy lifts it. A purge started by hand, such as a Job made from the
	// campaign's CronJob, a foreground cascade deletion and the namespace's
	// deletion, which delete the campaign's key Secret and volume
	// themselves, are not stopped.
	// Status and every bound campaign say that a legal hold is in force.
	// +optional
	LegalHold *bool `json:"legalHold,omitempty"`

	// suspend pauses scheduled purges without a legal reason.
	// +optional
	Suspend *bool `json:"suspend,omitempty"`
}

// RetentionPolicyStatus is the observed state of a RetentionPolicy.
type RetentionPolicyStatus struct {
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

	// boundCampaigns is the number of SurveyCampaigns that use this policy
	// (0 when none does).
	// +optional
	// +kubebuilder:validation:Minimum=0
	BoundCampaigns *int32 `json:"boundCampaigns,omitempty"`

	// lastScheduleTime is when a purge Job was last started for this policy.
	// +optional
	LastScheduleTime *metav1.Time `json:"lastScheduleTime,omitempty"`

	// lastReceipt is the receipt of the last finished purge.
	// +optional
	LastReceipt *PurgeReceipt `json:"lastReceipt,omitempty"`
}

// PurgeReceipt records one finished purge.
type PurgeReceipt struct {
	// campaign is the SurveyCampaign that was purged.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Campaign string `json:"campaign,omitempty"`

	// cutoff is the instant before which responses were purged.
	// +optional
	Cutoff *metav1.Time `json:"cutoff,omitempty"`

	// purged is the number of responses deleted; absent when none were.
	// +optional
	// +kubebuilder:validation:Minimum=1
	Purged int64 `json:"purged,omitempty"`

	// anonymized is the number of responses anonymized; absent when none were.
	// +optional
	// +kubebuilder:validation:Minimum=1
	Anonymized int64 `json:"anonymized,omitempty"`

	// job is the name of the Job that ran the purge.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Job string `json:"job,omitempty"`

	// at is when the purge finished.
	// +optional
	At *metav1.Time `json:"at,omitempty"`

	// digest is the SHA-256, in hex, of the IDs of the responses purged or
	// anonymized, in order: the collector's proof of what it removed.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[0-9a-f]+$`
	Digest string `json:"digest,omitempty"`
}

// RetentionPolicy says how long survey responses are kept and purges them on schedule.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=rp,categories=surveyguard
// +kubebuilder:printcolumn:name="MaxAge",type=string,JSONPath=`.spec.maxAge`
// +kubebuilder:printcolumn:name="Action",type=string,JSONPath=`.spec.action`
// +kubebuilder:printcolumn:name="Schedule",type=string,JSONPath=`.spec.schedule`
// +kubebuilder:printcolumn:name="Campaigns",type=integer,JSONPath=`.status.boundCampaigns`
// +kubebuilder:printcolumn:name="Last Purge",type=date,JSONPath=`.status.lastReceipt.at`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type RetentionPolicy struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the object's standard metadata: name, namespace, labels, annotations.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is how long responses are kept and when they are purged.
	// +required
	Spec RetentionPolicySpec `json:"spec,omitzero"`

	// status is the policy's observed state, written by the operator.
	// +default={}
	// +optional
	Status RetentionPolicyStatus `json:"status,omitempty,omitzero"`
}

// RetentionPolicyList is a list of RetentionPolicies.
//
// +kubebuilder:object:root=true
type RetentionPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []RetentionPolicy `json:"items"`
}
