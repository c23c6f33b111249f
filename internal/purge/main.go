// Package purge is the retention run started by a RetentionPolicy's CronJob:
// it asks a collector's admin API to purge responses older than a cutoff and
// reports the receipt.
package purge

import "github.com/surveyguard/surveyguard/internal/cli"

// Usage describes the purge role.
const Usage = `Usage: surveyguard purge [flags]

Runs one retention purge: asks the collector's admin API to delete or
anonymize responses older than --max-age, prints the JSON receipt and writes
it to /dev/termination-log. Started by the CronJob of a RetentionPolicy.

This build does not include the purge run yet.
`

// Main runs the purge. This build only prints its usage.
var Main = cli.Unbuilt(Usage)
