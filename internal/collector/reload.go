package collector

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/surveyguard/surveyguard/internal/crypto"
	"github.com/surveyguard/surveyguard/internal/store"
)

// secrets holds what comes from mounted Secret files: the keyring and the
// admin token, each reloaded on its own, so a token file that fails to load
// never holds back a key change or the other way round. A change that does
// not load (a key file half written, say) keeps the last good set.
type secrets struct {
	keysDir, tokenFile string

	keys  atomic.Pointer[crypto.Keyring]
	token atomic.Pointer[[]byte]

	// files is the keyring as last loaded from the files, before keys the
	// store still needs were retained; keysSig and tokenSig detect changes.
	files             *crypto.Keyring
	keysSig, tokenSig []byte

	// missing lists data keys stored responses are sealed by but whose
	// files are gone; hmacRejected says the hmac file changed while stored
	// pseudonyms need the previous key, and hmacUnusable that no previous
	// key was at hand (the collector started with the changed file).
	missing      atomic.Pointer[[]string]
	hmacRejected atomic.Bool
	hmacUnusable atomic.Bool
	// changed lists data keys whose files hold other bytes than the key
	// that sealed stored responses (reported missing too), and
	// activeUnusable says the active one is among them with its old bytes
	// not at hand: nothing is sealed or re-wrapped until it is restored.
	changed        atomic.Pointer[[]string]
	activeUnusable atomic.Bool
	// settled is true once a reconcile found every needed key and the hmac
	// key accepted: until the files change, the store need not be asked
	// again (only the active key gains responses, and the fingerprint is
	// the collector's own record).
	settled atomic.Bool
}

func loadSecrets(keysDir, tokenFile string) (*secrets, error) {
	s := &secrets{keysDir: keysDir, tokenFile: tokenFile}
	if _, err := s.reloadToken(); err != nil {
		return nil, err
	}
	kr, sig, err := loadKeyFiles(keysDir)
	if err != nil {
		return nil, err
	}
	s.files, s.keysSig = kr, sig
	s.keys.Store(kr)
	s.missing.Store(&[]string{})
	s.changed.Store(&[]string{})
	return s, nil
}

// reloadToken reads the token file again and swaps it in when it changed.
func (s *secrets) reloadToken() (changed bool, err error) {
	sig, err := dirSignature("", s.tokenFile)
	if err != nil {
		return false, fmt.Errorf("admin token: %w", err)
	}
	if s.tokenSig != nil && bytes.Equal(sig, s.tokenSig) {
		return false, nil
	}
	tok, err := os.ReadFile(s.tokenFile)
	if err != nil {
		return false, fmt.Errorf("admin token: %w", err)
	}
	tok = bytes.TrimSpace(tok)
	if len(tok) < 16 {
		return false, fmt.Errorf("admin token: %s holds %d bytes; at least 16 are needed", s.tokenFile, len(tok))
	}
	s.token.Store(&tok)
	s.tokenSig = sig
	return true, nil
}

func loadKeyFiles(dir string) (*crypto.Keyring, []byte, error) {
	sig, err := dirSignature(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("keys: %w", err)
	}
	kr, err := crypto.Load(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("keys: %w", err)
	}
	return kr, sig, nil
}

// metaHMACFingerprint is the store's record of the pseudonym key in use.
const metaHMACFingerprint = "hmacFingerprint"

// metaKeyFingerprint, followed by a data key's ID, is the store's record of
// the bytes that key seals with (crypto.Keyring.Fingerprint).
const metaKeyFingerprint = "keyFingerprint/"

// reconcileKeys loads changed key files and decides, against what the
// store holds, which keys to use:
//   - a data key whose file is gone stays in memory while stored responses
//     are sealed by it, and is reported missing (stats, metrics, /readyz);
//   - a changed hmac file is refused while stored responses carry
//     pseudonyms made with the previous key, which stays in use;
//   - a data key file that holds other bytes than the key that sealed
//     stored responses under its ID is refused the same way
//     (checkKeyBytes).
func (s *Server) reconcileKeys(ctx context.Context) error {
	sec := s.secrets
	sig, err := dirSignature(sec.keysDir)
	if err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	changed := !bytes.Equal(sig, sec.keysSig)
	if !changed && sec.settled.Load() {
		return nil // same files, and nothing was missing or refused: nothing to decide
	}
	if changed {
		kr, sig, err := loadKeyFiles(sec.keysDir)
		if err != nil {
			return errors.Join(err, s.reportGoneKeys(ctx))
		}
		sec.files, sec.keysSig = kr, sig
	}
	st, err := s.store.Stats(ctx)
	if err != nil {
		return fmt.Errorf("keys: reading which keys stored responses need: %w", err)
	}
	prev, files := sec.keys.Load(), sec.files
	var referenced, missing []string
	for id, n := range st.KeyIDs {
		if n > 0 {
			referenced = append(referenced, id)
			if !files.Has(id) {
				missing = append(missing, id)
			}
		}
	}
	kr, _ := files.Retain(prev, referenced)
	kr, otherBytes, activeUnusable, err := s.checkKeyBytes(ctx, kr, prev, st)
	if err != nil {
		return err
	}
	for _, id := range otherBytes {
		if !slices.Contains(missing, id) {
			missing = append(missing, id)
		}
	}
	sort.Strings(missing)

	fp, known, err := s.store.Meta(ctx, metaHMACFingerprint)
	if err != nil {
		return fmt.Errorf("keys: reading the pseudonym key's fingerprint: %w", err)
	}
	rejected, unusable := false, false
	switch {
	case known && fp != files.HMACFingerprint() && (st.DistinctCustomers > 0 || st.Counts.Total() > 0):
		// Stored pseudonyms and idempotency-key hashes need the previous key.
		rejected = true
		if prev.HMACFingerprint() == fp {
			kr = kr.WithHMACKeyOf(prev)
		} else {
			unusable = true
		}
	case !known || fp != files.HMACFingerprint():
		// Nothing is stored yet (or the store predates fingerprints): this
		// key is the one from now on.
		if err := s.store.SetMeta(ctx, metaHMACFingerprint, files.HMACFingerprint()); err != nil {
			return fmt.Errorf("keys: recording the pseudonym key's fingerprint: %w", err)
		}
	}
	if rejected && !sec.hmacRejected.Load() {
		s.log.Error(errHMACChanged, "refusing the new hmac key: stored responses carry pseudonyms or idempotency-key hashes made with the previous one; restore the previous hmac file",
			"responses", st.Counts.Total(), "customers", st.DistinctCustomers, "previousKeyInUse", !unusable)
	}
	sec.hmacRejected.Store(rejected)
	if len(otherBytes) > 0 && !slices.Equal(otherBytes, *sec.changed.Load()) {
		s.log.Error(errKeyChanged, "data key files hold other bytes than the keys that sealed stored responses under their IDs; the old bytes are kept in memory where loaded (else the key counts as missing), restore the files",
			"keyIDs", otherBytes, "activeKeyUnusable", activeUnusable)
	}
	sec.changed.Store(&otherBytes)
	s.setMissingKeys(missing)
	sec.settled.Store(len(missing) == 0 && !rejected)
	if prev.ActiveKeyID() != kr.ActiveKeyID() {
		s.log.Info("keys reloaded", "activeKeyID", kr.ActiveKeyID())
	}
	// save reads these flags, then the keyring: a flag that stops sealing
	// (or pseudonyms) is raised before the keyring it guards is published,
	// and lowered only after the keyring that needs it no more is.
	if unusable {
		sec.hmacUnusable.Store(true)
	}
	if activeUnusable {
		sec.activeUnusable.Store(true)
	}
	sec.keys.Store(kr)
	sec.hmacUnusable.Store(unusable)
	sec.activeUnusable.Store(activeUnusable)
	return nil
}

// checkKeyBytes compares each data key of kr with the store's record of the
// bytes its ID sealed with (metaKeyFingerprint), and returns kr to use, the
// IDs whose files hold other bytes than recorded, and whether the active key
// is among them with its recorded bytes nowhere at hand:
//   - a key the store has no record of is recorded (a new key, or a store
//     older than the records);
//   - on a store that holds no response at all (a PostgreSQL database a
//     deleted campaign emptied, say), a collector that never held the
//     recorded bytes takes the file's, recorded anew;
//   - otherwise the file is refused, whether or not a stored response is
//     sealed by the key yet: another replica may be sealing with the old
//     bytes at this moment, and the operator never changes a key's bytes.
//     The old bytes stay in use when prev holds them (the file changed
//     while the collector ran); if not, the key is left out, as if its file
//     were gone, or, for the active key, which cannot be, nothing is sealed
//     or re-wrapped until the file is restored (activeUnusable).
func (s *Server) checkKeyBytes(ctx context.Context, kr, prev *crypto.Keyring, st store.Stats) (*crypto.Keyring, []string, bool, error) {
	empty := st.Counts.Total() == 0 && st.DistinctCustomers == 0
	for _, n := range st.KeyIDs {
		empty = empty && n == 0
	}
	var changed []string
	activeUnusable := false
	for _, id := range kr.KeyIDs() {
		fp := kr.Fingerprint(id)
		recorded, known, err := s.store.Meta(ctx, metaKeyFingerprint+id)
		if err != nil {
			return nil, nil, false, fmt.Errorf("keys: reading the fingerprint of data key %s: %w", id, err)
		}
		if known && recorded == fp {
			continue
		}
		if held := prev.Fingerprint(id); !known || (empty && (held == "" || held == fp)) {
			if err := s.store.SetMeta(ctx, metaKeyFingerprint+id, fp); err != nil {
				return nil, nil, false, fmt.Errorf("keys: recording the fingerprint of data key %s: %w", id, err)
			}
			continue
		}
		changed = append(changed, id)
		switch {
		case prev.Fingerprint(id) == recorded:
			kr = kr.WithKeyOf(prev, id)
		case id == kr.ActiveKeyID():
			activeUnusable = true
		default:
			kr = kr.Without(id)
		}
	}
	return kr, changed, activeUnusable, nil
}

// reportGoneKeys is for key files that no longer make a keyring (the
// active key's file gone, the directory emptied): every key stays in
// memory, and those whose files are gone while stored responses are sealed
// by them, or the active key, which seals every new one, are reported
// missing.
func (s *Server) reportGoneKeys(ctx context.Context) error {
	present, err := keyFileIDs(s.secrets.keysDir)
	if err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	st, err := s.store.Stats(ctx)
	if err != nil {
		return fmt.Errorf("keys: reading which keys stored responses need: %w", err)
	}
	var missing []string
	if active := s.secrets.keys.Load().ActiveKeyID(); !present[active] && st.KeyIDs[active] == 0 {
		missing = append(missing, active)
	}
	for id, n := range st.KeyIDs {
		if n > 0 && !present[id] {
			missing = append(missing, id)
		}
	}
	sort.Strings(missing)
	s.setMissingKeys(missing)
	s.secrets.settled.Store(false)
	return nil
}

// setMissingKeys reports the data keys needed whose files are gone: the
// log (when they change), the stats, the metric and /readyz.
func (s *Server) setMissingKeys(missing []string) {
	sec := s.secrets
	if len(missing) > 0 && !slices.Equal(missing, *sec.missing.Load()) {
		s.log.Error(errKeyMissing, "data keys are missing while stored responses are sealed by them; kept in memory where loaded, restore the files",
			"keyIDs", missing)
	}
	sec.missing.Store(&missing)
	s.metrics.setKeyState(len(missing), sec.hmacRejected.Load())
}

// keyFileIDs lists the IDs of the data key files in dir (none when dir is gone).
func keyFileIDs(dir string) (map[string]bool, error) {
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	ids := map[string]bool{}
	for _, e := range entries {
		if id, ok := strings.CutPrefix(e.Name(), crypto.KeyFilePrefix); ok && !e.IsDir() {
			ids[id] = true
		}
	}
	return ids, nil
}

var (
	errHMACChanged = errors.New("the hmac key changed")
	errKeyMissing  = errors.New("data keys missing")
	errKeyChanged  = errors.New("data key files changed")
)

// keyProblem is why the keys cannot serve every stored response, or "".
func (s *Server) keyProblem() string {
	if c := *s.secrets.changed.Load(); len(c) > 0 {
		return "data key files hold other bytes than the keys that sealed stored responses: " + strings.Join(c, ", ")
	}
	if m := *s.secrets.missing.Load(); len(m) > 0 {
		return "data keys missing: " + strings.Join(m, ", ")
	}
	if s.secrets.hmacUnusable.Load() {
		return "the hmac key changed while stored responses carry pseudonyms made with the previous one"
	}
	return ""
}

// dirSignature hashes the names and contents of the files in dir and of
// extra files, so that a Secret update (an atomic symlink swap) is noticed.
func dirSignature(dir string, extra ...string) ([]byte, error) {
	var names []string
	if dir != "" {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), "..") && !e.IsDir() {
				names = append(names, filepath.Join(dir, e.Name()))
			}
		}
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range append(names, extra...) {
		data, err := os.ReadFile(n)
		if err != nil {
			return nil, err
		}
		h.Write([]byte(n))
		h.Write([]byte{0})
		h.Write(data)
		h.Write([]byte{0})
	}
	return h.Sum(nil), nil
}

// certReloader serves the certificate in certFile/keyFile, loading it again
// when either file changes (checked at most once a second).
type certReloader struct {
	certFile, keyFile string

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   string
	checked time.Time
}

func newCertReloader(certFile, keyFile string) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile}
	if _, err := r.get(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *certReloader) get() (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cert != nil && time.Since(r.checked) < time.Second {
		return r.cert, nil
	}
	r.checked = time.Now()
	var stamp strings.Builder
	for _, f := range []string{r.certFile, r.keyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			if r.cert != nil {
				return r.cert, nil // keep serving the last good certificate
			}
			return nil, fmt.Errorf("tls: %w", err)
		}
		fmt.Fprintf(&stamp, "%d/%d;", fi.ModTime().UnixNano(), fi.Size())
	}
	if r.cert != nil && stamp.String() == r.stamp {
		return r.cert, nil
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		if r.cert != nil {
			return r.cert, nil
		}
		return nil, fmt.Errorf("tls: loading %s: %w", r.certFile, err)
	}
	r.cert, r.stamp = &cert, stamp.String()
	return r.cert, nil
}

// tls12Suites are the TLS 1.2 cipher suites offered: forward secret and
// AEAD only, as Mozilla's "intermediate" configuration has them (CBC and
// SHA-1 suites left out; TLS 1.3 chooses among its own).
var tls12Suites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

func (r *certReloader) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		CipherSuites: tls12Suites,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			c, err := r.get()
			if err != nil {
				return nil, errors.New("no certificate available")
			}
			return c, nil
		},
	}
}
