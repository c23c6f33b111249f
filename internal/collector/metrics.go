package collector

import (
	"github.com/surveyguard/surveyguard/internal/collectorapi"

	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the collector's Prometheus series, on the admin listener.
type metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec
	commit    prometheus.Histogram
	batch     prometheus.Histogram
	responses prometheus.Counter

	adminCalls   *prometheus.CounterVec
	rateLimited  prometheus.Counter
	connRefused  prometheus.Counter
	reloadErrors *prometheus.CounterVec
	keysMissing  prometheus.Gauge
	hmacRejected prometheus.Gauge
	storage      *prometheus.GaugeVec
	storageFull  prometheus.Gauge
	// The listeners': net/http's own errors, idle and unproven public
	// connections closed to make room, and the public connections by state.
	httpErrors  *prometheus.CounterVec
	connEvicted prometheus.Counter
	connSlow    prometheus.Counter
	connections *prometheus.GaugeVec

	// all is every collector registered in reg.
	all []prometheus.Collector
}

func newMetrics(campaign string) *metrics {
	labels := prometheus.Labels{"campaign": campaign}
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "surveyguard_collector_requests_total", Help: "HTTP requests by handler and status code.", ConstLabels: labels,
		}, []string{"handler", "code"}),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "surveyguard_collector_commit_seconds", Help: "Duration of a group commit's transaction (on SQLite without the fsync of the WAL that follows it).",
			ConstLabels: labels, Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "surveyguard_collector_batch_size", Help: "Responses written by one group commit.",
			ConstLabels: labels, Buckets: prometheus.ExponentialBuckets(1, 2, 11),
		}),
		responses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "surveyguard_collector_responses_total", Help: "Responses stored (retries with a known idempotency key are not counted).", ConstLabels: labels,
		}),
	}
	m.adminCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "surveyguard_collector_admin_calls_total", ConstLabels: labels,
		Help: "Admin API calls (stats, purge, erase, other: any other /admin/ path) by caller kind (operator, job, purge, unknown) and outcome (ok, refused, error).",
	}, []string{"action", "caller", "outcome"})
	m.rateLimited = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "surveyguard_collector_rate_limited_total", ConstLabels: labels,
		Help: "Public requests refused with 429 because their client exceeded its rate.",
	})
	m.connRefused = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "surveyguard_collector_connections_refused_total", ConstLabels: labels,
		Help: "Public connections closed at once because their client held limits.maxConnectionsPerClient already.",
	})
	m.reloadErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "surveyguard_collector_secret_reload_errors_total", ConstLabels: labels,
		Help: "Failed reloads of the mounted secrets (keys or token); the previous ones stay in use.",
	}, []string{"secret"})
	m.keysMissing = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "surveyguard_collector_keys_missing", ConstLabels: labels,
		Help: "Data keys whose files are gone while stored responses are sealed by them.",
	})
	m.hmacRejected = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "surveyguard_collector_hmac_key_rejected", ConstLabels: labels,
		Help: "1 while a changed hmac file is refused because stored pseudonyms need the previous key.",
	})
	m.storage = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "surveyguard_collector_storage_bytes", ConstLabels: labels,
		Help: "The storage budget: used (the store's size), max (limits.maxStoreSize, 0 when unset), free (the SQLite volume's free space), minFree (limits.minFreeDisk).",
	}, []string{"kind"})
	m.storageFull = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "surveyguard_collector_storage_full", ConstLabels: labels,
		Help: "1 while ingest answers 503 because the storage budget is reached.",
	})
	m.httpErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "surveyguard_collector_http_errors_total", ConstLabels: labels,
		Help: "net/http's own error lines (TLS handshake errors, broken clients) by listener, logged or past the log budget.",
	}, []string{"listener"})
	m.connEvicted = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "surveyguard_collector_idle_connections_closed_total", ConstLabels: labels,
		Help: "Idle public keep-alive connections closed to make room for a new one, limits.maxConnections being open.",
	})
	m.connSlow = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "surveyguard_collector_slow_connections_closed_total", ConstLabels: labels,
		Help: "Public connections closed to make room, limits.maxConnections being open, after 1 s or more with no request read (in their TLS handshake or first request's headers).",
	})
	m.connections = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "surveyguard_collector_public_connections", ConstLabels: labels,
		Help: "The public listener's connections: open (counted against limits.maxConnections) and, of those, idle (waiting for their next request) and unproven (no request read yet).",
	}, []string{"state"})
	m.all = []prometheus.Collector{m.requests, m.commit, m.batch, m.responses,
		m.adminCalls, m.rateLimited, m.connRefused, m.reloadErrors, m.keysMissing, m.hmacRejected, m.storage, m.storageFull,
		m.httpErrors, m.connEvicted, m.connSlow, m.connections,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})}
	m.reg.MustRegister(m.all...)
	return m
}

// DescribeMetrics sends the description of every metric the collector
// serves on /metrics: what test/monitoring checks the alerting rules and
// the dashboard against.
func DescribeMetrics(ch chan<- *prometheus.Desc) {
	for _, c := range newMetrics("").all {
		c.Describe(ch)
	}
}

func (m *metrics) observeCommit(size int, took time.Duration) {
	m.batch.Observe(float64(size))
	m.commit.Observe(took.Seconds())
}

func (m *metrics) setKeyState(missing int, hmacRejected bool) {
	m.keysMissing.Set(float64(missing))
	m.hmacRejected.Set(boolFloat(hmacRejected))
}

func (m *metrics) setStorage(st collectorapi.StorageStats) {
	m.storage.WithLabelValues("used").Set(float64(st.UsedBytes))
	m.storage.WithLabelValues("max").Set(float64(st.MaxBytes))
	m.storage.WithLabelValues("minFree").Set(float64(st.MinFreeBytes))
	if st.FreeBytes != nil {
		m.storage.WithLabelValues("free").Set(float64(*st.FreeBytes))
	}
	m.storageFull.Set(boolFloat(st.Full))
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// statusRecorder remembers the status code a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

// count wraps a handler so that each request is counted by status code.
func (m *metrics) count(name string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(rec, r)
		m.requests.WithLabelValues(name, strconv.Itoa(rec.code)).Inc()
	})
}
