package postgres

import (
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestNoSpaceClassifies classifies errors without filling a disk (TestNoSpace in
// postgres_test does, as root): only SQLSTATE 53100 is a full disk.
func TestNoSpaceClassifies(t *testing.T) {
	cases := []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("postgres: inserting responses: %w", &pgconn.PgError{Code: "53100", Message: "could not extend file"}), true},
		{&pgconn.PgError{Code: "53200", Message: "out of memory"}, false},
		{&pgconn.PgError{Code: "23505", Message: "duplicate key"}, false},
		{errors.New("No space left on device"), false},
	}
	for _, tc := range cases {
		if got := noSpace(tc.err); got != tc.want {
			t.Errorf("noSpace(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
