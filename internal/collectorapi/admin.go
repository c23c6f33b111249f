package collectorapi

import (
	"fmt"
	"math"
	"time"

	"github.com/surveyguard/surveyguard/internal/nps"
)

// The admin API's bodies: what GET /admin/v1/stats answers, what POST
// /admin/v1/purge and /admin/v1/erase take and give back.

// CallerHeader names the admin API's caller: "operator" (the operator),
// "job/<name>" (a retention Job's purge run) or "purge" (a purge run by
// hand). The token authenticates; the header only tells callers apart, and
// anything else is logged as "unknown".
const CallerHeader = "Surveyguard-Caller"

// Stats is the body of GET /admin/v1/stats: what the operator publishes.
type Stats struct {
	Campaign string `json:"campaign"`
	nps.Result
	DistinctCustomers int64            `json:"distinctCustomers"`
	OldestRecordTime  *time.Time       `json:"oldestRecordTime,omitempty"`
	Redactions        map[string]int64 `json:"redactions"`
	ActiveKeyID       string           `json:"activeKeyID"`
	RewrapPending     int64            `json:"rewrapPending"`
	LastPurge         *PurgeReceipt    `json:"lastPurge,omitempty"`
	// MissingKeyIDs are data keys whose files are gone while stored
	// responses are still sealed by them: kept in memory until the files
	// come back, and /readyz fails meanwhile. Empty, never absent, when none.
	MissingKeyIDs []string `json:"missingKeyIDs"`
	// ChangedKeyIDs are those of MissingKeyIDs whose files are there but
	// hold other bytes than the key that sealed stored responses under the
	// same ID; absent when none.
	ChangedKeyIDs []string `json:"changedKeyIDs,omitempty"`
	// HMACKeyRejected is true when the hmac file changed while stored
	// responses carry pseudonyms made with the previous key: the previous
	// key stays in use (erasure and customer counts depend on it).
	HMACKeyRejected bool `json:"hmacKeyRejected"`
	// Storage is the storage budget and whether ingest is stopped by it.
	Storage StorageStats `json:"storage"`
	// AdminOnly is true when the collector runs with --admin-only: its
	// public listener is not open, so it takes no responses.
	AdminOnly bool `json:"adminOnly,omitempty"`
}

// StorageStats is the state of the storage budget.
type StorageStats struct {
	// UsedBytes is the store's size (SQLite: the database's pages in use;
	// PostgreSQL: the database).
	UsedBytes int64 `json:"usedBytes"`
	// MaxBytes is limits.maxStoreSize; 0 when unset.
	MaxBytes int64 `json:"maxBytes,omitempty"`
	// FreeBytes is the free space of the SQLite volume; absent for PostgreSQL.
	FreeBytes *int64 `json:"freeBytes,omitempty"`
	// MinFreeBytes is limits.minFreeDisk.
	MinFreeBytes int64 `json:"minFreeBytes,omitempty"`
	// Full is true while ingest answers 503 because of the budget.
	Full bool `json:"full"`
	// Reason says, when Full, which limit was reached, in words.
	Reason string `json:"reason,omitempty"`
}

// PurgeRequest is the body of POST /admin/v1/purge.
type PurgeRequest struct {
	Cutoff time.Time `json:"cutoff"`
	// Everything, instead of a cutoff, purges every response received up to
	// the collector's own current time (a campaign being deleted).
	Everything bool        `json:"everything,omitempty"`
	Action     PurgeAction `json:"action,omitempty"`
	DryRun     bool        `json:"dryRun,omitempty"`
	// Job names what asked for the purge (the retention Job); it is kept on
	// the receipt.
	Job string `json:"job,omitempty"`
}

// EraseRequest is the body of POST /admin/v1/erase: exactly one identifier,
// and the request's ID.
type EraseRequest struct {
	CustomerID string `json:"customerID,omitempty"`
	Email      string `json:"email,omitempty"`
	// RequestID names the erasure: the ErasureRequest's UID, at most 64 of
	// [A-Za-z0-9-]. The collector answers a RequestID it has already erased
	// with that first receipt (Replayed) and erases nothing more, so a retry
	// after a lost answer is safe. Empty, every call erases anew.
	RequestID string `json:"requestID,omitempty"`
}

// EraseReceipt records an erasure. It holds no identifier and no
// pseudonym: a collector keeps the receipt of a named erasure (one with a
// RequestID) after the responses are gone.
type EraseReceipt struct {
	// RequestID is the request's, or empty.
	RequestID string `json:"requestID,omitempty"`
	// Erased is how many responses were deleted.
	Erased int64 `json:"erased"`
	// Digest is the SHA-256, in hex, of the erased responses' IDs in ID
	// order, each followed by a line feed (a purge receipt's lines, which
	// come in receive-time order).
	Digest string `json:"digest"`
	// StartedAt is when the erasure began; FinishedAt when its deletes were
	// done, in the transaction that committed them and the receipt.
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt"`
	// Replayed is true when the answer is the stored receipt of an earlier
	// erasure with the same RequestID: this call erased nothing.
	Replayed bool `json:"replayed,omitempty"`
}

// PurgeAction is what a purge does to an old response.
type PurgeAction string

// The purge actions.
const (
	PurgeDelete    PurgeAction = "Delete"
	PurgeAnonymize PurgeAction = "Anonymize"
)

// PurgeReceipt records a purge.
type PurgeReceipt struct {
	Cutoff     time.Time   `json:"cutoff"`
	Action     PurgeAction `json:"action"`
	DryRun     bool        `json:"dryRun,omitempty"`
	Job        string      `json:"job,omitempty"`
	Purged     int64       `json:"purged"`
	Anonymized int64       `json:"anonymized"`
	StartedAt  time.Time   `json:"startedAt"`
	FinishedAt time.Time   `json:"finishedAt"`
	// Digest is the SHA-256, in hex, of the IDs purged or anonymized, in order.
	Digest string `json:"digest"`
}

// HumanBytes writes n bytes as 412Mi, 2.1Gi or 512B: one decimal below 10
// of a unit, none above, rounded down.
func HumanBytes(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%dB", max(n, 0))
	}
	units := []string{"Ki", "Mi", "Gi", "Ti", "Pi", "Ei"}
	v, i := float64(n)/1024, 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if v < 10 {
		tenths := math.Floor(v * 10)
		if int(tenths)%10 == 0 {
			return fmt.Sprintf("%d%s", int(tenths)/10, units[i])
		}
		return fmt.Sprintf("%.1f%s", tenths/10, units[i])
	}
	return fmt.Sprintf("%d%s", int(math.Floor(v)), units[i])
}
