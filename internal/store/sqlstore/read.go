package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/surveyguard/surveyguard/internal/store"
)

// Stats implements store.Store. It reads the counters, one index lookup for
// the oldest raw response and the last receipt: no table scan. The figures
// are returned once what they were read from is durable (the operator
// retires a key when they say nothing needs it), or not at all after a
// failed fsync.
func (s *Store) Stats(ctx context.Context) (store.Stats, error) {
	st := store.Stats{Redactions: map[string]int64{}, KeyIDs: map[string]int64{}}
	rows, err := s.reader.QueryContext(ctx, `SELECT name, n FROM counters`)
	if err != nil {
		return st, fmt.Errorf("%s: reading counters: %w", s.d.Name, err)
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		var name string
		var n int64
		if err := rows.Scan(&name, &n); err != nil {
			return st, err
		}
		switch {
		case name == counterPromoters:
			st.Counts.Promoters = n
		case name == counterPassives:
			st.Counts.Passives = n
		case name == counterDetractors:
			st.Counts.Detractors = n
		case name == counterCustomers:
			st.DistinctCustomers = n
		case strings.HasPrefix(name, prefixRedaction) && n != 0:
			st.Redactions[strings.TrimPrefix(name, prefixRedaction)] = n
		case strings.HasPrefix(name, prefixKey) && n != 0:
			st.KeyIDs[strings.TrimPrefix(name, prefixKey)] = n
		}
	}
	if err := rows.Err(); err != nil {
		return st, err
	}
	var oldest sql.NullInt64
	if err := s.reader.QueryRowContext(ctx, `SELECT MIN(received_at) FROM responses WHERE anonymized = 0`).Scan(&oldest); err != nil {
		return st, fmt.Errorf("%s: reading the oldest response: %w", s.d.Name, err)
	}
	if oldest.Valid {
		t := time.UnixMilli(oldest.Int64).UTC()
		st.OldestRecordTime = &t
	}
	var receipt sql.NullString
	err = s.reader.QueryRowContext(ctx, s.bind(`SELECT v FROM meta WHERE k = ?`), metaLastPurge).Scan(&receipt)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return st, fmt.Errorf("%s: reading the last purge: %w", s.d.Name, err)
	}
	if receipt.Valid {
		st.LastPurge = &store.PurgeReceipt{}
		if err := json.Unmarshal([]byte(receipt.String), st.LastPurge); err != nil {
			return st, fmt.Errorf("%s: decoding the last purge: %w", s.d.Name, err)
		}
	}
	if err := s.batcher.Durable(ctx); err != nil {
		return store.Stats{}, err
	}
	return st, nil
}

// recordColumns are the columns scanRecord reads: a whole response.
const recordColumns = `id, idempotency_key, received_at, score, segments, key_id,
	email, customer_id, comment, subject_customer, subject_email, anonymized`

// scanRecord reads one row of recordColumns.
func (s *Store) scanRecord(row interface{ Scan(dest ...any) error }) (*store.Record, error) {
	r := &store.Record{}
	var idem, keyID, subCust, subEmail sql.NullString
	var received int64
	var segments string
	var anon int
	if err := row.Scan(&r.ID, &idem, &received, &r.Score, &segments, &keyID, &r.Email, &r.CustomerID, &r.Comment,
		&subCust, &subEmail, &anon); err != nil {
		return nil, err
	}
	r.IdempotencyKey, r.KeyID, r.SubjectCustomerID, r.SubjectEmail = idem.String, keyID.String, subCust.String, subEmail.String
	r.ReceivedAt = time.UnixMilli(received).UTC()
	r.Anonymized = anon != 0
	if err := json.Unmarshal([]byte(segments), &r.Segments); err != nil {
		return nil, fmt.Errorf("%s: decoding the segments of %s: %w", s.d.Name, r.ID, err)
	}
	return r, nil
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, id string) (*store.Record, error) {
	r, err := s.scanRecord(s.reader.QueryRowContext(ctx, s.bind(`SELECT `+recordColumns+` FROM responses WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("%s: reading response %s: %w", s.d.Name, id, err)
	}
	return r, nil
}

// FindKey implements store.Store, on a reader: the same lookup a
// duplicate's insert makes. A reader sees commits the WAL's fsync has not
// covered yet (SQLite's pipeline), so a response found is named only once
// it is durable, as a duplicate's insert would be answered.
func (s *Store) FindKey(ctx context.Context, idempotencyKey string) (string, error) {
	var id string
	err := s.reader.QueryRowContext(ctx, s.q.dupID, idempotencyKey).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", store.ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("%s: looking up an idempotency key: %w", s.d.Name, err)
	}
	if err := s.batcher.Durable(ctx); err != nil {
		return "", err
	}
	return id, nil
}

// List implements store.Store: one walk of the primary key from after.
func (s *Store) List(ctx context.Context, after string, limit int) ([]*store.Record, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("listing responses: limit %d is not positive", limit)
	}
	rows, err := s.reader.QueryContext(ctx, s.q.list, after, limit)
	if err != nil {
		return nil, fmt.Errorf("%s: listing responses: %w", s.d.Name, err)
	}
	defer func() { _ = rows.Close() }()
	var out []*store.Record
	for rows.Next() {
		r, err := s.scanRecord(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: listing responses: %w", s.d.Name, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: listing responses: %w", s.d.Name, err)
	}
	return out, nil
}
