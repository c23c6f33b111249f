// Package browser opens the survey page in a real headless Chromium (from
// Debian's packages, installed by the test harness when missing), driven
// with chromedp: a respondent answering with the keyboard only, the
// accessibility rules of WCAG 2.1 AA checked by axe-core in the page, the
// layout of the 0-10 scale from 320 px up, and the page's languages.
//
// Screenshots are written to $SURVEYGUARD_ARTIFACTS, or test/browser/artifacts.
package browser

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/surveyguard/surveyguard/internal/collector/collectortest"
	"github.com/surveyguard/surveyguard/internal/testenv"
)

// hindiQuestion and hindiPurpose are the test campaign's Hindi text.
const (
	hindiQuestion = "आप Acme Checkout की सिफ़ारिश किसी मित्र या सहकर्मी से करने की कितनी संभावना रखते हैं?"
	hindiPurpose  = "चेकआउट को बेहतर बनाना"
)

// startCollector runs the test campaign (collectortest's, which collects a
// comment, an email and a customer ID and asks consent) in English, its
// default, and Hindi; extra edits the configuration further.
func startCollector(t *testing.T, extra func(string) string) *collectortest.Fixture {
	t.Helper()
	return collectortest.Start(t, func(cfg string) string {
		cfg = strings.Replace(cfg, "\nconsent:", fmt.Sprintf("\nlanguages: [{lang: hi, question: %q, purpose: %q}]\nconsent:", hindiQuestion, hindiPurpose), 1)
		// The browser also asks for /favicon.ico: no rate limit gets in the way.
		cfg += "limits: {requestsPerSecond: 1000, burst: 1000}\n"
		if extra != nil {
			cfg = extra(cfg)
		}
		return cfg
	})
}

var (
	setupOnce           sync.Once
	chromiumPath, axeJS string
	setupErr            error
	artifactsOnce       sync.Once
	artifactsDir        string
	artifactsErr        error
	// wcagTags select axe-core's rules for WCAG 2.0 and 2.1, levels A and AA.
	wcagTags = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa"}
)

// setup finds (or installs) Chromium and axe-core once for the package.
func setup(t *testing.T) {
	t.Helper()
	setupOnce.Do(func() {
		if chromiumPath, setupErr = testenv.Chromium(); setupErr != nil {
			return
		}
		dir, err := filepath.Abs(".")
		if err != nil {
			setupErr = err
			return
		}
		if setupErr = testenv.NPMModules(dir); setupErr != nil {
			return
		}
		src, err := os.ReadFile(filepath.Join(dir, "node_modules", "axe-core", "axe.min.js"))
		if err != nil {
			setupErr = fmt.Errorf("axe-core: %w (remove test/browser/node_modules to reinstall it)", err)
			return
		}
		axeJS = string(src)
	})
	if setupErr != nil {
		t.Fatalf("the browser tests need headless Chromium and axe-core: %v", setupErr)
	}
}

// artifact writes a test artifact (a screenshot) and logs where.
func artifact(t *testing.T, name string, data []byte) {
	t.Helper()
	artifactsOnce.Do(func() {
		artifactsDir = os.Getenv("SURVEYGUARD_ARTIFACTS")
		if artifactsDir == "" {
			artifactsDir = "artifacts"
		}
		if artifactsDir, artifactsErr = filepath.Abs(artifactsDir); artifactsErr == nil {
			artifactsErr = os.MkdirAll(artifactsDir, 0o750)
		}
	})
	if artifactsErr != nil {
		t.Fatal(artifactsErr)
	}
	path := filepath.Join(artifactsDir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Logf("artifact: %s", path)
}

// spkiHash is the base64 SHA-256 of the certificate's public key: Chromium
// trusts that key alone (--ignore-certificate-errors-spki-list), not every
// certificate.
func spkiHash(t *testing.T, certFile string) string {
	t.Helper()
	data, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s holds no PEM certificate", certFile)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// tab is one browser tab on the collector of f.
type tab struct {
	t   *testing.T
	ctx context.Context
	f   *collectortest.Fixture
}

// newTab starts a headless Chromium of its own (fresh profile, no network
// beyond loopback) that trusts the collector's certificate.
func newTab(t *testing.T, f *collectortest.Fixture) *tab {
	t.Helper()
	setup(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("ignore-certificate-errors-spki-list", spkiHash(t, f.CAFile)),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser, bound to ctx
		t.Fatalf("starting %s: %v", chromiumPath, err)
	}
	return &tab{t: t, ctx: ctx, f: f}
}

// stepTimeout bounds one step: a page that never shows what a step waits
// for fails the test instead of hanging it.
const stepTimeout = 30 * time.Second

func (b *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

func run[T any](b *tab, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return v
}

// read runs an action that only reads the page. Right after a navigation
// the browser may still name the previous document's JavaScript context;
// such a call is tried again, every 20 ms, until the step's deadline.
func read[T any](b *tab, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	for {
		v, err := chromedp.Run(ctx, a)
		if err == nil {
			return v
		}
		if !staleContext(err) || ctx.Err() != nil {
			b.t.Fatalf("%s: %v", what, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// staleContext tells the errors of a call made to a document that a
// navigation has just replaced.
func staleContext(err error) bool {
	msg := err.Error()
	for _, s := range []string{"Cannot find context with specified id", "Execution context was destroyed", "Inspected target navigated or closed"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// eval evaluates a JavaScript expression and decodes its JSON result.
func eval[T any](b *tab, js string) T {
	b.t.Helper()
	return read(b, "evaluating "+firstLine(js), chromedp.Evaluate[T](js))
}

// waitFor polls a JavaScript condition until it is true.
func (b *tab) waitFor(what, js string) {
	b.t.Helper()
	read(b, "waiting for "+what, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(stepTimeout)))
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return s
}

// acceptLanguage sets the Accept-Language header of the tab's requests.
func (b *tab) acceptLanguage(v string) {
	b.t.Helper()
	b.do("setting Accept-Language", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		_, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": v}})
		return err
	}))
}

// open loads path (with its query) of the collector at a viewport width,
// as a phone (mobile: the page's viewport meta applies) or a desktop.
func (b *tab) open(path string, width int64, mobile bool) {
	b.t.Helper()
	emulate := []chromedp.EmulateViewportOption{}
	if mobile {
		emulate = append(emulate, chromedp.EmulateMobile)
	}
	height := int64(900)
	if mobile {
		height = 740
	}
	b.do("opening "+path, chromedp.EmulateViewport(width, height, emulate...), chromedp.Navigate(b.f.Public+path))
	b.waitFor("the page to load", `document.readyState === "complete"`)
}

func (b *tab) screenshot(name string) {
	b.t.Helper()
	artifact(b.t, name, read(b, "screenshot "+name, chromedp.FullScreenshot(100)))
}

// violation is one failed axe-core rule.
type violation struct {
	ID, Impact, Help string
	Nodes            []string
}

// axe runs axe-core in the page with the WCAG 2.0/2.1 A and AA rules and
// fails the test on any violation, listing each. The script is evaluated
// through the DevTools protocol, which the page's CSP does not govern.
func (b *tab) axe(what string) {
	b.t.Helper()
	if !eval[bool](b, `typeof window.axe === "object"`) {
		read(b, "injecting axe-core", chromedp.Evaluate[chromedp.Void](axeJS))
	}
	tags, _ := json.Marshal(wcagTags)
	js := `axe.run(document, {runOnly: {type: "tag", values: ` + string(tags) + `}, resultTypes: ["violations"]}).then(r => ({
		rules: r.passes.length + r.violations.length + r.incomplete.length,
		violations: r.violations.map(v => ({id: v.id, impact: v.impact || "", help: v.help,
			nodes: v.nodes.map(n => n.target.join(" ") + ": " + n.failureSummary)}))}))`
	res := read(b, "running axe-core", chromedp.Evaluate[struct {
		Rules      int
		Violations []violation
	}](js, chromedp.EvalAwaitPromise))
	if res.Rules == 0 {
		b.t.Fatalf("%s: axe-core checked no rule", what)
	}
	for _, v := range res.Violations {
		b.t.Errorf("%s: WCAG 2.1 AA violation %s (%s): %s\n  %s", what, v.ID, v.Impact, v.Help, strings.Join(v.Nodes, "\n  "))
	}
}

// focused describes the focused element and whether its focus is visible.
type focused struct {
	ID, Tag, Type, Value, Text, Lang string
	Checked, FocusVisible            bool
	Outline                          string
	OutlineWidth                     float64
}

const focusedJS = `(() => {
	const e = document.activeElement, s = getComputedStyle(e);
	return {id: e.id, tag: e.tagName.toLowerCase(), type: e.type || "", value: e.value || "",
		text: (e.textContent || "").trim(), lang: e.lang || "", checked: !!e.checked,
		focusVisible: e.matches(":focus-visible"), outline: s.outlineStyle, outlineWidth: parseFloat(s.outlineWidth) || 0};
})()`

// press sends one key (kb.Tab, kb.ArrowRight, " ", ...), optionally with
// modifiers, and returns what has the focus then.
func (b *tab) press(key string, opts ...chromedp.KeyOption) focused {
	b.t.Helper()
	b.do(fmt.Sprintf("pressing %q", key), chromedp.KeyEvent(key, opts...))
	return eval[focused](b, focusedJS)
}

// submit presses Enter on the focused Send button and waits until the
// page the form's post answers with has loaded.
func (b *tab) submit() {
	b.t.Helper()
	run(b, "sending the form", chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.KeyEvent(kb.Enter)))
}

// typeText types text into the focused element, key by key.
func (b *tab) typeText(text string) {
	b.t.Helper()
	b.do("typing", chromedp.KeyEvent(text))
}

// visibleFocus fails unless the focused element shows the page's focus ring.
func visibleFocus(t *testing.T, f focused) {
	t.Helper()
	if !f.FocusVisible || f.Outline == "none" || f.OutlineWidth < 2 {
		t.Errorf("focus on %s#%s is not visible: :focus-visible %v, outline %s %.1fpx", f.Tag, f.ID, f.FocusVisible, f.Outline, f.OutlineWidth)
	}
}
