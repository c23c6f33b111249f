// Package collector is the survey collector: the public survey page and
// response API, and the admin API the operator reads.
package collector

import "github.com/surveyguard/surveyguard/internal/cli"

// Usage describes the collector role.
const Usage = `Usage: surveyguard collector [flags]

Serves one SurveyCampaign: the survey page GET /s/{campaign} and
POST /v1/responses on the public TLS listener, and /admin/v1/stats,
/admin/v1/purge, /admin/v1/erase, /healthz, /readyz and /metrics on the
admin TLS listener. The operator deploys one per campaign; it holds no
Kubernetes credentials.

This build does not include the collector yet.
`

// Main runs the collector. This build only prints its usage.
var Main = cli.Unbuilt(Usage)
