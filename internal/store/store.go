// Package store is where a collector keeps responses: one interface, two
// backends (sqlite/ for one replica, postgres/ for several) and one contract
// test suite (storetest/) that both pass.
//
// A store never sees a plaintext email, customer ID or comment: the collector
// encrypts them before they arrive, and finds people through pseudonyms.
package store

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"time"

	"github.com/surveyguard/surveyguard/internal/collectorapi"
	"github.com/surveyguard/surveyguard/internal/nps"
)

// Record is one survey response as stored.
type Record struct {
	// ID is the response ID, unique and ordered by time (NewID).
	ID string
	// IdempotencyKey, when set, makes a retried insert return the first ID.
	// It is kept on the response's row, so a purge or an erasure takes it
	// with the row: nothing outlives the response that would name it.
	IdempotencyKey string
	// ReceivedAt is when the collector accepted the response.
	ReceivedAt time.Time
	// Score is the answer, 0..10.
	Score int
	// Segments is the allowed metadata (plan, region, …).
	Segments map[string]string
	// KeyID is the data key that sealed the personal fields below.
	KeyID string
	// Email, CustomerID and Comment are ciphertexts, or nil when absent.
	Email, CustomerID, Comment []byte
	// SubjectCustomerID and SubjectEmail are the HMAC pseudonyms of the
	// identifiers, or empty when absent.
	SubjectCustomerID, SubjectEmail string
	// Redactions counts, by kind, what was scrubbed from the comment.
	Redactions map[string]int
	// Anonymized is true once the personal fields were dropped by a purge.
	Anonymized bool
}

// Subject is the pseudonym a respondent is counted and erased by: the
// customer ID's when there is one, else the email's.
func (r *Record) Subject() string {
	if r.SubjectCustomerID != "" {
		return r.SubjectCustomerID
	}
	return r.SubjectEmail
}

// InsertResult says what an insert did.
type InsertResult struct {
	// ID is the stored response's ID: the first one for a duplicate.
	ID string
	// Duplicate is true when the idempotency key was already stored; nothing new was counted.
	Duplicate bool
}

// Stats are the running figures of a store, kept up to date by every write
// rather than computed by scanning.
type Stats struct {
	Counts            nps.Counts       `json:"counts"`
	DistinctCustomers int64            `json:"distinctCustomers"`
	OldestRecordTime  *time.Time       `json:"oldestRecordTime,omitempty"`
	Redactions        map[string]int64 `json:"redactions"`
	// KeyIDs counts the records still holding personal fields, by the key
	// that sealed them; everything not under the active key awaits re-wrap.
	KeyIDs    map[string]int64 `json:"keyIDs"`
	LastPurge *PurgeReceipt    `json:"lastPurge,omitempty"`
}

// Action is what a purge does to the responses it selects.
type Action = collectorapi.PurgeAction

// The purge actions.
const (
	ActionDelete    = collectorapi.PurgeDelete
	ActionAnonymize = collectorapi.PurgeAnonymize
)

// MaxPurgeBatch is the largest number of rows one purge transaction touches,
// so that ingest keeps flowing while a purge runs.
const MaxPurgeBatch = 10000

// PurgeRequest asks for responses received before Cutoff to be deleted or anonymized.
type PurgeRequest struct {
	// Cutoff is compared at the store's millisecond resolution (CutoffMilli).
	Cutoff    time.Time
	Action    Action
	DryRun    bool
	BatchSize int // rows per transaction; 0 means the backend's default, never more than MaxPurgeBatch
	// Job names what asked for the purge (a retention Job), for the receipt.
	Job string
}

// CutoffMilli is the millisecond a purge cutoff is compared with: a response
// is before cutoff when the millisecond it was received in is before
// CutoffMilli(cutoff). Received times are kept to the millisecond, so a
// cutoff inside a millisecond takes the whole of it (rounding up): nothing
// received before the cutoff stays behind.
func CutoffMilli(cutoff time.Time) int64 {
	ms := cutoff.UnixMilli()
	if cutoff.Sub(time.UnixMilli(ms)) > 0 {
		ms++
	}
	return ms
}

// EverythingCutoff is the cutoff that takes every response received up to
// now, including those in now's own millisecond: the start of the next one.
func EverythingCutoff(now time.Time) time.Time {
	return time.UnixMilli(now.UnixMilli() + 1).UTC()
}

// PurgeReceipt is the record of one purge (collectorapi.PurgeReceipt).
type PurgeReceipt = collectorapi.PurgeReceipt

// EraseRequest asks for every response of a respondent to be deleted.
type EraseRequest struct {
	// Subjects are the pseudonyms (customer ID, email, in any form a
	// response may carry) whose responses are erased.
	Subjects []string
	// RequestID, when set, names the erasure (the ErasureRequest's UID):
	// its receipt is kept under it, and a repeated RequestID is answered
	// with that receipt instead of erasing again.
	RequestID string
}

// EraseReceipt is the record of one erasure (collectorapi.EraseReceipt).
type EraseReceipt = collectorapi.EraseReceipt

// Store keeps responses durably.
type Store interface {
	// Insert stores r and returns once the write is durable. Concurrent
	// inserts share commits.
	Insert(ctx context.Context, r *Record) (InsertResult, error)
	// Get returns one stored response, or ErrNotFound.
	Get(ctx context.Context, id string) (*Record, error)
	// FindKey returns the ID of the stored response that carries the
	// idempotency key (its keyed hash), or ErrNotFound.
	FindKey(ctx context.Context, idempotencyKey string) (string, error)
	// List returns up to limit (which must be positive) stored responses
	// whose IDs sort after after ("" for the first), in ID order, with the
	// fields Get returns: the way to walk every response, including the
	// anonymized ones, whose IDs a purge changed.
	List(ctx context.Context, after string, limit int) ([]*Record, error)
	// Stats returns the running figures.
	Stats(ctx context.Context) (Stats, error)
	// Purge deletes or anonymizes responses received before the cutoff, in
	// transactions of at most MaxPurgeBatch rows. An anonymized response
	// keeps only its score, segments and day: it is stored again under a
	// new ID made from the start of that day (UTC), without idempotency
	// key, pseudonyms, key ID or ciphertexts, so nothing links it to the
	// response it was. The receipt counts and digests the IDs it replaced.
	Purge(ctx context.Context, req PurgeRequest) (PurgeReceipt, error)
	// Erase deletes every response whose customer-ID or email pseudonym is
	// one of req.Subjects and returns the receipt: how many there were and
	// the digest of their IDs. A receipt with a RequestID is stored with
	// the deletes, in their transaction; an erasure whose RequestID is
	// already stored deletes nothing and returns that receipt, Replayed.
	Erase(ctx context.Context, req EraseRequest) (EraseReceipt, error)
	// Rewrap calls fn on up to limit records whose personal fields are
	// sealed by a key other than activeKeyID, stores what fn returns, and
	// says how many records it handed to fn: 0 when none is left. A record
	// erased, purged or re-wrapped elsewhere between the read and the write
	// is counted there but left as the other change left it.
	Rewrap(ctx context.Context, activeKeyID string, limit int, fn func(*Record) error) (int, error)
	// Size says how many bytes the store holds: for SQLite the database's
	// pages in use (free pages left by deletes do not count; nor does the
	// write-ahead log), for PostgreSQL the database.
	Size(ctx context.Context) (int64, error)
	// Meta returns the value stored under key by SetMeta; ok is false when
	// there is none.
	Meta(ctx context.Context, key string) (value string, ok bool, err error)
	// SetMeta durably stores value under key, replacing any earlier value.
	// Keys the store keeps for itself (the last purge receipt, and erasure
	// receipts: every key starting with "erasure/") are refused.
	SetMeta(ctx context.Context, key, value string) error
	// Ping checks that the store is reachable.
	Ping(ctx context.Context) error
	// Close flushes pending writes and releases the store.
	Close() error
}

// ErrClosed is returned by a store that has been closed.
var ErrClosed = errors.New("store is closed")

// ErrNotFound is returned for a response that is not stored.
var ErrNotFound = errors.New("response not found")

// ErrNoSpace is wrapped around the error of a write that failed because
// the database is out of disk space (SQLite's SQLITE_FULL, PostgreSQL's
// disk_full): errors.Is finds it, and the error keeps the database's
// message. Nothing of the failed write is stored; what was acknowledged
// before stays.
var ErrNoSpace = errors.New("no space left for the store")

// NewID returns a response ID: 48 bits of milliseconds then 80 random bits,
// hex encoded, so IDs sort by time and never collide in practice.
func NewID(now time.Time) string {
	var b [16]byte
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(now.UnixMilli()))
	copy(b[:6], ms[2:])
	_, _ = rand.Read(b[6:])
	return hex.EncodeToString(b[:])
}
