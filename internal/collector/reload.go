package collector

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/surveyguard/surveyguard/internal/crypto"
)

// secrets holds what comes from mounted Secret files: the keyring and the
// admin token. Reload re-reads them; a change that does not load (a key file
// half written, say) keeps the last good set and reports the error.
type secrets struct {
	keysDir, tokenFile string

	keys  atomic.Pointer[crypto.Keyring]
	token atomic.Pointer[[]byte]
	sig   []byte
}

func loadSecrets(keysDir, tokenFile string) (*secrets, error) {
	s := &secrets{keysDir: keysDir, tokenFile: tokenFile}
	if _, err := s.reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// reload reads the files again and swaps them in when they changed.
func (s *secrets) reload() (changed bool, err error) {
	sig, err := dirSignature(s.keysDir, s.tokenFile)
	if err != nil {
		return false, err
	}
	if s.sig != nil && bytes.Equal(sig, s.sig) {
		return false, nil
	}
	kr, err := crypto.Load(s.keysDir)
	if err != nil {
		return false, fmt.Errorf("keys: %w", err)
	}
	tok, err := os.ReadFile(s.tokenFile)
	if err != nil {
		return false, fmt.Errorf("admin token: %w", err)
	}
	tok = bytes.TrimSpace(tok)
	if len(tok) < 16 {
		return false, fmt.Errorf("admin token: %s holds %d bytes; at least 16 are needed", s.tokenFile, len(tok))
	}
	s.keys.Store(kr)
	s.token.Store(&tok)
	s.sig = sig
	return true, nil
}

// dirSignature hashes the names and contents of the files in dir and of
// extra files, so that a Secret update (an atomic symlink swap) is noticed.
func dirSignature(dir string, extra ...string) ([]byte, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	var names []string
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "..") && !e.IsDir() {
			names = append(names, filepath.Join(dir, e.Name()))
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

func (r *certReloader) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			c, err := r.get()
			if err != nil {
				return nil, errors.New("no certificate available")
			}
			return c, nil
		},
	}
}
