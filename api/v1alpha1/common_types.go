package v1alpha1

// LocalObjectReference names an object in the same namespace.
type LocalObjectReference struct {
	// name is the name of the referenced object in the same namespace.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name,omitempty"`
}

// SecretKeyReference names one key of a Secret in the same namespace.
type SecretKeyReference struct {
	// name is the name of the Secret in the same namespace.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name,omitempty"`

	// key is the key within the Secret's data. The default depends on the field
	// that holds the reference and is documented there.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key,omitempty"`
}

// Jurisdiction is a privacy regime whose rules apply to a campaign or a
// breach. docs/regulations.md lists each one's duties and clocks.
// +kubebuilder:validation:Enum=GDPR;UKGDPR;DPDP;CERTIn;CCPA;LGPD;NIS2;SingaporePDPA;AustraliaNDB;HIPAA
type Jurisdiction string

const (
	// JurisdictionGDPR is the EU General Data Protection Regulation (Art. 33: the authority within 72 h).
	JurisdictionGDPR Jurisdiction = "GDPR"
	// JurisdictionUKGDPR is the UK GDPR (the ICO within 72 h).
	JurisdictionUKGDPR Jurisdiction = "UKGDPR"
	// JurisdictionDPDP is India's Digital Personal Data Protection Act 2023 and Rules 2025 (in force 13 May 2027).
	JurisdictionDPDP Jurisdiction = "DPDP"
	// JurisdictionCERTIn is the CERT-In direction of India (report within 6 h).
	JurisdictionCERTIn Jurisdiction = "CERTIn"
	// JurisdictionCCPA is California: Civ. Code 1798.82 for breaches (residents within 30 days) and the CCPA for requests.
	JurisdictionCCPA Jurisdiction = "CCPA"
	// JurisdictionLGPD is Brazil's LGPD (the ANPD within 3 business days).
	JurisdictionLGPD Jurisdiction = "LGPD"
	// JurisdictionNIS2 is the EU NIS2 Directive (24 h early warning, 72 h notification, 1 month final report).
	JurisdictionNIS2 Jurisdiction = "NIS2"
	// JurisdictionSingaporePDPA is Singapore's PDPA (the Commission within 3 days of the assessment).
	JurisdictionSingaporePDPA Jurisdiction = "SingaporePDPA"
	// JurisdictionAustraliaNDB is Australia's Notifiable Data Breaches scheme (30 days to assess).
	JurisdictionAustraliaNDB Jurisdiction = "AustraliaNDB"
	// JurisdictionHIPAA is the US HIPAA Breach Notification Rule (individuals within 60 days).
	JurisdictionHIPAA Jurisdiction = "HIPAA"
)
