// Package v1alpha1 contains the surveyguard API: SurveyCampaign,
// RetentionPolicy, BreachReport and ErasureRequest in the group
// privacy.surveyguard.io.
//
// +kubebuilder:object:generate=true
// +groupName=privacy.surveyguard.io
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of every surveyguard kind.
	GroupVersion = schema.GroupVersion{Group: "privacy.surveyguard.io", Version: "v1alpha1"}

	// SchemeBuilder registers the surveyguard kinds with a runtime.Scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the surveyguard kinds to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion,
		&SurveyCampaign{}, &SurveyCampaignList{},
		&RetentionPolicy{}, &RetentionPolicyList{},
		&BreachReport{}, &BreachReportList{},
		&ErasureRequest{}, &ErasureRequestList{},
	)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
