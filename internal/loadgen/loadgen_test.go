package loadgen

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// TestDial: the raw HTTP/1.1 client sends what net/http's would (method,
// path, Content-Type, body), counts 201s, 429s and other answers apart,
// and redials when the server closes the connection.
func TestDial(t *testing.T) {
	var seen, closed atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		n := seen.Add(1)
		if r.Method != http.MethodPost || r.URL.Path != "/v1/responses" || r.Header.Get("Content-Type") != "application/json" ||
			r.ContentLength != int64(len(body)) || len(body) == 0 {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		switch {
		case string(body) == `{"i":7}`:
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
		case string(body) == `{"i":9}`:
			w.WriteHeader(http.StatusInternalServerError)
		default:
			if n%5 == 0 {
				closed.Add(1)
				w.Header().Set("Connection", "close")
			}
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, `{"duplicate":false,"id":"x"}`+"\n")
		}
	}))
	defer srv.Close()
	dial, err := TLSDial(srv.Client().Transport.(*http.Transport), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	r := Run(context.Background(), Config{URL: srv.URL, Conns: 3, Duration: time.Minute, Requests: 40, Dial: dial,
		Body: func(i int64) []byte { return []byte(`{"i":` + strconv.FormatInt(i, 10) + `}`) }})
	if r.Requests != 38 || r.Limited != 1 || r.Errors != 1 {
		t.Errorf("got %d responses, %d limited, %d errors; want 38, 1, 1", r.Requests, r.Limited, r.Errors)
	}
	if seen.Load() != 40 || closed.Load() == 0 {
		t.Errorf("the server saw %d requests (%d answered with Connection: close); want 40", seen.Load(), closed.Load())
	}
}

// TestTLSDialRefusesPlainHTTP: the raw client speaks TLS only.
func TestTLSDialRefusesPlainHTTP(t *testing.T) {
	if _, err := TLSDial(&http.Transport{}, "http://127.0.0.1:1"); err == nil {
		t.Fatal("TLSDial took an http URL")
	}
}
