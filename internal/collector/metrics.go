package collector

import (
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
}

func newMetrics(campaign string) *metrics {
	labels := prometheus.Labels{"campaign": campaign}
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "surveyguard_collector_requests_total", Help: "HTTP requests by handler and status code.", ConstLabels: labels,
		}, []string{"handler", "code"}),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "surveyguard_collector_commit_seconds", Help: "Duration of a group commit (one durable transaction).",
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
	m.reg.MustRegister(m.requests, m.commit, m.batch, m.responses,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) observeCommit(size int, took time.Duration) {
	m.batch.Observe(float64(size))
	m.commit.Observe(took.Seconds())
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// statusRecorder remembers the status code a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

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
