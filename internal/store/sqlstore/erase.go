package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/surveyguard/surveyguard/internal/store"
)

// Erase implements store.Store. The responses are found on a read
// snapshot, so the single SQLite writer is not held while the table is
// searched (the embedded schema has no index by respondent: two random
// index entries per response would halve ingest), and then deleted by ID in
// one write transaction. Everything stored when the snapshot was taken —
// that is, before the request — is erased; a response the same person sends
// while the erasure runs is a new one.
//
// A named erasure (req.RequestID set) first claims its meta key in the
// write transaction, and stores its receipt there in the same transaction
// as the deletes: a crash leaves both or neither. The claim is what makes a
// repeat safe when two calls race (several PostgreSQL replicas): the second
// waits on the first's key and, once it commits, returns its receipt as a
// replay, deleting nothing. A repeat that comes later is answered from the
// stored receipt alone, before anything is searched.
//
// A response's idempotency key is a column of its row, so the delete takes
// it too: a client retrying the erased response's insert stores a new
// response, never an answer naming the erased one. Keep it on the row.
func (s *Store) Erase(ctx context.Context, req store.EraseRequest) (store.EraseReceipt, error) {
	receipt := store.EraseReceipt{RequestID: req.RequestID, StartedAt: time.Now().UTC()}
	key := metaErasure + req.RequestID
	if req.RequestID != "" {
		prior, ok, err := s.erasure(ctx, s.reader, key)
		if err != nil {
			return store.EraseReceipt{}, err
		}
		if ok {
			// The reader may see the receipt's commit before its fsync:
			// a replay says the deletes are done only once they are durable.
			if err := s.batcher.Durable(ctx); err != nil {
				return store.EraseReceipt{}, err
			}
			return prior, nil
		}
	}
	list, err := s.subjectRows(ctx, req.Subjects)
	if err != nil {
		return store.EraseReceipt{}, err
	}
	if testHookEraseRead != nil {
		testHookEraseRead()
	}
	if len(list) == 0 && req.RequestID == "" {
		receipt.Digest, receipt.FinishedAt = digestIDs(nil), time.Now().UTC()
		return receipt, nil
	}
	var prior *store.EraseReceipt
	err = s.write(ctx, func(tx *sql.Tx, d *deltas) error {
		prior = nil
		if req.RequestID != "" {
			p, claimed, err := s.claimErasure(ctx, tx, key)
			if err != nil || !claimed {
				prior = p
				return err
			}
		}
		done, err := s.changeByID(ctx, tx, list, deleteByID)
		if err != nil {
			return err
		}
		for _, r := range done {
			uncount(r, d)
		}
		receipt.Erased, receipt.Digest, receipt.FinishedAt = int64(len(done)), digestIDs(done), time.Now().UTC()
		if req.RequestID == "" {
			return nil
		}
		data, err := json.Marshal(receipt)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q.setMeta, key, string(data)); err != nil {
			return fmt.Errorf("%s: storing the receipt of erasure %s: %w", s.d.Name, req.RequestID, err)
		}
		return nil
	})
	switch {
	case err != nil:
		return store.EraseReceipt{}, err
	case prior != nil:
		return *prior, nil
	}
	return receipt, nil
}

// testHookEraseRead, when set (by tests), runs after an erasure has read
// the subject's responses and before it deletes them.
var testHookEraseRead func()

// subjectRows reads, on the reader's snapshot, every response whose
// customer-ID or email pseudonym is one of subjects.
func (s *Store) subjectRows(ctx context.Context, subjects []string) ([]row, error) {
	if len(subjects) == 0 {
		return nil, nil
	}
	in := placeholders(len(subjects))
	sel := s.bind(`SELECT ` + rowColumns + ` FROM responses
		WHERE subject_customer IN (` + in + `) OR subject_email IN (` + in + `)`)
	rows, err := s.reader.QueryContext(ctx, sel, append(anys(subjects), anys(subjects)...)...)
	if err != nil {
		return nil, fmt.Errorf("%s: finding the subject's responses: %w", s.d.Name, err)
	}
	list, err := scanRows(rows, false)
	if err != nil {
		return nil, fmt.Errorf("%s: finding the subject's responses: %w", s.d.Name, err)
	}
	return list, nil
}

// digestIDs is the receipt's digest of rows: the SHA-256, in hex, of their
// IDs in ID order, each followed by "\n" (a purge receipt's lines, in the
// order an erasure has: by ID).
func digestIDs(rows []row) string {
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.id
	}
	sort.Strings(ids)
	h := sha256.New()
	for _, id := range ids {
		_, _ = h.Write([]byte(id + "\n"))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// claimErasure takes key for this transaction's erasure. When an earlier
// erasure holds it (committed, or committing on another replica: the
// insert waits for that), it returns that erasure's receipt, replayed,
// and claimed is false.
func (s *Store) claimErasure(ctx context.Context, tx *sql.Tx, key string) (prior *store.EraseReceipt, claimed bool, err error) {
	rows, err := tx.QueryContext(ctx, s.q.claimMeta, key)
	if err != nil {
		return nil, false, fmt.Errorf("%s: claiming %s: %w", s.d.Name, key, err)
	}
	claimed = rows.Next()
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, false, fmt.Errorf("%s: claiming %s: %w", s.d.Name, key, err)
	}
	if claimed {
		return nil, true, nil
	}
	r, ok, err := s.erasure(ctx, tx, key)
	if err == nil && !ok {
		err = fmt.Errorf("%s: %s is taken but holds no receipt", s.d.Name, key)
	}
	return &r, false, err
}

// rowQuerier is a database or a transaction.
type rowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// erasure reads the receipt stored under key, marked as replayed; ok is
// false when there is none.
func (s *Store) erasure(ctx context.Context, q rowQuerier, key string) (r store.EraseReceipt, ok bool, err error) {
	var v string
	err = q.QueryRowContext(ctx, s.bind(`SELECT v FROM meta WHERE k = ?`), key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("%s: reading %s: %w", s.d.Name, key, err)
	}
	if err := json.Unmarshal([]byte(v), &r); err != nil {
		return store.EraseReceipt{}, false, fmt.Errorf("%s: reading %s: %w", s.d.Name, key, err)
	}
	r.Replayed = true
	return r, true, nil
}
