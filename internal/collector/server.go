// Package collector is the survey collector: one per SurveyCampaign, run by
// "surveyguard collector". Its public listener serves the survey page and
// POST /v1/responses; its admin listener serves the operator (stats, purge,
// erase), the probes and the metrics. Personal fields are scrubbed, encrypted
// and pseudonymized before they reach the store, and a response is
// acknowledged only once its commit is durable.
package collector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/surveyguard/surveyguard/internal/cli"
	"github.com/surveyguard/surveyguard/internal/collectorapi"
	"github.com/surveyguard/surveyguard/internal/crypto"
	"github.com/surveyguard/surveyguard/internal/memlimit"
	"github.com/surveyguard/surveyguard/internal/store"
	"github.com/surveyguard/surveyguard/internal/store/postgres"
	"github.com/surveyguard/surveyguard/internal/store/sqlite"
	"github.com/surveyguard/surveyguard/internal/store/sqlstore"
)

// Usage describes the collector role.
const Usage = `Usage: surveyguard collector --config FILE [--insecure] [--admin-only]

Serves one SurveyCampaign. The public listener (TLS) has the survey page
GET /s/{campaign} and POST /v1/responses; the admin listener (TLS, bearer
token) has /admin/v1/stats, /admin/v1/purge, /admin/v1/erase, /healthz,
/readyz and /metrics. It holds no Kubernetes credentials. The file format
is documented in docs/collector.md.

With --admin-only the public listener is not opened at all: nothing
listens on listen.public and no response can arrive, while the admin
listener serves as usual (the stats say "adminOnly": true). The operator
runs a campaign paused by a breach this way while an erasure waits on it.

Flags:
`

// Server is a running collector's state.
type Server struct {
	cfg     *collectorapi.Config
	langs   []pageLanguage // the survey page's languages, the default first
	store   store.Store
	secrets *secrets
	metrics *metrics
	log     logr.Logger
	now     func() time.Time

	clients *clientResolver
	limiter *rateLimiter
	budget  *budget
	origins *http.CrossOriginProtection
	// adminOnly is Options.AdminOnly: no public listener.
	adminOnly bool
	// writeTimeout is Options.WriteTimeout, defaulted.
	writeTimeout time.Duration
}

// Options tune Run.
type Options struct {
	// Insecure serves plain HTTP: for local development only.
	Insecure bool
	// ReloadInterval is how often the key, token and certificate files are
	// checked for changes, and re-wrapping is resumed.
	ReloadInterval time.Duration
	// Ready, when set, receives the listeners' addresses once they listen;
	// public is nil when AdminOnly.
	Ready func(public, admin net.Addr)
	// AdminOnly opens no public listener: only the admin API, the probes
	// and the metrics are served (--admin-only).
	AdminOnly bool
	// Log receives the collector's log lines; discarded when zero.
	Log logr.Logger
	// Now is the clock of receive times, purge cutoffs, form tokens and
	// rate limits; time.Now when nil.
	Now func() time.Time
	// BudgetInterval is how often the storage budget is measured; 1 s when zero.
	BudgetInterval time.Duration
	// WriteTimeout is how long after a request was read its answer may
	// still be written (http.Server.WriteTimeout); 30 s when zero. A purge
	// and an erasure, which may take longer, have LongCallTimeout instead.
	WriteTimeout time.Duration
}

// LongCallTimeout is how long after a purge or an erasure was asked for
// its answer may still be written: a purge of millions of responses takes
// minutes. The call itself ends sooner if its caller hangs up.
const LongCallTimeout = time.Hour

// Main parses the collector's flags and runs it until ctx is done.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("surveyguard collector", Usage, args, stdout, stderr)
	configPath := fs.String("config", "", "Path to the collector configuration file (required).")
	insecure := fs.Bool("insecure", false, "Serve plain HTTP instead of TLS. For local development only.")
	reload := fs.Duration("reload-interval", 5*time.Second, "How often to check the key, token and certificate files for changes.")
	adminOnly := fs.Bool("admin-only", false, "Open no public listener: serve only the admin API, the probes and the metrics.")
	if help, err := cli.Parse(fs, args); help || err != nil {
		return err
	}
	if *configPath == "" {
		fs.Usage()
		return fmt.Errorf("%w: --config is required", cli.ErrUsage)
	}
	cfg, err := collectorapi.LoadConfig(*configPath)
	if err != nil {
		return err
	}
	log := funcr.NewJSON(func(obj string) { _, _ = fmt.Fprintln(stderr, obj) }, funcr.Options{})
	capHeap(log, memlimit.CgroupRoot, cfg)
	return Run(ctx, cfg, Options{Insecure: *insecure, ReloadInterval: *reload, AdminOnly: *adminOnly, Log: log})
}

// capHeap keeps the Go heap under the container's memory limit less what
// the process holds besides it: the binary, and a SQLite store's page
// caches (memlimit.Set; GOMEMLIMIT, when set, wins).
func capHeap(log logr.Logger, cgroupRoot string, cfg *collectorapi.Config) {
	var outside int64
	if cfg.Store.Driver != "postgres" {
		outside = sqlite.PageCacheBytes
	}
	if limit, source, err := memlimit.Set(cgroupRoot, outside); err != nil {
		log.Error(err, "reading the container's memory limit; the Go heap is not capped")
	} else if limit > 0 {
		log.Info("Go heap capped", "bytes", limit, "from", source)
	}
}

// OpenStore opens the backend the configuration names.
func OpenStore(ctx context.Context, cfg *collectorapi.Config, o sqlstore.Options) (store.Store, error) {
	switch cfg.Store.Driver {
	case "postgres":
		dsn, err := os.ReadFile(cfg.Store.DSNFile)
		if err != nil {
			return nil, fmt.Errorf("reading the PostgreSQL DSN: %w", err)
		}
		return postgres.Open(ctx, strings.TrimSpace(string(dsn)), o)
	default:
		return sqlite.Open(ctx, cfg.Store.Path, o)
	}
}

// Run serves the collector until ctx is done, then drains in-flight requests
// and commits pending writes before returning.
func Run(ctx context.Context, cfg *collectorapi.Config, o Options) error {
	if o.ReloadInterval <= 0 {
		o.ReloadInterval = 5 * time.Second
	}
	if o.Log.GetSink() == nil {
		o.Log = logr.Discard()
	}
	var certs *certReloader
	if !o.Insecure {
		if cfg.TLS.CertFile == "" {
			return errors.New("configuration: tls.certFile and tls.keyFile are required unless --insecure")
		}
		var err error
		if certs, err = newCertReloader(cfg.TLS.CertFile, cfg.TLS.KeyFile); err != nil {
			return err
		}
	}
	// Every file the collector creates (database, WAL, reserve) is its
	// user's alone.
	syscall.Umask(0o077)
	sec, err := loadSecrets(cfg.KeysDir, cfg.AdminTokenFile)
	if err != nil {
		return err
	}
	m := newMetrics(cfg.Campaign)
	st, err := OpenStore(ctx, cfg, sqlstore.Options{ObserveCommit: m.observeCommit})
	if err != nil {
		return err
	}
	s := newServer(cfg, st, sec, m, o)
	if err := s.reconcileKeys(ctx); err != nil {
		return errors.Join(err, st.Close())
	}
	s.measureBudget(ctx)

	// The admin listener, and the public one unless admin-only: then
	// nothing listens on its address at all.
	servers := []*http.Server{s.httpServer("admin", s.AdminHandler())}
	addrs := []string{cfg.Listen.Admin}
	if !o.AdminOnly {
		servers = append(servers, s.httpServer("public", s.PublicHandler()))
		addrs = append(addrs, cfg.Listen.Public)
	}
	listeners := make([]net.Listener, len(servers))
	for i, srv := range servers {
		if certs != nil {
			srv.TLSConfig = certs.tlsConfig()
		}
		if listeners[i], err = net.Listen("tcp", addrs[i]); err != nil {
			for _, l := range listeners[:i] {
				_ = l.Close()
			}
			return errors.Join(fmt.Errorf("listening on %s: %w", addrs[i], err), st.Close())
		}
	}
	adminAddr, publicAddr := listeners[0].Addr(), net.Addr(nil)
	serving := []any{"campaign", cfg.Campaign, "admin", adminAddr.String(), "store", cfg.Store.Driver, "tls", certs != nil}
	if o.AdminOnly {
		s.log.Info("admin-only: public listener off", "campaign", cfg.Campaign, "public", cfg.Listen.Public)
	} else {
		lim := cfg.Limits
		open, idle, unproven := m.connections.WithLabelValues("open"), m.connections.WithLabelValues("idle"),
			m.connections.WithLabelValues("unproven")
		cl := newConnLimiter(listeners[1], lim.MaxConnections, lim.MaxConnectionsPerClient, s.clients, connHooks{
			refused: m.connRefused.Inc, evicted: m.connEvicted.Inc, slow: m.connSlow.Inc,
			counted: func(o, i, u int) { open.Set(float64(o)); idle.Set(float64(i)); unproven.Set(float64(u)) },
		})
		servers[1].ConnState = cl.connState
		listeners[1] = cl
		publicAddr = listeners[1].Addr()
		serving = append(serving, "public", publicAddr.String())
	}
	errc := make(chan error, len(servers))
	for i, srv := range servers {
		go func() {
			var err error
			if certs != nil {
				err = srv.ServeTLS(listeners[i], "", "")
			} else {
				err = srv.Serve(listeners[i])
			}
			if !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	s.log.Info("collector serving", serving...)
	if o.Ready != nil {
		o.Ready(publicAddr, adminAddr)
	}

	bg, stopBG := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { s.maintain(bg, o.ReloadInterval) })
	wg.Go(func() { s.watchBudget(bg, o.BudgetInterval) })

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	stopBG()
	wg.Wait()
	// Drain: stop accepting, let in-flight requests finish (their commits
	// included), then close the store, which commits anything still queued.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var errs []error
	for _, srv := range servers {
		errs = append(errs, srv.Shutdown(shutdownCtx))
	}
	errs = append(errs, st.Close(), serveErr)
	s.log.Info("collector stopped")
	return errors.Join(errs...)
}

// newServer assembles a collector's state; Run starts it.
func newServer(cfg *collectorapi.Config, st store.Store, sec *secrets, m *metrics, o Options) *Server {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	s := &Server{cfg: cfg, langs: pageLanguages(cfg), store: st, secrets: sec, metrics: m, log: o.Log, now: now,
		clients:   newClientResolver(cfg.Limits.TrustedProxies),
		limiter:   newRateLimiter(cfg.Limits.RequestsPerSecond, cfg.Limits.Burst, now),
		origins:   http.NewCrossOriginProtection(),
		adminOnly: o.AdminOnly, writeTimeout: o.WriteTimeout,
	}
	if s.writeTimeout <= 0 {
		s.writeTimeout = 30 * time.Second
	}
	dir := ""
	if cfg.Store.Driver != "postgres" {
		dir = filepath.Dir(cfg.Store.Path)
	}
	s.budget = newBudget(cfg.Limits, dir, st.Size)
	s.origins.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, &apiError{Status: http.StatusForbidden, Field: "Origin",
			Message: "cross-site requests are refused: send the answer from the survey's own page, or from a server without Origin or Sec-Fetch-Site headers"})
	}))
	return s
}

// Idle timeouts: how long a keep-alive connection may wait for its next
// request. A respondent's browser sends its requests within seconds (the
// page, then the answer), so the public listener lets idle connections go
// sooner; the operator's client keeps its connection to the admin listener.
const (
	publicIdleTimeout = 30 * time.Second
	adminIdleTimeout  = 90 * time.Second
)

// httpServer returns the server of the listener named listener ("public"
// or "admin").
func (s *Server) httpServer(listener string, h http.Handler) *http.Server {
	idle, protocols := adminIdleTimeout, (*http.Protocols)(nil)
	if listener == "public" {
		idle = publicIdleTimeout
		// HTTP/1.1 only: the connection limiter counts a connection as
		// proven once ConnState reports a request read. net/http reports an
		// HTTP/2 connection active as soon as the client's 24-byte preface
		// is read, before any request, so one would be proven for nothing.
		// A survey is two requests; HTTP/2 gains it nothing.
		protocols = new(http.Protocols)
		protocols.SetHTTP1(true)
	}
	return &http.Server{
		Protocols: protocols,
		// net/http's own complaints (TLS handshakes, broken clients) go
		// through the structured logger, like every other line, within a
		// budget and without the client's address.
		ErrorLog:          log.New(newLogWriter(s.log, listener, s.metrics.httpErrors.WithLabelValues(listener), time.Now), "", 0),
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      s.writeTimeout,
		IdleTimeout:       idle,
		MaxHeaderBytes:    16 << 10,
	}
}

// long lets h write its answer up to LongCallTimeout after the request,
// instead of the server's write timeout.
func (s *Server) long(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := http.NewResponseController(w).SetWriteDeadline(time.Now().Add(LongCallTimeout)); err != nil {
			s.log.Error(err, "cannot extend the write deadline of a long call", "path", r.URL.Path)
		}
		h(w, r)
	}
}

// PublicHandler serves what faces respondents. Each client's requests are
// rate limited before anything else; the JSON API refuses cross-site
// browser requests, and the form checks its origin and token itself.
func (s *Server) PublicHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /v1/responses", s.metrics.count("responses", s.origins.Handler(http.HandlerFunc(s.handleResponses))))
	mux.Handle("GET /s/{campaign}", s.metrics.count("page", http.HandlerFunc(s.handlePage)))
	mux.Handle("POST /s/{campaign}", s.metrics.count("form", http.HandlerFunc(s.handleForm)))
	return securityHeaders(s.limit(mux))
}

// AdminHandler serves the operator: stats, purge, erase, probes, metrics.
// Stats, purge and erase calls are audited, refused ones included.
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /admin/v1/stats", s.metrics.count("stats", s.audit("stats", s.authorized(http.HandlerFunc(s.handleStats)))))
	mux.Handle("POST /admin/v1/purge", s.metrics.count("purge", s.audit("purge", s.authorized(s.withRoom(s.long(s.handlePurge))))))
	mux.Handle("POST /admin/v1/erase", s.metrics.count("erase", s.audit("erase", s.authorized(s.withRoom(s.long(s.handleErase))))))
	// Any other /admin/ request is authorized and audited before it is
	// told the endpoint or method does not exist: 401 first, to anyone.
	mux.Handle("/admin/", s.metrics.count("other", s.audit("other", s.authorized(http.HandlerFunc(handleNoRoute)))))
	mux.Handle("GET /metrics", s.metrics.count("metrics", s.authorized(s.metrics.handler())))
	mux.HandleFunc("GET /healthz", s.handleHealthz)
	mux.HandleFunc("GET /readyz", s.handleReadyz)
	return securityHeaders(mux)
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Strict-Transport-Security", "max-age=31536000")
		h.ServeHTTP(w, r)
	})
}

// maintain reloads the mounted secrets on change and re-wraps ciphertexts
// under old keys in bounded batches, until ctx is done.
func (s *Server) maintain(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		s.rewrap(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if changed, err := s.secrets.reloadToken(); err != nil {
			s.metrics.reloadErrors.WithLabelValues("token").Inc()
			s.log.Error(err, "reloading the admin token failed; keeping the previous one")
		} else if changed {
			s.log.Info("admin token reloaded")
		}
		if err := s.reconcileKeys(ctx); err != nil {
			s.metrics.reloadErrors.WithLabelValues("keys").Inc()
			s.log.Error(err, "reloading keys failed; keeping the previous ones")
		}
	}
}

// watchBudget measures the storage budget every interval until ctx is done.
func (s *Server) watchBudget(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.measureBudget(ctx)
	}
}

// measureBudget checks the storage budget, publishes it in the metrics and
// logs when ingest stops or resumes.
func (s *Server) measureBudget(ctx context.Context) {
	wasFull := s.budget.full.Load()
	st, err := s.budget.check(ctx)
	if err != nil {
		s.log.Error(err, "measuring the storage budget failed")
		return
	}
	s.metrics.setStorage(st)
	if st.Full != wasFull {
		s.log.Info("storage budget", "full", st.Full, "reason", st.Reason, "usedBytes", st.UsedBytes)
	}
}

// withRoom runs a purge or an erasure with the disk reserve released when
// the volume is short of space, and measures the budget again afterwards,
// so that ingest resumes as soon as there is room.
func (s *Server) withRoom(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.budget.release() {
			s.log.Info("released the disk reserve for a purge or an erasure")
		}
		h(w, r)
		s.measureBudget(r.Context())
	})
}

// The budget of "http server" log lines, per listener: a burst of
// logBurst, then one every logEvery. One client sending garbage in a loop
// makes net/http complain thousands of times a second.
const (
	logBurst = 5
	logEvery = time.Second
)

// logWriter sends net/http's log lines to the structured logger, within
// its budget: the lines past it are counted, and the next line written
// says how many were left out ("suppressed"). Every line is counted in
// surveyguard_collector_http_errors_total. Addresses are masked: a
// respondent's is personal data.
type logWriter struct {
	log      logr.Logger
	listener string
	count    prometheus.Counter
	now      func() time.Time

	mu         sync.Mutex
	budget     *rate.Limiter
	suppressed int
}

func newLogWriter(l logr.Logger, listener string, count prometheus.Counter, now func() time.Time) *logWriter {
	return &logWriter{log: l, listener: listener, count: count, now: now,
		budget: rate.NewLimiter(rate.Every(logEvery), logBurst)}
}

func (l *logWriter) Write(p []byte) (int, error) {
	l.count.Inc()
	l.mu.Lock()
	if !l.budget.AllowN(l.now(), 1) {
		l.suppressed++
		l.mu.Unlock()
		return len(p), nil
	}
	suppressed := l.suppressed
	l.suppressed = 0
	l.mu.Unlock()
	kv := []any{"listener", l.listener, "error", maskAddrs(strings.TrimSpace(string(p)))}
	if suppressed > 0 {
		kv = append(kv, "suppressed", suppressed)
	}
	l.log.Info("http server", kv...)
	return len(p), nil
}

// maskedAddr replaces an address, with its port, in net/http's lines.
const maskedAddr = "[address]"

var (
	ipv4RE = regexp.MustCompile(`\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b`)
	// An IPv6 address in brackets (with a port or a zone, as
	// net.Addr.String writes it), or bare.
	ipv6BracketRE = regexp.MustCompile(`\[[0-9A-Fa-f:.]+(?:%[0-9A-Za-z._-]+)?\](?::\d{1,5})?`)
	ipv6BareRE    = regexp.MustCompile(`[0-9A-Fa-f]*(?::+[0-9A-Fa-f]+)+(?:\.\d{1,3}){0,3}`)
)

// maskAddrs replaces the IP addresses in s, and their ports, by maskedAddr.
func maskAddrs(s string) string {
	s = ipv6BracketRE.ReplaceAllStringFunc(s, func(m string) string {
		host := m[1:strings.LastIndexByte(m, ']')]
		if i := strings.IndexByte(host, '%'); i >= 0 {
			host = host[:i]
		}
		if _, err := netip.ParseAddr(host); err != nil {
			return m
		}
		return maskedAddr
	})
	s = ipv4RE.ReplaceAllStringFunc(s, func(m string) string {
		host, _, _ := strings.Cut(m, ":")
		if _, err := netip.ParseAddr(host); err != nil {
			return m
		}
		return maskedAddr
	})
	return ipv6BareRE.ReplaceAllStringFunc(s, func(m string) string {
		if a, err := netip.ParseAddr(m); err != nil || !a.Is6() {
			return m
		}
		return maskedAddr
	})
}

// rewrapBatch bounds one re-wrap transaction, so ingest keeps flowing.
const rewrapBatch = 500

func (s *Server) rewrap(ctx context.Context) {
	if s.secrets.activeUnusable.Load() {
		return // the active key's bytes are not those its ID sealed with
	}
	kr := s.secrets.keys.Load()
	for ctx.Err() == nil {
		n, err := s.store.Rewrap(ctx, kr.ActiveKeyID(), rewrapBatch, func(r *store.Record) error {
			return rewrapRecord(kr, r)
		})
		if err != nil {
			s.log.Error(err, "re-wrapping failed; will retry")
			return
		}
		if n == 0 {
			return
		}
		s.log.V(1).Info("re-wrapped", "records", n, "activeKeyID", kr.ActiveKeyID())
	}
}

func rewrapRecord(kr *crypto.Keyring, r *store.Record) error {
	for _, f := range []struct {
		name string
		ct   *[]byte
	}{{"email", &r.Email}, {"customerID", &r.CustomerID}, {"comment", &r.Comment}} {
		if *f.ct == nil {
			continue
		}
		re, err := kr.Rewrap(f.name, r.ID, *f.ct)
		if err != nil {
			return err
		}
		*f.ct = re
	}
	r.KeyID = kr.ActiveKeyID()
	return nil
}
