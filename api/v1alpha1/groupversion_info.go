// Package v1alpha1 contains the surveyguard API: SurveyCampaign,
// RetentionPolicy, BreachReport and ErasureRequest in the group
// privacy.surveyguard.io.
//
// +kubebuilder:object:generate=true
// +groupName=privacy.surveyguard.io
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of every surveyguard kind.
	GroupVersion = schema.GroupVersion{Group: "privacy.surveyguard.io", Version: "v1alpha1"}

	// SchemeBuilder registers the surveyguard kinds with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the surveyguard kinds to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
