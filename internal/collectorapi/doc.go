// Package collectorapi is the contract between the operator and the
// collector: the collector's configuration file (which the operator renders
// from a SurveyCampaign into a ConfigMap) and the bodies of its admin API
// (stats, purge, erase and their receipts). It has no storage and no server
// in it, so the operator links it without the collector's SQL drivers.
package collectorapi
