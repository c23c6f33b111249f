package v1alpha1

// LocalObjectReference names an object in the same namespace.
type LocalObjectReference struct {
	// name is the name of the referenced object in the same namespace.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name"`
}

// SecretKeyReference names one key of a Secret in the same namespace.
type SecretKeyReference struct {
	// name is the name of the Secret in the same namespace.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name"`

	// key is the key within the Secret's data. The default depends on the field
	// that holds the reference and is documented there.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key,omitempty"`
}

// Jurisdiction is a privacy regime whose rules apply to a campaign or a breach.
// +kubebuilder:validation:Enum=GDPR;DPDP;CERTIn;CCPA
type Jurisdiction string

const (
	// JurisdictionGDPR is the EU General Data Protection Regulation (Art. 33: notify within 72 h).
	JurisdictionGDPR Jurisdiction = "GDPR"
	// JurisdictionDPDP is India's Digital Personal Data Protection Act 2023 (notify the Board within 72 h).
	JurisdictionDPDP Jurisdiction = "DPDP"
	// JurisdictionCERTIn is the CERT-In direction of India (report within 6 h).
	JurisdictionCERTIn Jurisdiction = "CERTIn"
	// JurisdictionCCPA is the California Consumer Privacy Act ("without unreasonable delay", no fixed clock).
	JurisdictionCCPA Jurisdiction = "CCPA"
)
