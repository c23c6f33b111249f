package v1alpha1

// Condition types. Ready, Reconciling and Stalled follow kstatus: a healthy
// object is Ready=True with no Reconciling or Stalled condition.
const (
	// ConditionReady is True when the object is fully reconciled and working.
	ConditionReady = "Ready"
	// ConditionReconciling is True while the operator is still converging on the spec.
	ConditionReconciling = "Reconciling"
	// ConditionStalled is True when the spec cannot work without a change by a person.
	ConditionStalled = "Stalled"
	// ConditionCollectorAvailable is True when the campaign's collector serves requests.
	ConditionCollectorAvailable = "CollectorAvailable"
	// ConditionEncryptionEnforced is True when the campaign's keys exist and the collector encrypts with the active one.
	ConditionEncryptionEnforced = "EncryptionEnforced"
	// ConditionStorageAvailable is True while the collector's store is within its budget (spec.collector.limits) and accepts responses.
	ConditionStorageAvailable = "StorageAvailable"
	// ConditionRetentionEnforced is True when no stored response is older than the policy allows (maxAge plus one schedule period).
	ConditionRetentionEnforced = "RetentionEnforced"
	// ConditionContained is True when a breach's requested containment has been carried out.
	ConditionContained = "Contained"
	// ConditionOverdue is True when a breach notification deadline passed unmet.
	ConditionOverdue = "Overdue"
)

// Condition reasons, CamelCase as metav1.Condition requires.
const (
	// ReasonSucceeded: the last reconciliation finished and everything is as the spec asks.
	ReasonSucceeded = "Succeeded"
	// ReasonProgressing: children are being created or updated.
	ReasonProgressing = "Progressing"
	// ReasonInvalidSpec: the spec passed schema validation but cannot work; the message says why.
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonRetentionPolicyNotFound: the campaign's retentionPolicyRef names no RetentionPolicy.
	ReasonRetentionPolicyNotFound = "RetentionPolicyNotFound"
	// ReasonCampaignNotFound: a reference names a SurveyCampaign that does not exist.
	ReasonCampaignNotFound = "CampaignNotFound"
	// ReasonCertManagerMissing: spec.tls.issuerRef is set but cert-manager's Certificate kind is not served.
	ReasonCertManagerMissing = "CertManagerMissing"
	// ReasonSecretNotFound: a referenced Secret or its key does not exist.
	ReasonSecretNotFound = "SecretNotFound"
	// ReasonSuspended: the RetentionPolicy's spec.suspend stops scheduled purges.
	ReasonSuspended = "Suspended"
	// ReasonPaused: the campaign is paused by spec.paused or by a breach's containment.
	ReasonPaused = "Paused"
	// ReasonCollectorUnavailable: the collector has no available replica or does not answer.
	ReasonCollectorUnavailable = "CollectorUnavailable"
	// ReasonLegalHold: a legal hold suspends purges.
	ReasonLegalHold = "LegalHold"
	// ReasonImageNotAllowed: spec.collector.image names an image the
	// operator does not allow (its --allowed-collector-images).
	ReasonImageNotAllowed = "ImageNotAllowed"
	// ReasonRetentionOverdue: a stored response is older than the policy allows.
	ReasonRetentionOverdue = "RetentionOverdue"
	// ReasonStorageBudgetExceeded: the store reached maxStoreSize or the volume's minFreeDisk; new responses are refused until a purge or a larger limit.
	ReasonStorageBudgetExceeded = "StorageBudgetExceeded"
	// ReasonKeyMissing: a data key that stored responses are sealed by is gone from the key Secret; restore it from backup.
	ReasonKeyMissing = "KeyMissing"
	// ReasonHMACKeyRejected: the key Secret's hmac key changed under stored pseudonyms; the collector keeps the previous one until it is restored.
	ReasonHMACKeyRejected = "HMACKeyRejected"
	// ReasonDeadlineMissed: a breach notification deadline passed unmet.
	ReasonDeadlineMissed = "DeadlineMissed"
	// ReasonDeadlinesMet: every fixed breach notification deadline was met or is still ahead.
	ReasonDeadlinesMet = "DeadlinesMet"
	// ReasonNoJurisdictions: a breach report tracks no deadline, because
	// neither it nor the campaigns it names list a jurisdiction.
	ReasonNoJurisdictions = "NoJurisdictions"
	// ReasonResolved: a breach report was resolved before all of its
	// requested containment was carried out; what was not is no longer done.
	ReasonResolved = "Resolved"
)

// Finalizer is put on SurveyCampaigns so that deleting one purges its data and
// destroys its keys (crypto-shredding) before the object goes.
const Finalizer = "privacy.surveyguard.io/crypto-shred"

// Labels and annotations the operator sets on the objects it manages.
const (
	// LabelManagedBy marks every child object; its value is ManagedByValue.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedByValue is the value of LabelManagedBy on surveyguard's children.
	ManagedByValue = "surveyguard"
	// LabelCampaign names the SurveyCampaign a child belongs to.
	LabelCampaign = "privacy.surveyguard.io/campaign"
	// LabelRetentionPolicy names the RetentionPolicy a retention CronJob, its
	// Jobs and their pods carry out.
	LabelRetentionPolicy = "privacy.surveyguard.io/retention-policy"
)
