package collector

import (
	"github.com/surveyguard/surveyguard/internal/collectorapi"

	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// pageCSS is the page's only style; the Content-Security-Policy allows it by hash.
const pageCSS = `
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b;line-height:1.5}
h1{font-size:1.4rem}
fieldset{border:0;padding:0;margin:0 0 1.5rem}
legend{font-weight:600;margin-bottom:.5rem}
.scale{display:flex;flex-wrap:wrap;gap:.25rem}
.scale label{display:flex;flex-direction:column;align-items:center;min-width:2.5rem;padding:.4rem 0;border:1px solid #767676;border-radius:.3rem;cursor:pointer}
.scale input{margin:0 0 .2rem}
.ends{display:flex;justify-content:space-between;font-size:.9rem;color:#454545}
label.block{display:block;font-weight:600;margin-top:1rem}
textarea,input[type=email],input[type=text]{width:100%;box-sizing:border-box;padding:.5rem;border:1px solid #767676;border-radius:.3rem;font:inherit}
.notice{background:#f3f6fa;border-left:4px solid #1f5aa6;padding:.75rem 1rem;margin:1.5rem 0}
.error{background:#fdecea;border-left:4px solid #b3261e;padding:.75rem 1rem}
button{margin-top:1rem;padding:.6rem 1.4rem;font:inherit;font-weight:600;color:#fff;background:#1f5aa6;border:0;border-radius:.3rem;cursor:pointer}
:focus-visible{outline:3px solid #f5a623;outline-offset:2px}
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

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{if .Done}}Thank you{{else}}Survey{{end}}</title>
<style>{{.CSS}}</style>
</head>
<body>
<main>
{{if .Done}}
<h1>Thank you</h1>
<p role="status">Your answer has been recorded.</p>
{{else}}
<h1>A one-question survey</h1>
{{if .Error}}<p class="error" role="alert" id="error">{{.Error}}</p>{{end}}
<form method="post" action="/s/{{.Campaign}}">
<fieldset>
<legend id="q">{{.Question}}</legend>
<div class="scale" role="radiogroup" aria-labelledby="q">
{{range .Scores}}<label><input type="radio" name="score" value="{{.}}" required{{if eq (printf "%d" .) $.Score}} checked{{end}}>{{.}}</label>
{{end}}</div>
<div class="ends" aria-hidden="true"><span>0 = not at all likely</span><span>10 = extremely likely</span></div>
</fieldset>
{{if .Collect.Comment}}<label class="block" for="comment">Anything you would like to add? (optional)</label>
<textarea id="comment" name="comment" rows="4" maxlength="4000" aria-describedby="comment-help">{{.Comment}}</textarea>
<p id="comment-help">Please leave out personal details. Contact and payment details are removed automatically before your comment is stored.</p>{{end}}
{{if .Collect.Email}}<label class="block" for="email">Email (optional)</label>
<input type="email" id="email" name="email" autocomplete="email" maxlength="320" value="{{.Email}}">{{end}}
{{if .Collect.CustomerID}}<label class="block" for="customerID">Customer ID (optional)</label>
<input type="text" id="customerID" name="customerID" maxlength="256" value="{{.CustomerID}}">{{end}}
{{range $k, $v := .Segments}}<input type="hidden" name="seg.{{$k}}" value="{{$v}}">
{{end}}<input type="hidden" name="token" value="{{.Token}}">
<input type="hidden" name="noticeVersion" value="{{.NoticeVersion}}">
<section class="notice" aria-labelledby="privacy">
<h2 id="privacy">What we collect and why</h2>
<p>We collect your score{{range .Collected}}, {{.}}{{end}}.{{if .Purpose}} Purpose: {{.Purpose}}.{{end}}{{if .LawfulBasis}} Legal basis: {{.LawfulBasis}}.{{end}}</p>
<p>Personal details are encrypted when stored.{{if .Retention}} Answers are kept for {{.Retention}}, then deleted or anonymized.{{end}} Scores are only shown for groups of {{.MinGroup}} answers or more.</p>
</section>
{{if .ConsentRequired}}<p><input type="checkbox" id="consent" name="consent" value="yes" required{{if .Consent}} checked{{end}}>
<label for="consent">I agree to my answer being processed as described above (privacy notice {{.NoticeVersion}}).</label></p>{{end}}
<button type="submit">Send</button>
</form>
{{end}}
</main>
</body>
</html>
`))

type pageData struct {
	Done                                bool
	CSS                                 template.CSS
	Campaign, Question, Error           string
	Scores                              []int
	Score                               string
	Collect                             collectorapi.CollectConfig
	Comment, Email, CustomerID          string
	Segments                            map[string]string
	Token                               string
	NoticeVersion, Purpose, LawfulBasis string
	Collected                           []string
	Retention                           string
	MinGroup                            int
	ConsentRequired, Consent            bool
}

func (s *Server) pageData() *pageData {
	c := s.cfg
	d := &pageData{
		CSS: pageStyle, Campaign: c.Campaign, Question: c.Question,
		Scores: []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, Collect: c.Collect,
		NoticeVersion: c.Consent.NoticeVersion, Purpose: c.Consent.Purpose, LawfulBasis: c.Consent.LawfulBasis,
		MinGroup: c.Privacy.MinGroupSize, ConsentRequired: c.Consent.Required, Segments: map[string]string{},
		Retention: humanDuration(c.Retention.MaxAge.Duration),
	}
	if c.Collect.Comment {
		d.Collected = append(d.Collected, "your comment")
	}
	if c.Collect.Email {
		d.Collected = append(d.Collected, "your email address")
	}
	if c.Collect.CustomerID {
		d.Collected = append(d.Collected, "your customer ID")
	}
	if len(c.Collect.Segments) > 0 {
		d.Collected = append(d.Collected, "the "+strings.Join(collectorapi.SortedSegmentKeys(c.Collect.Segments), ", ")+" of the link you followed")
	}
	return d
}

func humanDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return ""
	case d%(24*time.Hour) == 0:
		days := int(d / (24 * time.Hour))
		if days == 1 {
			return "1 day"
		}
		return strconv.Itoa(days) + " days"
	default:
		return d.String()
	}
}

func (s *Server) renderPage(w http.ResponseWriter, status int, d *pageData) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("Cache-Control", "no-store")
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
	d := s.pageData()
	q := r.URL.Query()
	for k, allowed := range s.cfg.Collect.Segments {
		if v := q.Get(k); slices.Contains(allowed, v) {
			d.Segments[k] = v
		}
	}
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
	if err := s.origins.Check(r); err != nil {
		// Another site's page posted here: show nothing of the form.
		d := s.pageData()
		d.Error = "This form can only be sent from the survey's own page. Please open the survey link again."
		d.Token = s.newToken()
		s.renderPage(w, http.StatusForbidden, d)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	d := s.pageData()
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			d.Error = fmt.Sprintf("Your answer is too long: at most %d bytes are accepted.", MaxBodyBytes)
			d.Token = s.newToken()
			s.renderPage(w, http.StatusRequestEntityTooLarge, d)
			return
		}
		d.Error = "The form could not be read. Please try again."
		d.Token = s.newToken()
		s.renderPage(w, http.StatusBadRequest, d)
		return
	}
	f := r.PostForm
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
		d.Error = "This page has expired. Please check your answer and send it again."
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
		d.Error = "Something went wrong. Please try again."
		if errors.As(err, &ae) {
			status, d.Error = ae.Status, formMessage(ae)
			if ae.RetryAfter > 0 {
				w.Header().Set("Retry-After", retryAfter(ae.RetryAfter))
			}
		}
		s.renderPage(w, status, d)
		return
	}
	s.renderPage(w, http.StatusCreated, &pageData{Done: true, CSS: pageStyle})
}

func (s *Server) formSubmission(score string, consent *consentBody, comment, email, customerID *string,
	segments map[string]string, key string) (*submission, error) {
	n, err := strconv.Atoi(score)
	if err != nil || n < 0 || n > 10 {
		return nil, unprocessable("score", "Please choose a score from 0 to 10.")
	}
	return s.check(n, consent, comment, email, customerID, segments, key)
}

// formMessage words an API refusal for a person filling in the form.
func formMessage(ae *apiError) string {
	switch ae.Field {
	case "score":
		return "Please choose a score from 0 to 10."
	case "consent", "consent.noticeVersion":
		return "Please tick the consent box to send your answer."
	case "email":
		return "Please check your email address, or leave it empty."
	}
	return ae.Message
}
