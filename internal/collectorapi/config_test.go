package collectorapi

import (
	"strings"
	"testing"
)

const goodConfig = `
campaign: checkout-nps
question: "How likely are you to recommend Acme Checkout to a friend or colleague?"
consent: {required: true, noticeVersion: "2026-01"}
collect: {comment: true, customerID: true, segments: {plan: [free, pro]}}
store: {driver: sqlite, path: /data/responses.db}
keysDir: /secrets/keys
adminTokenFile: /secrets/admin/token
`

func TestParseConfigDefaults(t *testing.T) {
	c, err := ParseConfig([]byte(goodConfig))
	if err != nil {
		t.Fatal(err)
	}
	if c.Privacy.MinGroupSize != 10 || !c.Privacy.RedactComments || c.Listen.Public != ":8443" || c.Listen.Admin != ":9443" {
		t.Errorf("defaults not applied: %+v", c)
	}
	l := c.Limits
	if l.RequestsPerSecond != 10 || l.Burst != 30 || l.MaxConnections != 1024 || l.MaxConnectionsPerClient != 64 ||
		l.MaxStoreSize != nil || l.MinFreeDisk == nil || l.MinFreeDisk.Value() != 16<<20 {
		t.Errorf("limit defaults not applied: %+v", l)
	}
}

func TestParseConfigErrorsNameTheField(t *testing.T) {
	cases := []struct{ name, edit, want string }{
		{"unknown field", "extra: 1", `unknown field "extra"`},
		{"bad campaign name", "campaign: Checkout_NPS", "campaign"},
		{"short question", `question: "NPS?"`, "question"},
		{"consent without notice", `consent: {required: true}`, "consent.noticeVersion"},
		{"unknown lawful basis", `consent: {required: false, lawfulBasis: Vibes}`, "consent.lawfulBasis"},
		{"segments as a list of keys", "collect: {segments: [plan]}", "collect.segments"},
		{"bad segment key", "collect: {segments: {Plan: [pro]}}", "collect.segments.Plan"},
		{"segment without values", "collect: {segments: {plan: []}}", "collect.segments.plan"},
		{"bad segment value", `collect: {segments: {plan: ["<b>"]}}`, "collect.segments.plan[0]"},
		{"repeated segment value", "collect: {segments: {plan: [pro, pro]}}", "collect.segments.plan[1]"},
		{"zero rate is the default, negative refused", "limits: {requestsPerSecond: -1}", "limits.requestsPerSecond"},
		{"bad proxy", "limits: {trustedProxies: [10.0.0.0/33]}", "limits.trustedProxies[0]"},
		{"negative store size", "limits: {maxStoreSize: -1Mi}", "limits.maxStoreSize"},
		{"bad store size", "limits: {maxStoreSize: lots}", "limits.maxStoreSize"},
		{"small group", "privacy: {minGroupSize: 2, redactComments: true}", "privacy.minGroupSize"},
		{"unknown driver", "store: {driver: mysql}", "store.driver"},
		{"sqlite without path", "store: {driver: sqlite}", "store.path"},
		{"postgres without dsn", "store: {driver: postgres}", "store.dsnFile"},
		{"same listen address", `listen: {public: ":8443", admin: ":8443"}`, "listen"},
		{"half a certificate", "tls: {certFile: /tls.crt}", "tls"},
		{"bad duration", "retention: {maxAge: ninety}", `retention.maxAge: "ninety" is not a duration`},
		{"days are not a duration", "retention: {maxAge: 90d}", `retention.maxAge: "90d" is not a duration`},
		{"an empty duration", `retention: {maxAge: ""}`, `retention.maxAge: "" is not a duration`},
		{"no keys", `keysDir: ""`, "keysDir"},
		{"unknown default language", "defaultLanguage: fr", "defaultLanguage"},
		{"unknown language", `languages: [{lang: fr, question: "Recommanderiez-vous Acme ?"}]`, "languages[0].lang"},
		{"the default language again", `languages: [{lang: en, question: "How likely are you to recommend us?"}]`, "languages[0].lang"},
		{"a language twice", `languages: [{lang: hi, question: "आप हमारी सिफ़ारिश करेंगे?"}, {lang: hi, question: "आप हमारी सिफ़ारिश करेंगे?"}]`, "languages[1].lang"},
		{"short translated question", `languages: [{lang: hi, question: "सिफ़ारिश?"}]`, "languages[0].question"},
		{"translated purpose without a purpose", `languages: [{lang: hi, question: "आप हमारी सिफ़ारिश करेंगे?", purpose: "बेहतर बनाना"}]`, "languages[0].purpose"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Later keys override earlier ones in YAML maps? No: duplicates are
			// refused, so replace the line when the key is already there.
			text := goodConfig
			key := strings.SplitN(tc.edit, ":", 2)[0]
			if i := strings.Index(text, "\n"+key+":"); i >= 0 {
				end := strings.Index(text[i+1:], "\n")
				text = text[:i+1] + tc.edit + text[i+1+end:]
			} else {
				text += tc.edit + "\n"
			}
			_, err := ParseConfig([]byte(text))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v; want one naming %s\n%s", err, tc.want, text)
			}
		})
	}
}

// TestParseConfigLanguages checks the languages: en is the default, a
// question's length counts characters (Devanagari takes three bytes
// each), and a purpose must be translated when the campaign states one.
func TestParseConfigLanguages(t *testing.T) {
	c, err := ParseConfig([]byte(goodConfig))
	if err != nil || c.DefaultLanguage != "en" || c.Languages != nil {
		t.Fatalf("defaultLanguage %q, languages %v, %v; want en and none", c.DefaultLanguage, c.Languages, err)
	}
	hindi := strings.Repeat("क", 500)
	text := strings.Replace(goodConfig, "question: \"How likely are you to recommend Acme Checkout to a friend or colleague?\"",
		"question: \""+hindi+"\"\ndefaultLanguage: hi\nlanguages: [{lang: en, question: \"How likely are you to recommend us?\", purpose: Improve checkout}]", 1)
	text = strings.Replace(text, `noticeVersion: "2026-01"}`, `noticeVersion: "2026-01", purpose: "चेकआउट को बेहतर बनाना"}`, 1)
	c, err = ParseConfig([]byte(text))
	if err != nil {
		t.Fatalf("a 500-character Hindi question with an English translation: %v\n%s", err, text)
	}
	if c.DefaultLanguage != "hi" || len(c.Languages) != 1 || c.Languages[0].Purpose != "Improve checkout" {
		t.Errorf("parsed %+v", c)
	}
	if _, err := ParseConfig([]byte(strings.Replace(text, "purpose: Improve checkout", "", 1))); err == nil ||
		!strings.Contains(err.Error(), "languages[0].purpose") {
		t.Errorf("a translation without the purpose: %v", err)
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(goodConfig))
	f.Add([]byte(`{"campaign":"a","store":{"driver":"postgres","dsnFile":"/x"}}`))
	f.Add([]byte("privacy: {minGroupSize: -1}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil {
			return
		}
		if c.Privacy.MinGroupSize < 5 || c.Privacy.MinGroupSize > 1000 || c.KeysDir == "" || c.AdminTokenFile == "" ||
			(c.Consent.Required && c.Consent.NoticeVersion == "") {
			t.Fatalf("an invalid configuration was accepted: %+v", c)
		}
	})
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0B", 1023: "1023B", 1024: "1Ki", 1536: "1.5Ki", 412 << 20: "412Mi", 800 << 20: "800Mi",
		2308544921: "2.1Gi", 2 << 30: "2Gi", (10 << 30) - 1: "9.9Gi", 858993459: "819Mi", 5 << 40: "5Ti",
	} {
		if got := HumanBytes(n); got != want {
			t.Errorf("HumanBytes(%d) = %s, want %s", n, got, want)
		}
	}
}
