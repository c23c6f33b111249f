package collector

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// Config is the collector's configuration file, rendered by the operator
// into a ConfigMap from the SurveyCampaign. Secrets are not in it: it names
// the files where they are mounted.
//
//	campaign: checkout-nps
//	question: "How likely are you to recommend Acme Checkout to a friend or colleague?"
//	consent: {required: true, noticeVersion: "2026-01", purpose: "Improve checkout", lawfulBasis: Consent}
//	collect: {comment: true, email: false, customerID: true, segments: [plan, region]}
//	privacy: {minGroupSize: 10, redactComments: true}
//	retention: {maxAge: 2160h}
//	store: {driver: sqlite, path: /data/responses.db}   # or {driver: postgres, dsnFile: /secrets/db/dsn}
//	listen: {public: ":8443", admin: ":9443"}
//	tls: {certFile: /secrets/tls/tls.crt, keyFile: /secrets/tls/tls.key}
//	keysDir: /secrets/keys
//	adminTokenFile: /secrets/admin/token
type Config struct {
	Campaign       string        `json:"campaign"`
	Question       string        `json:"question"`
	Consent        ConsentConfig `json:"consent"`
	Collect        CollectConfig `json:"collect"`
	Privacy        PrivacyConfig `json:"privacy"`
	Retention      Retention     `json:"retention"`
	Store          StoreConfig   `json:"store"`
	Listen         ListenConfig  `json:"listen"`
	TLS            TLSConfig     `json:"tls"`
	KeysDir        string        `json:"keysDir"`
	AdminTokenFile string        `json:"adminTokenFile"`
}

// ConsentConfig is the consent a response must carry.
type ConsentConfig struct {
	Required      bool   `json:"required"`
	NoticeVersion string `json:"noticeVersion,omitempty"`
	Purpose       string `json:"purpose,omitempty"`
	LawfulBasis   string `json:"lawfulBasis,omitempty"`
}

// CollectConfig lists what a response may carry besides the score.
type CollectConfig struct {
	Comment    bool     `json:"comment,omitempty"`
	Email      bool     `json:"email,omitempty"`
	CustomerID bool     `json:"customerID,omitempty"`
	Segments   []string `json:"segments,omitempty"`
}

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
type Duration struct{ time.Duration }

// UnmarshalJSON reads a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration such as 2160h", s)
	}
	d.Duration = v
	return nil
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
	nameRE    = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	segmentRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
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
		return nil, fmt.Errorf("configuration: %w", err)
	}
	return c, c.validate()
}

func (c *Config) validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("configuration: %s: %s", field, fmt.Sprintf(format, args...)))
	}
	if !nameRE.MatchString(c.Campaign) || len(c.Campaign) > 63 {
		bad("campaign", "must be a DNS label (lower-case letters, digits and '-'), got %q", c.Campaign)
	}
	if n := len(c.Question); n < 10 || n > 500 {
		bad("question", "must be 10 to 500 characters, got %d", n)
	}
	if c.Consent.Required && c.Consent.NoticeVersion == "" {
		bad("consent.noticeVersion", "is required when consent.required is true")
	}
	switch c.Consent.LawfulBasis {
	case "", "Consent", "LegitimateInterest", "Contract":
	default:
		bad("consent.lawfulBasis", "must be Consent, LegitimateInterest or Contract, got %q", c.Consent.LawfulBasis)
	}
	seen := map[string]bool{}
	for i, s := range c.Collect.Segments {
		if !segmentRE.MatchString(s) {
			bad(fmt.Sprintf("collect.segments[%d]", i), "%q is not a lower-case identifier", s)
		}
		if seen[s] {
			bad(fmt.Sprintf("collect.segments[%d]", i), "%q is listed twice", s)
		}
		seen[s] = true
	}
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

// allowedSegment reports whether k is a configured segment key.
func (c *Config) allowedSegment(k string) bool {
	for _, s := range c.Collect.Segments {
		if s == k {
			return true
		}
	}
	return false
}
