package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// Meta implements store.Store: one lookup in the meta table.
func (s *Store) Meta(ctx context.Context, key string) (string, bool, error) {
	var v string
	err := s.reader.QueryRowContext(ctx, s.bind(`SELECT v FROM meta WHERE k = ?`), key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("%s: reading meta %q: %w", s.d.Name, key, err)
	}
	return v, true, nil
}

// SetMeta implements store.Store. The write takes its turn on the writer
// like every other; the store's own keys (metaLastPurge and every
// metaErasure key) are refused, so a caller cannot forge or lose the last
// purge receipt or an erasure's.
func (s *Store) SetMeta(ctx context.Context, key, value string) error {
	if key == "" || key == metaLastPurge || strings.HasPrefix(key, metaErasure) {
		return fmt.Errorf("meta key %q is not available: it is empty or the store's own", key)
	}
	return s.setMeta(ctx, key, value)
}

// setMeta stores value under key in one write transaction.
func (s *Store) setMeta(ctx context.Context, key, value string) error {
	return s.write(ctx, func(tx *sql.Tx, _ *deltas) error {
		if _, err := tx.ExecContext(ctx, s.q.setMeta, key, value); err != nil {
			return fmt.Errorf("%s: storing meta %q: %w", s.d.Name, key, err)
		}
		return nil
	})
}

// Size implements store.Store through the dialect.
func (s *Store) Size(ctx context.Context) (int64, error) {
	if s.d.Size == nil {
		return 0, fmt.Errorf("%s: the size of the store is unknown", s.d.Name)
	}
	n, err := s.d.Size(ctx, s.reader)
	if err != nil {
		return 0, fmt.Errorf("%s: measuring the store: %w", s.d.Name, err)
	}
	return n, nil
}
