package postgres

import (
	"context"
	"database/sql"
	"time"
)

// SetConnectTimeout sets the default connect timeout for a test and
// returns a function that restores it.
func SetConnectTimeout(d time.Duration) func() {
	old := connectTimeout
	connectTimeout = d
	return func() { connectTimeout = old }
}

// OpenDB opens the store's pool of connections to dsn, without the store.
func OpenDB(ctx context.Context, dsn string) (*sql.DB, error) { return openDB(ctx, dsn) }
