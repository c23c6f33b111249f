package crypto

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mustKey(t *testing.T) []byte {
	t.Helper()
	k, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newRing(t *testing.T, active string, ids ...string) (*Keyring, map[string][]byte, []byte) {
	t.Helper()
	keys := map[string][]byte{}
	for _, id := range ids {
		keys[id] = mustKey(t)
	}
	h := mustKey(t)
	kr, err := New(active, keys, h)
	if err != nil {
		t.Fatal(err)
	}
	return kr, keys, h
}

func TestEncryptDecryptRoundTrip(t *testing.T) {
	kr, _, _ := newRing(t, "k1", "k1")
	for _, pt := range []string{"", "a", "person@example.com", strings.Repeat("long comment ", 500)} {
		ct, err := kr.Encrypt("email", "r1", []byte(pt))
		if err != nil {
			t.Fatal(err)
		}
		// Short texts turn up in random bytes by chance (one byte: ~15% of
		// the time); only texts of 8 bytes or more prove anything here.
		if len(pt) >= 8 && bytes.Contains(ct, []byte(pt)) {
			t.Fatalf("the ciphertext contains the plaintext %q", pt)
		}
		if id, _ := KeyID(ct); id != "k1" {
			t.Fatalf("key ID = %q, want k1", id)
		}
		got, err := kr.Decrypt("email", "r1", ct)
		if err != nil || string(got) != pt {
			t.Fatalf("Decrypt = %q, %v; want %q", got, err, pt)
		}
	}
}

func TestNoncesAreFresh(t *testing.T) {
	kr, _, _ := newRing(t, "k1", "k1")
	a, _ := kr.Encrypt("email", "r1", []byte("same"))
	b, _ := kr.Encrypt("email", "r1", []byte("same"))
	if bytes.Equal(a, b) {
		t.Fatal("two encryptions of the same text are identical: the nonce was reused")
	}
}

func TestCiphertextBoundToFieldAndRecord(t *testing.T) {
	kr, _, _ := newRing(t, "k1", "k1")
	ct, _ := kr.Encrypt("email", "r1", []byte("person@example.com"))
	if _, err := kr.Decrypt("comment", "r1", ct); err == nil {
		t.Error("a ciphertext moved to another field decrypted")
	}
	if _, err := kr.Decrypt("email", "r2", ct); err == nil {
		t.Error("a ciphertext moved to another record decrypted")
	}
	tampered := bytes.Clone(ct)
	tampered[len(tampered)-1] ^= 1
	if _, err := kr.Decrypt("email", "r1", tampered); err == nil {
		t.Error("a tampered ciphertext decrypted")
	}
	for _, junk := range [][]byte{nil, {9, 1, 'k'}, {formatV1}, {formatV1, 5, 'k'}, {formatV1, 2, 'k', '1'}} {
		if _, err := kr.Decrypt("email", "r1", junk); err == nil {
			t.Errorf("junk %v decrypted", junk)
		}
	}
}

func TestRotationAndRewrap(t *testing.T) {
	old, keys, h := newRing(t, "k1", "k1")
	ct, _ := old.Encrypt("customerID", "r1", []byte("C-1234"))

	keys["k2"] = mustKey(t)
	rotated, err := New("k2", keys, h)
	if err != nil {
		t.Fatal(err)
	}
	if !rotated.NeedsRewrap(ct) {
		t.Fatal("a ciphertext under the old key does not need a re-wrap")
	}
	if pt, err := rotated.Decrypt("customerID", "r1", ct); err != nil || string(pt) != "C-1234" {
		t.Fatalf("the old key no longer decrypts after rotation: %q %v", pt, err)
	}
	re, err := rotated.Rewrap("customerID", "r1", ct)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := KeyID(re); id != "k2" || rotated.NeedsRewrap(re) {
		t.Fatalf("re-wrapped ciphertext is under %q, want k2", id)
	}

	delete(keys, "k1")
	shredded, err := New("k2", keys, h)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := shredded.Decrypt("customerID", "r1", ct); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("a ciphertext under a destroyed key: got %v, want ErrUnknownKey", err)
	}
	if pt, err := shredded.Decrypt("customerID", "r1", re); err != nil || string(pt) != "C-1234" {
		t.Fatalf("the re-wrapped ciphertext does not decrypt: %q %v", pt, err)
	}
}

func TestPseudonym(t *testing.T) {
	kr, _, _ := newRing(t, "k1", "k1")
	a := kr.Pseudonym(KindEmail, "Person@Example.com ")
	if a != kr.Pseudonym(KindEmail, "person@example.com") {
		t.Error("an email pseudonym does not normalize case and spaces")
	}
	if a == kr.Pseudonym(KindCustomerID, "person@example.com") {
		t.Error("an email and a customer ID with the same text share a pseudonym")
	}
	if strings.Contains(a, "person") || len(a) != 22 {
		t.Errorf("pseudonym %q is not a 128-bit base64url HMAC", a)
	}
	other, _, _ := newRing(t, "k1", "k1")
	if a == other.Pseudonym(KindEmail, "person@example.com") {
		t.Error("two HMAC keys give the same pseudonym")
	}
	if kr.HMACFingerprint() == other.HMACFingerprint() {
		t.Error("the HMAC fingerprint does not tell two keys apart")
	}
}

// TestCustomerIDsKeepTheirCase: two customers whose IDs differ by case are
// two people; the pseudonym earlier versions stored (lower-cased) is still
// computable for erasure, and never equals a current one.
func TestCustomerIDsKeepTheirCase(t *testing.T) {
	kr, _, _ := newRing(t, "k1", "k1")
	if kr.Pseudonym(KindCustomerID, "C-1234") == kr.Pseudonym(KindCustomerID, "c-1234") {
		t.Error("customer IDs C-1234 and c-1234 share a pseudonym")
	}
	if kr.Pseudonym(KindCustomerID, " C-1234 ") != kr.Pseudonym(KindCustomerID, "C-1234") {
		t.Error("surrounding spaces change a customer ID's pseudonym")
	}
	legacy := kr.LegacyCustomerIDPseudonym("C-1234")
	if legacy != kr.LegacyCustomerIDPseudonym("c-1234 ") {
		t.Error("the legacy pseudonym does not lower-case")
	}
	for _, v := range []string{"C-1234", "c-1234"} {
		if kr.Pseudonym(KindCustomerID, v) == legacy {
			t.Errorf("the current pseudonym of %q equals a legacy one", v)
		}
	}
	if kr.Pseudonym(KindIdempotencyKey, "Key-1") == kr.Pseudonym(KindIdempotencyKey, "key-1") {
		t.Error("idempotency keys are not compared exactly")
	}
}

func TestRetainAndHMACKeyOf(t *testing.T) {
	prev, _, _ := newRing(t, "k2", "k1", "k2")
	files, _, _ := newRing(t, "k3", "k3")
	ct, err := prev.Encrypt("comment", "r1", []byte("kept"))
	if err != nil {
		t.Fatal(err)
	}
	kr, kept := files.Retain(prev, []string{"k1", "k3", "k9"})
	if strings.Join(kept, ",") != "k1" || !kr.Has("k1") || kr.Has("k2") || kr.ActiveKeyID() != "k3" {
		t.Fatalf("Retain kept %v, keys %v, active %s; want k1 taken from the previous ring", kept, kr.KeyIDs(), kr.ActiveKeyID())
	}
	if files.Has("k1") {
		t.Error("Retain changed the keyring it was called on")
	}
	if _, err := kr.Decrypt("comment", "r1", ct); err == nil {
		t.Error("k2 was not asked for, but its ciphertext decrypts") // prev's active key k2 sealed ct
	}
	same := files.WithHMACKeyOf(prev)
	if same.Pseudonym(KindEmail, "a@b.c") != prev.Pseudonym(KindEmail, "a@b.c") || same.ActiveKeyID() != "k3" {
		t.Error("WithHMACKeyOf did not take the previous pseudonym key, or lost the data keys")
	}
}

func TestFingerprintsAndKeyOf(t *testing.T) {
	prev, keys, h := newRing(t, "k1", "k1", "k2")
	again, err := New("k1", keys, h)
	if err != nil {
		t.Fatal(err)
	}
	if fp := prev.Fingerprint("k1"); fp == "" || fp != again.Fingerprint("k1") || fp == prev.Fingerprint("k2") || prev.Fingerprint("k9") != "" {
		t.Fatalf("fingerprints k1 %q (again %q), k2 %q, k9 %q: want one per key's bytes, none for a key not held",
			fp, again.Fingerprint("k1"), prev.Fingerprint("k2"), prev.Fingerprint("k9"))
	}
	if strings.Contains(prev.Fingerprint("k1"), base64.RawURLEncoding.EncodeToString(keys["k1"])[:8]) {
		t.Error("the fingerprint shows the key")
	}
	ct, err := prev.Encrypt("comment", "r1", []byte("sealed by the first k1"))
	if err != nil {
		t.Fatal(err)
	}
	files, _, _ := newRing(t, "k1", "k1", "k2") // other bytes under the same IDs
	if _, err := files.Decrypt("comment", "r1", ct); err == nil {
		t.Fatal("other bytes under k1 opened k1's ciphertext")
	}
	kr := files.WithKeyOf(prev, "k1")
	if pt, err := kr.Decrypt("comment", "r1", ct); err != nil || string(pt) != "sealed by the first k1" || kr.Fingerprint("k1") != prev.Fingerprint("k1") {
		t.Errorf("WithKeyOf: %q, %v, fingerprint %q; want the first k1's bytes", pt, err, kr.Fingerprint("k1"))
	}
	if files.Fingerprint("k1") == prev.Fingerprint("k1") {
		t.Error("WithKeyOf changed the keyring it was called on")
	}
	if out := kr.Without("k2"); out.Has("k2") || out.Fingerprint("k2") != "" || !kr.Has("k2") {
		t.Error("Without kept k2, or changed the keyring it was called on")
	}
	defer func() {
		if recover() == nil {
			t.Error("Without took the active key out")
		}
	}()
	kr.Without("k1")
}

func TestLoad(t *testing.T) {
	write := func(t *testing.T, files map[string][]byte) string {
		t.Helper()
		dir := t.TempDir()
		for name, data := range files {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	k1, k2, h := mustKey(t), mustKey(t), mustKey(t)
	good := map[string][]byte{"active": []byte("k2\n"), "key-k1": k1, "key-k2": k2, "hmac": h}
	kr, err := Load(write(t, good))
	if err != nil {
		t.Fatal(err)
	}
	if kr.ActiveKeyID() != "k2" || strings.Join(kr.KeyIDs(), ",") != "k1,k2" {
		t.Fatalf("loaded active %q, keys %v", kr.ActiveKeyID(), kr.KeyIDs())
	}

	cases := []struct {
		name   string
		change func(map[string][]byte)
		want   string
	}{
		{"no active file", func(m map[string][]byte) { delete(m, "active") }, "active key ID"},
		{"active key missing", func(m map[string][]byte) { m["active"] = []byte("k9") }, `"k9"`},
		{"short data key", func(m map[string][]byte) { m["key-k1"] = k1[:16] }, "key k1 is 16 bytes"},
		{"bad key ID", func(m map[string][]byte) { m["key-K_1"] = k1 }, "key-K_1"},
		{"no HMAC key", func(m map[string][]byte) { delete(m, "hmac") }, "HMAC key"},
		{"short HMAC key", func(m map[string][]byte) { m["hmac"] = h[:8] }, "HMAC key is 8 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string][]byte{}
			for k, v := range good {
				files[k] = v
			}
			tc.change(files)
			_, err := Load(write(t, files))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load error = %v; want one naming %s", err, tc.want)
			}
		})
	}
}
