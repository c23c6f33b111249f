package collector

import (
	"github.com/surveyguard/surveyguard/internal/collectorapi"

	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// pageCSS is the page's only style; the Content-Security-Policy allows it by hash.
// The 0-10 scale is one grid row of eleven equal columns, so it stays one
// line from "not at all" to "extremely likely" down to a 320 px wide screen.
const pageCSS = `
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Lohit Devanagari",sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b;line-height:1.5}
h1{font-size:1.4rem}
h2{font-size:1.1rem;margin:0 0 .5rem}
a{color:#1f5aa6}
.langs{display:flex;gap:1rem;justify-content:flex-end;list-style:none;margin:0;padding:0}
.langs a[aria-current]{font-weight:600;color:#1b1b1b;text-decoration:none}
fieldset{border:0;padding:0;margin:0 0 1.5rem;min-width:0}
legend{font-weight:600;margin-bottom:.5rem;padding:0}
.scale{display:grid;grid-template-columns:repeat(11,minmax(0,1fr));gap:.25rem}
.scale label{display:flex;flex-direction:column;align-items:center;min-width:0;padding:.4rem 0;border:1px solid #767676;border-radius:.3rem;cursor:pointer}
.scale input{margin:0 0 .2rem}
.ends{display:flex;justify-content:space-between;gap:1rem;font-size:.9rem;color:#454545}
.ends span:last-child{text-align:right}
label.block{display:block;font-weight:600;margin-top:1rem}
textarea,input[type=email],input[type=text]{width:100%;box-sizing:border-box;padding:.5rem;border:1px solid #767676;border-radius:.3rem;font:inherit}
.notice{background:#f3f6fa;border-left:4px solid #1f5aa6;padding:.75rem 1rem;margin:1.5rem 0}
.error{background:#fdecea;border-left:4px solid #b3261e;padding:.5rem .75rem;margin:.5rem 0}
.consent{display:flex;gap:.5rem;align-items:flex-start}
.consent input{margin-top:.35rem;flex:none}
button{margin-top:1rem;padding:.6rem 1.4rem;font:inherit;font-weight:600;color:#fff;background:#1f5aa6;border:0;border-radius:.3rem;cursor:pointer}
:focus-visible{outline:3px solid #b35c00;outline-offset:2px}
@media (max-width:25rem){body{margin:1rem auto;padding:0 .5rem}.scale{gap:.125rem}.notice{padding:.5rem .75rem}}
`

// pageStyle is pageCSS for the template: a constant of this file, never input.
var pageStyle = template.CSS(pageCSS) //nolint:gosec // G203: a constant, not user input

var (
	cssHash = func() string {
		sum := sha256.Sum256([]byte(pageCSS))
		return base64.StdEncoding.EncodeToString(sum[:])
	}()
	pageCSP = "default-src 'none'; style-src 'sha256-" + cssHash + "'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

// The form is novalidate: the collector checks the answers and words its
// errors in the page's language, next to the field, where the browser's own
// bubbles would speak the browser's language and vanish. The page's text comes from .T (the page's own text in .Lang) and the
// campaign (.Question, .Purpose in .Lang). An error about one field is shown
// next to it (.Error with .ErrorField), any other above the form.
var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="{{.Lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{if .Done}}{{.T.ThanksTitle}}{{else}}{{.T.Title}}{{end}}</title>
<style>{{.CSS}}</style>
</head>
<body>
{{if .Languages}}<nav aria-label="{{.T.LanguageNav}}"><ul class="langs">{{range .Languages}}<li><a href="{{.Href}}" lang="{{.Tag}}" hreflang="{{.Tag}}"{{if .Current}} aria-current="page"{{end}}>{{.Name}}</a></li>{{end}}</ul></nav>
{{end}}<main>
{{if .Done}}
<h1>{{.T.ThanksTitle}}</h1>
<p role="status">{{.T.Thanks}}</p>
{{else}}
<h1>{{.T.Heading}}</h1>
{{if and .Error (not .ErrorField)}}<p class="error" role="alert" id="error">{{.Error}}</p>{{end}}
<form method="post" action="/s/{{.Campaign}}" novalidate>
<input type="hidden" name="lang" value="{{.Lang}}">
<fieldset aria-describedby="ends{{if eq .ErrorField "score"}} score-error{{end}}">
<legend id="q">{{.Question}}</legend>
<div class="scale">
{{range .Scores}}<label><input type="radio" name="score" value="{{.}}" required{{if eq (printf "%d" .) $.Score}} checked{{end}}{{if eq $.ErrorField "score"}} aria-invalid="true"{{if eq . 0}} autofocus{{end}}{{end}}>{{.}}</label>
{{end}}</div>
<div class="ends" id="ends"><span>{{.T.Low}}</span> <span>{{.T.High}}</span></div>
{{if eq .ErrorField "score"}}<p class="error" role="alert" id="score-error">{{.Error}}</p>
{{end}}</fieldset>
{{if .Collect.Comment}}<label class="block" for="comment">{{.T.CommentLabel}}</label>
<textarea id="comment" name="comment" rows="4" maxlength="4000" aria-describedby="comment-help{{if eq .ErrorField "comment"}} comment-error{{end}}"{{if eq .ErrorField "comment"}} aria-invalid="true" autofocus{{end}}>{{.Comment}}</textarea>
<p id="comment-help">{{.T.CommentHelp}}</p>{{if eq .ErrorField "comment"}}
<p class="error" role="alert" id="comment-error">{{.Error}}</p>{{end}}{{end}}
{{if .Collect.Email}}<label class="block" for="email">{{.T.EmailLabel}}</label>
<input type="email" id="email" name="email" autocomplete="email" maxlength="320" value="{{.Email}}"{{if eq .ErrorField "email"}} aria-invalid="true" aria-describedby="email-error" autofocus{{end}}>{{if eq .ErrorField "email"}}
<p class="error" role="alert" id="email-error">{{.Error}}</p>{{end}}{{end}}
{{if .Collect.CustomerID}}<label class="block" for="customerID">{{.T.CustomerIDLabel}}</label>
<input type="text" id="customerID" name="customerID" maxlength="256" value="{{.CustomerID}}"{{if eq .ErrorField "customerID"}} aria-invalid="true" aria-describedby="customerID-error" autofocus{{end}}>{{if eq .ErrorField "customerID"}}
<p class="error" role="alert" id="customerID-error">{{.Error}}</p>{{end}}{{end}}
{{range $k, $v := .Segments}}<input type="hidden" name="seg.{{$k}}" value="{{$v}}">
{{end}}<input type="hidden" name="token" value="{{.Token}}">
<input type="hidden" name="noticeVersion" value="{{.NoticeVersion}}">
<section class="notice" aria-labelledby="privacy">
<h2 id="privacy">{{.T.NoticeHeading}}</h2>
<p>{{.Collected}}</p>
<p>{{.Kept}}</p>
</section>
{{if .ConsentRequired}}<p class="consent"><input type="checkbox" id="consent" name="consent" value="yes" required{{if .Consent}} checked{{end}}{{if eq .ErrorField "consent"}} aria-invalid="true" aria-describedby="consent-error" autofocus{{end}}>
<label for="consent">{{.ConsentText}}</label></p>{{if eq .ErrorField "consent"}}
<p class="error" role="alert" id="consent-error">{{.Error}}</p>{{end}}{{end}}
<button type="submit">{{.T.Send}}</button>
</form>
{{end}}
</main>
</body>
</html>
`))

// fieldErrors are the fields whose errors the page shows next to them.
var fieldErrors = map[string]bool{"score": true, "comment": true, "email": true, "customerID": true, "consent": true}

type pageData struct {
	Done                      bool
	CSS                       template.CSS
	Lang                      string
	T                         *uiText
	Languages                 []languageLink
	Campaign, Question, Error string
	// ErrorField names the field Error is about, when the page shows it
	// next to that field; empty for an error about the whole form.
	ErrorField                 string
	Scores                     []int
	Score                      string
	Collect                    collectorapi.CollectConfig
	Comment, Email, CustomerID string
	Segments                   map[string]string
	Token                      string
	NoticeVersion              string
	Collected, Kept            string
	ConsentText                string
	ConsentRequired, Consent   bool
}

// pageData is the page in the language l, before the respondent's answers.
func (s *Server) pageData(l pageLanguage) *pageData {
	c, t := s.cfg, l.T
	d := &pageData{
		CSS: pageStyle, Lang: l.Tag, T: t, Campaign: c.Campaign, Question: l.Question,
		Scores: []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, Collect: c.Collect,
		NoticeVersion: c.Consent.NoticeVersion, ConsentRequired: c.Consent.Required, Segments: map[string]string{},
		ConsentText: t.consent(c.Consent.NoticeVersion),
	}
	var items []string
	if c.Collect.Comment {
		items = append(items, t.yourComment)
	}
	if c.Collect.Email {
		items = append(items, t.yourEmail)
	}
	if c.Collect.CustomerID {
		items = append(items, t.yourCustomerID)
	}
	if len(c.Collect.Segments) > 0 {
		items = append(items, t.segmentsOfLink(strings.Join(collectorapi.SortedSegmentKeys(c.Collect.Segments), ", ")))
	}
	d.Collected = t.weCollect(items)
	if l.Purpose != "" {
		d.Collected += t.purpose(l.Purpose)
	}
	if b := c.Consent.LawfulBasis; b != "" {
		d.Collected += t.lawfulBasis(t.basisNames[b])
	}
	d.Kept = t.Encrypted
	if r := humanDuration(t, c.Retention.MaxAge.Duration); r != "" {
		d.Kept += t.keptFor(r)
	}
	d.Kept += t.minGroup(c.Privacy.MinGroupSize)
	return d
}

func humanDuration(t *uiText, d time.Duration) string {
	switch {
	case d <= 0:
		return ""
	case d%(24*time.Hour) == 0:
		return t.days(int(d / (24 * time.Hour)))
	default:
		return d.String()
	}
}

func (s *Server) renderPage(w http.ResponseWriter, status int, d *pageData) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("Cache-Control", "no-store")
	setLanguageHeaders(h, d.Lang)
	w.WriteHeader(status)
	if err := pageTmpl.Execute(w, d); err != nil {
		s.log.Error(err, "rendering the survey page failed")
	}
}

// Form tokens. Each page carries a token the form must send back: it
// proves the post comes from a page this campaign served (with Origin and
// Sec-Fetch-Site checked too), and doubles as the answer's idempotency key,
// so a double click is counted once. A token is
// "<expiry unix seconds>.<nonce>.<MAC>", the MAC a keyed hash (the
// campaign's pseudonym key) of the campaign, expiry and nonce: any replica
// checks it without shared state.
const formTokenLifetime = 24 * time.Hour

func (s *Server) newToken() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	body := strconv.FormatInt(s.now().Add(formTokenLifetime).Unix(), 10) + "." + hex.EncodeToString(b)
	return body + "." + s.tokenMAC(body)
}

func (s *Server) tokenMAC(body string) string {
	return s.secrets.keys.Load().Pseudonym("formToken", s.cfg.Campaign+"\x00"+body)
}

// validToken checks a form token's MAC and expiry.
func (s *Server) validToken(tok string) bool {
	parts := strings.Split(tok, ".")
	if len(tok) > 96 || len(parts) != 3 {
		return false
	}
	exp, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil || s.now().Unix() > exp {
		return false
	}
	want := s.tokenMAC(parts[0] + "." + parts[1])
	return subtle.ConstantTimeCompare([]byte(parts[2]), []byte(want)) == 1
}

// handlePage is GET /s/{campaign}: the survey. Allowed segment keys in the
// query string (?plan=pro) travel with the answer; others are ignored.
func (s *Server) handlePage(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("campaign") != s.cfg.Campaign {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	l := chooseLanguage(s.langs, q.Get("lang"), r.Header.Get("Accept-Language"))
	d := s.pageData(l)
	for k, allowed := range s.cfg.Collect.Segments {
		if v := q.Get(k); slices.Contains(allowed, v) {
			d.Segments[k] = v
		}
	}
	d.Languages = languageLinks(s.cfg, l.Tag, d.Segments)
	d.Token = s.newToken()
	s.renderPage(w, http.StatusOK, d)
}

// handleForm is POST /s/{campaign}: the page's form. Errors re-render the
// page with the message and the answers kept.
func (s *Server) handleForm(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("campaign") != s.cfg.Campaign {
		http.NotFound(w, r)
		return
	}
	// The language of a page that cannot read the form comes from the
	// query and the headers; the form's own lang field is read below.
	l := chooseLanguage(s.langs, r.URL.Query().Get("lang"), r.Header.Get("Accept-Language"))
	if err := s.origins.Check(r); err != nil {
		// Another site's page posted here: show nothing of the form.
		d := s.pageData(l)
		d.Error = l.T.errCrossSite
		d.Token = s.newToken()
		s.renderPage(w, http.StatusForbidden, d)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		d := s.pageData(l)
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			d.Error = l.T.errTooLong(MaxBodyBytes)
			d.Token = s.newToken()
			s.renderPage(w, http.StatusRequestEntityTooLarge, d)
			return
		}
		d.Error = l.T.errUnreadable
		d.Token = s.newToken()
		s.renderPage(w, http.StatusBadRequest, d)
		return
	}
	f := r.PostForm
	if f.Has("lang") {
		l = chooseLanguage(s.langs, f.Get("lang"), r.Header.Get("Accept-Language"))
	}
	d := s.pageData(l)
	opt := func(name string, collected bool) *string {
		if !collected || strings.TrimSpace(f.Get(name)) == "" {
			return nil
		}
		v := strings.TrimSpace(f.Get(name))
		return &v
	}
	comment, email, customerID := opt("comment", s.cfg.Collect.Comment), opt("email", s.cfg.Collect.Email), opt("customerID", s.cfg.Collect.CustomerID)
	segments := map[string]string{}
	for k, v := range f {
		if key, ok := strings.CutPrefix(k, "seg."); ok && len(v) > 0 {
			segments[key] = v[0]
		}
	}
	var consent *consentBody
	if f.Get("consent") == "yes" {
		consent = &consentBody{Given: true, NoticeVersion: f.Get("noticeVersion")}
	}
	d.Score, d.Comment, d.Email, d.CustomerID = f.Get("score"), f.Get("comment"), f.Get("email"), f.Get("customerID")
	d.Segments, d.Consent, d.Token = segments, consent != nil, f.Get("token")
	if !s.validToken(d.Token) {
		d.Error = l.T.errExpired
		d.Token = s.newToken()
		s.renderPage(w, http.StatusForbidden, d)
		return
	}
	sub, err := s.formSubmission(f.Get("score"), consent, comment, email, customerID, segments, "form-"+d.Token)
	if err == nil {
		_, err = s.save(r, sub)
	}
	if err != nil {
		var ae *apiError
		status := http.StatusInternalServerError
		d.Error = l.T.errGeneric
		if errors.As(err, &ae) {
			status, d.Error = ae.Status, formMessage(l.T, ae)
			if fieldErrors[ae.Field] || ae.Field == "consent.noticeVersion" {
				d.ErrorField = strings.TrimSuffix(ae.Field, ".noticeVersion")
			}
			if ae.RetryAfter > 0 {
				w.Header().Set("Retry-After", retryAfter(ae.RetryAfter))
			}
		}
		s.renderPage(w, status, d)
		return
	}
	s.renderPage(w, http.StatusCreated, &pageData{Done: true, CSS: pageStyle, Lang: l.Tag, T: l.T})
}

func (s *Server) formSubmission(score string, consent *consentBody, comment, email, customerID *string,
	segments map[string]string, key string) (*submission, error) {
	n, err := strconv.Atoi(score)
	if err != nil || n < 0 || n > 10 {
		return nil, unprocessable("score", "Please choose a score from 0 to 10.")
	}
	return s.check(n, consent, comment, email, customerID, segments, key)
}

// formMessage words an API refusal for a person filling in the form, in
// the page's language. English keeps the API's own words for the rarer
// refusals; other languages ask to check the answers.
func formMessage(t *uiText, ae *apiError) string {
	switch {
	case ae.Field == "score":
		return t.errScore
	case ae.Field == "consent", ae.Field == "consent.noticeVersion":
		return t.errConsent
	case ae.Field == "email":
		return t.errEmail
	case ae.Status == http.StatusServiceUnavailable:
		return t.errClosed
	case t == english:
		return ae.Message
	case ae.Status >= 500:
		return t.errGeneric
	}
	return t.errCheck
}
