package purge_test

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
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"

	"github.com/surveyguard/surveyguard/internal/cli"
	"github.com/surveyguard/surveyguard/internal/collector"
	"github.com/surveyguard/surveyguard/internal/collector/collectortest"
	"github.com/surveyguard/surveyguard/internal/purge"
	"github.com/surveyguard/surveyguard/internal/store"
)

const consent = `"consent":{"given":true,"noticeVersion":"2026-01"}`

// adminCalls captures the collector's "admin call" log lines, its audit
// trail of who called the admin API.
type adminCalls struct {
	mu    sync.Mutex
	calls []map[string]any
}

func (a *adminCalls) add(line string) {
	var m map[string]any
	if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "admin call" {
		a.mu.Lock()
		a.calls = append(a.calls, m)
		a.mu.Unlock()
	}
}

// purges are the purge calls, in order.
func (a *adminCalls) purges() []map[string]any {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []map[string]any
	for _, c := range a.calls {
		if c["action"] == "purge" {
			out = append(out, c)
		}
	}
	return out
}

func TestPurgeRunAgainstACollector(t *testing.T) {
	audit := &adminCalls{}
	f := collectortest.StartWith(t, t.TempDir(), nil, collector.Options{Log: funcr.NewJSON(audit.add, funcr.Options{})})
	for i := range 3 {
		if a := f.Post(t, fmt.Sprintf(`{"score":%d,%s}`, i, consent)); a.Status != 201 {
			t.Fatal(a.Raw)
		}
	}
	termLog := filepath.Join(t.TempDir(), "termination-log")
	collectortest.WriteFile(t, termLog, nil)
	args := []string{"--admin-url", f.Admin, "--token-file", f.TokenFile, "--ca-file", f.CAFile,
		"--max-age", "1h", "--termination-log", termLog}

	// A max age of one hour purges nothing just posted. JOB_NAME, as the
	// CronJob's pod sets it, names the run on the receipt.
	t.Setenv("JOB_NAME", "checkout-nps-retention-29384750")
	var out, errOut strings.Builder
	if err := purge.Main(context.Background(), args, &out, &errOut); err != nil {
		t.Fatalf("purge: %v\n%s", err, errOut.String())
	}
	var receipt store.PurgeReceipt
	if err := json.Unmarshal([]byte(out.String()), &receipt); err != nil {
		t.Fatalf("stdout is not a JSON receipt: %v\n%s", err, out.String())
	}
	if receipt.Purged != 0 || receipt.Action != store.ActionDelete || receipt.Digest == "" || receipt.Job != "checkout-nps-retention-29384750" {
		t.Fatalf("receipt = %+v", receipt)
	}
	if last, _ := f.Stats(t)["lastPurge"].(map[string]any); last["job"] != receipt.Job || last["digest"] != receipt.Digest {
		t.Errorf("the collector's lastPurge = %v, want the receipt", last)
	}
	if cut := time.Since(receipt.Cutoff); cut < 59*time.Minute || cut > 61*time.Minute {
		t.Errorf("cutoff %s is not one hour ago", receipt.Cutoff)
	}
	logged, _ := os.ReadFile(termLog)
	var fromLog store.PurgeReceipt
	if err := json.Unmarshal(logged, &fromLog); err != nil || fromLog.Digest != receipt.Digest {
		t.Errorf("termination log = %q, want the receipt", logged)
	}

	// With a clock two hours ahead everything is older than the max age.
	receiptPtr, err := purge.Run(context.Background(), purge.Options{
		AdminURL: f.Admin, TokenFile: f.TokenFile, CAFile: f.CAFile, MaxAge: time.Hour,
		Action: store.ActionAnonymize, Timeout: time.Minute,
		Now: func() time.Time { return time.Now().Add(2 * time.Hour) },
	})
	if err == nil {
		t.Fatalf("a cutoff in the collector's future must be refused, got %+v", receiptPtr)
	}
	if !strings.Contains(err.Error(), "422") || !strings.Contains(err.Error(), "future") {
		t.Errorf("the refusal does not carry the collector's reason: %v", err)
	}

	// Run without a timeout would give up at once: refused, naming it.
	if _, err := purge.Run(context.Background(), purge.Options{AdminURL: f.Admin, TokenFile: f.TokenFile, CAFile: f.CAFile, MaxAge: time.Hour}); err == nil ||
		!strings.Contains(err.Error(), "positive timeout") {
		t.Errorf("a run without a timeout: %v", err)
	}

	// Run without an action still names one: Delete.
	receiptPtr, err = purge.Run(context.Background(), purge.Options{
		AdminURL: f.Admin, TokenFile: f.TokenFile, CAFile: f.CAFile, MaxAge: time.Hour, Timeout: time.Minute,
	})
	if err != nil || receiptPtr.Action != store.ActionDelete {
		t.Fatalf("purge without an action: %+v, %v", receiptPtr, err)
	}

	// The collector's audit trail names each run: the Job's, then two by hand.
	want := []map[string]any{
		{"caller": "job/checkout-nps-retention-29384750", "outcome": "ok", "purgeAction": "Delete"},
		{"caller": "purge", "outcome": "refused"},
		{"caller": "purge", "outcome": "ok", "purgeAction": "Delete"},
	}
	got := audit.purges()
	if len(got) != len(want) {
		t.Fatalf("%d purge calls in the collector's log, want %d: %v", len(got), len(want), got)
	}
	for i, w := range want {
		for k, v := range w {
			if got[i][k] != v {
				t.Errorf("purge call %d: %s = %v, want %v (%v)", i, k, got[i][k], v, got[i])
			}
		}
	}
}

func TestCaller(t *testing.T) {
	for job, want := range map[string]string{"": "purge", "checkout-nps-retention-29384750": "job/checkout-nps-retention-29384750"} {
		if got := purge.Caller(job); got != want {
			t.Errorf("Caller(%q) = %q, want %q", job, got, want)
		}
	}
}

func TestPurgeRunFailures(t *testing.T) {
	f := collectortest.Start(t, nil)
	bad := filepath.Join(t.TempDir(), "bad-token")
	collectortest.WriteFile(t, bad, []byte("wrong-token-wrong-token"))
	cases := []struct {
		name  string
		args  []string
		usage bool
		want  string
	}{
		{"no flags", nil, true, "--admin-url"},
		{"max age too short", []string{"--admin-url", f.Admin, "--token-file", f.TokenFile, "--max-age", "30m"}, true, "--max-age must be at least 1h"},
		{"unknown action", []string{"--admin-url", f.Admin, "--token-file", f.TokenFile, "--max-age", "2h", "--action", "Shred"}, true, "--action"},
		{"no timeout", []string{"--admin-url", f.Admin, "--token-file", f.TokenFile, "--max-age", "2h", "--timeout", "0s"}, true, "--timeout must be positive"},
		{"negative timeout", []string{"--admin-url", f.Admin, "--token-file", f.TokenFile, "--max-age", "2h", "--timeout", "-1s"}, true, "--timeout must be positive"},
		{"wrong token", []string{"--admin-url", f.Admin, "--token-file", bad, "--ca-file", f.CAFile, "--max-age", "2h"}, false, "401"},
		{"untrusted certificate", []string{"--admin-url", f.Admin, "--token-file", f.TokenFile, "--max-age", "2h"}, false, "certificate"},
		{"connect-to without a port", []string{"--admin-url", f.Admin, "--token-file", f.TokenFile, "--max-age", "2h", "--connect-to", "localhost"}, true, "--connect-to must be host:port"},
		// Asked again until --timeout has passed (TestPurgeWaitsForTheCollector).
		{"nothing listening", []string{"--admin-url", "https://127.0.0.1:1", "--token-file", f.TokenFile, "--max-age", "2h", "--timeout", "1500ms"}, false, "connection refused; no answer within --timeout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut strings.Builder
			err := purge.Main(context.Background(), tc.args, &out, &errOut)
			if err == nil {
				t.Fatalf("succeeded: %s", out.String())
			}
			if errors.Is(err, cli.ErrUsage) != tc.usage {
				t.Errorf("usage error = %v, want %v: %v", errors.Is(err, cli.ErrUsage), tc.usage, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if out.Len() != 0 {
				t.Errorf("a failed run printed a receipt: %s", out.String())
			}
		})
	}
}

// TestPurgeWaitsForTheCollector: a paused campaign's collector starts only
// once the operator sees the retention Job run, so the run asks again while
// nothing listens, says so on stderr, and purges once the collector answers.
func TestPurgeWaitsForTheCollector(t *testing.T) {
	f := collectortest.Start(t, nil)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close() // nothing listens there until the collector "starts"
	errOut := &collectortest.SyncBuffer{}
	var out strings.Builder
	done := make(chan error, 1)
	go func() {
		done <- purge.Main(context.Background(), []string{"--admin-url", f.Admin, "--connect-to", addr,
			"--token-file", f.TokenFile, "--ca-file", f.CAFile, "--max-age", "1h", "--timeout", "1m"}, &out, errOut)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(errOut.String(), "connection refused); asking again in 1s") {
		select {
		case err := <-done:
			t.Fatalf("the run ended before the collector came up: %v\n%s", err, errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no wait for the collector was told in 30 s: %q", errOut.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The collector comes up at that address.
	if l, err = net.Listen("tcp", addr); err != nil {
		t.Fatalf("listening again on %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = l.Close() })
	go forward(l, strings.TrimPrefix(f.Admin, "https://"))
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("purge: %v\n%s", err, errOut.String())
		}
	case <-time.After(time.Minute):
		t.Fatalf("the run did not end within a minute of the collector coming up: %s", errOut.String())
	}
	var receipt store.PurgeReceipt
	if err := json.Unmarshal([]byte(out.String()), &receipt); err != nil || receipt.Digest == "" {
		t.Fatalf("stdout is not a receipt (%v): %s", err, out.String())
	}
	if last, _ := f.Stats(t)["lastPurge"].(map[string]any); last["digest"] != receipt.Digest {
		t.Errorf("the collector's lastPurge = %v, want the receipt", last)
	}
}

// forward copies each connection l accepts to and from target.
func forward(l net.Listener, target string) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer func() { _ = c.Close() }()
			u, err := net.Dial("tcp", target)
			if err != nil {
				return
			}
			defer func() { _ = u.Close() }()
			go func() { _, _ = io.Copy(u, c) }()
			_, _ = io.Copy(c, u)
		}()
	}
}

// TestPurgeTimeout: --timeout bounds the purge call, however short: a
// collector that never answers fails the run once it has passed (the
// admin client's own, longer wait for purges does not stretch it).
func TestPurgeTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select { // never answers
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	dir := t.TempDir()
	caFile, tokenFile := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "token")
	collectortest.WriteFile(t, caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
	collectortest.WriteFile(t, tokenFile, []byte("test-token-test-token\n"))
	done := make(chan error, 1)
	go func() {
		var out, errOut strings.Builder
		done <- purge.Main(context.Background(), []string{"--admin-url", srv.URL, "--token-file", tokenFile,
			"--ca-file", caFile, "--max-age", "2h", "--timeout", "300ms"}, &out, &errOut)
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("a purge past --timeout = %v, want a deadline error", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the purge was still waiting a minute after its --timeout of 300ms")
	}
}
