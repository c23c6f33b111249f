package adminclient_test

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
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

// adminAPI answers stats and purge like a collector and records the requests.
func adminAPI(t *testing.T) (adminclient.Target, func() []request) {
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
		switch r.URL.Path {
		case "/admin/v1/stats":
			_ = json.NewEncoder(w).Encode(collectorapi.Stats{ActiveKeyID: "k1"})
		case "/admin/v1/purge":
			_ = json.NewEncoder(w).Encode(store.PurgeReceipt{Action: store.ActionDelete, Digest: "d"})
		}
	}))
	t.Cleanup(srv.Close)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	return adminclient.Target{Campaign: "shop/checkout-nps", URL: srv.URL, CA: ca, Token: "token"}, func() []request {
		mu.Lock()
		defer mu.Unlock()
		return append([]request(nil), got...)
	}
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
	if err == nil || !strings.Contains(err.Error(), "action") {
		t.Fatalf("err = %v, want a refusal naming the action", err)
	}
	if n := len(requests()); n != 0 {
		t.Errorf("%d requests sent, want none", n)
	}
}
