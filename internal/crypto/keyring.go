// Package crypto holds a campaign's keys and what is done with them: field
// encryption with AES-256-GCM, each ciphertext carrying its key ID, and keyed
// HMAC-SHA256 pseudonyms that find a respondent without decrypting anything.
//
// The keys come from a directory (the campaign's key Secret, mounted):
//
//	active       the ID of the key that encrypts new data, e.g. "k3"
//	key-<id>     32 random bytes: one AES-256 data key per ID
//	hmac         at least 32 random bytes: the pseudonym key
//
// Key IDs are 1 to 16 characters of [a-z0-9]. Old data keys stay in the
// directory, for decryption, until every ciphertext under them is re-wrapped.
package crypto

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

const (
	// ActiveFile names the file holding the active key ID.
	ActiveFile = "active"
	// HMACFile names the file holding the pseudonym key.
	HMACFile = "hmac"
	// KeyFilePrefix prefixes the file of each data key: key-<id>.
	KeyFilePrefix = "key-"

	keySize     = 32
	minHMACSize = 32
	formatV1    = 1
)

var keyIDPattern = regexp.MustCompile(`^[a-z0-9]{1,16}$`)

// Keyring is a loaded, immutable set of keys. It is safe for concurrent use.
type Keyring struct {
	active  string
	aeads   map[string]cipher.AEAD
	hmacKey []byte
	// fingerprints identify each data key's bytes (Fingerprint).
	fingerprints map[string]string
}

// Load reads the keys in dir and checks them: the active key must exist,
// every data key must be 32 bytes and the HMAC key at least 32.
func Load(dir string) (*Keyring, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading the key directory: %w", err)
	}
	keys := map[string][]byte{}
	for _, e := range entries {
		id, ok := strings.CutPrefix(e.Name(), KeyFilePrefix)
		if !ok || e.IsDir() {
			continue
		}
		if !keyIDPattern.MatchString(id) {
			return nil, fmt.Errorf("key file %q: the key ID must be 1 to 16 characters of [a-z0-9]", e.Name())
		}
		k, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("reading key %s: %w", id, err)
		}
		keys[id] = k
	}
	active, err := os.ReadFile(filepath.Join(dir, ActiveFile))
	if err != nil {
		return nil, fmt.Errorf("reading the active key ID: %w", err)
	}
	hmacKey, err := os.ReadFile(filepath.Join(dir, HMACFile))
	if err != nil {
		return nil, fmt.Errorf("reading the HMAC key: %w", err)
	}
	return New(strings.TrimSpace(string(active)), keys, hmacKey)
}

// New builds a keyring from keys in memory.
func New(active string, keys map[string][]byte, hmacKey []byte) (*Keyring, error) {
	if len(hmacKey) < minHMACSize {
		return nil, fmt.Errorf("the HMAC key is %d bytes; it must be at least %d", len(hmacKey), minHMACSize)
	}
	if _, ok := keys[active]; !ok {
		return nil, fmt.Errorf("the active key %q has no key-%s file", active, active)
	}
	kr := &Keyring{active: active, aeads: make(map[string]cipher.AEAD, len(keys)), hmacKey: bytes.Clone(hmacKey),
		fingerprints: make(map[string]string, len(keys))}
	for id, k := range keys {
		if !keyIDPattern.MatchString(id) {
			return nil, fmt.Errorf("key ID %q must be 1 to 16 characters of [a-z0-9]", id)
		}
		if len(k) != keySize {
			return nil, fmt.Errorf("key %s is %d bytes; an AES-256 key is %d", id, len(k), keySize)
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		kr.aeads[id] = aead
		m := hmac.New(sha256.New, k)
		m.Write([]byte("surveyguard/data-key-fingerprint/v1"))
		kr.fingerprints[id] = base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
	}
	return kr, nil
}

// Fingerprint identifies data key id's bytes without revealing them (an
// HMAC of a fixed text under the key), "" when k lacks it: the collector
// keeps it beside what the key seals, to notice a file that holds other
// bytes under the same ID.
func (k *Keyring) Fingerprint(id string) string { return k.fingerprints[id] }

// WithKeyOf returns a copy of k whose data key id is prev's: a file that
// holds other bytes is not taken while stored data is sealed by the old ones.
func (k *Keyring) WithKeyOf(prev *Keyring, id string) *Keyring {
	out := k.clone()
	out.aeads[id], out.fingerprints[id] = prev.aeads[id], prev.fingerprints[id]
	return out
}

// Without returns a copy of k without data key id, which must not be the
// active one.
func (k *Keyring) Without(id string) *Keyring {
	if id == k.active {
		panic("crypto: the active key cannot be left out of a keyring")
	}
	out := k.clone()
	delete(out.aeads, id)
	delete(out.fingerprints, id)
	return out
}

// clone copies k's maps, so that a copy can change them.
func (k *Keyring) clone() *Keyring {
	out := *k
	out.aeads, out.fingerprints = maps.Clone(k.aeads), maps.Clone(k.fingerprints)
	return &out
}

// ActiveKeyID is the ID of the key that encrypts new data.
func (k *Keyring) ActiveKeyID() string { return k.active }

// KeyIDs lists every data key's ID, sorted.
func (k *Keyring) KeyIDs() []string {
	ids := make([]string, 0, len(k.aeads))
	for id := range k.aeads {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Encrypt seals plaintext under the active key with a random 96-bit nonce.
// The associated data binds the ciphertext to its field and record, so a
// ciphertext copied into another field or row does not decrypt. The result
// is: format byte, key ID length, key ID, nonce, sealed data.
func (k *Keyring) Encrypt(field, recordID string, plaintext []byte) ([]byte, error) {
	aead := k.aeads[k.active]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("reading a nonce: %w", err)
	}
	out := make([]byte, 0, 2+len(k.active)+len(nonce)+len(plaintext)+aead.Overhead())
	out = append(out, formatV1, byte(len(k.active))) //nolint:gosec // G115: key IDs are at most 16 bytes (checked in New)
	out = append(out, k.active...)
	out = append(out, nonce...)
	return aead.Seal(out, nonce, plaintext, associatedData(field, recordID)), nil
}

// ErrUnknownKey is returned for a ciphertext under a key the keyring lacks.
var ErrUnknownKey = errors.New("ciphertext key is not in the keyring")

// Decrypt opens a ciphertext made by Encrypt for the same field and record.
func (k *Keyring) Decrypt(field, recordID string, ciphertext []byte) ([]byte, error) {
	id, rest, err := splitKeyID(ciphertext)
	if err != nil {
		return nil, err
	}
	aead, ok := k.aeads[id]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownKey, id)
	}
	if len(rest) < aead.NonceSize()+aead.Overhead() {
		return nil, errors.New("ciphertext too short")
	}
	nonce, sealed := rest[:aead.NonceSize()], rest[aead.NonceSize():]
	pt, err := aead.Open(nil, nonce, sealed, associatedData(field, recordID))
	if err != nil {
		return nil, fmt.Errorf("decrypting %s with key %s: %w", field, id, err)
	}
	return pt, nil
}

// KeyID returns the ID of the key a ciphertext was sealed with.
func KeyID(ciphertext []byte) (string, error) {
	id, _, err := splitKeyID(ciphertext)
	return id, err
}

// NeedsRewrap reports whether a ciphertext is under a key other than the active one.
func (k *Keyring) NeedsRewrap(ciphertext []byte) bool {
	id, err := KeyID(ciphertext)
	return err == nil && id != k.active
}

// Rewrap decrypts a ciphertext and seals it again under the active key.
func (k *Keyring) Rewrap(field, recordID string, ciphertext []byte) ([]byte, error) {
	pt, err := k.Decrypt(field, recordID, ciphertext)
	if err != nil {
		return nil, err
	}
	return k.Encrypt(field, recordID, pt)
}

func splitKeyID(c []byte) (string, []byte, error) {
	if len(c) < 2 || c[0] != formatV1 {
		return "", nil, errors.New("not a surveyguard ciphertext (unknown format)")
	}
	n := int(c[1])
	if n == 0 || len(c) < 2+n {
		return "", nil, errors.New("ciphertext key ID is truncated")
	}
	return string(c[2 : 2+n]), c[2+n:], nil
}

func associatedData(field, recordID string) []byte {
	return []byte("surveyguard/v1\x00" + field + "\x00" + recordID)
}

// Identifier kinds a pseudonym is made for. They are part of the HMAC input,
// so an email and a customer ID with the same text have different pseudonyms.
const (
	// KindEmail is an email address: compared trimmed and in lower case.
	KindEmail = "email"
	// KindCustomerID is a customer ID: compared trimmed, case kept, so two
	// customers whose IDs differ only by case stay two people.
	KindCustomerID = "customerID.v2"
	// KindIdempotencyKey is a client's Idempotency-Key header, compared exactly.
	KindIdempotencyKey = "idempotencyKey"

	// kindLegacyCustomerID made the customer-ID pseudonyms of versions that
	// lower-cased customer IDs (see LegacyCustomerIDPseudonym).
	kindLegacyCustomerID = "customerID"
)

// Pseudonym returns the keyed HMAC-SHA256 of a normalized identifier,
// truncated to 128 bits and base64url encoded (22 characters): short index
// entries, and no collision in practice below 2^64 people. The same person
// gets the same pseudonym in every request, so it counts distinct customers
// and finds a person for erasure; without the HMAC key it reveals nothing.
// Normalize says how each kind is compared.
func (k *Keyring) Pseudonym(kind, value string) string {
	return k.mac(kind, Normalize(kind, value))
}

// LegacyCustomerIDPseudonym is the pseudonym earlier versions stored for a
// customer ID (lower-cased). Erasure looks for it too, so responses stored
// before the upgrade are still found; it is never stored any more.
func (k *Keyring) LegacyCustomerIDPseudonym(value string) string {
	return k.mac(kindLegacyCustomerID, strings.ToLower(strings.TrimSpace(value)))
}

func (k *Keyring) mac(kind, value string) string {
	m := hmac.New(sha256.New, k.hmacKey)
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(value))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// Normalize is the form an identifier of a kind is compared in: an email
// trimmed and lower-cased, a customer ID trimmed, anything else as it is.
func Normalize(kind, value string) string {
	switch kind {
	case KindEmail:
		return strings.ToLower(strings.TrimSpace(value))
	case KindCustomerID:
		return strings.TrimSpace(value)
	default:
		return value
	}
}

// HMACFingerprint identifies the pseudonym key without revealing it: the
// collector stores it beside the pseudonyms, to notice a changed key.
func (k *Keyring) HMACFingerprint() string {
	return k.mac("fingerprint", "surveyguard/v1")
}

// WithHMACKeyOf returns a copy of k that makes pseudonyms with prev's HMAC
// key: a changed hmac file is not taken while stored pseudonyms need the old one.
func (k *Keyring) WithHMACKeyOf(prev *Keyring) *Keyring {
	out := *k
	out.hmacKey = prev.hmacKey
	return &out
}

// Retain returns a copy of k that also holds prev's keys among ids that k
// lacks (their files are gone, but stored data is still sealed by them),
// and the IDs it took from prev.
func (k *Keyring) Retain(prev *Keyring, ids []string) (*Keyring, []string) {
	var kept []string
	out := k.clone()
	for _, id := range ids {
		if _, ok := k.aeads[id]; ok {
			continue
		}
		if a, ok := prev.aeads[id]; ok {
			out.aeads[id], out.fingerprints[id] = a, prev.fingerprints[id]
			kept = append(kept, id)
		}
	}
	sort.Strings(kept)
	return out, kept
}

// Has reports whether the keyring holds the data key id.
func (k *Keyring) Has(id string) bool {
	_, ok := k.aeads[id]
	return ok
}

// NewKey returns 32 random bytes: a fresh data key or HMAC key.
func NewKey() ([]byte, error) {
	k := make([]byte, keySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("reading random bytes: %w", err)
	}
	return k, nil
}
