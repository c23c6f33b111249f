// Package collectortest runs a real collector in the test's process, over
// TLS on loopback, for the tests of the collector, the purge run and the
// controllers.
package collectortest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/surveyguard/surveyguard/internal/collector"
	"github.com/surveyguard/surveyguard/internal/collectorapi"
	"github.com/surveyguard/surveyguard/internal/crypto"
)

// Token is the admin token of every fixture.
const Token = "test-admin-token-0123456789"

// Fixture is a collector running in this process on loopback, over TLS.
type Fixture struct {
	Dir            string
	Config         *collectorapi.Config
	Public, Admin  string // base URLs; Public is empty when the collector runs admin-only
	Client         *http.Client
	CAFile         string
	TokenFile      string
	KeysDir, DBDir string
	stop           func()
}

// Stop shuts the collector down (drain and flush) and waits for it.
func (f *Fixture) Stop() { f.stop() }

// WriteFile writes a file readable by its owner only.
func WriteFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// SelfSigned writes tls.crt and tls.key for localhost/127.0.0.1 into dir and returns a pool that trusts it.
func SelfSigned(t testing.TB, dir string) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "collector"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	WriteFile(t, filepath.Join(dir, "tls.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	WriteFile(t, filepath.Join(dir, "tls.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}))
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
}

// WriteKeys writes a key directory holding the data keys ids (existing ones are kept) with active as the active key.
func WriteKeys(t testing.TB, dir string, active string, ids ...string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if _, err := os.Stat(filepath.Join(dir, "key-"+id)); err == nil {
			continue
		}
		k, _ := crypto.NewKey()
		WriteFile(t, filepath.Join(dir, "key-"+id), k)
	}
	if _, err := os.Stat(filepath.Join(dir, "hmac")); err != nil {
		h, _ := crypto.NewKey()
		WriteFile(t, filepath.Join(dir, "hmac"), h)
	}
	WriteFile(t, filepath.Join(dir, "active"), []byte(active))
}

// Config is a campaign configuration whose files live in dir.
func Config(dir string) string {
	return fmt.Sprintf(`
campaign: checkout-nps
question: "How likely are you to recommend Acme Checkout to a friend or colleague?"
consent: {required: true, noticeVersion: "2026-01", purpose: "Improve checkout", lawfulBasis: Consent}
collect: {comment: true, email: true, customerID: true, segments: {plan: [free, pro, enterprise], region: [eu, in, us]}}
privacy: {minGroupSize: 5, redactComments: true}
retention: {maxAge: 2160h}
store: {driver: sqlite, path: %[1]s/data/responses.db}
listen: {public: "127.0.0.1:0", admin: "127.0.0.1:0"}
tls: {certFile: %[1]s/tls.crt, keyFile: %[1]s/tls.key}
keysDir: %[1]s/keys
adminTokenFile: %[1]s/token
`, dir)
}

// Start runs a collector; edit, when not nil, changes the configuration text first.
func Start(t testing.TB, edit func(string) string) *Fixture {
	t.Helper()
	return StartIn(t, t.TempDir(), edit)
}

// StartIn runs a collector whose files live in dir, which may already hold
// its database (dir/data/responses.db), for example seeded by a benchmark.
func StartIn(t testing.TB, dir string, edit func(string) string) *Fixture {
	t.Helper()
	return StartWith(t, dir, edit, collector.Options{})
}

// StartWith is StartIn with options for the collector: a clock (Now), a
// logger (Log), the budget's interval, AdminOnly. ReloadInterval defaults
// to 100 ms and Ready is the fixture's own.
func StartWith(t testing.TB, dir string, edit func(string) string, o collector.Options) *Fixture {
	t.Helper()
	pool := SelfSigned(t, dir)
	WriteKeys(t, filepath.Join(dir, "keys"), "k1", "k1")
	WriteFile(t, filepath.Join(dir, "token"), []byte(Token+"\n"))
	text := Config(dir)
	if edit != nil {
		text = edit(text)
	}
	cfg, err := collectorapi.ParseConfig([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan [2]string, 1)
	done := make(chan error, 1)
	go func() {
		if o.ReloadInterval == 0 {
			o.ReloadInterval = 100 * time.Millisecond
		}
		o.Ready = func(p, a net.Addr) {
			public := "" // admin-only: no public listener
			if p != nil {
				public = "https://" + p.String()
			}
			addrs <- [2]string{public, "https://" + a.String()}
		}
		done <- collector.Run(ctx, cfg, o)
	}()
	f := &Fixture{Dir: dir, Config: cfg, KeysDir: filepath.Join(dir, "keys"), DBDir: filepath.Join(dir, "data"),
		CAFile: filepath.Join(dir, "tls.crt"), TokenFile: filepath.Join(dir, "token"),
		Client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}}
	select {
	case a := <-addrs:
		f.Public, f.Admin = a[0], a[1]
	case err := <-done:
		cancel()
		t.Fatalf("the collector did not start: %v", err)
	}
	stopped := false
	f.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("collector shutdown: %v", err)
		}
	}
	t.Cleanup(f.stop)
	return f
}

// Answer is an HTTP answer: status, decoded JSON body and raw body.
type Answer struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

// Do sends a request.
func (f *Fixture) Do(t testing.TB, method, u string, body []byte, hdr map[string]string) Answer {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := f.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, _ := io.ReadAll(resp.Body)
	a := Answer{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	_ = json.Unmarshal(raw, &a.Body)
	return a
}

// Post sends a JSON response; hdr are header name/value pairs.
func (f *Fixture) Post(t testing.TB, body string, hdr ...string) Answer {
	t.Helper()
	h := map[string]string{"Content-Type": "application/json"}
	for i := 0; i+1 < len(hdr); i += 2 {
		h[hdr[i]] = hdr[i+1]
	}
	return f.Do(t, http.MethodPost, f.Public+"/v1/responses", []byte(body), h)
}

// AdminDo calls the admin API with the token.
func (f *Fixture) AdminDo(t testing.TB, method, path, body string) Answer {
	t.Helper()
	return f.Do(t, method, f.Admin+path, []byte(body), map[string]string{"Authorization": "Bearer " + Token, "Content-Type": "application/json"})
}

// Stats reads /admin/v1/stats.
func (f *Fixture) Stats(t testing.TB) map[string]any {
	t.Helper()
	a := f.AdminDo(t, http.MethodGet, "/admin/v1/stats", "")
	if a.Status != http.StatusOK {
		t.Fatalf("stats: %d %s", a.Status, a.Raw)
	}
	return a.Body
}

// StartAsCampaign runs a collector as the operator's pod would: its keys,
// certificate and admin token are the files of the campaign's Secrets, laid
// out in dir/secrets/{keys,tls,admin} as the kubelet mounts them. adminAddr
// pins the admin listener (empty: any free port). f.Client trusts the
// campaign's CA (tls/ca.crt) and checks the certificate for serverName, as a
// client of the collector's Service would.
func StartAsCampaign(t testing.TB, dir, serverName, adminAddr string) *Fixture {
	t.Helper()
	return StartAsCampaignWith(t, dir, serverName, adminAddr, collector.Options{})
}

// StartAsCampaignWith is StartAsCampaign with options for the collector (a
// logger, AdminOnly), as StartWith takes them.
func StartAsCampaignWith(t testing.TB, dir, serverName, adminAddr string, o collector.Options) *Fixture {
	t.Helper()
	secrets := filepath.Join(dir, "secrets")
	if adminAddr == "" {
		adminAddr = "127.0.0.1:0"
	}
	f := StartWith(t, dir, func(cfg string) string {
		var out []string
		for _, line := range strings.Split(cfg, "\n") {
			switch {
			case strings.HasPrefix(line, "tls:"):
				line = fmt.Sprintf("tls: {certFile: %[1]s/tls/tls.crt, keyFile: %[1]s/tls/tls.key}", secrets)
			case strings.HasPrefix(line, "keysDir:"):
				line = "keysDir: " + secrets + "/keys"
			case strings.HasPrefix(line, "adminTokenFile:"):
				line = "adminTokenFile: " + secrets + "/admin/token"
			case strings.HasPrefix(line, "listen:"):
				line = fmt.Sprintf("listen: {public: \"127.0.0.1:0\", admin: %q}", adminAddr)
			}
			out = append(out, line)
		}
		return strings.Join(out, "\n")
	}, o)
	f.TokenFile = filepath.Join(secrets, "admin", "token")
	f.CAFile = filepath.Join(secrets, "tls", "ca.crt")
	pool := x509.NewCertPool()
	ca, err := os.ReadFile(f.CAFile)
	if err != nil || !pool.AppendCertsFromPEM(ca) {
		t.Fatalf("the campaign's CA: %v", err)
	}
	f.Client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: pool, ServerName: serverName, MinVersion: tls.VersionTLS12,
	}}}
	return f
}

// SyncBuffer is a bytes.Buffer that a test reads while the code under test
// (a collector's goroutines, a manager's log) writes to it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String is what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
