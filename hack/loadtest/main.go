// Command loadtest sends concurrent survey responses to a collector and
// prints durable responses per second and latency percentiles:
//
//	go run ./hack/loadtest --url https://127.0.0.1:8443 --ca-file tls.crt --conns 64 --duration 10s
//
// Only send load to a collector you run, on loopback or your own test hosts.
// The benchmarks in test/bench use the same generator against collectors
// they start themselves; docs/benchmarks.md has their figures.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/surveyguard/surveyguard/internal/loadgen"
)

func main() {
	url := flag.String("url", "", "the collector's public base URL (required)")
	caFile := flag.String("ca-file", "", "PEM CA that signed the collector's certificate; the system roots when empty")
	conns := flag.Int("conns", 64, "concurrent connections")
	duration := flag.Duration("duration", 10*time.Second, "how long to send")
	notice := flag.String("notice-version", "2026-01", "the campaign's consent notice version")
	bare := flag.Bool("bare", false, "send no personal field (no comment, email or customer ID)")
	noEmail := flag.Bool("no-email", false, "send no email (for a campaign that does not collect one)")
	connectTo := flag.String("connect-to", "", "dial this host:port instead of the URL's host; the certificate is still checked for the URL's host")
	respondents := flag.Int("respondents", 0, "spread the connections over this many loopback source addresses (127.0.0.2, 127.0.0.3, ...), so that a collector on loopback sees that many clients; 0: one")
	flood := flag.Bool("flood", false, "on 429, send again at once instead of waiting as Retry-After says")
	flag.Parse()
	if *url == "" {
		fmt.Fprintln(os.Stderr, "loadtest: --url is required")
		os.Exit(2)
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadtest:", err)
			os.Exit(1)
		}
		tlsCfg.RootCAs = x509.NewCertPool()
		if !tlsCfg.RootCAs.AppendCertsFromPEM(pem) {
			fmt.Fprintln(os.Stderr, "loadtest: no certificate in", *caFile)
			os.Exit(1)
		}
	}
	body := loadgen.Body(*notice)
	switch {
	case *bare:
		body = loadgen.BareBody(*notice)
	case *noEmail:
		body = loadgen.NoEmailBody(*notice)
	}
	base := &http.Transport{TLSClientConfig: tlsCfg}
	if *connectTo != "" {
		base.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
			d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: loadgen.LocalAddr(ctx)}
			return d.DialContext(ctx, network, *connectTo)
		}
	}
	cfg := loadgen.Config{
		URL: *url, Conns: *conns, Duration: *duration, Body: body, HonorRetryAfter: !*flood,
		Client: &http.Client{Transport: loadgen.Transport(base, *conns)},
	}
	if *respondents > 0 {
		cfg.Clients = loadgen.LoopbackClients(base, *respondents, 1)
	}
	res := loadgen.Run(context.Background(), cfg)
	fmt.Println(res)
	if res.Requests == 0 || res.Errors > 0 {
		os.Exit(1)
	}
}
