package controllers

import (
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// stampTransitions gives every condition that is new or changed status since
// before the transition time now, from the reconciler's clock (which tests
// inject), where meta.SetStatusCondition would have used the machine's.
// Conditions whose status stayed keep their time.
func stampTransitions(before, after []metav1.Condition, now time.Time) {
	at := metav1.Time{Time: now.UTC().Truncate(time.Second)}
	for i := range after {
		j := slices.IndexFunc(before, func(c metav1.Condition) bool { return c.Type == after[i].Type })
		if j < 0 || before[j].Status != after[i].Status {
			after[i].LastTransitionTime = at
		} else {
			after[i].LastTransitionTime = before[j].LastTransitionTime
		}
	}
}
