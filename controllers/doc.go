// Package controllers holds one reconciler per surveyguard kind.
package controllers
