package collectorapi

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"
)

// Config is the collector's configuration file, rendered by the operator
// into a ConfigMap from the SurveyCampaign. Secrets are not in it: it names
// the files where they are mounted.
//
//	campaign: checkout-nps
//	question: "How likely are you to recommend Acme Checkout to a friend or colleague?"
//	defaultLanguage: en                # the language of question and consent.purpose
//	languages: [{lang: hi, question: "आप Acme Checkout की सिफ़ारिश ...?", purpose: "चेकआउट बेहतर बनाना"}]
//	consent: {required: true, noticeVersion: "2026-01", purpose: "Improve checkout", lawfulBasis: Consent}
//	collect: {comment: true, email: false, customerID: true, segments: {plan: [free, pro], region: [eu, in]}}
//	privacy: {minGroupSize: 10, redactComments: true}
//	retention: {maxAge: 2160h}
//	store: {driver: sqlite, path: /data/responses.db}   # or {driver: postgres, dsnFile: /secrets/db/dsn}
//	listen: {public: ":8443", admin: ":9443"}
//	limits: {requestsPerSecond: 10, burst: 30, maxConnections: 1024, maxConnectionsPerClient: 64, trustedProxies: [10.0.0.0/8], maxStoreSize: 800Mi, minFreeDisk: 16Mi}
//	tls: {certFile: /secrets/tls/tls.crt, keyFile: /secrets/tls/tls.key}
//	keysDir: /secrets/keys
//	adminTokenFile: /secrets/admin/token
type Config struct {
	Campaign string `json:"campaign"`
	Question string `json:"question"`
	// DefaultLanguage is the language of Question and Consent.Purpose, one
	// of SupportedLanguages; en when unset.
	DefaultLanguage string `json:"defaultLanguage,omitempty"`
	// Languages are the survey page's other languages, each with the
	// question and purpose written in it.
	Languages      []LanguageConfig `json:"languages,omitempty"`
	Consent        ConsentConfig    `json:"consent"`
	Collect        CollectConfig    `json:"collect"`
	Privacy        PrivacyConfig    `json:"privacy"`
	Retention      Retention        `json:"retention"`
	Store          StoreConfig      `json:"store"`
	Listen         ListenConfig     `json:"listen"`
	Limits         LimitsConfig     `json:"limits"`
	TLS            TLSConfig        `json:"tls"`
	KeysDir        string           `json:"keysDir"`
	AdminTokenFile string           `json:"adminTokenFile"`
}

// LanguageConfig is the survey page's text in one more language.
type LanguageConfig struct {
	// Lang is one of SupportedLanguages, other than DefaultLanguage.
	Lang string `json:"lang"`
	// Question is the NPS question in Lang, 10 to 500 characters.
	Question string `json:"question"`
	// Purpose is consent.purpose in Lang: required when consent.purpose is
	// set, refused when it is not.
	Purpose string `json:"purpose,omitempty"`
}

// SupportedLanguages are the languages whose page text (buttons, labels,
// errors, the thank-you page) the collector has: a campaign's
// defaultLanguage and languages are among them. BCP 47 tags.
var SupportedLanguages = []string{"en", "hi"}

// ConsentConfig is the consent a response must carry.
type ConsentConfig struct {
	Required      bool   `json:"required"`
	NoticeVersion string `json:"noticeVersion,omitempty"`
	Purpose       string `json:"purpose,omitempty"`
	LawfulBasis   string `json:"lawfulBasis,omitempty"`
}

// CollectConfig lists what a response may carry besides the score.
type CollectConfig struct {
	Comment    bool `json:"comment,omitempty"`
	Email      bool `json:"email,omitempty"`
	CustomerID bool `json:"customerID,omitempty"`
	// Segments maps each allowed metadata key to its allowed values
	// (plan: [free, pro, enterprise]); any other key or value is refused, so
	// no free text travels outside the encrypted fields.
	Segments map[string][]string `json:"segments,omitempty"`
}

// LimitsConfig bounds what one client, and all of them together, can make
// the collector do: the public listener's abuse limits and the storage
// budget. Zero values take the defaults (DefaultLimits).
type LimitsConfig struct {
	// RequestsPerSecond is the sustained rate of public requests one client
	// may make; past it (and its burst) the answer is 429 with Retry-After.
	RequestsPerSecond int `json:"requestsPerSecond,omitempty"`
	// Burst is how many requests a client may make at once before the rate applies.
	Burst int `json:"burst,omitempty"`
	// MaxConnections caps the public listener's open connections; when all
	// are open, a new one takes the place of an idle one, or of one with no
	// request read after 1 s, and waits to be accepted only while there is
	// neither.
	MaxConnections int `json:"maxConnections,omitempty"`
	// MaxConnectionsPerClient caps one client's open connections; further
	// ones are closed at once.
	MaxConnectionsPerClient int `json:"maxConnectionsPerClient,omitempty"`
	// TrustedProxies are the CIDRs of proxies whose X-Forwarded-For header
	// names the client. Without them the client is the connection's address.
	TrustedProxies []string `json:"trustedProxies,omitempty"`
	// MaxStoreSize caps the store (SQLite: its files; PostgreSQL: the
	// database's size); past it, ingest answers 503 with Retry-After while
	// the admin API keeps working. Unset: no cap besides MinFreeDisk.
	MaxStoreSize *resource.Quantity `json:"maxStoreSize,omitempty"`
	// MinFreeDisk is the free space (SQLite) below which ingest stops, so
	// that purge and erasure always have room.
	MinFreeDisk *resource.Quantity `json:"minFreeDisk,omitempty"`
}

// DefaultLimits are the limits a configuration that sets none gets.
var DefaultLimits = LimitsConfig{
	RequestsPerSecond: 10, Burst: 30, MaxConnections: 1024, MaxConnectionsPerClient: 64,
	MinFreeDisk: ptrQuantity(resource.MustParse("16Mi")),
}

func ptrQuantity(q resource.Quantity) *resource.Quantity { return &q }

// PrivacyConfig holds the small-group threshold and comment redaction.
type PrivacyConfig struct {
	MinGroupSize   int  `json:"minGroupSize"`
	RedactComments bool `json:"redactComments"`
}

// Retention is shown to respondents: how long their answer is kept.
type Retention struct {
	MaxAge Duration `json:"maxAge,omitempty"`
}

// StoreConfig selects the backend.
type StoreConfig struct {
	Driver  string `json:"driver"`
	Path    string `json:"path,omitempty"`
	DSNFile string `json:"dsnFile,omitempty"`
}

// ListenConfig are the listeners' addresses.
type ListenConfig struct {
	Public string `json:"public"`
	Admin  string `json:"admin"`
}

// TLSConfig names the certificate files, reloaded when they change.
type TLSConfig struct {
	CertFile string `json:"certFile,omitempty"`
	KeyFile  string `json:"keyFile,omitempty"`
}

// Duration is a time.Duration written as "2160h".
type Duration struct {
	time.Duration
	// invalid is set when a file held text that is not a duration (held
	// in text): Validate refuses it naming the field, which UnmarshalJSON
	// does not know.
	invalid bool
	text    string
}

// UnmarshalJSON reads a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	v, err := time.ParseDuration(s)
	if err != nil {
		*d = Duration{invalid: true, text: s}
		return nil
	}
	*d = Duration{Duration: v}
	return nil
}

// check refuses, naming field, what was not a duration.
func (d Duration) check(field string, bad func(field, format string, args ...any)) {
	if d.invalid {
		bad(field, "%q is not a duration such as 2160h", d.text)
	}
}

// MarshalJSON writes a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return []byte(`"` + d.String() + `"`), nil }

// LoadConfig reads and checks a configuration file.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the configuration: %w", err)
	}
	return ParseConfig(data)
}

var (
	nameRE         = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	segmentRE      = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
	segmentValueRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$`)
)

// Bounds of the segment allow-list.
const (
	maxSegmentKeys   = 20
	maxSegmentValues = 100
)

// ParseConfig decodes a configuration (YAML or JSON), refusing unknown
// fields, fills defaults and checks every field; the error names the field.
func ParseConfig(data []byte) (*Config, error) {
	c := &Config{
		Consent: ConsentConfig{Required: true},
		Privacy: PrivacyConfig{MinGroupSize: 10, RedactComments: true},
		Listen:  ListenConfig{Public: ":8443", Admin: ":9443"},
		Store:   StoreConfig{Driver: "sqlite"},
	}
	if err := yaml.UnmarshalStrict(data, c); err != nil {
		if errors.Is(err, resource.ErrFormatWrong) || strings.Contains(err.Error(), "quantities must match") {
			return nil, fmt.Errorf("configuration: limits.maxStoreSize and limits.minFreeDisk must be sizes such as 800Mi or 2Gi: %w", err)
		}
		return nil, fmt.Errorf("configuration: %w", err)
	}
	return c, c.Validate()
}

// Validate checks every field of a configuration built in code, as
// ParseConfig does after decoding a file; the error names the field.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("configuration: %s: %s", field, fmt.Sprintf(format, args...)))
	}
	if !nameRE.MatchString(c.Campaign) || len(c.Campaign) > 63 {
		bad("campaign", "must be a DNS label (lower-case letters, digits and '-'), got %q", c.Campaign)
	}
	if n := utf8.RuneCountInString(c.Question); n < 10 || n > 500 {
		bad("question", "must be 10 to 500 characters, got %d", n)
	}
	c.validateLanguages(bad)
	if c.Consent.Required && c.Consent.NoticeVersion == "" {
		bad("consent.noticeVersion", "is required when consent.required is true")
	}
	c.Retention.MaxAge.check("retention.maxAge", bad)
	switch c.Consent.LawfulBasis {
	case "", "Consent", "LegitimateInterest", "Contract":
	default:
		bad("consent.lawfulBasis", "must be Consent, LegitimateInterest or Contract, got %q", c.Consent.LawfulBasis)
	}
	if len(c.Collect.Segments) > maxSegmentKeys {
		bad("collect.segments", "at most %d keys are allowed, got %d", maxSegmentKeys, len(c.Collect.Segments))
	}
	for _, k := range SortedSegmentKeys(c.Collect.Segments) {
		field := "collect.segments." + k
		if !segmentRE.MatchString(k) {
			bad(field, "%q is not a lower-case identifier", k)
			continue
		}
		values := c.Collect.Segments[k]
		if len(values) == 0 || len(values) > maxSegmentValues {
			bad(field, "needs 1 to %d allowed values, got %d", maxSegmentValues, len(values))
		}
		seen := map[string]bool{}
		for i, v := range values {
			if !segmentValueRE.MatchString(v) {
				bad(fmt.Sprintf("%s[%d]", field, i), "%q must be 1 to 64 letters, digits, spaces, '.', '_' or '-', starting with a letter or digit", v)
			}
			if seen[v] {
				bad(fmt.Sprintf("%s[%d]", field, i), "%q is listed twice", v)
			}
			seen[v] = true
		}
	}
	c.Limits.validate(bad)
	if c.Privacy.MinGroupSize < 5 || c.Privacy.MinGroupSize > 1000 {
		bad("privacy.minGroupSize", "must be 5 to 1000, got %d", c.Privacy.MinGroupSize)
	}
	switch c.Store.Driver {
	case "sqlite":
		if c.Store.Path == "" {
			bad("store.path", "is required for the sqlite driver")
		}
	case "postgres":
		if c.Store.DSNFile == "" {
			bad("store.dsnFile", "is required for the postgres driver")
		}
	default:
		bad("store.driver", "must be sqlite or postgres, got %q", c.Store.Driver)
	}
	if c.Listen.Public == "" || c.Listen.Admin == "" ||
		(c.Listen.Public == c.Listen.Admin && !strings.HasSuffix(c.Listen.Public, ":0")) {
		bad("listen", "public and admin need two different addresses")
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		bad("tls", "certFile and keyFile go together")
	}
	if c.KeysDir == "" {
		bad("keysDir", "is required: personal fields are always encrypted")
	}
	if c.AdminTokenFile == "" {
		bad("adminTokenFile", "is required: the admin API always needs a token")
	}
	return errors.Join(errs...)
}

// validateLanguages checks defaultLanguage and languages, defaulting the former to en.
func (c *Config) validateLanguages(bad func(field, format string, args ...any)) {
	supported := strings.Join(SupportedLanguages, ", ")
	if c.DefaultLanguage == "" {
		c.DefaultLanguage = SupportedLanguages[0]
	}
	if !slices.Contains(SupportedLanguages, c.DefaultLanguage) {
		bad("defaultLanguage", "must be one of %s, got %q", supported, c.DefaultLanguage)
	}
	seen := map[string]bool{c.DefaultLanguage: true}
	for i, l := range c.Languages {
		field := fmt.Sprintf("languages[%d]", i)
		switch {
		case !slices.Contains(SupportedLanguages, l.Lang):
			bad(field+".lang", "must be one of %s, got %q", supported, l.Lang)
		case l.Lang == c.DefaultLanguage:
			bad(field+".lang", "%q is the default language: its text is question and consent.purpose", l.Lang)
		case seen[l.Lang]:
			bad(field+".lang", "%q is listed twice", l.Lang)
		}
		seen[l.Lang] = true
		if n := utf8.RuneCountInString(l.Question); n < 10 || n > 500 {
			bad(field+".question", "must be 10 to 500 characters, got %d", n)
		}
		switch n := utf8.RuneCountInString(l.Purpose); {
		case c.Consent.Purpose != "" && n == 0:
			bad(field+".purpose", "is required when consent.purpose is set: the page shows the purpose in every language")
		case c.Consent.Purpose == "" && n > 0:
			bad(field+".purpose", "is set but consent.purpose is not: set the purpose in the default language too")
		case n > 256:
			bad(field+".purpose", "must be at most 256 characters, got %d", n)
		}
	}
}

// SortedSegmentKeys lists the allowed segment keys in order.
func SortedSegmentKeys(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// validate checks the limits and fills the defaults of those left unset.
func (l *LimitsConfig) validate(bad func(field, format string, args ...any)) {
	d := DefaultLimits
	fill := func(v *int, def, max int, field string) {
		switch {
		case *v == 0:
			*v = def
		case *v < 1 || *v > max:
			bad("limits."+field, "must be 1 to %d, got %d", max, *v)
		}
	}
	fill(&l.RequestsPerSecond, d.RequestsPerSecond, 1_000_000, "requestsPerSecond")
	fill(&l.Burst, d.Burst, 1_000_000, "burst")
	fill(&l.MaxConnections, d.MaxConnections, 1_000_000, "maxConnections")
	fill(&l.MaxConnectionsPerClient, d.MaxConnectionsPerClient, 1_000_000, "maxConnectionsPerClient")
	for i, p := range l.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			bad(fmt.Sprintf("limits.trustedProxies[%d]", i), "%q is not a CIDR such as 10.0.0.0/8", p)
		}
	}
	if l.MaxStoreSize != nil && l.MaxStoreSize.Sign() <= 0 {
		bad("limits.maxStoreSize", "must be positive, got %s", l.MaxStoreSize.String())
	}
	if l.MinFreeDisk == nil {
		l.MinFreeDisk = ptrQuantity(d.MinFreeDisk.DeepCopy())
	} else if l.MinFreeDisk.Sign() < 0 {
		bad("limits.minFreeDisk", "cannot be negative, got %s", l.MinFreeDisk.String())
	}
}
