package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/surveyguard/surveyguard/internal/store"
	"github.com/surveyguard/surveyguard/internal/store/sqlite"
	"github.com/surveyguard/surveyguard/internal/store/sqlstore"
	"github.com/surveyguard/surveyguard/internal/store/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (store.Store, func(*testing.T) store.Store) {
		path := filepath.Join(t.TempDir(), "responses.db")
		open := func(t *testing.T) store.Store {
			s, err := sqlite.Open(context.Background(), path, sqlstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		return open(t), open
	})
}
