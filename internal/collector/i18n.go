package collector

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/surveyguard/surveyguard/internal/collectorapi"
)

// uiText is the survey page's own text in one language: everything but the
// campaign's question and purpose, which the campaign writes per language.
type uiText struct {
	Name                                    string // the language's name in itself, for the language links
	LanguageNav                             string
	Title, Heading, ThanksTitle, Thanks     string
	Low, High                               string
	CommentLabel, CommentHelp               string
	EmailLabel, CustomerIDLabel             string
	NoticeHeading, Encrypted, Send          string
	yourComment, yourEmail, yourCustomerID  string
	segmentsOfLink                          func(keys string) string
	weCollect                               func(items []string) string
	purpose, lawfulBasis                    func(s string) string
	basisNames                              map[string]string
	keptFor                                 func(d string) string
	days                                    func(n int) string
	minGroup                                func(n int) string
	consent                                 func(version string) string
	errCrossSite, errUnreadable, errExpired string
	errGeneric, errScore, errConsent        string
	errEmail, errCheck, errClosed           string
	errTooLong                              func(n int) string
}

var english = &uiText{
	Name: "English", LanguageNav: "Language",
	Title: "Survey", Heading: "A one-question survey", ThanksTitle: "Thank you", Thanks: "Your answer has been recorded.",
	Low: "0 = not at all likely", High: "10 = extremely likely",
	CommentLabel: "Anything you would like to add? (optional)",
	CommentHelp:  "Please leave out personal details. Contact and payment details are removed automatically before your comment is stored.",
	EmailLabel:   "Email (optional)", CustomerIDLabel: "Customer ID (optional)",
	NoticeHeading: "What we collect and why", Encrypted: "Personal details are encrypted when stored.", Send: "Send",
	yourComment: "your comment", yourEmail: "your email address", yourCustomerID: "your customer ID",
	segmentsOfLink: func(keys string) string { return "the " + keys + " of the link you followed" },
	weCollect:      func(items []string) string { return "We collect your score" + joinItems(items) + "." },
	purpose:        func(s string) string { return " Purpose: " + s + "." },
	lawfulBasis:    func(s string) string { return " Legal basis: " + s + "." },
	basisNames:     map[string]string{"Consent": "consent", "LegitimateInterest": "legitimate interest", "Contract": "contract"},
	keptFor:        func(d string) string { return " Answers are kept for " + d + ", then deleted or anonymized." },
	days: func(n int) string {
		if n == 1 {
			return "1 day"
		}
		return strconv.Itoa(n) + " days"
	},
	minGroup: func(n int) string { return fmt.Sprintf(" Scores are only shown for groups of %d answers or more.", n) },
	consent: func(v string) string {
		return "I agree to my answer being processed as described above (privacy notice " + v + ")."
	},
	errCrossSite:  "This form can only be sent from the survey's own page. Please open the survey link again.",
	errUnreadable: "The form could not be read. Please try again.",
	errExpired:    "This page has expired. Please check your answer and send it again.",
	errGeneric:    "Something went wrong. Please try again.",
	errScore:      "Please choose a score from 0 to 10.",
	errConsent:    "Please tick the consent box to send your answer.",
	errEmail:      "Please check your email address, or leave it empty.",
	errCheck:      "Please check your answers and send them again.",
	errClosed:     "The survey is not accepting answers right now. Please try again later.",
	errTooLong:    func(n int) string { return fmt.Sprintf("Your answer is too long: at most %d bytes are accepted.", n) },
}

var hindi = &uiText{
	Name: "हिन्दी", LanguageNav: "भाषा",
	Title: "सर्वेक्षण", Heading: "एक प्रश्न का सर्वेक्षण", ThanksTitle: "धन्यवाद", Thanks: "आपका उत्तर दर्ज कर लिया गया है।",
	Low: "0 = बिल्कुल संभावना नहीं", High: "10 = बहुत अधिक संभावना",
	CommentLabel: "क्या आप कुछ और कहना चाहेंगे? (वैकल्पिक)",
	CommentHelp:  "कृपया निजी जानकारी न लिखें। आपकी टिप्पणी सहेजे जाने से पहले संपर्क और भुगतान की जानकारी अपने आप हटा दी जाती है।",
	EmailLabel:   "ईमेल (वैकल्पिक)", CustomerIDLabel: "ग्राहक आईडी (वैकल्पिक)",
	NoticeHeading: "हम क्या एकत्र करते हैं और क्यों", Encrypted: "निजी जानकारी एन्क्रिप्ट करके सहेजी जाती है।", Send: "भेजें",
	yourComment: "आपकी टिप्पणी", yourEmail: "आपका ईमेल पता", yourCustomerID: "आपकी ग्राहक आईडी",
	segmentsOfLink: func(keys string) string { return "आपके खोले गए लिंक का " + keys },
	weCollect: func(items []string) string {
		return "हम आपका स्कोर" + joinItems(items) + " एकत्र करते हैं।"
	},
	purpose:     func(s string) string { return " उद्देश्य: " + s + "।" },
	lawfulBasis: func(s string) string { return " कानूनी आधार: " + s + "।" },
	basisNames:  map[string]string{"Consent": "सहमति", "LegitimateInterest": "वैध हित", "Contract": "अनुबंध"},
	keptFor: func(d string) string {
		return " उत्तर " + d + " तक रखे जाते हैं, फिर हटा दिए जाते हैं या गुमनाम कर दिए जाते हैं।"
	},
	days: func(n int) string {
		if n == 1 {
			return "1 दिन"
		}
		return strconv.Itoa(n) + " दिनों"
	},
	minGroup: func(n int) string {
		return fmt.Sprintf(" स्कोर केवल %d या अधिक उत्तरों वाले समूहों के लिए दिखाए जाते हैं।", n)
	},
	consent: func(v string) string {
		return "मैं सहमत हूँ कि मेरे उत्तर का उपयोग ऊपर बताए अनुसार किया जाए (गोपनीयता सूचना " + v + ")।"
	},
	errCrossSite:  "यह फ़ॉर्म केवल सर्वेक्षण के अपने पेज से भेजा जा सकता है। कृपया सर्वेक्षण का लिंक फिर से खोलें।",
	errUnreadable: "फ़ॉर्म पढ़ा नहीं जा सका। कृपया फिर से प्रयास करें।",
	errExpired:    "इस पेज की समय-सीमा समाप्त हो गई है। कृपया अपना उत्तर जाँचें और फिर से भेजें।",
	errGeneric:    "कुछ गड़बड़ हो गई। कृपया फिर से प्रयास करें।",
	errScore:      "कृपया 0 से 10 के बीच एक स्कोर चुनें।",
	errConsent:    "अपना उत्तर भेजने के लिए कृपया सहमति वाले बॉक्स पर टिक करें।",
	errEmail:      "कृपया अपना ईमेल पता जाँचें, या उसे खाली छोड़ दें।",
	errCheck:      "कृपया अपने उत्तर जाँचें और फिर से भेजें।",
	errClosed:     "सर्वेक्षण अभी उत्तर स्वीकार नहीं कर रहा है। कृपया बाद में फिर से प्रयास करें।",
	errTooLong: func(n int) string {
		return fmt.Sprintf("आपका उत्तर बहुत लंबा है: अधिकतम %d बाइट स्वीकार किए जाते हैं।", n)
	},
}

// uiTexts holds the page text of each of collectorapi.SupportedLanguages.
var uiTexts = map[string]*uiText{"en": english, "hi": hindi}

func joinItems(items []string) string {
	if len(items) == 0 {
		return ""
	}
	return ", " + strings.Join(items, ", ")
}

// pageLanguage is one language the campaign's page is offered in.
type pageLanguage struct {
	Tag, Question, Purpose string
	T                      *uiText
}

// pageLanguages lists the campaign's languages, the default first.
func pageLanguages(c *collectorapi.Config) []pageLanguage {
	out := []pageLanguage{{Tag: c.DefaultLanguage, Question: c.Question, Purpose: c.Consent.Purpose, T: uiTexts[c.DefaultLanguage]}}
	for _, l := range c.Languages {
		out = append(out, pageLanguage{Tag: l.Lang, Question: l.Question, Purpose: l.Purpose, T: uiTexts[l.Lang]})
	}
	return out
}

// chooseLanguage picks the page's language: the one named explicitly (?lang=
// on the page, the form's lang field on a post) when the campaign has it,
// else the best of Accept-Language, else the campaign's default.
func chooseLanguage(langs []pageLanguage, explicit, acceptLanguage string) pageLanguage {
	tags := make([]string, len(langs))
	for i, l := range langs {
		tags[i] = l.Tag
	}
	pick := func(tag string) (pageLanguage, bool) {
		if i := slices.Index(tags, tag); i >= 0 {
			return langs[i], true
		}
		return pageLanguage{}, false
	}
	if l, ok := pick(strings.ToLower(explicit)); ok {
		return l
	}
	if tag := negotiate(acceptLanguage, tags); tag != "" {
		l, _ := pick(tag)
		return l
	}
	return langs[0]
}

// maxAcceptLanguageRanges bounds the work one header can ask for.
const maxAcceptLanguageRanges = 32

// negotiate returns the tag of available that Accept-Language (RFC 9110
// 12.5.4: ranges with q-values) prefers, or "" when it accepts none. A range
// matches a tag equal to it or to its primary subtag (hi-IN matches hi);
// "*" matches the first tag. Ranges with q=0, or a malformed q, are not
// accepted; equal q-values keep the header's order.
func negotiate(header string, available []string) string {
	type rng struct {
		tag string
		q   float64
	}
	var ranges []rng
	for i, part := range strings.Split(header, ",") {
		if i == maxAcceptLanguageRanges {
			break
		}
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if p := strings.TrimSpace(params); len(p) >= 2 && strings.EqualFold(p[:2], "q=") { // "Q=" too (RFC 9110 §12.4.2)
			f, err := strconv.ParseFloat(p[2:], 64)
			if err != nil || f < 0 || f > 1 {
				continue
			}
			q = f
		}
		if tag = strings.ToLower(strings.TrimSpace(tag)); tag != "" && q > 0 {
			ranges = append(ranges, rng{tag, q})
		}
	}
	sort.SliceStable(ranges, func(i, j int) bool { return ranges[i].q > ranges[j].q })
	for _, r := range ranges {
		if r.tag == "*" {
			return available[0]
		}
		primary, _, _ := strings.Cut(r.tag, "-")
		for _, tag := range []string{r.tag, primary} {
			if slices.Contains(available, tag) {
				return tag
			}
		}
	}
	return ""
}

// languageLink is a link to the page in another of the campaign's languages.
type languageLink struct {
	Tag, Name, Href string
	Current         bool
}

// languageLinks lists the page's languages, each a link keeping the
// segments of the link the respondent followed; none for a single language.
func languageLinks(c *collectorapi.Config, current string, segments map[string]string) []languageLink {
	langs := pageLanguages(c)
	if len(langs) < 2 {
		return nil
	}
	out := make([]languageLink, 0, len(langs))
	for _, l := range langs {
		q := url.Values{"lang": {l.Tag}}
		for k, v := range segments {
			q.Set(k, v)
		}
		out = append(out, languageLink{Tag: l.Tag, Name: l.T.Name, Current: l.Tag == current,
			Href: "/s/" + c.Campaign + "?" + q.Encode()})
	}
	return out
}

// setLanguageHeaders says which language the page is in and that it
// depends on Accept-Language.
func setLanguageHeaders(h http.Header, tag string) {
	h.Set("Content-Language", tag)
	h.Add("Vary", "Accept-Language")
}
