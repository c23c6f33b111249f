package collector

import (
	"github.com/surveyguard/surveyguard/internal/collectorapi"

	"context"
	"net/http"
	"strings"
	"time"
)

// The admin API's audit trail: every stats, purge and erase call is one
// structured log line, {"msg":"admin call","action":"purge","caller":
// "job/checkout-nps-retention-29391","remote":"10.0.3.7:51234","outcome":
// "ok","status":200,"durationMs":12,"purged":120,...}, and one count in
// surveyguard_collector_admin_calls_total{action,caller,outcome}, so "who
// purged what, when" is answered from the collector's log. A line never
// holds a subject's identifier or a token.

type auditKey struct{}

// auditRecord collects what a handler adds to its call's audit line.
type auditRecord struct{ kv []any }

// audited adds key/value pairs to the audit line of r's admin call.
func audited(r *http.Request, kv ...any) {
	if a, ok := r.Context().Value(auditKey{}).(*auditRecord); ok {
		a.kv = append(a.kv, kv...)
	}
}

// caller reads and checks the caller header; the second value is its kind,
// the metric's label (a Job's name would make one series per run).
func caller(r *http.Request) (name, kind string) {
	v := r.Header.Get(collectorapi.CallerHeader)
	switch job, isJob := strings.CutPrefix(v, "job/"); {
	case v == "operator" || v == "purge":
		return v, v
	case isJob && job != "" && len(job) <= maxJobName && jobRE.MatchString(job):
		return v, "job"
	}
	return "unknown", "unknown"
}

// audit wraps an authorized admin handler so that each call is logged and counted.
func (s *Server) audit(action string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &auditRecord{}
		sw := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), auditKey{}, rec)))
		name, kind := caller(r)
		outcome := "ok"
		switch {
		case sw.code >= 500:
			outcome = "error"
		case sw.code >= 400:
			outcome = "refused"
		}
		s.metrics.adminCalls.WithLabelValues(action, kind, outcome).Inc()
		kv := append([]any{"action", action, "caller", name, "remote", r.RemoteAddr, "outcome", outcome,
			"status", sw.code, "durationMs", time.Since(start).Milliseconds()}, rec.kv...)
		s.log.Info("admin call", kv...)
	})
}
