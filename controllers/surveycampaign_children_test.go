package controllers

import (
	"bytes"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	sigsyaml "sigs.k8s.io/yaml"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
	"github.com/surveyguard/surveyguard/internal/collectorapi"
)

// TestCollectorConfig renders the collector's configuration from campaigns
// and reads it back the way the collector does.
func TestCollectorConfig(t *testing.T) {
	policy := &privacyv1alpha1.RetentionPolicy{Spec: privacyv1alpha1.RetentionPolicySpec{MaxAge: metav1.Duration{Duration: 2160 * time.Hour}}}
	q := func(s string) *resource.Quantity { return ptr.To(resource.MustParse(s)) }
	embedded := func(size string) privacyv1alpha1.StorageSpec {
		e := &privacyv1alpha1.EmbeddedStorage{}
		if size != "" {
			e.Size = q(size)
		}
		return privacyv1alpha1.StorageSpec{Embedded: e}
	}
	postgres := privacyv1alpha1.StorageSpec{Postgres: &privacyv1alpha1.PostgresStorage{SecretRef: privacyv1alpha1.SecretKeyReference{Name: "pg"}}}
	defaults := collectorapi.DefaultLimits
	cases := []struct {
		name     string
		segments privacyv1alpha1.Segments
		storage  privacyv1alpha1.StorageSpec
		limits   privacyv1alpha1.CollectorLimits
		want     collectorapi.LimitsConfig
		wantErr  string
	}{
		{
			name: "defaults: 80% of the default 1Gi volume", storage: embedded(""),
			// What the API server's defaults give.
			limits: privacyv1alpha1.CollectorLimits{RequestsPerSecond: 10, Burst: 30, MaxConnections: 1024, MaxConnectionsPerClient: 64},
			want: collectorapi.LimitsConfig{RequestsPerSecond: 10, Burst: 30, MaxConnections: 1024, MaxConnectionsPerClient: 64,
				MaxStoreSize: q("858993459"), MinFreeDisk: defaults.MinFreeDisk},
		},
		{
			name: "nothing set (a campaign stored before limits existed): the collector's defaults", storage: embedded("10Gi"),
			want: collectorapi.LimitsConfig{RequestsPerSecond: defaults.RequestsPerSecond, Burst: defaults.Burst, MaxConnections: defaults.MaxConnections,
				MaxConnectionsPerClient: defaults.MaxConnectionsPerClient, MaxStoreSize: q("8Gi"), MinFreeDisk: defaults.MinFreeDisk},
		},
		{
			name: "80% rounds down to whole bytes", storage: embedded("1073741827"),
			want: collectorapi.LimitsConfig{RequestsPerSecond: 10, Burst: 30, MaxConnections: 1024, MaxConnectionsPerClient: 64,
				MaxStoreSize: q("858993461"), MinFreeDisk: defaults.MinFreeDisk},
		},
		{
			name: "80% of 1Ti", storage: embedded("1Ti"),
			want: collectorapi.LimitsConfig{RequestsPerSecond: 10, Burst: 30, MaxConnections: 1024, MaxConnectionsPerClient: 64,
				MaxStoreSize: q("879609302220"), MinFreeDisk: defaults.MinFreeDisk},
		},
		{
			name: "explicit values", storage: embedded("2Gi"),
			limits: privacyv1alpha1.CollectorLimits{
				RequestsPerSecond: 1000, Burst: 2000, MaxConnections: 50000, MaxConnectionsPerClient: 8,
				TrustedProxies: []string{"10.0.0.0/8", "fd00::/8"}, MaxStoreSize: q("1500Mi"), MinFreeDisk: q("0"),
			},
			want: collectorapi.LimitsConfig{RequestsPerSecond: 1000, Burst: 2000, MaxConnections: 50000, MaxConnectionsPerClient: 8,
				TrustedProxies: []string{"10.0.0.0/8", "fd00::/8"}, MaxStoreSize: q("1500Mi"), MinFreeDisk: q("0")},
		},
		{
			name: "postgres: no cap unless set", storage: postgres,
			want: collectorapi.LimitsConfig{RequestsPerSecond: 10, Burst: 30, MaxConnections: 1024, MaxConnectionsPerClient: 64, MinFreeDisk: defaults.MinFreeDisk},
		},
		{
			name: "postgres with a cap", storage: postgres, limits: privacyv1alpha1.CollectorLimits{MaxStoreSize: q("20Gi"), MinFreeDisk: q("1Gi")},
			want: collectorapi.LimitsConfig{RequestsPerSecond: 10, Burst: 30, MaxConnections: 1024, MaxConnectionsPerClient: 64,
				MaxStoreSize: q("20Gi"), MinFreeDisk: q("1Gi")},
		},
		{
			name: "segments without values (the old list form, stored before the upgrade)", storage: embedded(""),
			segments: privacyv1alpha1.Segments{"region": nil, "plan": nil, "tier": {"gold"}},
			wantErr:  "spec.collect.segments declares no values for plan, region",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &privacyv1alpha1.SurveyCampaign{ObjectMeta: metav1.ObjectMeta{Name: "checkout-nps", Namespace: "shop"}}
			c.Spec.Question = "How likely are you to recommend Acme Checkout to a friend or colleague?"
			c.Spec.Consent.NoticeVersion = "2026-01"
			c.Spec.Storage = tc.storage
			c.Spec.Collector.Limits = tc.limits
			c.Spec.Collect.Segments = privacyv1alpha1.Segments{"plan": {"free", "pro", "enterprise"}, "region": {"eu", "in", "us"}}
			if tc.segments != nil {
				c.Spec.Collect.Segments = tc.segments
			}
			before := c.DeepCopy()
			data, err := collectorConfig(c, policy)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(before, c) {
				t.Error("rendering changed the campaign")
			}
			cfg, err := collectorapi.ParseConfig(data)
			if err != nil {
				t.Fatalf("the collector refuses what the operator renders: %v\n%s", err, data)
			}
			// What was read back renders to the same bytes, and they are
			// sigs.k8s.io/yaml's, which earlier versions wrote: an upgrade
			// changes no ConfigMap and restarts no collector.
			if again, err := sigsyaml.Marshal(cfg); err != nil || !bytes.Equal(again, data) {
				t.Errorf("the rendering is not sigs.k8s.io/yaml's (%v):\n%s\nwant\n%s", err, data, again)
			}
			want := map[string][]string{"plan": {"free", "pro", "enterprise"}, "region": {"eu", "in", "us"}}
			if !reflect.DeepEqual(cfg.Collect.Segments, want) {
				t.Errorf("segments = %v, want %v", cfg.Collect.Segments, want)
			}
			assertLimits(t, cfg.Limits, tc.want)
		})
	}
}

func assertLimits(t *testing.T, got, want collectorapi.LimitsConfig) {
	t.Helper()
	eqQ := func(a, b *resource.Quantity) bool {
		if a == nil || b == nil {
			return a == b
		}
		return a.Cmp(*b) == 0
	}
	if got.RequestsPerSecond != want.RequestsPerSecond || got.Burst != want.Burst || got.MaxConnections != want.MaxConnections ||
		got.MaxConnectionsPerClient != want.MaxConnectionsPerClient || !reflect.DeepEqual(got.TrustedProxies, want.TrustedProxies) ||
		!eqQ(got.MaxStoreSize, want.MaxStoreSize) || !eqQ(got.MinFreeDisk, want.MinFreeDisk) {
		t.Errorf("limits = %s, want %s", describeLimits(got), describeLimits(want))
	}
}

func describeLimits(l collectorapi.LimitsConfig) string {
	s := func(q *resource.Quantity) string {
		if q == nil {
			return "unset"
		}
		return q.String()
	}
	return strings.Join([]string{
		"rps " + strconv.Itoa(l.RequestsPerSecond), "burst " + strconv.Itoa(l.Burst), "conns " + strconv.Itoa(l.MaxConnections), "perClient " + strconv.Itoa(l.MaxConnectionsPerClient),
		"proxies [" + strings.Join(l.TrustedProxies, " ") + "]", "maxStore " + s(l.MaxStoreSize), "minFree " + s(l.MinFreeDisk),
	}, ", ")
}

// TestCollectorConfigLanguages renders spec.defaultLanguage and
// spec.languages into the collector's configuration; a campaign without
// them gets the collector's default, English.
func TestCollectorConfigLanguages(t *testing.T) {
	policy := &privacyv1alpha1.RetentionPolicy{Spec: privacyv1alpha1.RetentionPolicySpec{MaxAge: metav1.Duration{Duration: 2160 * time.Hour}}}
	const hindi = "आप Acme Checkout की सिफ़ारिश किसी मित्र या सहकर्मी से करने की कितनी संभावना रखते हैं?"
	base := func() *privacyv1alpha1.SurveyCampaign {
		c := &privacyv1alpha1.SurveyCampaign{ObjectMeta: metav1.ObjectMeta{Name: "checkout-nps", Namespace: "shop"}}
		c.Spec.Question = "How likely are you to recommend Acme Checkout to a friend or colleague?"
		c.Spec.Consent = privacyv1alpha1.ConsentSpec{NoticeVersion: "2026-01", Purpose: "Improve checkout"}
		c.Spec.Storage.Embedded = &privacyv1alpha1.EmbeddedStorage{}
		return c
	}
	for _, tc := range []struct {
		name      string
		edit      func(*privacyv1alpha1.SurveyCampaign)
		wantLang  string
		wantLangs []collectorapi.LanguageConfig
		wantErr   string
	}{
		{name: "none", edit: func(*privacyv1alpha1.SurveyCampaign) {}, wantLang: "en"},
		{name: "English with Hindi", edit: func(c *privacyv1alpha1.SurveyCampaign) {
			c.Spec.DefaultLanguage = privacyv1alpha1.LanguageEnglish
			c.Spec.Languages = []privacyv1alpha1.LanguageSpec{{Lang: privacyv1alpha1.LanguageHindi, Question: hindi, Purpose: "चेकआउट को बेहतर बनाना"}}
		}, wantLang: "en", wantLangs: []collectorapi.LanguageConfig{{Lang: "hi", Question: hindi, Purpose: "चेकआउट को बेहतर बनाना"}}},
		{name: "Hindi with English", edit: func(c *privacyv1alpha1.SurveyCampaign) {
			c.Spec.Question, c.Spec.Consent.Purpose = hindi, "चेकआउट को बेहतर बनाना"
			c.Spec.DefaultLanguage = privacyv1alpha1.LanguageHindi
			c.Spec.Languages = []privacyv1alpha1.LanguageSpec{{Lang: privacyv1alpha1.LanguageEnglish,
				Question: "How likely are you to recommend Acme Checkout to a friend or colleague?", Purpose: "Improve checkout"}}
		}, wantLang: "hi", wantLangs: []collectorapi.LanguageConfig{{Lang: "en",
			Question: "How likely are you to recommend Acme Checkout to a friend or colleague?", Purpose: "Improve checkout"}}},
		{name: "a translation without the purpose (past the API server's check)", edit: func(c *privacyv1alpha1.SurveyCampaign) {
			c.Spec.Languages = []privacyv1alpha1.LanguageSpec{{Lang: privacyv1alpha1.LanguageHindi, Question: hindi}}
		}, wantErr: "languages[0].purpose"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			tc.edit(c)
			data, err := collectorConfig(c, policy)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := collectorapi.ParseConfig(data)
			if err != nil {
				t.Fatalf("the collector refuses what the operator renders: %v\n%s", err, data)
			}
			// What was read back renders to the same bytes, and they are
			// sigs.k8s.io/yaml's, which earlier versions wrote: an upgrade
			// changes no ConfigMap and restarts no collector.
			if again, err := sigsyaml.Marshal(cfg); err != nil || !bytes.Equal(again, data) {
				t.Errorf("the rendering is not sigs.k8s.io/yaml's (%v):\n%s\nwant\n%s", err, data, again)
			}
			if cfg.DefaultLanguage != tc.wantLang || !reflect.DeepEqual(cfg.Languages, tc.wantLangs) {
				t.Errorf("defaultLanguage %q, languages %+v; want %q, %+v", cfg.DefaultLanguage, cfg.Languages, tc.wantLang, tc.wantLangs)
			}
		})
	}
}

// BenchmarkCollectorConfig renders a campaign's collector configuration, as
// every pass does.
func BenchmarkCollectorConfig(b *testing.B) {
	policy := &privacyv1alpha1.RetentionPolicy{Spec: privacyv1alpha1.RetentionPolicySpec{MaxAge: metav1.Duration{Duration: 2160 * time.Hour}}}
	c := &privacyv1alpha1.SurveyCampaign{ObjectMeta: metav1.ObjectMeta{Name: "checkout-nps", Namespace: "shop"}}
	c.Spec.Question = "How likely are you to recommend Acme Checkout to a friend or colleague?"
	c.Spec.Consent.NoticeVersion = "2026-01"
	c.Spec.Storage = privacyv1alpha1.StorageSpec{Embedded: &privacyv1alpha1.EmbeddedStorage{}}
	c.Spec.Collect.Segments = privacyv1alpha1.Segments{"plan": {"free", "pro", "enterprise"}, "region": {"eu", "in", "us"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := collectorConfig(c, policy); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDeploymentStrategy: a PostgreSQL collector rolls its pods, but its
// switch to admin-only stops every pod taking responses first; an SQLite
// collector (one writer) always does.
func TestDeploymentStrategy(t *testing.T) {
	pg := &privacyv1alpha1.SurveyCampaign{ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: "ns"}}
	pg.Spec.Storage.Postgres = &privacyv1alpha1.PostgresStorage{SecretRef: privacyv1alpha1.SecretKeyReference{Name: "pg"}}
	sqlite := &privacyv1alpha1.SurveyCampaign{ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: "ns"}}
	sqlite.Spec.Storage.Embedded = &privacyv1alpha1.EmbeddedStorage{}
	for _, tc := range []struct {
		name              string
		c                 *privacyv1alpha1.SurveyCampaign
		paused, adminOnly bool
		want              appsv1.DeploymentStrategyType
	}{
		{"PostgreSQL serving", pg, false, false, appsv1.RollingUpdateDeploymentStrategyType},
		{"PostgreSQL paused", pg, true, false, appsv1.RollingUpdateDeploymentStrategyType},
		{"PostgreSQL admin-only for an erasure", pg, true, true, appsv1.RecreateDeploymentStrategyType},
		{"SQLite serving", sqlite, false, false, appsv1.RecreateDeploymentStrategyType},
		{"SQLite admin-only", sqlite, true, true, appsv1.RecreateDeploymentStrategyType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := desiredDeployment(tc.c, "example.com/sg:1", "sum", tc.paused, tc.adminOnly)
			if d.Spec.Strategy.Type != tc.want || d.Spec.Strategy.RollingUpdate != nil {
				t.Errorf("strategy %+v, want %s (rollingUpdate left to the API server)", d.Spec.Strategy, tc.want)
			}
		})
	}
}

func TestDSNPorts(t *testing.T) {
	for dsn, want := range map[string][]int{
		"postgres://collector:s3cret@db.shop.svc:5432/nps?sslmode=verify-full": {5432},
		"postgresql://collector@pgbouncer.db:6432/nps":                         {6432},
		"postgres://collector@db/nps":                                          {5432},
		"postgres://db":                                                        {5432},
		"POSTGRES://u@h1:5433,h2:5434,h3/nps?target_session_attrs=read-write":  {5432, 5433, 5434},
		"postgres://u:p%40ss@[fd00::7]:25060/nps":                              {25060},
		"postgres://u:p@[fd00::7]/nps":                                         {5432},
		"postgres://u@h/nps?port=6543":                                         {6543},
		"postgres://u:a@b@h:7000/nps":                                          {7000},
		"postgres://u:pa?ss@db:6432/nps":                                       {6432},
		"postgres://u:pa/ss@db:6432/nps":                                       {5432}, // libpq reads host "u", port "pa": not a port
		"host=db.shop.svc port=6432 user=collector dbname=nps":                 {6432},
		`password='a \' port=1' host=h1,h2 port='5433,5434'`:                   {5433, 5434},
		"password='port=1' host=db":                                            {5432},
		"user=collector dbname=nps":                                            {5432},
		"host=db port=notaport":                                                {5432},
		"":                                                                     {5432},
	} {
		if got := dsnPorts(dsn); !slices.Equal(got, want) {
			t.Errorf("dsnPorts(%q) = %v, want %v", dsn, got, want)
		}
	}
}

func TestImageAllowed(t *testing.T) {
	const own = "ghcr.io/surveyguard/surveyguard:v0.3.0"
	allowed := []string{"registry.internal:5000/surveyguard", "quay.io/acme/collector:1.2", "mirror.internal/surveyguard/"}
	for image, want := range map[string]bool{
		"ghcr.io/surveyguard/surveyguard:v0.3.1":                            true, // the operator's own repository
		"ghcr.io/surveyguard/surveyguard@sha256:" + strings.Repeat("a", 64): true,
		"ghcr.io/surveyguard/surveyguard":                                   true,
		"ghcr.io/surveyguard/surveyguard-evil:v1":                           false,
		"ghcr.io/evil/surveyguard:v0.3.0":                                   false,
		"registry.internal:5000/surveyguard:v9":                             true, // an allowed repository
		"registry.internal:5000/surveyguard/other:v9":                       false,
		"registry.internal:5001/surveyguard:v9":                             false,
		"quay.io/acme/collector:1.2":                                        true, // an exact reference
		"quay.io/acme/collector:1.3":                                        false,
		"mirror.internal/surveyguard/surveyguard:v1":                        true, // under an allowed path
		"mirror.internal/surveyguard-other/x:v1":                            false,
		"docker.io/library/busybox":                                         false,
	} {
		if got := imageAllowed(image, own, allowed); got != want {
			t.Errorf("imageAllowed(%q) = %v, want %v", image, got, want)
		}
	}
	if imageAllowed("quay.io/acme/collector:1.2", own, nil) {
		t.Error("an image allowed with no list")
	}
	for _, image := range []string{"mirror.internal/surveyguard/../../evil/x:v1", ":v1", "@sha256:aa"} {
		if imageAllowed(image, own, allowed) || imageAllowed(image, "", nil) {
			t.Errorf("imageAllowed(%q) = true", image)
		}
	}
}
