package browser

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp/kb"

	"github.com/surveyguard/surveyguard/internal/crypto"
	"github.com/surveyguard/surveyguard/internal/redact"
	"github.com/surveyguard/surveyguard/internal/store/sqlite"
	"github.com/surveyguard/surveyguard/internal/store/sqlstore"
)

// describe names a focused element for the focus order: a:<lang> for a
// language link, radio:<value>, the id of a field, button:<text>.
func describe(f focused) string {
	switch {
	case f.Tag == "a":
		return "a:" + f.Lang
	case f.Type == "radio":
		return "radio:" + f.Value
	case f.Tag == "button":
		return "button:" + f.Text
	case f.ID != "":
		return f.ID
	}
	return f.Tag
}

// TestKeyboardOnlyAnswer is a respondent who uses only the keyboard: the
// focus moves through the page in reading order, always visibly; the score
// is chosen with the arrow keys; a send without consent shows the error
// next to the consent box, keeps every answer and puts the focus on the
// box; ticking it sends the answer, and the stored comment is redacted.
func TestKeyboardOnlyAnswer(t *testing.T) {
	f := startCollector(t, nil)
	b := newTab(t, f)
	b.acceptLanguage("en-GB,en;q=0.9")
	b.open("/s/checkout-nps?plan=pro", 1280, false)
	b.axe("the survey page (desktop)")
	b.screenshot("survey-desktop.png")

	// The ends of the scale describe it to a screen reader too.
	if ends := eval[string](b, `(() => {
		const ids = (document.querySelector("fieldset").getAttribute("aria-describedby") || "").split(" ");
		return ids.map(id => (document.getElementById(id) || {}).textContent || "").join("|");
	})()`); ends != "0 = not at all likely 10 = extremely likely" {
		t.Errorf("the scale is described as %q", ends)
	}

	wantOrder := []string{"a:en", "a:hi", "radio:0", "comment", "email", "customerID", "consent", "button:Send"}
	var order []string
	for range wantOrder {
		got := b.press(kb.Tab)
		visibleFocus(t, got)
		order = append(order, describe(got))
	}
	if strings.Join(order, " ") != strings.Join(wantOrder, " ") {
		t.Fatalf("focus order with Tab:\n got %v\nwant %v", order, wantOrder)
	}

	// Answer from the top again, with the keyboard only.
	b.open("/s/checkout-nps?plan=pro", 1280, false)
	for range 3 {
		b.press(kb.Tab)
	}
	var got focused
	for range 9 {
		got = b.press(kb.ArrowRight)
	}
	if describe(got) != "radio:9" || !got.Checked {
		t.Fatalf("after 9 × ArrowRight from 0 the focus is on %s (checked %v), want radio:9 checked", describe(got), got.Checked)
	}
	visibleFocus(t, got)
	const (
		comment    = "Checkout was quick. Call me on +91 98765 43210 or write to ana.silva@example.com"
		email      = "ana@example.com"
		customerID = "C-1234"
	)
	for _, field := range []struct{ id, text string }{{"comment", comment}, {"email", email}, {"customerID", customerID}} {
		if got := b.press(kb.Tab); got.ID != field.id {
			t.Fatalf("Tab after the previous field focuses %s, want #%s", describe(got), field.id)
		}
		b.typeText(field.text)
	}
	b.press(kb.Tab) // the consent box, left unticked
	if got := b.press(kb.Tab); describe(got) != "button:Send" {
		t.Fatalf("Tab after the consent box focuses %s, want the Send button", describe(got))
	}
	b.submit()

	// Refused: the error stands next to the consent box; nothing is lost.
	b.waitFor("the consent error", `!!document.getElementById("consent-error")`)
	b.waitFor("the focus on the consent box", `document.activeElement && document.activeElement.id === "consent"`)
	kept := eval[struct {
		Score, Comment, Email, CustomerID, Error, DescribedBy, Invalid string
		TopError                                                       bool
		Gap                                                            float64
		ErrorFollowsBox                                                bool
	}](b, `(() => {
		const box = document.getElementById("consent"), err = document.getElementById("consent-error");
		const row = box.closest("p");
		return {score: (document.querySelector("input[name=score]:checked") || {}).value || "",
			comment: document.getElementById("comment").value, email: document.getElementById("email").value,
			customerID: document.getElementById("customerID").value, error: err.textContent.trim(),
			describedBy: box.getAttribute("aria-describedby") || "", invalid: box.getAttribute("aria-invalid") || "",
			topError: !!document.getElementById("error"),
			gap: err.getBoundingClientRect().top - row.getBoundingClientRect().bottom,
			errorFollowsBox: row.nextElementSibling === err};
	})()`)
	if kept.Score != "9" || kept.Comment != comment || kept.Email != email || kept.CustomerID != customerID {
		t.Errorf("the answers were not kept: %+v", kept)
	}
	if kept.Error != "Please tick the consent box to send your answer." || kept.TopError {
		t.Errorf("consent error %q (an error above the form too: %v)", kept.Error, kept.TopError)
	}
	if !kept.ErrorFollowsBox || kept.Gap < 0 || kept.Gap > 32 || kept.DescribedBy != "consent-error" || kept.Invalid != "true" {
		t.Errorf("the error is not next to the consent box: follows it %v, %.0f px below it, aria-describedby %q, aria-invalid %q",
			kept.ErrorFollowsBox, kept.Gap, kept.DescribedBy, kept.Invalid)
	}
	b.axe("the page with the consent error")
	b.screenshot("survey-consent-error-desktop.png")

	if got := b.press(" "); got.ID != "consent" || !got.Checked {
		t.Fatalf("Space on the consent box: focus %s, checked %v", describe(got), got.Checked)
	}
	if got := b.press(kb.Tab); describe(got) != "button:Send" {
		t.Fatalf("Tab after the consent box focuses %s, want the Send button", describe(got))
	}
	b.submit()
	b.waitFor("the thank-you page", `!!document.querySelector("p[role=status]")`)
	thanks := eval[struct{ Lang, H1, Status string }](b, `({lang: document.documentElement.lang,
		h1: document.querySelector("h1").textContent, status: document.querySelector("p[role=status]").textContent})`)
	if thanks.Lang != "en" || thanks.H1 != "Thank you" || thanks.Status != "Your answer has been recorded." {
		t.Errorf("thank-you page: %+v", thanks)
	}
	b.axe("the thank-you page")
	b.screenshot("thank-you.png")

	// What was stored: one response, its comment redacted.
	f.Stop()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(f.DBDir, "responses.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	recs, err := st.List(ctx, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Score != 9 || recs[0].Segments["plan"] != "pro" {
		t.Fatalf("stored %d responses, want one with score 9 and plan pro: %+v", len(recs), recs)
	}
	kr, err := crypto.Load(f.KeysDir)
	if err != nil {
		t.Fatal(err)
	}
	open := func(field string, ct []byte) string {
		pt, err := kr.Decrypt(field, recs[0].ID, ct)
		if err != nil {
			t.Fatalf("decrypting the stored %s: %v", field, err)
		}
		return string(pt)
	}
	stored := open("comment", recs[0].Comment)
	if want := redact.Comment(comment).Text; stored != want {
		t.Errorf("stored comment %q, want the redacted %q", stored, want)
	}
	for _, pii := range []string{"98765 43210", "ana.silva@example.com"} {
		if strings.Contains(stored, pii) {
			t.Errorf("the stored comment holds %q: %q", pii, stored)
		}
	}
	if e, c := open("email", recs[0].Email), open("customerID", recs[0].CustomerID); e != email || c != customerID {
		t.Errorf("stored email %q and customer ID %q, want %q and %q", e, c, email, customerID)
	}
}

// scaleGeometry is where the browser laid out the 0-10 scale.
type scaleGeometry struct {
	Labels []struct {
		Text                     string
		Left, Right, Top, Bottom float64
		Fits, RadioInside        bool
	}
	Viewport, ScrollWidth float64
}

const scaleJS = `(() => ({
	labels: [...document.querySelectorAll(".scale label")].map(l => {
		const r = l.getBoundingClientRect(), i = l.querySelector("input").getBoundingClientRect();
		return {text: l.textContent.trim(), left: r.left, right: r.right, top: r.top, bottom: r.bottom,
			fits: l.scrollWidth <= l.clientWidth,
			radioInside: i.left >= r.left && i.right <= r.right && i.top >= r.top && i.bottom <= r.bottom};
	}),
	viewport: document.documentElement.clientWidth, scrollWidth: document.documentElement.scrollWidth}))()`

// checkOneRow fails unless the scale is eleven boxes 0..10 on one line,
// left to right, apart, inside the screen, with nothing to scroll sideways.
func checkOneRow(t *testing.T, what string, g scaleGeometry) {
	t.Helper()
	if len(g.Labels) != 11 {
		t.Fatalf("%s: %d scale boxes, want 11", what, len(g.Labels))
	}
	for i, l := range g.Labels {
		first := g.Labels[0]
		switch {
		case l.Text != fmt.Sprint(i):
			t.Errorf("%s: box %d reads %q", what, i, l.Text)
		case l.Top > first.Top+1 || l.Top < first.Top-1:
			t.Errorf("%s: the scale breaks into rows: box %d is at y=%.0f, box 0 at y=%.0f", what, i, l.Top, first.Top)
		case i > 0 && l.Left < g.Labels[i-1].Right:
			t.Errorf("%s: box %d (x=%.1f) overlaps box %d (right edge %.1f)", what, i, l.Left, i-1, g.Labels[i-1].Right)
		case !l.Fits || !l.RadioInside:
			t.Errorf("%s: box %d is too narrow for its number or radio button (%.1f px)", what, i, l.Right-l.Left)
		}
	}
	if last := g.Labels[10]; last.Right > g.Viewport || g.ScrollWidth > g.Viewport {
		t.Errorf("%s: the scale reaches x=%.0f and the page is %.0f px wide, on a %.0f px screen", what, last.Right, g.ScrollWidth, g.Viewport)
	}
}

// TestMissingScoreErrorFollowsTheScale sends the form without a score: the
// error stands right after the scale, inside its group, which describes
// it; every radio is marked invalid and the first has the focus; axe-core
// finds nothing.
func TestMissingScoreErrorFollowsTheScale(t *testing.T) {
	f := startCollector(t, nil)
	b := newTab(t, f)
	b.open("/s/checkout-nps?lang=en", 1280, false)
	for range 8 {
		if got := b.press(kb.Tab); got.ID == "email" {
			break
		}
	}
	b.typeText("ana@example.com")
	b.submit()
	b.waitFor("the score error", `!!document.getElementById("score-error")`)
	got := eval[struct {
		FollowsScale, InGroup, Described, AllInvalid, FocusOnFirst, TopError bool
		Email                                                                string
	}](b, `(() => {
		const err = document.getElementById("score-error"), group = document.querySelector("fieldset");
		const radios = [...document.querySelectorAll("input[name=score]")];
		return {followsScale: document.getElementById("ends").nextElementSibling === err,
			inGroup: group.contains(err),
			described: (group.getAttribute("aria-describedby") || "").split(" ").includes("score-error"),
			allInvalid: radios.length === 11 && radios.every(r => r.getAttribute("aria-invalid") === "true"),
			focusOnFirst: document.activeElement === radios[0],
			topError: !!document.getElementById("error"),
			email: document.getElementById("email").value};
	})()`)
	if !got.FollowsScale || !got.InGroup || !got.Described || !got.AllInvalid || !got.FocusOnFirst || got.TopError || got.Email != "ana@example.com" {
		t.Errorf("the score error: %+v; want it right after the scale, in its described group, every radio invalid, the focus on 0, no error above the form, the email kept", got)
	}
	b.axe("the page with the score error")
}

// TestScaleIsOneRow checks from the boxes' positions that the 0-10 scale
// reads as one line, from "not at all likely" to "extremely likely", on
// screens from 320 px (the narrowest WCAG reflow asks for) to a desktop's,
// in both languages, and runs axe-core on the narrowest phone.
func TestScaleIsOneRow(t *testing.T) {
	f := startCollector(t, nil)
	b := newTab(t, f)
	for _, lang := range []string{"en", "hi"} {
		for _, w := range []struct {
			width  int64
			mobile bool
		}{{320, true}, {360, true}, {375, true}, {768, true}, {1280, false}} {
			b.open("/s/checkout-nps?lang="+lang, w.width, w.mobile)
			what := fmt.Sprintf("%s at %d px", lang, w.width)
			checkOneRow(t, what, eval[scaleGeometry](b, scaleJS))
			if w.width == 320 {
				b.axe("the survey page, " + what)
			}
			if w.width == 375 {
				name := "survey-phone-375.png"
				if lang != "en" {
					name = "survey-" + lang + "-phone-375.png"
				}
				b.screenshot(name)
			}
		}
	}
}

// TestLanguages checks the page's language choice: Accept-Language with
// its q-values, ?lang= over it, the default for a language the campaign
// lacks; the lang attributes; and a Hindi answer from the error to the
// thank-you page, in Hindi throughout.
func TestLanguages(t *testing.T) {
	f := startCollector(t, nil)
	b := newTab(t, f)
	type pageText struct {
		Lang, Title, Question, Send, Notice string
		Links                               []struct{ Lang, Hreflang, Text, Current string }
	}
	read := func() pageText {
		return eval[pageText](b, `({lang: document.documentElement.lang, title: document.title,
			question: document.querySelector("legend").textContent, send: document.querySelector("button").textContent,
			notice: document.querySelector(".notice").textContent,
			links: [...document.querySelectorAll("nav a")].map(a => ({lang: a.lang, hreflang: a.hreflang, text: a.textContent,
				current: a.getAttribute("aria-current") || ""}))})`)
	}
	english := "How likely are you to recommend Acme Checkout to a friend or colleague?"
	for _, tc := range []struct {
		acceptLanguage, query, lang, question string
	}{
		{"hi-IN,hi;q=0.9,en;q=0.5", "", "hi", hindiQuestion},
		{"en;q=0.2, hi-IN;q=0.8", "", "hi", hindiQuestion},
		{"hi-IN,hi;q=0.9,en;q=0.5", "?lang=en", "en", english},
		{"en-US,en;q=0.9", "?lang=hi", "hi", hindiQuestion},
		{"fr-FR,de;q=0.8", "", "en", english},
		{"hi;q=0, en", "", "en", english},
		{"fr-FR", "?lang=ta", "en", english},
	} {
		b.acceptLanguage(tc.acceptLanguage)
		b.open("/s/checkout-nps"+tc.query, 1280, false)
		got := read()
		what := fmt.Sprintf("Accept-Language %q, query %q", tc.acceptLanguage, tc.query)
		if got.Lang != tc.lang || got.Question != tc.question {
			t.Errorf("%s: page in %q asking %q; want %q asking %q", what, got.Lang, got.Question, tc.lang, tc.question)
		}
		if tc.lang == "hi" && (got.Title != "सर्वेक्षण" || got.Send != "भेजें" || !strings.Contains(got.Notice, hindiPurpose) ||
			!strings.Contains(got.Notice, "90 दिनों तक")) {
			t.Errorf("%s: the Hindi page's text: %+v", what, got)
		}
		if len(got.Links) != 2 || got.Links[0].Lang != "en" || got.Links[0].Hreflang != "en" || got.Links[0].Text != "English" ||
			got.Links[1].Lang != "hi" || got.Links[1].Hreflang != "hi" || got.Links[1].Text != "हिन्दी" {
			t.Errorf("%s: language links %+v", what, got.Links)
		}
		for _, l := range got.Links {
			if (l.Current == "page") != (l.Lang == tc.lang) {
				t.Errorf("%s: the link to %s has aria-current %q", what, l.Lang, l.Current)
			}
		}
	}

	// A Hindi answer, keyboard only: error and thank-you page in Hindi.
	b.acceptLanguage("hi-IN")
	b.open("/s/checkout-nps", 375, true)
	b.axe("the Hindi survey page")
	tabTo := func(what string, match func(focused) bool) {
		t.Helper()
		for range 12 {
			if match(b.press(kb.Tab)) {
				return
			}
		}
		t.Fatalf("Tab never reached %s", what)
	}
	tabTo("the scale", func(f focused) bool { return f.Type == "radio" })
	b.press(kb.ArrowRight) // 1
	tabTo("the Send button", func(f focused) bool { return f.Tag == "button" })
	b.submit()
	b.waitFor("the consent error", `!!document.getElementById("consent-error")`)
	errPage := eval[struct{ Lang, Error, Score string }](b, `({lang: document.documentElement.lang,
		error: document.getElementById("consent-error").textContent.trim(),
		score: (document.querySelector("input[name=score]:checked") || {}).value || ""})`)
	if errPage.Lang != "hi" || errPage.Error != "अपना उत्तर भेजने के लिए कृपया सहमति वाले बॉक्स पर टिक करें।" || errPage.Score != "1" {
		t.Errorf("the Hindi page after a send without consent: %+v", errPage)
	}
	b.axe("the Hindi page with the consent error")
	b.waitFor("the focus on the consent box", `document.activeElement && document.activeElement.id === "consent"`)
	b.press(" ")
	tabTo("the Send button", func(f focused) bool { return f.Tag == "button" })
	b.submit()
	b.waitFor("the thank-you page", `!!document.querySelector("p[role=status]")`)
	thanks := eval[struct{ Lang, H1 string }](b, `({lang: document.documentElement.lang, h1: document.querySelector("h1").textContent})`)
	if thanks.Lang != "hi" || thanks.H1 != "धन्यवाद" {
		t.Errorf("the Hindi thank-you page: %+v", thanks)
	}
	b.axe("the Hindi thank-you page")
	b.screenshot("thank-you-hi-phone-375.png")
	if n := f.Stats(t)["responses"]; n != 1.0 {
		t.Errorf("responses = %v after one Hindi answer", n)
	}
}
