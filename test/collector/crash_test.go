// Package collector tests the collector as a separate process: what a
// response's 201 promises must survive kill -9, and SIGTERM must drain.
package collector

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/surveyguard/surveyguard/internal/collector/collectortest"
	"github.com/surveyguard/surveyguard/internal/store/sqlite/sqlitetest"
	"github.com/surveyguard/surveyguard/internal/testenv"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "surveyguard-bin-")
	if err != nil {
		panic(err)
	}
	if binary, err = testenv.BuildSurveyguard(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

type proc struct {
	cmd           *exec.Cmd
	public, admin string
	log           *bytes.Buffer
}

// setup writes keys, token and an insecure (plain HTTP, loopback) config.
func setup(t *testing.T) (cfgPath, dbPath string) {
	t.Helper()
	dir := t.TempDir()
	collectortest.WriteKeys(t, filepath.Join(dir, "keys"), "k1", "k1")
	collectortest.WriteFile(t, filepath.Join(dir, "token"), []byte(collectortest.Token))
	cfg := collectortest.Config(dir)
	cfg = replaceLine(cfg, "tls:", "")
	// Every worker posts from 127.0.0.1: one client, unlimited here.
	cfg += "limits: {requestsPerSecond: 1000000, burst: 1000000}\n"
	cfgPath = filepath.Join(dir, "collector.yaml")
	collectortest.WriteFile(t, cfgPath, []byte(cfg))
	return cfgPath, filepath.Join(dir, "data", "responses.db")
}

func replaceLine(text, prefix, with string) string {
	var out bytes.Buffer
	for _, line := range bytes.Split([]byte(text), []byte("\n")) {
		if bytes.HasPrefix(line, []byte(prefix)) {
			line = []byte(with)
		}
		out.Write(line)
		out.WriteByte('\n')
	}
	return out.String()
}

// launch starts the collector process with the config at path, on two new ports.
func launch(t *testing.T, cfgPath string) *proc {
	t.Helper()
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{public: testenv.MustFreeAddr(t), admin: testenv.MustFreeAddr(t), log: &bytes.Buffer{}}
	cfg := replaceLine(string(data), "listen:", fmt.Sprintf("listen: {public: %q, admin: %q}", p.public, p.admin))
	collectortest.WriteFile(t, cfgPath, []byte(cfg))
	p.cmd = exec.Command(binary, "collector", "--config", cfgPath, "--insecure")
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + p.admin + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		if time.Now().After(deadline) {
			_ = p.cmd.Process.Kill()
			t.Fatalf("the collector did not become ready:\n%s", p.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// load posts from workers goroutines until stop is closed and returns the
// IDs and scores of every response answered 201.
func load(p *proc, workers int, stop <-chan struct{}) map[string]int {
	var mu sync.Mutex
	acked := map[string]int{}
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 5 * time.Second}
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				score := (w + i) % 11
				body := fmt.Sprintf(`{"score":%d,"consent":{"given":true,"noticeVersion":"2026-01"},"customerID":"C-%d-%d","comment":"fine"}`, score, w, i%7)
				resp, err := client.Post("http://"+p.public+"/v1/responses", "application/json", bytes.NewBufferString(body))
				if err != nil {
					continue // the process is gone: this one was never acknowledged
				}
				var out struct{ ID string }
				ok := resp.StatusCode == http.StatusCreated && json.NewDecoder(resp.Body).Decode(&out) == nil
				_ = resp.Body.Close()
				if ok {
					mu.Lock()
					acked[out.ID] = score
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return acked
}

// verify opens the database directly: every acknowledged response must be
// there with its score, and the running counters must equal a recount.
func verify(t *testing.T, dbPath string, acked map[string]int) {
	t.Helper()
	stored := sqlitetest.VerifyAcked(t, dbPath, acked)
	if stored < int64(len(acked)) {
		t.Fatalf("%d stored, %d acknowledged", stored, len(acked))
	}
	t.Logf("%d acknowledged, %d stored, counters agree with a recount", len(acked), stored)
}

func TestKill9LosesNoAcknowledgedResponse(t *testing.T) {
	cfgPath, dbPath := setup(t)
	verify(t, dbPath, killUnderLoad(t, cfgPath))
}

// killUnderLoad starts the collector of cfgPath three times, sends it
// responses on 32 connections and kills it (SIGKILL) 0.7, 1 and 1.3 s in.
// It returns every response acknowledged (ID to score).
func killUnderLoad(t *testing.T, cfgPath string) map[string]int {
	t.Helper()
	all := map[string]int{}
	for round := range 3 {
		p := launch(t, cfgPath)
		stop := make(chan struct{})
		done := make(chan map[string]int)
		go func() { done <- load(p, 32, stop) }()
		time.Sleep(time.Duration(700+300*round) * time.Millisecond)
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = p.cmd.Wait()
		close(stop)
		acked := <-done
		if len(acked) == 0 {
			t.Fatalf("round %d: no response was acknowledged before the kill:\n%s", round, p.log)
		}
		maps.Copy(all, acked)
	}
	return all
}

func TestSIGTERMDrains(t *testing.T) {
	cfgPath, dbPath := setup(t)
	p := launch(t, cfgPath)
	stop := make(chan struct{})
	done := make(chan map[string]int)
	go func() { done <- load(p, 16, stop) }()
	time.Sleep(500 * time.Millisecond)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := p.cmd.Wait()
	close(stop)
	acked := <-done
	if err != nil {
		t.Fatalf("the collector did not exit cleanly on SIGTERM: %v\n%s", err, p.log)
	}
	verify(t, dbPath, acked)
}
