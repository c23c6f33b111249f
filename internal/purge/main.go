// Package purge is the retention run started by a RetentionPolicy's CronJob:
// it asks a collector's admin API to purge responses older than a cutoff,
// prints the receipt as JSON and leaves it in the termination log, where the
// operator reads it from the finished Job.
package purge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/surveyguard/surveyguard/internal/adminclient"
	"github.com/surveyguard/surveyguard/internal/cli"
	"github.com/surveyguard/surveyguard/internal/collectorapi"
	"github.com/surveyguard/surveyguard/internal/store"
)

// Usage describes the purge role.
const Usage = `Usage: surveyguard purge --admin-url URL --token-file FILE --max-age DURATION [flags]

Runs one retention purge: asks the collector's admin API to delete or
anonymize responses received more than --max-age ago, prints the JSON
receipt and writes it to the termination log. Exits non-zero, with the
reason, when the purge fails. Started by the CronJob of a RetentionPolicy.

Flags:
`

// Options are the purge run's settings.
type Options struct {
	AdminURL  string
	TokenFile string
	CAFile    string
	MaxAge    time.Duration
	Action    store.Action
	DryRun    bool
	Job       string
	// ConnectTo, when set, is the host:port dialled instead of the URL's
	// (a port-forward); the certificate is still checked for the URL's host.
	ConnectTo string
	// Timeout bounds the run: the waits for a collector that cannot be
	// reached yet, and the purge call.
	Timeout        time.Duration
	TerminationLog string
	Now            func() time.Time
	// Log, when set, is told of each wait for the collector.
	Log io.Writer
}

// Main parses the flags and runs one purge.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("surveyguard purge", Usage, args, stdout, stderr)
	var o Options
	var action string
	fs.StringVar(&o.AdminURL, "admin-url", "", "Base URL of the collector's admin listener, e.g. https://checkout-nps-collector.shop.svc:9443 (required).")
	fs.StringVar(&o.TokenFile, "token-file", "", "File holding the admin bearer token (required).")
	fs.StringVar(&o.CAFile, "ca-file", "", "PEM file of the CA that signed the collector's certificate; the system roots when empty.")
	fs.DurationVar(&o.MaxAge, "max-age", 0, "Purge responses received longer ago than this, at least 1h (required).")
	fs.StringVar(&action, "action", string(store.ActionDelete), "Delete or Anonymize.")
	fs.BoolVar(&o.DryRun, "dry-run", false, "Report what would be purged without changing anything.")
	fs.StringVar(&o.ConnectTo, "connect-to", "", "Dial this host:port instead of the --admin-url host (kubectl port-forward); the certificate is still verified for the URL's host.")
	fs.StringVar(&o.Job, "job", os.Getenv("JOB_NAME"), "Name of the Job running the purge, kept on the receipt ($JOB_NAME).")
	fs.DurationVar(&o.Timeout, "timeout", 10*time.Minute, "How long the purge may take, waiting for a collector that cannot be reached yet included.")
	fs.StringVar(&o.TerminationLog, "termination-log", "/dev/termination-log", "Where to leave the receipt for Kubernetes; skipped when the file does not exist.")
	if help, err := cli.Parse(fs, args); help || err != nil {
		return err
	}
	o.Action = store.Action(action)
	if err := o.validate(); err != nil {
		return fmt.Errorf("%w: %w", cli.ErrUsage, err)
	}
	o.Log = stderr
	receipt, err := Run(ctx, o)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(receipt)
}

func (o *Options) validate() error {
	var errs []error
	if !strings.HasPrefix(o.AdminURL, "https://") && !strings.HasPrefix(o.AdminURL, "http://") {
		errs = append(errs, fmt.Errorf("--admin-url must be an http(s) URL, got %q", o.AdminURL))
	}
	if o.ConnectTo != "" {
		if _, _, err := net.SplitHostPort(o.ConnectTo); err != nil {
			errs = append(errs, fmt.Errorf("--connect-to must be host:port, got %q", o.ConnectTo))
		}
	}
	if o.TokenFile == "" {
		errs = append(errs, errors.New("--token-file is required"))
	}
	if o.MaxAge < time.Hour {
		errs = append(errs, fmt.Errorf("--max-age must be at least 1h, got %s", o.MaxAge))
	}
	if o.Action != store.ActionDelete && o.Action != store.ActionAnonymize {
		errs = append(errs, fmt.Errorf("--action must be Delete or Anonymize, got %q", o.Action))
	}
	if o.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("--timeout must be positive, got %s", o.Timeout))
	}
	return errors.Join(errs...)
}

// Run asks the collector to purge and returns its receipt, also written to
// the termination log when that file exists. o.Timeout must be positive. The request always names its
// action (Delete when o.Action is empty) and its caller (Caller(o.Job)).
//
// A collector that cannot be reached (the connection is refused, or its
// name does not resolve) is asked again, after 1 s, 2 s, 4 s... at most 10 s
// apart, until o.Timeout has passed since the run began: a paused
// campaign's collector starts, admin-only, only once the operator sees
// this run's Job. Any other failure ends the run at once, as before: the
// collector answered, or the call got as far as TLS.
func Run(ctx context.Context, o Options) (*store.PurgeReceipt, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Timeout <= 0 {
		return nil, fmt.Errorf("the purge run needs a positive timeout, got %s", o.Timeout)
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	token, err := os.ReadFile(o.TokenFile)
	if err != nil {
		return nil, fmt.Errorf("reading the admin token: %w", err)
	}
	var ca []byte
	if o.CAFile != "" {
		if ca, err = os.ReadFile(o.CAFile); err != nil {
			return nil, fmt.Errorf("reading the CA: %w", err)
		}
	}
	cutoff := o.Now().UTC().Truncate(time.Second).Add(-o.MaxAge) // now truncated to the second, as documented
	var dial map[string]string
	if o.ConnectTo != "" {
		dial = map[string]string{o.AdminURL: o.ConnectTo}
	}
	if o.Action == "" {
		o.Action = store.ActionDelete
	}
	// --timeout bounds the purge call itself, shorter or longer than the
	// admin client's own wait for purges.
	client := adminclient.New(dial, o.Timeout, adminclient.WithCaller(Caller(o.Job)), adminclient.WithLongCallTimeout(o.Timeout))
	target := adminclient.Target{Campaign: o.AdminURL, URL: o.AdminURL, CA: ca, Token: strings.TrimSpace(string(token))}
	req := collectorapi.PurgeRequest{Cutoff: cutoff, Action: o.Action, DryRun: o.DryRun, Job: o.Job}
	var receipt *store.PurgeReceipt
	for wait := time.Second; ; wait = min(2*wait, maxWait) {
		if receipt, err = client.Purge(ctx, target, req); err == nil {
			break
		}
		if !unreached(err) {
			return nil, fmt.Errorf("the collector did not purge: %w", err)
		}
		_, _ = fmt.Fprintf(o.Log, "the collector cannot be reached (%v); asking again in %s\n", err, wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("the collector did not purge: %w; no answer within --timeout (%w)", err, context.Cause(ctx))
		case <-t.C:
		}
	}
	if err := writeTerminationLog(o.TerminationLog, receipt); err != nil {
		return receipt, err
	}
	return receipt, nil
}

// maxWait is the longest wait between two tries to reach the collector.
const maxWait = 10 * time.Second

// unreached says the call failed before reaching a collector: no connection
// could be made, or the name did not resolve.
func unreached(err error) bool {
	var op *net.OpError
	var dns *net.DNSError
	return (errors.As(err, &op) && op.Op == "dial") || errors.As(err, &dns)
}

// Caller is what a purge run calls itself in the Surveyguard-Caller header:
// job/<name> when it runs as a Job (--job, $JOB_NAME), else purge.
func Caller(job string) string {
	if job == "" {
		return "purge"
	}
	return "job/" + job
}

// writeTerminationLog leaves the receipt where the kubelet puts it into the
// container's termination message (at most 4 KiB; a receipt is far smaller).
func writeTerminationLog(path string, receipt *store.PurgeReceipt) error {
	if path == "" {
		return nil
	}
	if _, err := os.Stat(path); err != nil {
		return nil //nolint:nilerr // no termination log outside Kubernetes: nothing to write
	}
	data, err := json.Marshal(receipt)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("writing the termination log: %w", err)
	}
	return nil
}
