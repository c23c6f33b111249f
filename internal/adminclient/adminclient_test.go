package adminclient_test

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/surveyguard/surveyguard/internal/adminclient"
	"github.com/surveyguard/surveyguard/internal/collectorapi"
	"github.com/surveyguard/surveyguard/internal/store"
)

// request is what the admin API received.
type request struct {
	path, caller, auth string
	body               map[string]any
}

// recording is a collector that records every request, then answers it with respond.
func recording(t *testing.T, respond http.HandlerFunc) (adminclient.Target, func() []request) {
	t.Helper()
	var mu sync.Mutex
	var got []request
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := request{path: r.URL.Path, caller: r.Header.Get("Surveyguard-Caller"), auth: r.Header.Get("Authorization")}
		if data, _ := io.ReadAll(r.Body); len(data) > 0 {
			_ = json.Unmarshal(data, &rec.body)
		}
		mu.Lock()
		got = append(got, rec)
		mu.Unlock()
		respond(w, r)
	}))
	t.Cleanup(srv.Close)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	return adminclient.Target{Campaign: "shop/checkout-nps", URL: srv.URL, CA: ca, Token: "token"}, func() []request {
		mu.Lock()
		defer mu.Unlock()
		return append([]request(nil), got...)
	}
}

// adminAPI answers stats and purge like a collector and records the requests.
func adminAPI(t *testing.T) (adminclient.Target, func() []request) {
	t.Helper()
	return recording(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/admin/v1/stats":
			_ = json.NewEncoder(w).Encode(collectorapi.Stats{ActiveKeyID: "k1"})
		case "/admin/v1/purge":
			_ = json.NewEncoder(w).Encode(store.PurgeReceipt{Action: store.ActionDelete, Digest: "d"})
		}
	})
}

func TestEveryRequestNamesItsCaller(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		opts   []adminclient.Option
		caller string
	}{
		{"the operator by default", nil, "operator"},
		{"a retention Job", []adminclient.Option{adminclient.WithCaller("job/checkout-nps-retention-29384750")}, "job/checkout-nps-retention-29384750"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target, requests := adminAPI(t)
			c := adminclient.New(nil, 5*time.Second, tc.opts...)
			if _, err := c.Stats(ctx, target); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Purge(ctx, target, collectorapi.PurgeRequest{Everything: true, Action: store.ActionDelete}); err != nil {
				t.Fatal(err)
			}
			got := requests()
			if len(got) != 2 {
				t.Fatalf("%d requests, want 2", len(got))
			}
			for _, r := range got {
				if r.caller != tc.caller || r.auth != "Bearer token" {
					t.Errorf("%s: caller %q, authorization %q; want caller %q", r.path, r.caller, r.auth, tc.caller)
				}
			}
			if b := got[1].body; b["everything"] != true || b["action"] != "Delete" {
				t.Errorf("purge body %v, want everything and action Delete", b)
			}
		})
	}
}

func TestAPurgeWithoutActionIsNotSent(t *testing.T) {
	target, requests := adminAPI(t)
	_, err := adminclient.New(nil, 5*time.Second).Purge(context.Background(), target, collectorapi.PurgeRequest{Everything: true})
	if err == nil || !strings.Contains(err.Error(), "action") || !adminclient.Permanent(err) {
		t.Fatalf("err = %v, want a permanent refusal naming the action", err)
	}
	if n := len(requests()); n != 0 {
		t.Errorf("%d requests sent, want none", n)
	}
}

// The identifier the erase tests send: no error may hold it.
const identifier = "Secret.Person@Example.org"

// answering is a collector that answers every request with status and
// body after delay, and records the requests.
func answering(t *testing.T, status int, body string, delay time.Duration) (adminclient.Target, func() []request) {
	t.Helper()
	return recording(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	})
}

func TestErase(t *testing.T) {
	finished := time.Date(2026, 5, 4, 10, 0, 1, 250, time.UTC)
	answer, _ := json.Marshal(collectorapi.EraseReceipt{RequestID: "uid-1", Erased: 3, Digest: "abc",
		StartedAt: finished.Add(-time.Second), FinishedAt: finished, Replayed: true})
	target, requests := answering(t, http.StatusOK, string(answer), 0)
	rc, err := adminclient.New(nil, 5*time.Second).Erase(context.Background(), target,
		collectorapi.EraseRequest{Email: identifier, RequestID: "uid-1"})
	if err != nil {
		t.Fatal(err)
	}
	if rc.RequestID != "uid-1" || rc.Erased != 3 || rc.Digest != "abc" || !rc.Replayed || !rc.FinishedAt.Equal(finished) {
		t.Errorf("receipt = %+v", rc)
	}
	got := requests()
	if len(got) != 1 {
		t.Fatalf("%d requests, want 1", len(got))
	}
	want := map[string]any{"email": identifier, "requestID": "uid-1"}
	if r := got[0]; r.path != "/admin/v1/erase" || r.caller != "operator" || r.auth != "Bearer token" || fmt.Sprint(r.body) != fmt.Sprint(want) {
		t.Errorf("sent %s with caller %q, authorization %q, body %v; want body %v", r.path, r.caller, r.auth, r.body, want)
	}
}

func TestAnEraseWithoutExactlyOneIdentifierIsNotSent(t *testing.T) {
	target, requests := answering(t, http.StatusOK, `{}`, 0)
	for _, req := range []collectorapi.EraseRequest{
		{RequestID: "uid-1"},
		{CustomerID: "C-" + identifier, Email: identifier, RequestID: "uid-1"},
	} {
		_, err := adminclient.New(nil, 5*time.Second).Erase(context.Background(), target, req)
		if err == nil || !strings.Contains(err.Error(), "exactly one") || strings.Contains(err.Error(), identifier) {
			t.Errorf("Erase(%+v) = %v; want a refusal, naming no identifier", req, err)
		}
		if !adminclient.Permanent(err) {
			t.Errorf("Permanent(%v) = false: the request can never work", err)
		}
	}
	if n := len(requests()); n != 0 {
		t.Errorf("%d requests sent, want none", n)
	}
}

// TestStatusErrors: an answer other than 2xx is a StatusError that reads as
// before ("POST /admin/v1/erase: 422 ..."), holds no identifier even when
// the collector's message does, and is permanent only for a 4xx that
// retrying cannot change.
func TestStatusErrors(t *testing.T) {
	for _, tc := range []struct {
		status    int
		body      string
		text      string
		permanent bool
	}{
		{422, `{"error":"requestID must be at most 64 of the letters A-Z and a-z, digits and '-'","field":"requestID"}`,
			"POST /admin/v1/erase: 422 requestID must be at most 64 of the letters A-Z and a-z, digits and '-'", true},
		{422, `{"error":"no such person: ` + strings.ToLower(identifier) + `"}`, "POST /admin/v1/erase: 422 no such person: [identifier]", true},
		{400, `{"error":"malformed JSON"}`, "POST /admin/v1/erase: 400 malformed JSON", true},
		{401, `{"error":"a valid bearer token is required"}`, "POST /admin/v1/erase: 401 a valid bearer token is required", true},
		{404, ``, "POST /admin/v1/erase: 404 Not Found", true},
		{408, ``, "POST /admin/v1/erase: 408 Request Timeout", false},
		{429, `{"error":"slow down"}`, "POST /admin/v1/erase: 429 slow down", false},
		{500, `not JSON`, "POST /admin/v1/erase: 500 Internal Server Error", false},
		{503, `{"error":"the erasure failed; retry"}`, "POST /admin/v1/erase: 503 the erasure failed; retry", false},
	} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			target, _ := answering(t, tc.status, tc.body, 0)
			_, err := adminclient.New(nil, 5*time.Second).Erase(context.Background(), target,
				collectorapi.EraseRequest{Email: identifier, RequestID: "uid-1"})
			var se *adminclient.StatusError
			if !errors.As(err, &se) || se.Code != tc.status || se.Method != http.MethodPost || se.Path != "/admin/v1/erase" {
				t.Fatalf("err = %#v, want a StatusError %d", err, tc.status)
			}
			if err.Error() != tc.text {
				t.Errorf("err = %q, want %q", err, tc.text)
			}
			if got := adminclient.Permanent(err); got != tc.permanent {
				t.Errorf("Permanent(%v) = %v, want %v", err, got, tc.permanent)
			}
			if wrapped := fmt.Errorf("campaign shop/checkout-nps: %w", err); adminclient.Permanent(wrapped) != tc.permanent {
				t.Errorf("Permanent of a wrapped %v differs", err)
			}
		})
	}
}

// TestTransportErrorsAreNotPermanent: no answer (nothing listening, a
// timeout) is worth retrying, and its error holds no identifier.
func TestTransportErrorsAreNotPermanent(t *testing.T) {
	slow, _ := answering(t, http.StatusOK, `{}`, 10*time.Second)
	gone, _ := answering(t, http.StatusOK, `{}`, 0)
	gone.URL = "https://" + closedAddr(t)
	for name, target := range map[string]adminclient.Target{"timeout": slow, "refused": gone} {
		t.Run(name, func(t *testing.T) {
			c := adminclient.New(nil, 200*time.Millisecond, adminclient.WithLongCallTimeout(200*time.Millisecond))
			_, err := c.Erase(context.Background(), target,
				collectorapi.EraseRequest{CustomerID: identifier, RequestID: "uid-1"})
			if err == nil || adminclient.Permanent(err) {
				t.Fatalf("err = %v, Permanent %v; want a retryable error", err, adminclient.Permanent(err))
			}
			if strings.Contains(strings.ToLower(err.Error()), strings.ToLower(identifier)) {
				t.Errorf("the error holds the identifier: %v", err)
			}
		})
	}
	if adminclient.Permanent(nil) || adminclient.Permanent(errors.New("x")) || adminclient.Permanent(context.DeadlineExceeded) {
		t.Error("Permanent is true for an error that is no refusal")
	}
}

// TestPurgeAndEraseMayTakeLonger: a stats call is given up after the
// client's timeout; a purge and an erasure that take longer than that (an
// erasure reads every response of a large SQLite store) are waited for, up
// to the long-call timeout.
func TestPurgeAndEraseMayTakeLonger(t *testing.T) {
	const short = 100 * time.Millisecond
	target, _ := recording(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/admin/v1/stats":
			<-r.Context().Done() // never answers: the client gives up
			return
		case "/admin/v1/purge":
			time.Sleep(3 * short)
			_ = json.NewEncoder(w).Encode(store.PurgeReceipt{Action: store.ActionDelete, Purged: 7, Digest: "d"})
		case "/admin/v1/erase":
			time.Sleep(3 * short)
			_ = json.NewEncoder(w).Encode(collectorapi.EraseReceipt{Erased: 2, Digest: "e"})
		}
	})
	c := adminclient.New(nil, short, adminclient.WithLongCallTimeout(time.Minute))
	ctx := context.Background()
	if _, err := c.Stats(ctx, target); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("stats past the timeout = %v, want a deadline error", err)
	}
	if rc, err := c.Purge(ctx, target, collectorapi.PurgeRequest{Everything: true, Action: "Delete"}); err != nil || rc.Purged != 7 {
		t.Errorf("a purge longer than the timeout = %+v, %v; want its receipt", rc, err)
	}
	if rc, err := c.Erase(ctx, target, collectorapi.EraseRequest{Email: identifier}); err != nil || rc.Erased != 2 {
		t.Errorf("an erasure longer than the timeout = %+v, %v; want its receipt", rc, err)
	}
	// A long-call timeout shorter than the client's is the client's.
	c = adminclient.New(nil, time.Minute, adminclient.WithLongCallTimeout(short))
	if rc, err := c.Erase(ctx, target, collectorapi.EraseRequest{Email: identifier}); err != nil || rc.Erased != 2 {
		t.Errorf("an erasure under the client's timeout = %+v, %v; want its receipt", rc, err)
	}
}

// A target's Addr reaches one pod past its Service: the connection goes to
// Addr, the certificate is still checked against the URL's host, and a
// dial override of the campaign wins over Addr.
func TestAddrReachesAPodPastItsService(t *testing.T) {
	ctx := context.Background()
	target, requests := adminAPI(t)
	u, err := url.Parse(target.URL)
	if err != nil {
		t.Fatal(err)
	}
	closed := closedAddr(t)

	// httptest's certificate names example.com; nothing resolves it here.
	viaPod := target
	viaPod.URL = "https://example.com:9443"
	viaPod.Addr = u.Host
	c := adminclient.New(nil, 5*time.Second)
	if _, err := c.Stats(ctx, viaPod); err != nil {
		t.Fatalf("stats through Addr: %v", err)
	}

	wrongName := viaPod
	wrongName.URL = "https://checkout-nps-collector.shop.svc:9443"
	if _, err := c.Stats(ctx, wrongName); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a pod whose certificate does not name the URL's host: got %v, want a certificate error", err)
	}

	overridden := viaPod
	overridden.Addr = closed
	c = adminclient.New(map[string]string{target.Campaign: u.Host}, 5*time.Second)
	if _, err := c.Stats(ctx, overridden); err != nil {
		t.Errorf("the dial override should win over Addr: %v", err)
	}
	if n := len(requests()); n != 2 {
		t.Errorf("%d requests reached the collector, want 2", n)
	}
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}
