package collector_test

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/surveyguard/surveyguard/internal/collector/collectortest"
)

const hindiQuestion = "आप Acme Checkout की सिफ़ारिश किसी मित्र या सहकर्मी से करने की कितनी संभावना रखते हैं?"

// withHindi adds Hindi to the fixture's campaign, after its default (English
// unless defaultLanguage says otherwise).
func withHindi(s string) string {
	return strings.Replace(s, "\nconsent:", "\nlanguages: [{lang: hi, question: \""+hindiQuestion+"\", purpose: \"चेकआउट को बेहतर बनाना\"}]\nconsent:", 1)
}

var htmlLangRE = regexp.MustCompile(`<html lang="([^"]*)">`)

// TestPageLanguage checks which language the page is served in: ?lang=
// first, then Accept-Language by q-value and primary subtag, then the
// campaign's default; and that the page says so (html lang,
// Content-Language, Vary).
func TestPageLanguage(t *testing.T) {
	f := collectortest.Start(t, withHindi)
	for _, tc := range []struct {
		query, acceptLanguage, want string
	}{
		{"", "", "en"},
		{"", "hi", "hi"},
		{"", "hi-IN", "hi"},
		{"", "HI-in;q=0.9", "hi"},
		{"", "en;q=0.5, hi;q=0.9", "hi"},
		{"", "hi;q=0.5, en;q=0.9", "en"},
		{"", "hi;Q=0.5,en;q=0.9", "en"}, // the parameter's name is case-insensitive
		{"", "fr, hi;q=0.1", "hi"},
		{"", "hi;q=0", "en"},
		{"", "hi;q=2", "en"},
		{"", "hi;q=x, fr", "en"},
		{"", "*", "en"},
		{"", "ta, *;q=0.5", "en"},
		{"?lang=hi", "en", "hi"},
		{"?lang=en", "hi-IN", "en"},
		{"?lang=HI", "", "hi"},
		{"?lang=ta", "hi", "hi"}, // a language the campaign lacks is ignored
		{"?lang=", "hi", "hi"},
	} {
		req, _ := http.NewRequest(http.MethodGet, f.Public+"/s/checkout-nps"+tc.query, nil)
		if tc.acceptLanguage != "" {
			req.Header.Set("Accept-Language", tc.acceptLanguage)
		}
		resp, err := f.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		m := htmlLangRE.FindStringSubmatch(string(body))
		what := "query " + tc.query + ", Accept-Language " + tc.acceptLanguage
		if resp.StatusCode != 200 || m == nil || m[1] != tc.want {
			t.Errorf("%s: %d, html lang %v; want %q", what, resp.StatusCode, m, tc.want)
			continue
		}
		if cl := resp.Header.Get("Content-Language"); cl != tc.want || !strings.Contains(resp.Header.Get("Vary"), "Accept-Language") {
			t.Errorf("%s: Content-Language %q, Vary %q", what, cl, resp.Header.Get("Vary"))
		}
		wantQ := "How likely are you to recommend Acme Checkout"
		if tc.want == "hi" {
			wantQ = hindiQuestion
		}
		if !strings.Contains(string(body), wantQ) {
			t.Errorf("%s: the page does not ask %q", what, wantQ)
		}
	}
}

// TestHindiDefaultLanguage is a campaign written in Hindi with an English
// translation: without a usable Accept-Language the page is in Hindi.
func TestHindiDefaultLanguage(t *testing.T) {
	f := collectortest.Start(t, func(s string) string {
		s = strings.Replace(s, `question: "How likely are you to recommend Acme Checkout to a friend or colleague?"`,
			`question: "`+hindiQuestion+`"`+"\ndefaultLanguage: hi\n"+
				`languages: [{lang: en, question: "How likely are you to recommend Acme Checkout to a friend or colleague?", purpose: "Improve checkout"}]`, 1)
		return strings.Replace(s, `purpose: "Improve checkout"`, `purpose: "चेकआउट को बेहतर बनाना"`, 1)
	})
	for acceptLanguage, want := range map[string]string{"": "hi", "fr": "hi", "en-GB": "en"} {
		a := f.Do(t, http.MethodGet, f.Public+"/s/checkout-nps", nil, map[string]string{"Accept-Language": acceptLanguage})
		if m := htmlLangRE.FindStringSubmatch(a.Raw); m == nil || m[1] != want {
			t.Errorf("Accept-Language %q: html lang %v, want %s", acceptLanguage, m, want)
		}
	}
}

// TestFormKeepsItsLanguage posts the Hindi page's form: its errors and the
// thank-you page are in Hindi whatever the Accept-Language says.
func TestFormKeepsItsLanguage(t *testing.T) {
	f := collectortest.Start(t, withHindi)
	page := f.Do(t, http.MethodGet, f.Public+"/s/checkout-nps?lang=hi&plan=pro", nil, nil)
	if !strings.Contains(page.Raw, `name="lang" value="hi"`) || !strings.Contains(page.Raw, `href="/s/checkout-nps?lang=en&amp;plan=pro"`) {
		t.Fatalf("the Hindi page lacks its lang field or the link to English keeping the segments:\n%s", page.Raw)
	}
	token := regexp.MustCompile(`name="token" value="([^"]+)"`).FindStringSubmatch(page.Raw)[1]
	form := url.Values{"score": {"9"}, "comment": {"तेज़ चेकआउट"}, "token": {token}, "noticeVersion": {"2026-01"}, "lang": {"hi"}}
	hdr := map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Accept-Language": "en"}
	noConsent := f.Do(t, http.MethodPost, f.Public+"/s/checkout-nps", []byte(form.Encode()), hdr)
	if noConsent.Status != 422 || !strings.Contains(noConsent.Raw, `<html lang="hi">`) ||
		!strings.Contains(noConsent.Raw, `id="consent-error">अपना उत्तर भेजने के लिए कृपया सहमति वाले बॉक्स पर टिक करें।`) ||
		!strings.Contains(noConsent.Raw, "तेज़ चेकआउट") || !strings.Contains(noConsent.Raw, `aria-describedby="consent-error" autofocus`) {
		t.Fatalf("Hindi form without consent: %d\n%s", noConsent.Status, noConsent.Raw)
	}
	form.Set("score", "11")
	form.Set("consent", "yes")
	badScore := f.Do(t, http.MethodPost, f.Public+"/s/checkout-nps", []byte(form.Encode()), hdr)
	if badScore.Status != 422 || !strings.Contains(badScore.Raw, `id="score-error">कृपया 0 से 10 के बीच एक स्कोर चुनें।`) {
		t.Fatalf("Hindi form with score 11: %d\n%s", badScore.Status, badScore.Raw)
	}
	form.Set("score", "9")
	ok := f.Do(t, http.MethodPost, f.Public+"/s/checkout-nps", []byte(form.Encode()), hdr)
	if ok.Status != 201 || !strings.Contains(ok.Raw, `<html lang="hi">`) || !strings.Contains(ok.Raw, "धन्यवाद") {
		t.Fatalf("Hindi form with consent: %d\n%s", ok.Status, ok.Raw)
	}
}
