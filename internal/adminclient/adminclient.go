// Package adminclient is the operator's client for a collector's admin API:
// stats, purge and erase, over TLS verified against the campaign's own CA,
// with the campaign's bearer token and a Surveyguard-Caller header naming
// who calls. No error it returns holds a request's body.
package adminclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/surveyguard/surveyguard/internal/collectorapi"
)

// Target is one collector's admin endpoint.
type Target struct {
	// Campaign is "namespace/name"; Dial overrides are looked up by it.
	Campaign string
	// URL is the admin base URL, e.g. https://shop-collector.ns.svc:9443.
	// Its host is the name the certificate is checked against.
	URL string
	// CA is the PEM bundle that signed the collector's serving certificate;
	// empty, the system roots verify it (a cert-manager issuer whose Secret
	// carries no ca.crt).
	CA []byte
	// Token is the admin bearer token.
	Token string
	// Addr, when set, is the host:port connected to instead of URL's host:
	// one collector pod, reached past its Service (a pod that is not ready
	// is no endpoint of it). TLS is still checked against URL's host. A
	// Dial override of the campaign wins over it.
	Addr string
}

// CallerHeader names, on every request, who calls the admin API: the
// collector records it with what it did (its audit trail).
const CallerHeader = collectorapi.CallerHeader

// CallerOperator is the caller name of the operator, the default.
const CallerOperator = "operator"

// Option configures a Client.
type Option func(*Client)

// WithCaller sets the caller name sent in CallerHeader, for example
// "job/checkout-nps-retention-29384750"; "operator" by default.
func WithCaller(caller string) Option {
	return func(c *Client) { c.caller = caller }
}

// WithDialContext makes the client open its connections with dial, the
// address already chosen (a Dial override, a Target's Addr or the URL's
// host); a net.Dialer with a 5 s timeout by default. Tests route the
// cluster's pod addresses with it.
func WithDialContext(dial func(ctx context.Context, network, addr string) (net.Conn, error)) Option {
	return func(c *Client) { c.dialContext = dial }
}

// Client calls collectors. The zero value is not usable; use New.
type Client struct {
	// caller is sent in CallerHeader.
	caller string
	// dial maps "namespace/name" to the host:port to connect to instead of
	// the Service's address (local development and tests). TLS is still
	// verified against the Service's DNS name.
	dial    map[string]string
	timeout time.Duration
	// long bounds a purge or an erasure (WithLongCallTimeout).
	long time.Duration
	// dialContext opens connections (WithDialContext).
	dialContext func(ctx context.Context, network, addr string) (net.Conn, error)

	mu         sync.Mutex
	transports map[string]*http.Transport // by campaign + CA
}

// LongCallTimeout is how long a client waits, by default, for the answer
// to a purge or an erasure: on a large SQLite store an erasure reads every
// response (about a second per million), and a purge takes minutes. A call
// given up on is cancelled at the collector too, and would fail the same
// way every time it is retried.
const LongCallTimeout = 5 * time.Minute

// WithLongCallTimeout sets how long a purge or an erasure may take
// (LongCallTimeout by default); never less than the client's timeout.
func WithLongCallTimeout(d time.Duration) Option {
	return func(c *Client) { c.long = d }
}

// New returns a client whose calls time out after timeout (10 s when
// zero), but a purge's or an erasure's after the longer of timeout and
// the long-call timeout (WithLongCallTimeout). dial may be nil.
func New(dial map[string]string, timeout time.Duration, opts ...Option) *Client {
	if dial == nil {
		dial = map[string]string{}
	}
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	c := &Client{caller: CallerOperator, dial: dial, timeout: timeout, long: LongCallTimeout, transports: map[string]*http.Transport{},
		dialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext}
	for _, o := range opts {
		o(c)
	}
	c.long = max(c.long, c.timeout)
	return c
}

// Dial makes the client connect to addr for the campaign ("namespace/name")
// from now on, as a --collector-address entry does.
func (c *Client) Dial(campaign, addr string) {
	c.mu.Lock()
	c.dial[campaign] = addr
	c.mu.Unlock()
	c.Forget(campaign)
}

// ParseDialOverrides parses "namespace/name=host:port" entries.
func ParseDialOverrides(entries []string) (map[string]string, error) {
	out := map[string]string{}
	for _, e := range entries {
		key, addr, ok := strings.Cut(e, "=")
		ns, name, okName := strings.Cut(key, "/")
		if !ok || !okName || ns == "" || name == "" || addr == "" {
			return nil, fmt.Errorf("collector address %q: want namespace/name=host:port", e)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("collector address %q: %w", e, err)
		}
		out[key] = addr
	}
	return out, nil
}

func (c *Client) transport(t Target) (*http.Transport, error) {
	key := t.Campaign + "\x00" + t.Addr + "\x00" + string(t.CA)
	c.mu.Lock()
	defer c.mu.Unlock()
	if tr, ok := c.transports[key]; ok {
		return tr, nil
	}
	var pool *x509.CertPool // nil: the system roots
	if len(t.CA) > 0 {
		pool = x509.NewCertPool()
		if !pool.AppendCertsFromPEM(t.CA) {
			return nil, errors.New("the campaign's CA bundle holds no certificate")
		}
	}
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     90 * time.Second,
	}
	addr, ok := c.dial[t.Campaign] // read under c.mu
	if !ok && t.Addr != "" {
		addr, ok = t.Addr, true
	}
	dial := c.dialContext
	tr.DialContext = dial
	if ok {
		tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dial(ctx, network, addr)
		}
	}
	// Drop transports of an earlier CA or address of the same campaign.
	for k, old := range c.transports {
		if strings.HasPrefix(k, t.Campaign+"\x00") {
			old.CloseIdleConnections()
			delete(c.transports, k)
		}
	}
	c.transports[key] = tr
	return tr, nil
}

// Forget drops the connections kept for a campaign.
func (c *Client) Forget(campaign string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, tr := range c.transports {
		if strings.HasPrefix(k, campaign+"\x00") {
			tr.CloseIdleConnections()
			delete(c.transports, k)
		}
	}
}

// do calls the collector and decodes its answer into out, giving up after
// timeout.
func (c *Client) do(ctx context.Context, timeout time.Duration, t Target, method, path string, in, out any) error {
	tr, err := c.transport(t)
	if err != nil {
		return err
	}
	u, err := url.JoinPath(t.URL, path)
	if err != nil {
		return fmt.Errorf("collector URL %q: %w", t.URL, err)
	}
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(data)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+t.Token)
	req.Header.Set(CallerHeader, c.caller)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(data, &e)
		if e.Error == "" {
			e.Error = http.StatusText(resp.StatusCode)
		}
		return &StatusError{Method: method, Path: path, Code: resp.StatusCode, Message: e.Error}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decoding the answer: %w", method, path, err)
	}
	return nil
}

// Stats reads the collector's figures.
func (c *Client) Stats(ctx context.Context, t Target) (*collectorapi.Stats, error) {
	st := &collectorapi.Stats{}
	return st, c.do(ctx, c.timeout, t, http.MethodGet, "/admin/v1/stats", nil, st)
}

// Purge asks the collector to purge and returns its receipt. The request
// must name its action: a purge never relies on the collector's default.
func (c *Client) Purge(ctx context.Context, t Target, req collectorapi.PurgeRequest) (*collectorapi.PurgeReceipt, error) {
	if req.Action == "" {
		return nil, invalidRequest("a purge request must name its action (Delete or Anonymize)")
	}
	r := &collectorapi.PurgeReceipt{}
	return r, c.do(ctx, c.long, t, http.MethodPost, "/admin/v1/purge", req, r)
}

// Erase asks the collector to erase every response of one person and
// returns its receipt; a RequestID the collector has seen is answered with
// the first receipt, Replayed. The request must name exactly one of
// customerID and email, or it is not sent. An error never holds the
// identifier: should the collector's message echo it, it is masked.
func (c *Client) Erase(ctx context.Context, t Target, req collectorapi.EraseRequest) (*collectorapi.EraseReceipt, error) {
	if (req.CustomerID == "") == (req.Email == "") {
		return nil, invalidRequest("an erase request must name exactly one of customerID and email")
	}
	r := &collectorapi.EraseReceipt{}
	if err := c.do(ctx, c.long, t, http.MethodPost, "/admin/v1/erase", req, r); err != nil {
		var se *StatusError
		if errors.As(err, &se) {
			se.Message = mask(se.Message, req.CustomerID, req.Email)
		}
		return nil, err
	}
	return r, nil
}

// mask replaces every occurrence of the values in msg, in any case.
func mask(msg string, values ...string) string {
	for _, v := range values {
		if v != "" {
			msg = regexp.MustCompile(`(?i)`+regexp.QuoteMeta(v)).ReplaceAllLiteralString(msg, "[identifier]")
		}
	}
	return msg
}

// StatusError is a collector's answer other than 2xx.
type StatusError struct {
	// Method and Path are the call's, e.g. POST /admin/v1/erase.
	Method, Path string
	// Code is the HTTP status.
	Code int
	// Message is the collector's "error", or the status's text.
	Message string
}

// Error reads "POST /admin/v1/erase: 422 send exactly one of customerID or email".
func (e *StatusError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Code, e.Message)
}

// invalidRequest is a request the client refused to send.
type invalidRequest string

func (e invalidRequest) Error() string { return string(e) }

// Permanent says whether retrying the call that returned err cannot help:
// the collector refused it (a 4xx other than 408 Request Timeout and 429
// Too Many Requests) or the client would not send it. A 5xx, a transport
// error or a timeout is not permanent: retry later.
func Permanent(err error) bool {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Code/100 == 4 && se.Code != http.StatusRequestTimeout && se.Code != http.StatusTooManyRequests
	}
	var ir invalidRequest
	return errors.As(err, &ir)
}
