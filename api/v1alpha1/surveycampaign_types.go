package v1alpha1

import (
	"encoding/json"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// LawfulBasis is the legal ground on which respondents' personal data is processed.
// +kubebuilder:validation:Enum=Consent;LegitimateInterest;Contract
type LawfulBasis string

const (
	// LawfulBasisConsent processes data because the respondent agreed to it.
	LawfulBasisConsent LawfulBasis = "Consent"
	// LawfulBasisLegitimateInterest processes data for the controller's legitimate interest.
	LawfulBasisLegitimateInterest LawfulBasis = "LegitimateInterest"
	// LawfulBasisContract processes data because a contract with the respondent needs it.
	LawfulBasisContract LawfulBasis = "Contract"
)

// Language is a language the survey page is offered in, a BCP 47 tag: the
// page's own text (labels, buttons, errors, the thank-you page) exists in
// English (en) and Hindi (hi).
// +kubebuilder:validation:Enum=en;hi
type Language string

const (
	// LanguageEnglish is English.
	LanguageEnglish Language = "en"
	// LanguageHindi is Hindi.
	LanguageHindi Language = "hi"
)

// SurveyCampaignSpec declares one NPS survey, what it may collect and how its
// data is protected.
// +kubebuilder:validation:XValidation:rule="!has(self.languages) || self.languages.all(l, l.lang != (has(self.defaultLanguage) ? self.defaultLanguage : 'en'))",message="languages must not list defaultLanguage: the default language's text is question and consent.purpose",fieldPath=".languages"
// +kubebuilder:validation:XValidation:rule="!has(self.languages) || self.languages.all(l, has(l.purpose) == (has(self.consent) && has(self.consent.purpose)))",message="each of languages needs a purpose when consent.purpose is set, and has none when it is not: the page states the purpose in every language or in none",fieldPath=".languages"
// +kubebuilder:validation:XValidation:rule="!has(self.collector) || !has(self.collector.replicas) || self.collector.replicas <= 1 || has(self.storage.postgres)",message="collector.replicas greater than 1 requires storage.postgres: the embedded store serves a single replica",fieldPath=".collector.replicas"
// +kubebuilder:validation:XValidation:rule="!has(self.consent) || !has(self.consent.lawfulBasis) || self.consent.lawfulBasis != 'Consent' || !has(self.consent.required) || self.consent.required",message="consent.required must be true when consent.lawfulBasis is Consent",fieldPath=".consent.required"
type SurveyCampaignSpec struct {
	// question is the NPS question shown to respondents, answered on a 0-10 scale,
	// for example "How likely are you to recommend Acme Checkout to a friend or colleague?".
	// +required
	// +kubebuilder:validation:MinLength=10
	// +kubebuilder:validation:MaxLength=500
	Question string `json:"question,omitempty"`

	// defaultLanguage is the language of question and consent.purpose: en
	// (English) or hi (Hindi). The survey page is in this language unless the
	// respondent's browser prefers another of languages (Accept-Language) or
	// the link names one (?lang=hi). Defaults to en.
	// +optional
	// +default="en"
	DefaultLanguage Language `json:"defaultLanguage,omitempty"`

	// languages offers the survey page in more languages than
	// defaultLanguage, each with the question, and the consent purpose,
	// written in it. At most one entry per language, none for defaultLanguage.
	// +optional
	// +listType=map
	// +listMapKey=lang
	// +kubebuilder:validation:MaxItems=8
	Languages []LanguageSpec `json:"languages,omitempty"`

	// consent describes the consent respondents give before anything is stored.
	// Required: consent is asked for by default, and then needs a noticeVersion.
	// +required
	Consent ConsentSpec `json:"consent,omitzero"`

	// collect lists the personal fields the collector accepts besides the score.
	// Data minimization: anything not listed here is refused.
	// +optional
	// +default={}
	Collect CollectSpec `json:"collect,omitempty,omitzero"`

	// retentionPolicyRef names the RetentionPolicy, in the same namespace, that
	// decides how long raw responses are kept.
	// +required
	RetentionPolicyRef LocalObjectReference `json:"retentionPolicyRef,omitzero"`

	// encryption configures the field encryption keys of this campaign.
	// +optional
	// +default={}
	Encryption EncryptionSpec `json:"encryption,omitempty,omitzero"`

	// privacy configures suppression of small groups, comment redaction and the
	// privacy regimes that apply.
	// +optional
	// +default={}
	Privacy PrivacySpec `json:"privacy,omitempty,omitzero"`

	// storage selects where responses are stored: exactly one of embedded or
	// postgres. Defaults to embedded (an SQLite database on a 1Gi volume).
	// +optional
	// +default={"embedded":{}}
	Storage StorageSpec `json:"storage,omitempty,omitzero"`

	// tls configures the certificate of the collector's listeners. When unset
	// the operator issues one from its own self-signed CA.
	// +optional
	TLS *TLSSpec `json:"tls,omitempty"`

	// collector configures the collector Deployment.
	// +optional
	// +default={}
	Collector CollectorSpec `json:"collector,omitempty,omitzero"`

	// paused scales the collector to zero when true. Stored data is kept.
	// While an ErasureRequest waits on the campaign, or a Job of its
	// retention CronJob runs, one replica runs admin-only (no public
	// listener): erasures and purges go on during a pause.
	// +optional
	Paused *bool `json:"paused,omitempty"`
}

// LanguageSpec is the campaign's text in one more language.
type LanguageSpec struct {
	// lang is the language: en (English) or hi (Hindi).
	// +required
	Lang Language `json:"lang,omitempty"`

	// question is the NPS question in lang, 10 to 500 characters.
	// +required
	// +kubebuilder:validation:MinLength=10
	// +kubebuilder:validation:MaxLength=500
	Question string `json:"question,omitempty"`

	// purpose is consent.purpose in lang, at most 256 characters: required
	// when consent.purpose is set, refused when it is not.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Purpose string `json:"purpose,omitempty"`
}

// ConsentSpec describes the consent a respondent gives. After defaulting it
// always holds required and lawfulBasis.
// +kubebuilder:validation:MinProperties=1
// +kubebuilder:validation:XValidation:rule="(has(self.required) && !self.required) || has(self.noticeVersion)",message="noticeVersion is required when consent.required is true",fieldPath=".noticeVersion"
type ConsentSpec struct {
	// required makes the collector refuse a response that does not carry consent
	// to the current notice version. Defaults to true; false only with a
	// lawfulBasis other than Consent (LegitimateInterest or Contract).
	// +optional
	// +default=true
	Required *bool `json:"required,omitempty"`

	// noticeVersion is the version of the privacy notice respondents consent to,
	// for example "2026-01". Required when required is true; a response that
	// consents to another version is refused.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9][A-Za-z0-9._-]*$`
	NoticeVersion string `json:"noticeVersion,omitempty"`

	// purpose tells respondents, in one sentence, why their answers are collected.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Purpose string `json:"purpose,omitempty"`

	// lawfulBasis is the legal ground for processing: Consent, LegitimateInterest
	// or Contract. Defaults to Consent, which needs required true.
	// +optional
	// +default="Consent"
	LawfulBasis LawfulBasis `json:"lawfulBasis,omitempty"`
}

// CollectSpec lists what the collector accepts besides the score. Fields not
// listed are refused (data minimization).
type CollectSpec struct {
	// comment accepts a free-text comment, scrubbed of personal data when
	// privacy.redactComments is true and encrypted at rest.
	// +optional
	Comment *bool `json:"comment,omitempty"`

	// email accepts the respondent's email address, encrypted at rest.
	// +optional
	Email *bool `json:"email,omitempty"`

	// customerID accepts the respondent's customer ID, encrypted at rest.
	// +optional
	CustomerID *bool `json:"customerID,omitempty"`

	// segments maps each metadata key a response may carry to the values it
	// may take, for example {plan: [free, pro, enterprise], region: [eu, in, us]}.
	// Segment values are stored in plain text next to the score, so only
	// declared values are accepted: a response with any other key or value is
	// refused, and no personal data is stored outside the encrypted fields.
	// At most 20 keys, each a lower-case identifier (a letter, then letters,
	// digits or '_') of at most 63 characters, each with 1 to 100 distinct
	// values of at most 64 letters, digits, spaces, '.', '_' or '-' that start
	// with a letter or digit.
	// +optional
	// +kubebuilder:validation:MaxProperties=20
	// +kubebuilder:validation:XValidation:rule="self.all(k, size(k) <= 63 && k.matches('^[a-z][a-z0-9_]*$'))",message="segments keys must be lower-case identifiers of at most 63 characters (a letter, then letters, digits or '_'), for example plan or region"
	Segments Segments `json:"segments,omitempty"`
}

// Segments maps each allowed metadata key to its allowed values.
type Segments map[string]SegmentValues

// UnmarshalJSON reads the map form. The list of keys that earlier versions
// accepted (segments: [plan, region]) is read as keys without values, so a
// campaign stored before the upgrade still decodes (and is reported as
// needing its values declared) instead of breaking every campaign's cache.
func (s *Segments) UnmarshalJSON(data []byte) error {
	var keys []string
	if err := json.Unmarshal(data, &keys); err == nil {
		if keys == nil {
			*s = nil
			return nil
		}
		*s = make(Segments, len(keys))
		for _, k := range keys {
			(*s)[k] = nil
		}
		return nil
	}
	var m map[string]SegmentValues
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	*s = m
	return nil
}

// SegmentValues are the values one segment key may take.
// +listType=set
// +kubebuilder:validation:MinItems=1
// +kubebuilder:validation:MaxItems=100
// +kubebuilder:validation:items:MinLength=1
// +kubebuilder:validation:items:MaxLength=64
// +kubebuilder:validation:items:Pattern=`^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$`
type SegmentValues []string

// EncryptionSpec configures the campaign's field encryption keys.
type EncryptionSpec struct {
	// keyRotationInterval is how often a new data key is made active, between
	// 24h and 8760h. Old keys stay for decryption until their ciphertexts are
	// re-wrapped. Defaults to 720h.
	// +optional
	// +default="720h"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+([.][0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?(ns|us|µs|ms|s|m|h))+$') || (duration(self) >= duration('24h') && duration(self) <= duration('8760h'))",message="keyRotationInterval must be between 24h and 8760h"
	KeyRotationInterval *metav1.Duration `json:"keyRotationInterval,omitempty"`
}

// PrivacySpec configures the campaign's privacy safeguards.
type PrivacySpec struct {
	// minGroupSize is the number of responses below which the score is
	// suppressed, so that small groups cannot be re-identified (5..1000, default 10).
	// +optional
	// +default=10
	// +kubebuilder:validation:Minimum=5
	// +kubebuilder:validation:Maximum=1000
	MinGroupSize int32 `json:"minGroupSize,omitempty"`

	// redactComments scrubs personal data from comments before storage:
	// emails, phone numbers, card numbers, Aadhaar, PAN, GSTIN, UPI IDs, IBANs,
	// IP and MAC addresses, voter IDs, passport numbers, vehicle registrations,
	// US SSNs, UK NINOs, dates of birth, names and Bitcoin addresses
	// (docs/collector.md, "Comment redaction"). Defaults to true.
	// +optional
	// +default=true
	RedactComments *bool `json:"redactComments,omitempty"`

	// jurisdictions lists the privacy regimes that apply (see docs/regulations.md).
	// A BreachReport naming the campaign tracks these regimes' deadlines too.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=10
	Jurisdictions []Jurisdiction `json:"jurisdictions,omitempty"`
}

// StorageSpec selects the response store. Exactly one backend is set, and the
// backend cannot be switched once chosen.
// +kubebuilder:validation:MinProperties=1
// +kubebuilder:validation:XValidation:rule="has(self.embedded) != has(self.postgres)",message="exactly one of storage.embedded or storage.postgres must be set"
// +kubebuilder:validation:XValidation:rule="has(self.embedded) == has(oldSelf.embedded)",message="the storage backend cannot be changed after creation: stored responses would be left behind"
type StorageSpec struct {
	// embedded stores responses in an encrypted SQLite database on a
	// PersistentVolumeClaim. One collector replica.
	// +optional
	Embedded *EmbeddedStorage `json:"embedded,omitempty"`

	// postgres stores responses in PostgreSQL, for campaigns with several
	// collector replicas.
	// +optional
	Postgres *PostgresStorage `json:"postgres,omitempty"`
}

// EmbeddedStorage is an SQLite database on a PersistentVolumeClaim.
// +kubebuilder:validation:XValidation:rule="has(self.storageClassName) == has(oldSelf.storageClassName) && (!has(self.storageClassName) || self.storageClassName == oldSelf.storageClassName)",message="storage.embedded.storageClassName cannot change after creation: a PersistentVolumeClaim's class is fixed",fieldPath=".storageClassName"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.size) || !has(self.size) || quantity(string(self.size)).compareTo(quantity(string(oldSelf.size))) >= 0",message="storage.embedded.size cannot shrink: a PersistentVolumeClaim can only grow",fieldPath=".size"
type EmbeddedStorage struct {
	// size is the capacity of the PersistentVolumeClaim, between 64Mi and 1Ti.
	// Defaults to 1Gi. It can grow but not shrink.
	// +optional
	// +default="1Gi"
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).compareTo(quantity('64Mi')) >= 0 && quantity(string(self)).compareTo(quantity('1Ti')) <= 0",message="size must be between 64Mi and 1Ti"
	Size *resource.Quantity `json:"size,omitempty"`

	// storageClassName is the StorageClass of the PersistentVolumeClaim; the
	// cluster default when unset. "" is Kubernetes' "no class": the claim
	// binds to a volume without one and is never provisioned dynamically.
	// It cannot be set, changed or removed after creation.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	StorageClassName *string `json:"storageClassName,omitempty"`
}

// PostgresStorage points the collector at a PostgreSQL database.
type PostgresStorage struct {
	// secretRef names the Secret key that holds the PostgreSQL connection string
	// (a DSN or URL). The key defaults to "dsn". Whoever sets or changes this
	// reference (name or key) must be allowed to get the Secret: the admission policy
	// surveyguard-database-secret refuses the campaign otherwise.
	// +required
	SecretRef SecretKeyReference `json:"secretRef,omitzero"`
}

// IssuerKind is the kind of a cert-manager issuer.
// +kubebuilder:validation:Enum=Issuer;ClusterIssuer
type IssuerKind string

// TLSSpec configures the collector's certificate.
type TLSSpec struct {
	// issuerRef names a cert-manager Issuer or ClusterIssuer that signs the
	// collector's certificate instead of the operator's self-signed CA.
	// +required
	IssuerRef IssuerReference `json:"issuerRef,omitzero"`
}

// IssuerReference names a cert-manager issuer.
type IssuerReference struct {
	// name is the name of the issuer.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name,omitempty"`

	// kind is Issuer (same namespace) or ClusterIssuer. Defaults to Issuer.
	// +optional
	// +default="Issuer"
	Kind IssuerKind `json:"kind,omitempty"`

	// group is the API group of the issuer. Defaults to cert-manager.io.
	// +optional
	// +default="cert-manager.io"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Group string `json:"group,omitempty"`
}

// CollectorSpec configures the collector Deployment.
type CollectorSpec struct {
	// replicas is the number of collector pods, 1..50. More than one needs
	// storage.postgres. Defaults to 1.
	// +optional
	// +default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=50
	Replicas int32 `json:"replicas,omitempty"`

	// image overrides the collector image; defaults to the operator's own
	// image. Only images the operator allows are run: its own repository
	// (another tag or digest) and those its --allowed-collector-images flag
	// lists; any other is not run (the operator's image runs instead) and
	// the campaign is Stalled with reason ImageNotAllowed (the pod has the
	// campaign's keys and data mounted).
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	Image string `json:"image,omitempty"`

	// resources are the collector container's compute resources; safe defaults
	// when unset.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// limits bound what one client, and all clients together, can make the
	// collector do (request rate, connections) and how much storage it may
	// fill before it refuses new responses.
	// +optional
	// +default={}
	Limits CollectorLimits `json:"limits,omitempty,omitzero"`
}

// CollectorLimits are the collector's abuse limits and storage budget.
type CollectorLimits struct {
	// requestsPerSecond is the sustained rate of public requests one client
	// may make, 1..1000000; past it (and its burst) the collector answers 429
	// with Retry-After. Defaults to 10.
	// +optional
	// +default=10
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000000
	RequestsPerSecond int32 `json:"requestsPerSecond,omitempty"`

	// burst is how many requests one client may make at once before
	// requestsPerSecond applies, 1..1000000. Defaults to 30.
	// +optional
	// +default=30
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000000
	Burst int32 `json:"burst,omitempty"`

	// maxConnections caps the public listener's open connections, 1..1000000;
	// when all are open, a new one takes an idle one's place, and waits to
	// be accepted only while none is idle. Defaults to 1024.
	// +optional
	// +default=1024
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000000
	MaxConnections int32 `json:"maxConnections,omitempty"`

	// maxConnectionsPerClient caps one client's open connections to the public
	// listener, 1..1000000; further ones are closed at once. Defaults to 64.
	// +optional
	// +default=64
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000000
	MaxConnectionsPerClient int32 `json:"maxConnectionsPerClient,omitempty"`

	// trustedProxies are the CIDRs (for example 10.0.0.0/8) of the proxies and
	// load balancers whose X-Forwarded-For header names the client, at most 32.
	// Without them the client is the connection's address: list only proxies
	// you run, or any client can pick its own address and escape its limits.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=64
	// +kubebuilder:validation:items:XValidation:rule="isCIDR(self)",message="trustedProxies entries must be CIDRs such as 10.0.0.0/8 or fd00::/8"
	TrustedProxies []string `json:"trustedProxies,omitempty"`

	// maxStoreSize caps the size of the store (the SQLite files, or the
	// PostgreSQL database); past it the collector answers new responses with
	// 503 while purges, erasure and stats keep working. Must be positive.
	// When unset: 80% of storage.embedded.size for embedded storage, no cap
	// for PostgreSQL.
	// +optional
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).isGreaterThan(quantity('0'))",message="maxStoreSize must be positive"
	MaxStoreSize *resource.Quantity `json:"maxStoreSize,omitempty"`

	// minFreeDisk is the free space of the embedded store's volume below which
	// the collector stops accepting responses, so that purges and erasure
	// always have room. Must not be negative. The collector's default (16Mi)
	// when unset.
	// +optional
	// +kubebuilder:validation:XValidation:rule="!quantity(string(self)).isLessThan(quantity('0'))",message="minFreeDisk cannot be negative"
	MinFreeDisk *resource.Quantity `json:"minFreeDisk,omitempty"`
}

// SurveyCampaignStatus is the observed state of a SurveyCampaign, written only
// by the operator.
type SurveyCampaignStatus struct {
	// conditions are Ready, Reconciling, Stalled, CollectorAvailable,
	// EncryptionEnforced, RetentionEnforced and StorageAvailable.
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

	// endpoint is the collector's public HTTPS address.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	Endpoint string `json:"endpoint,omitempty"`

	// nps is the campaign's Net Promoter Score as last read from the collector.
	// +optional
	NPS *NPSStatus `json:"nps,omitempty"`

	// breaches is the campaign's breach rate over the trailing 12 months.
	// +optional
	Breaches *BreachRateStatus `json:"breaches,omitempty"`

	// encryption reports the active data key.
	// +optional
	Encryption *EncryptionStatus `json:"encryption,omitempty"`

	// retention reports how the retention policy is being carried out.
	// +optional
	Retention *RetentionStatus `json:"retention,omitempty"`

	// pausedBy names the unresolved BreachReports whose containment keeps the
	// collector scaled to zero: the first 100 by name, should there be more.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=100
	// +kubebuilder:validation:items:MaxLength=253
	PausedBy []string `json:"pausedBy,omitempty"`

	// redactions counts, by kind, the personal data the collector scrubbed
	// from comments since its store began (docs/collector.md, "Comment
	// redaction"): how often respondents wrote an email address, a phone
	// number or a card number into a comment. The scrubbed text is never
	// published. Absent until a comment had something scrubbed.
	// +optional
	// +listType=map
	// +listMapKey=kind
	// +kubebuilder:validation:MaxItems=32
	Redactions []RedactionCount `json:"redactions,omitempty"`
}

// RedactionCount is how often one kind of personal data was scrubbed from
// the campaign's comments.
type RedactionCount struct {
	// kind is what was scrubbed: email, phone, card, aadhaar, pan, upi, iban,
	// ip, gstin, voterid, passport, vehicle, ssn, nino, mac, dob, name or
	// crypto; or unscanned, the end of a comment too long to read, dropped.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=32
	Kind string `json:"kind,omitempty"`

	// count is how many were scrubbed.
	// +required
	// +kubebuilder:validation:Minimum=1
	Count int64 `json:"count,omitempty"`
}

// NPSStatus is the Net Promoter Score of a campaign. Below minGroupSize
// responses it is suppressed: no score and no buckets.
type NPSStatus struct {
	// score is %promoters - %detractors, rounded to an integer in -100..100.
	// Absent when suppressed.
	// +optional
	Score *int32 `json:"score,omitempty"`

	// promoters is the number of responses scoring 9 or 10. Absent when suppressed.
	// +optional
	Promoters *int64 `json:"promoters,omitempty"`

	// passives is the number of responses scoring 7 or 8. Absent when suppressed.
	// +optional
	Passives *int64 `json:"passives,omitempty"`

	// detractors is the number of responses scoring 0 to 6. Absent when suppressed.
	// +optional
	Detractors *int64 `json:"detractors,omitempty"`

	// responses is the number of responses counted; absent when there are none.
	// +optional
	// +kubebuilder:validation:Minimum=1
	Responses int64 `json:"responses,omitempty"`

	// marginOfError is the 95% margin of error of the score, in points:
	// 1.96 * 100 * sqrt((p + d - (p - d)^2) / n). Absent when suppressed.
	// +optional
	MarginOfError *float64 `json:"marginOfError,omitempty"`

	// suppressed is true when there are fewer responses than privacy.minGroupSize.
	// +optional
	Suppressed *bool `json:"suppressed,omitempty"`

	// updatedAt is when the figures last changed: a read of the collector
	// that finds the same figures leaves it as it was.
	// +optional
	UpdatedAt *metav1.Time `json:"updatedAt,omitempty"`
}

// BreachBand classifies the number of breaches in the trailing 12 months.
// +kubebuilder:validation:Enum=Optimal;Acceptable;Concerning
type BreachBand string

const (
	// BreachBandOptimal means no breach in the trailing 12 months.
	BreachBandOptimal BreachBand = "Optimal"
	// BreachBandAcceptable means one to three breaches in the trailing 12 months.
	BreachBandAcceptable BreachBand = "Acceptable"
	// BreachBandConcerning means four or more breaches in the trailing 12 months.
	BreachBandConcerning BreachBand = "Concerning"
)

// BreachRateStatus is the breach rate of a campaign: breaches / customers.
type BreachRateStatus struct {
	// count is the number of BreachReports naming this campaign detected in the
	// trailing 12 months (0 when there was none).
	// +optional
	// +kubebuilder:validation:Minimum=0
	Count *int32 `json:"count,omitempty"`

	// customers is the number of distinct respondents of the campaign; absent
	// when there are none.
	// +optional
	// +kubebuilder:validation:Minimum=1
	Customers int64 `json:"customers,omitempty"`

	// rate is count / customers as a decimal string, for example "0.0100";
	// "0" when there are no breaches, absent when there are breaches but no customers.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=32
	Rate string `json:"rate,omitempty"`

	// band is Optimal (0 breaches), Acceptable (1-3) or Concerning (4 or more).
	// +optional
	Band BreachBand `json:"band,omitempty"`
}

// EncryptionStatus reports the campaign's active data key.
type EncryptionStatus struct {
	// activeKeyID is the ID of the key that encrypts new responses.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	ActiveKeyID string `json:"activeKeyID,omitempty"`

	// rotatedAt is when the active key became active.
	// +optional
	RotatedAt *metav1.Time `json:"rotatedAt,omitempty"`

	// lastKeyID is the newest data key ID the operator has made for the
	// campaign. It never goes down, even when the key Secret is restored from
	// an older backup: a new key always takes the next ID, so no ID ever
	// names two keys.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	LastKeyID string `json:"lastKeyID,omitempty"`

	// breachRotations are the key rotations done for breach reports'
	// containment, one per report that still exists: what the reports
	// record as done. The newest 100, should there be more.
	// +optional
	// +listType=map
	// +listMapKey=reportUID
	// +kubebuilder:validation:MaxItems=100
	BreachRotations []BreachKeyRotation `json:"breachRotations,omitempty"`
}

// BreachKeyRotation is a data key rotated for a breach report's containment.
type BreachKeyRotation struct {
	// reportUID is the UID of the BreachReport that asked for the rotation.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	ReportUID string `json:"reportUID,omitempty"`

	// keyID is the data key that rotation made.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	KeyID string `json:"keyID,omitempty"`

	// rotatedAt is when it was made.
	// +required
	RotatedAt metav1.Time `json:"rotatedAt,omitempty,omitzero"`
}

// RetentionStatus reports how the campaign's retention policy is carried out.
type RetentionStatus struct {
	// policy is the name of the RetentionPolicy in force.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Policy string `json:"policy,omitempty"`

	// lastPurgeTime is when the last purge finished.
	// +optional
	LastPurgeTime *metav1.Time `json:"lastPurgeTime,omitempty"`

	// lastPurged is the number of responses the last purge deleted or
	// anonymized; absent when it purged none.
	// +optional
	// +kubebuilder:validation:Minimum=1
	LastPurged int64 `json:"lastPurged,omitempty"`

	// oldestRecordTime is the time of the oldest raw response still stored.
	// +optional
	OldestRecordTime *metav1.Time `json:"oldestRecordTime,omitempty"`

	// lastReceipt is the collector's receipt of the last purge (campaign unset):
	// what the RetentionPolicy shows as its last receipt.
	// +optional
	LastReceipt *PurgeReceipt `json:"lastReceipt,omitempty"`
}

// SurveyCampaign is an NPS survey whose respondents' data surveyguard protects.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=sgc,categories=surveyguard
// +kubebuilder:validation:XValidation:rule="oldSelf.hasValue() || (size(self.metadata.name) <= 53 && self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'))",optionalOldSelf=true,message="metadata.name must be a DNS label of at most 53 characters (lower-case letters, digits and '-', beginning and ending with a letter or digit): the collector's Service and certificate are named <name>-collector"
// +kubebuilder:printcolumn:name="NPS",type=integer,JSONPath=`.status.nps.score`
// +kubebuilder:printcolumn:name="MOE",type=number,JSONPath=`.status.nps.marginOfError`
// +kubebuilder:printcolumn:name="Responses",type=integer,JSONPath=`.status.nps.responses`
// +kubebuilder:printcolumn:name="Breaches",type=integer,JSONPath=`.status.breaches.count`
// +kubebuilder:printcolumn:name="Band",type=string,JSONPath=`.status.breaches.band`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type SurveyCampaign struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the object's standard metadata: name, namespace, labels, annotations.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired survey: question, consent, collected fields, retention,
	// encryption, privacy and storage.
	// +required
	Spec SurveyCampaignSpec `json:"spec,omitzero"`

	// status is the survey's observed state, written by the operator.
	// +default={}
	// +optional
	Status SurveyCampaignStatus `json:"status,omitempty,omitzero"`
}

// SurveyCampaignList is a list of SurveyCampaigns.
//
// +kubebuilder:object:root=true
type SurveyCampaignList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SurveyCampaign `json:"items"`
}
