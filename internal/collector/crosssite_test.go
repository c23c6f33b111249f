package collector_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/surveyguard/surveyguard/internal/collector"
	"github.com/surveyguard/surveyguard/internal/collector/collectortest"
)

// TestJSONAPIRefusesCrossSiteBrowsers checks POST /v1/responses against
// the browser's Origin and Sec-Fetch-Site headers; a server sends neither.
func TestJSONAPIRefusesCrossSiteBrowsers(t *testing.T) {
	f := collectortest.Start(t, nil)
	body := `{"score":9,` + consentOK + `}`
	for _, tc := range []struct {
		name   string
		hdr    []string
		status int
	}{
		{"another site's Origin", []string{"Origin", "https://evil.example"}, 403},
		{"Sec-Fetch-Site cross-site", []string{"Sec-Fetch-Site", "cross-site"}, 403},
		{"Sec-Fetch-Site same-site", []string{"Sec-Fetch-Site", "same-site"}, 403},
		{"Sec-Fetch-Site cross-site with the own Origin", []string{"Sec-Fetch-Site", "cross-site", "Origin", f.Public}, 403},
	} {
		a := f.Post(t, body, tc.hdr...)
		if a.Status != tc.status || a.Body["error"] == nil {
			t.Errorf("%s: %d %s; want %d with a JSON error", tc.name, a.Status, a.Raw, tc.status)
		}
	}
	if n := responsesStored(t, f); n != 0 {
		t.Fatalf("cross-site posts were stored: %v", n)
	}
	for _, tc := range []struct {
		name string
		hdr  []string
	}{
		{"Sec-Fetch-Site same-origin", []string{"Sec-Fetch-Site", "same-origin"}},
		{"a server: no Origin, no Sec-Fetch-Site", nil},
		{"the collector's own Origin", []string{"Origin", f.Public}},
	} {
		if a := f.Post(t, body, tc.hdr...); a.Status != 201 {
			t.Errorf("%s: %d %s; want 201", tc.name, a.Status, a.Raw)
		}
	}
	if n := responsesStored(t, f); n != 3 {
		t.Fatalf("responses = %v, want 3", n)
	}
}

var tokenRE = regexp.MustCompile(`name="token" value="([^"]+)"`)

// pageToken loads the survey page and returns its form token.
func pageToken(t *testing.T, f *collectortest.Fixture) string {
	t.Helper()
	page := f.Do(t, http.MethodGet, f.Public+"/s/checkout-nps", nil, nil)
	m := tokenRE.FindStringSubmatch(page.Raw)
	if page.Status != 200 || m == nil {
		t.Fatalf("survey page: %d, no token:\n%s", page.Status, page.Raw)
	}
	return m[1]
}

// TestFormChecksOriginAndToken checks the survey form: posts from another
// site and posts without a token this campaign issued are refused, the
// refusal keeps the respondent's text, and a token counts its answer once.
func TestFormChecksOriginAndToken(t *testing.T) {
	clock := newFakeClock(time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC))
	f := collectortest.StartWith(t, t.TempDir(), withLimits("{requestsPerSecond: 1000, burst: 1000}"), collector.Options{Now: clock.Now})
	const comment = "the pay button hid behind the cookie banner"
	post := func(token string, hdr ...string) collectortest.Answer {
		form := url.Values{"score": {"4"}, "comment": {comment}, "token": {token}, "noticeVersion": {"2026-01"}, "consent": {"yes"}}
		h := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
		for i := 0; i+1 < len(hdr); i += 2 {
			h[hdr[i]] = hdr[i+1]
		}
		return f.Do(t, http.MethodPost, f.Public+"/s/checkout-nps", []byte(form.Encode()), h)
	}

	for _, hdr := range [][]string{{"Origin", "https://evil.example"}, {"Sec-Fetch-Site", "cross-site"}} {
		a := post(pageToken(t, f), hdr...)
		if a.Status != 403 || strings.Contains(a.Raw, "Thank you") {
			t.Errorf("form with %s: %d; want 403:\n%s", hdr, a.Status, a.Raw)
		}
	}
	if n := responsesStored(t, f); n != 0 {
		t.Fatalf("cross-site form posts were stored: %v", n)
	}

	valid := pageToken(t, f)
	parts := strings.Split(valid, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not expiry.nonce.mac", valid)
	}
	flip := func(s string) string {
		last := s[len(s)-1]
		if last == 'A' {
			return s[:len(s)-1] + "B"
		}
		return s[:len(s)-1] + "A"
	}
	for _, tc := range []struct{ name, token string }{
		{"no token", ""},
		{"a made-up token", "tok-1"},
		{"a token whose MAC was altered", parts[0] + "." + parts[1] + "." + flip(parts[2])},
		{"a token whose expiry was extended", "9999999999." + parts[1] + "." + parts[2]},
		{"a token whose nonce was altered", parts[0] + "." + flip(parts[1]) + "." + parts[2]},
	} {
		a := post(tc.token)
		if a.Status != 403 || !strings.Contains(a.Raw, "send it again") || !strings.Contains(a.Raw, comment) {
			t.Errorf("%s: %d; want 403 asking to send again with the comment kept:\n%s", tc.name, a.Status, a.Raw)
		}
		if m := tokenRE.FindStringSubmatch(a.Raw); m == nil || m[1] == tc.token {
			t.Errorf("%s: the page to send again carries no fresh token", tc.name)
		}
	}
	if n := responsesStored(t, f); n != 0 {
		t.Fatalf("posts with bad tokens were stored: %v", n)
	}

	first, again := post(valid), post(valid)
	if first.Status != 201 || !strings.Contains(first.Raw, "Thank you") || again.Status != 201 {
		t.Fatalf("a valid token, posted twice: %d / %d\n%s", first.Status, again.Status, first.Raw)
	}
	if n := responsesStored(t, f); n != 1 {
		t.Fatalf("responses = %v; a reused token must count once", n)
	}

	old := pageToken(t, f)
	clock.Advance(23 * time.Hour)
	if a := post(old); a.Status != 201 {
		t.Fatalf("a token 23 h old: %d\n%s", a.Status, a.Raw)
	}
	old = pageToken(t, f)
	clock.Advance(25 * time.Hour)
	if a := post(old); a.Status != 403 || !strings.Contains(a.Raw, comment) {
		t.Fatalf("a token 25 h old: %d; want 403\n%s", a.Status, a.Raw)
	}
	if n := responsesStored(t, f); n != 2 {
		t.Fatalf("responses = %v, want 2", n)
	}
}
