package postgres

import "time"

// SetConnectTimeout sets the default connect timeout for a test and
// returns a function that restores it.
func SetConnectTimeout(d time.Duration) func() {
	old := connectTimeout
	connectTimeout = d
	return func() { connectTimeout = old }
}
