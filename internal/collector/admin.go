package collector

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/surveyguard/surveyguard/internal/collectorapi"
	"github.com/surveyguard/surveyguard/internal/crypto"
	"github.com/surveyguard/surveyguard/internal/nps"
	"github.com/surveyguard/surveyguard/internal/store"
)

// authorized checks the bearer token in constant time; a bad token is a 401.
func (s *Server) authorized(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The scheme is case-insensitive (RFC 9110 section 11.1).
		scheme, got, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		want := *s.secrets.token.Load()
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="surveyguard-admin"`)
			writeError(w, &apiError{Status: http.StatusUnauthorized, Message: "a valid bearer token is required"})
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (s *Server) stats(r *http.Request) (*collectorapi.Stats, error) {
	st, err := s.store.Stats(r.Context())
	if err != nil {
		return nil, err
	}
	kr := s.secrets.keys.Load()
	out := &collectorapi.Stats{
		Campaign:          s.cfg.Campaign,
		Result:            nps.Compute(st.Counts, s.cfg.Privacy.MinGroupSize),
		DistinctCustomers: st.DistinctCustomers,
		OldestRecordTime:  st.OldestRecordTime,
		Redactions:        st.Redactions,
		ActiveKeyID:       kr.ActiveKeyID(),
		LastPurge:         st.LastPurge,
	}
	out.RewrapPending = pendingRewrap(st, kr.ActiveKeyID())
	out.MissingKeyIDs = append([]string{}, *s.secrets.missing.Load()...)
	out.ChangedKeyIDs = slices.Clone(*s.secrets.changed.Load())
	out.HMACKeyRejected = s.secrets.hmacRejected.Load()
	out.Storage = s.budget.snapshot()
	out.AdminOnly = s.adminOnly
	return out, nil
}

func pendingRewrap(st store.Stats, active string) int64 {
	var n int64
	for id, c := range st.KeyIDs {
		if id != active {
			n += c
		}
	}
	return n
}

func (s *Server) handleStats(w http.ResponseWriter, r *http.Request) {
	st, err := s.stats(r)
	if err != nil {
		s.log.Error(err, "reading stats failed")
		writeError(w, &apiError{Status: http.StatusServiceUnavailable, Message: "the store cannot be read"})
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// maxJobName is the longest Kubernetes object name a purge may carry.
const maxJobName = 253

// checkPurge validates a purge request against the collector's clock and
// fills in the cutoff of an "everything" purge.
func checkPurge(req *collectorapi.PurgeRequest, now time.Time) error {
	switch {
	case req.Action == "":
		return unprocessable("action", "action is required: Delete or Anonymize")
	case req.Action != store.ActionDelete && req.Action != store.ActionAnonymize:
		return unprocessable("action", "action must be Delete or Anonymize, got %q", truncate(string(req.Action), 32))
	case len(req.Job) > maxJobName:
		return unprocessable("job", "job is %d characters, at most %d", len(req.Job), maxJobName)
	case !jobRE.MatchString(req.Job):
		return unprocessable("job", "job must be a Kubernetes object name (lower-case letters, digits, '-' and '.')")
	case req.Everything && !req.Cutoff.IsZero():
		return unprocessable("cutoff", "give either cutoff or everything, not both")
	case req.Everything:
		req.Cutoff = store.EverythingCutoff(now)
	case req.Cutoff.IsZero():
		return unprocessable("cutoff", "cutoff is required (RFC 3339), or everything: true")
	case req.Cutoff.After(now):
		return unprocessable("cutoff", "cutoff %s is in the future", req.Cutoff.Format(time.RFC3339))
	}
	return nil
}

// jobRE is a Kubernetes object name (a DNS subdomain: labels of lower-case
// letters, digits and '-', starting and ending with a letter or digit,
// joined by dots), or empty.
var jobRE = regexp.MustCompile(`^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)?$`)

// adminRoutes are the admin API's endpoints and the method each takes.
var adminRoutes = map[string]string{
	"/admin/v1/stats": http.MethodGet,
	"/admin/v1/purge": http.MethodPost,
	"/admin/v1/erase": http.MethodPost,
}

// handleNoRoute answers an authorized /admin/ request no endpoint takes:
// 405 naming the method when the path is an endpoint's, 404 otherwise.
func handleNoRoute(w http.ResponseWriter, r *http.Request) {
	if method, ok := adminRoutes[r.URL.Path]; ok {
		w.Header().Set("Allow", method)
		writeError(w, &apiError{Status: http.StatusMethodNotAllowed, Message: fmt.Sprintf("%s takes %s only", r.URL.Path, method)})
		return
	}
	writeError(w, &apiError{Status: http.StatusNotFound, Message: "no such admin endpoint; there are GET /admin/v1/stats, POST /admin/v1/purge and POST /admin/v1/erase"})
}

func (s *Server) handlePurge(w http.ResponseWriter, r *http.Request) {
	var req collectorapi.PurgeRequest
	if err := readAdminJSON(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	if err := checkPurge(&req, s.now()); err != nil {
		writeError(w, err)
		return
	}
	receipt, err := s.store.Purge(r.Context(), store.PurgeRequest{Cutoff: req.Cutoff, Action: req.Action, DryRun: req.DryRun, Job: req.Job})
	if err != nil {
		s.log.Error(err, "purge failed")
		writeError(w, &apiError{Status: http.StatusServiceUnavailable, Message: "the purge failed; what was purged before the failure stays purged"})
		return
	}
	audited(r, "cutoff", receipt.Cutoff.UTC().Format(time.RFC3339Nano), "purgeAction", receipt.Action, "dryRun", receipt.DryRun,
		"purged", receipt.Purged, "anonymized", receipt.Anonymized, "digest", receipt.Digest)
	writeJSON(w, http.StatusOK, receipt)
}

// maxRequestID is the longest erasure RequestID: a Kubernetes UID is 36.
const maxRequestID = 64

// requestIDRE is an erasure's RequestID, or empty.
var requestIDRE = regexp.MustCompile(`^[A-Za-z0-9-]*$`)

// checkErase validates an erasure request. No message it returns holds a
// value from the request: the identifier must never reach a log or an
// answer, and the others are refused in words alone.
func checkErase(req *collectorapi.EraseRequest) error {
	if (req.CustomerID == "") == (req.Email == "") {
		return unprocessable("customerID", "send exactly one of customerID or email")
	}
	for _, f := range []struct {
		name, value string
		max         int
	}{{"customerID", req.CustomerID, maxCustomerID}, {"email", req.Email, maxEmail}} {
		if _, bad := collectorapi.ControlCharacter(f.value, false); bad || utf8.RuneCountInString(f.value) > f.max {
			return unprocessable(f.name, "%s must be at most %d characters without control characters", f.name, f.max)
		}
	}
	if len(req.RequestID) > maxRequestID || !requestIDRE.MatchString(req.RequestID) {
		return unprocessable("requestID", "requestID must be at most %d of the letters A-Z and a-z, digits and '-'", maxRequestID)
	}
	return nil
}

// handleErase erases a respondent's responses and answers the receipt. A
// RequestID already erased is answered with its first receipt (Replayed)
// and erases nothing: the operator retries without fear of erasing what
// the person sent since.
func (s *Server) handleErase(w http.ResponseWriter, r *http.Request) {
	var req collectorapi.EraseRequest
	if err := readAdminJSON(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	if err := checkErase(&req); err != nil {
		writeError(w, err)
		return
	}
	if s.secrets.hmacUnusable.Load() {
		writeError(w, &apiError{Status: http.StatusServiceUnavailable, Message: "erasure is impossible until the previous hmac key is restored: " + s.keyProblem()})
		return
	}
	kr := s.secrets.keys.Load()
	// Erase every response the person gave under the identifier, including
	// those stored before customer IDs kept their case.
	var subjects []string
	if req.CustomerID != "" {
		subjects = append(subjects, kr.Pseudonym(crypto.KindCustomerID, req.CustomerID), kr.LegacyCustomerIDPseudonym(req.CustomerID))
	}
	if req.Email != "" {
		subjects = append(subjects, kr.Pseudonym(crypto.KindEmail, req.Email))
	}
	receipt, err := s.store.Erase(r.Context(), store.EraseRequest{Subjects: subjects, RequestID: req.RequestID})
	if err != nil {
		// The store sees pseudonyms only, and its errors name none.
		s.log.Error(err, "erase failed", "requestID", req.RequestID)
		writeError(w, &apiError{Status: http.StatusServiceUnavailable, Message: "the erasure failed; retry"})
		return
	}
	// Never the identifier, nor its pseudonyms.
	audited(r, "requestID", receipt.RequestID, "erased", receipt.Erased, "digest", receipt.Digest, "replayed", receipt.Replayed)
	writeJSON(w, http.StatusOK, receipt)
}

func (s *Server) handleHealthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	if err := s.store.Ping(r.Context()); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "store unreachable"})
		return
	}
	if p := s.keyProblem(); p != "" {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": p})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
