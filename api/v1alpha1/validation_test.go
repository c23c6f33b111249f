package v1alpha1_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
	"github.com/surveyguard/surveyguard/internal/testenv"
)

var (
	env *testenv.Env
	k8s client.Client
)

func TestMain(m *testing.M) {
	testenv.Main(m, func(e *testenv.Env) error {
		scheme := runtime.NewScheme()
		if err := privacyv1alpha1.AddToScheme(scheme); err != nil {
			return err
		}
		if err := corev1.AddToScheme(scheme); err != nil {
			return err
		}
		c, err := client.New(e.Config, client.Options{Scheme: scheme})
		env, k8s = e, c
		return err
	}, testenv.CRDDir())
}

// Valid objects that each invalid case breaks in exactly one way.
const (
	validCampaign = `
apiVersion: privacy.surveyguard.io/v1alpha1
kind: SurveyCampaign
metadata: {name: base}
spec:
  question: "How likely are you to recommend Acme Checkout to a friend or colleague?"
  consent: {required: true, noticeVersion: "2026-01", purpose: "Improve checkout", lawfulBasis: Consent}
  collect: {comment: true, customerID: true, segments: {plan: [free, pro, enterprise], region: [eu, in, us]}}
  retentionPolicyRef: {name: ninety-days}
  encryption: {keyRotationInterval: 720h}
  privacy: {minGroupSize: 10, redactComments: true, jurisdictions: [GDPR, DPDP, CERTIn]}
  storage: {embedded: {size: 1Gi}}
  collector: {replicas: 1}
`
	validPolicy = `
apiVersion: privacy.surveyguard.io/v1alpha1
kind: RetentionPolicy
metadata: {name: base}
spec: {maxAge: 2160h, action: Delete, schedule: "0 3 * * *"}
`
	validBreach = `
apiVersion: privacy.surveyguard.io/v1alpha1
kind: BreachReport
metadata: {name: base}
spec:
  campaignRefs: [{name: checkout-nps}]
  detectedAt: "2026-11-20T10:00:00Z"
  category: UnauthorizedAccess
  severity: High
  affectedRecords: 120
  jurisdictions: [CERTIn, GDPR, DPDP]
`
	validErasure = `
apiVersion: privacy.surveyguard.io/v1alpha1
kind: ErasureRequest
metadata: {name: base}
spec:
  subject: {customerID: "C-1234"}
`
)

// invalidCases are manifests the API server must refuse at apply time, one
// per validation rule. patch is a JSON merge patch (RFC 7386) on base; want
// is the field path the refusal must name.
var invalidCases = []struct {
	name  string
	base  string
	patch string
	want  string
}{
	// SurveyCampaign
	{"question missing", validCampaign, `{"spec":{"question":null}}`, "spec.question"},
	{"question too short", validCampaign, `{"spec":{"question":"NPS?"}}`, "spec.question"},
	{"consent required without notice version", validCampaign, `{"spec":{"consent":{"noticeVersion":null}}}`, "spec.consent.noticeVersion"},
	{"consent missing", validCampaign, `{"spec":{"consent":null}}`, "spec.consent"},
	{"notice version with spaces", validCampaign, `{"spec":{"consent":{"noticeVersion":"jan 2026"}}}`, "spec.consent.noticeVersion"},
	{"unknown lawful basis", validCampaign, `{"spec":{"consent":{"lawfulBasis":"Vibes"}}}`, "spec.consent.lawfulBasis"},
	{"consent basis without consent", validCampaign, `{"spec":{"consent":{"required":false}}}`, "spec.consent.required"},
	{"segments in the old list form", validCampaign, `{"spec":{"collect":{"segments":["plan","region"]}}}`, "spec.collect.segments"},
	{"segment key not an identifier", validCampaign, `{"spec":{"collect":{"segments":{"Plan Tier":["free"]}}}}`, "spec.collect.segments"},
	{"segment key starting with a digit", validCampaign, `{"spec":{"collect":{"segments":{"1plan":["free"]}}}}`, "spec.collect.segments"},
	{"segment key too long", validCampaign, `{"spec":{"collect":{"segments":{"` + strings.Repeat("k", 64) + `":["free"]}}}}`, "spec.collect.segments"},
	{"21 segment keys", validCampaign, `{"spec":{"collect":{"segments":` + segmentKeys(19) + `}}}`, "spec.collect.segments"}, // and plan, region
	{"segment without values", validCampaign, `{"spec":{"collect":{"segments":{"plan":[]}}}}`, "spec.collect.segments.plan"},
	{"segment value with a character outside the set", validCampaign, `{"spec":{"collect":{"segments":{"plan":["free","pro+"]}}}}`, "spec.collect.segments.plan[1]"},
	{"segment value starting with a space", validCampaign, `{"spec":{"collect":{"segments":{"plan":[" pro"]}}}}`, "spec.collect.segments.plan[0]"},
	{"segment value an email address", validCampaign, `{"spec":{"collect":{"segments":{"plan":["ann@example.com"]}}}}`, "spec.collect.segments.plan[0]"},
	{"segment value too long", validCampaign, `{"spec":{"collect":{"segments":{"plan":["` + strings.Repeat("v", 65) + `"]}}}}`, "spec.collect.segments.plan[0]"},
	{"segment value repeated", validCampaign, `{"spec":{"collect":{"segments":{"plan":["pro","free","pro"]}}}}`, "spec.collect.segments[plan][2]"},
	{"101 segment values", validCampaign, `{"spec":{"collect":{"segments":{"plan":` + segmentValues(101) + `}}}}`, "spec.collect.segments.plan"},
	{"unknown default language", validCampaign, `{"spec":{"defaultLanguage":"fr"}}`, "spec.defaultLanguage"},
	{"unknown language", validCampaign, `{"spec":{"languages":[{"lang":"fr","question":"Recommanderiez-vous Acme Checkout ?","purpose":"Améliorer"}]}}`, "spec.languages[0].lang"},
	{"a language tag in upper case", validCampaign, `{"spec":{"languages":[{"lang":"HI","question":"आप Acme Checkout की सिफ़ारिश किसी मित्र या सहकर्मी से करने की कितनी संभावना रखते हैं?","purpose":"चेकआउट को बेहतर बनाना"}]}}`, "spec.languages[0].lang"},
	{"the default language among languages", validCampaign,
		`{"spec":{"languages":[{"lang":"en","question":"How likely are you to recommend us?","purpose":"Improve checkout"}]}}`, "spec.languages: Invalid value: languages must not list defaultLanguage"},
	{"Hindi both default and among languages", validCampaign, `{"spec":{"defaultLanguage":"hi","languages":[{"lang":"hi","question":"आप Acme Checkout की सिफ़ारिश किसी मित्र या सहकर्मी से करने की कितनी संभावना रखते हैं?","purpose":"चेकआउट को बेहतर बनाना"}]}}`, "languages must not list defaultLanguage"},
	{"a language twice", validCampaign, `{"spec":{"languages":[{"lang":"hi","question":"आप Acme Checkout की सिफ़ारिश किसी मित्र या सहकर्मी से करने की कितनी संभावना रखते हैं?","purpose":"चेकआउट को बेहतर बनाना"},{"lang":"hi","question":"आप Acme Checkout की सिफ़ारिश किसी मित्र या सहकर्मी से करने की कितनी संभावना रखते हैं?","purpose":"चेकआउट को बेहतर बनाना"}]}}`, "spec.languages[1]"},
	{"a translated question too short", validCampaign, `{"spec":{"languages":[{"lang":"hi","question":"सिफ़ारिश?","purpose":"चेकआउट को बेहतर बनाना"}]}}`, "spec.languages[0].question"},
	{"a translated question too long", validCampaign,
		`{"spec":{"languages":[{"lang":"hi","question":"` + strings.Repeat("क", 501) + `","purpose":"चेकआउट को बेहतर बनाना"}]}}`, "spec.languages[0].question"},
	{"a language without its question", validCampaign, `{"spec":{"languages":[{"lang":"hi","purpose":"चेकआउट को बेहतर बनाना"}]}}`, "spec.languages[0].question"},
	{"a translation without the purpose", validCampaign, `{"spec":{"languages":[{"lang":"hi","question":"आप Acme Checkout की सिफ़ारिश किसी मित्र या सहकर्मी से करने की कितनी संभावना रखते हैं?"}]}}`,
		"spec.languages: Invalid value: each of languages needs a purpose when consent.purpose is set"},
	{"a translated purpose the campaign does not state", validCampaign, `{"spec":{"consent":{"purpose":null},"languages":[{"lang":"hi","question":"आप Acme Checkout की सिफ़ारिश किसी मित्र या सहकर्मी से करने की कितनी संभावना रखते हैं?","purpose":"चेकआउट को बेहतर बनाना"}]}}`,
		"each of languages needs a purpose when consent.purpose is set, and has none when it is not"},
	{"9 languages", validCampaign, `{"spec":{"languages":[` + strings.TrimSuffix(strings.Repeat(`{"lang":"hi","question":"आप Acme Checkout की सिफ़ारिश किसी मित्र या सहकर्मी से करने की कितनी संभावना रखते हैं?","purpose":"चेकआउट को बेहतर बनाना"},`, 9), ",") + `]}}`, "spec.languages"},
	{"retention policy missing", validCampaign, `{"spec":{"retentionPolicyRef":null}}`, "spec.retentionPolicyRef"},
	{"retention policy name invalid", validCampaign, `{"spec":{"retentionPolicyRef":{"name":"Ninety_Days"}}}`, "spec.retentionPolicyRef.name"},
	{"key rotation below 24h", validCampaign, `{"spec":{"encryption":{"keyRotationInterval":"1h"}}}`, "spec.encryption.keyRotationInterval"},
	{"key rotation above 8760h", validCampaign, `{"spec":{"encryption":{"keyRotationInterval":"9000h"}}}`, "spec.encryption.keyRotationInterval"},
	{"key rotation not a duration", validCampaign, `{"spec":{"encryption":{"keyRotationInterval":"monthly"}}}`, "spec.encryption.keyRotationInterval"},
	{"min group size below 5", validCampaign, `{"spec":{"privacy":{"minGroupSize":4}}}`, "spec.privacy.minGroupSize"},
	{"min group size above 1000", validCampaign, `{"spec":{"privacy":{"minGroupSize":1001}}}`, "spec.privacy.minGroupSize"},
	{"unknown jurisdiction", validCampaign, `{"spec":{"privacy":{"jurisdictions":["PDPA"]}}}`, "spec.privacy.jurisdictions[0]"},
	{"two storage backends", validCampaign, `{"spec":{"storage":{"postgres":{"secretRef":{"name":"pg"}}}}}`, "spec.storage"},
	{"no storage backend", validCampaign, `{"spec":{"storage":{"embedded":null}}}`, "spec.storage"},
	{"embedded volume too small", validCampaign, `{"spec":{"storage":{"embedded":{"size":"1Mi"}}}}`, "spec.storage.embedded.size"},
	{"postgres without secret name", validCampaign, `{"spec":{"storage":{"embedded":null,"postgres":{"secretRef":{"key":"dsn"}}}}}`, "spec.storage.postgres.secretRef.name"},
	{"several replicas on embedded storage", validCampaign, `{"spec":{"collector":{"replicas":3}}}`, "spec.collector.replicas"},
	{"zero replicas", validCampaign, `{"spec":{"collector":{"replicas":0}}}`, "spec.collector.replicas"},
	{"too many replicas", validCampaign, `{"spec":{"storage":{"embedded":null,"postgres":{"secretRef":{"name":"pg"}}},"collector":{"replicas":51}}}`, "spec.collector.replicas"},
	{"zero requests per second", validCampaign, `{"spec":{"collector":{"limits":{"requestsPerSecond":0}}}}`, "spec.collector.limits.requestsPerSecond"},
	{"negative requests per second", validCampaign, `{"spec":{"collector":{"limits":{"requestsPerSecond":-5}}}}`, "spec.collector.limits.requestsPerSecond"},
	{"requests per second above a million", validCampaign, `{"spec":{"collector":{"limits":{"requestsPerSecond":1000001}}}}`, "spec.collector.limits.requestsPerSecond"},
	{"zero burst", validCampaign, `{"spec":{"collector":{"limits":{"burst":0}}}}`, "spec.collector.limits.burst"},
	{"negative max connections", validCampaign, `{"spec":{"collector":{"limits":{"maxConnections":-1}}}}`, "spec.collector.limits.maxConnections"},
	{"zero connections per client", validCampaign, `{"spec":{"collector":{"limits":{"maxConnectionsPerClient":0}}}}`, "spec.collector.limits.maxConnectionsPerClient"},
	{"trusted proxy not a CIDR", validCampaign, `{"spec":{"collector":{"limits":{"trustedProxies":["10.0.0.0/8","proxy.example.com"]}}}}`, "spec.collector.limits.trustedProxies[1]"},
	{"trusted proxy prefix too long", validCampaign, `{"spec":{"collector":{"limits":{"trustedProxies":["10.0.0.0/33"]}}}}`, "spec.collector.limits.trustedProxies[0]"},
	{"trusted proxy a bare address", validCampaign, `{"spec":{"collector":{"limits":{"trustedProxies":["10.0.0.1"]}}}}`, "spec.collector.limits.trustedProxies[0]"},
	{"33 trusted proxies", validCampaign, `{"spec":{"collector":{"limits":{"trustedProxies":` + cidrs(33) + `}}}}`, "spec.collector.limits.trustedProxies"},
	{"negative max store size", validCampaign, `{"spec":{"collector":{"limits":{"maxStoreSize":"-1Gi"}}}}`, "spec.collector.limits.maxStoreSize"},
	{"zero max store size", validCampaign, `{"spec":{"collector":{"limits":{"maxStoreSize":0}}}}`, "spec.collector.limits.maxStoreSize"},
	{"max store size not a quantity", validCampaign, `{"spec":{"collector":{"limits":{"maxStoreSize":"lots"}}}}`, "spec.collector.limits.maxStoreSize"},
	{"negative min free disk", validCampaign, `{"spec":{"collector":{"limits":{"minFreeDisk":"-16Mi"}}}}`, "spec.collector.limits.minFreeDisk"},
	{"unknown limit", validCampaign, `{"spec":{"collector":{"limits":{"requestsPerMinute":600}}}}`, "spec.collector.limits.requestsPerMinute"},
	{"unknown issuer kind", validCampaign, `{"spec":{"tls":{"issuerRef":{"name":"le","kind":"Vault"}}}}`, "spec.tls.issuerRef.kind"},
	{"unknown field", validCampaign, `{"spec":{"collect":{"phone":true}}}`, "spec.collect.phone"},
	// RetentionPolicy
	{"max age missing", validPolicy, `{"spec":{"maxAge":null}}`, "spec.maxAge"},
	{"max age below 1h", validPolicy, `{"spec":{"maxAge":"30m"}}`, "spec.maxAge"},
	{"max age not a duration", validPolicy, `{"spec":{"maxAge":"90 days"}}`, "spec.maxAge"},
	{"unknown action", validPolicy, `{"spec":{"action":"Shred"}}`, "spec.action"},
	{"schedule not cron", validPolicy, `{"spec":{"schedule":"every night"}}`, "spec.schedule"},
	// BreachReport
	{"no campaign", validBreach, `{"spec":{"campaignRefs":[]}}`, "spec.campaignRefs"},
	{"campaign named twice", validBreach, `{"spec":{"campaignRefs":[{"name":"a"},{"name":"a"}]}}`, "spec.campaignRefs[1]"},
	{"detection time missing", validBreach, `{"spec":{"detectedAt":null}}`, "spec.detectedAt"},
	{"notified before detected", validBreach, `{"spec":{"notifiedAuthorityAt":"2026-11-20T09:59:59Z"}}`, "spec.notifiedAuthorityAt"},
	{"resolved before detected", validBreach, `{"spec":{"resolvedAt":"2026-11-19T10:00:00Z"}}`, "spec.resolvedAt"},
	{"unknown category", validBreach, `{"spec":{"category":"Hack"}}`, "spec.category"},
	{"unknown severity", validBreach, `{"spec":{"severity":"Catastrophic"}}`, "spec.severity"},
	{"negative record count", validBreach, `{"spec":{"affectedRecords":-1}}`, "spec.affectedRecords"},
	{"unknown breach jurisdiction", validBreach, `{"spec":{"jurisdictions":["PDPA"]}}`, "spec.jurisdictions[0]"},
	{"assessed before detected", validBreach, `{"spec":{"assessedAt":"2026-11-20T09:00:00Z"}}`, "spec.assessedAt"},
	{"a duty the regime does not have", validBreach,
		`{"spec":{"notifications":[{"regime":"GDPR","duty":"AttorneyGeneral","at":"2026-11-21T10:00:00Z"}]}}`, "no such duty for this regime"},
	{"an assessment recorded as a notification", validBreach,
		`{"spec":{"jurisdictions":["AustraliaNDB"],"notifications":[{"regime":"AustraliaNDB","duty":"Assessment","at":"2026-11-21T10:00:00Z"}]}}`, "spec.assessedAt"},
	{"a notification for an unlisted regime", validBreach,
		`{"spec":{"notifications":[{"regime":"LGPD","duty":"Authority","at":"2026-11-21T10:00:00Z"}]}}`, "spec.notifications"},
	{"a notification before detection", validBreach,
		`{"spec":{"notifications":[{"regime":"GDPR","duty":"Authority","at":"2026-11-19T10:00:00Z"}]}}`, "may not precede detectedAt"},
	{"a notification without a time", validBreach,
		`{"spec":{"notifications":[{"regime":"GDPR","duty":"Authority"}]}}`, "spec.notifications[0].at"},
	{"a duty notified twice", validBreach,
		`{"spec":{"notifications":[{"regime":"GDPR","duty":"Authority","at":"2026-11-21T10:00:00Z"},{"regime":"GDPR","duty":"Authority","at":"2026-11-22T10:00:00Z"}]}}`, "spec.notifications[1]"},
	{"an extension the law does not allow", validBreach,
		`{"spec":{"extensions":[{"regime":"GDPR","duty":"Authority","until":"2026-11-30T10:00:00Z"}]}}`, "the law allows no extension"},
	{"residents counted for an unlisted regime", validBreach,
		`{"spec":{"affectedResidents":[{"regime":"HIPAA","count":600}]}}`, "an affectedResidents regime must be listed in spec.jurisdictions"},
	{"consent not required under the default basis", validCampaign, `{"spec":{"consent":{"required":false}}}`, "spec.consent.required"},
	{"embedded volume too small, in bytes", validCampaign, `{"spec":{"storage":{"embedded":{"size":1048576}}}}`, "size must be between 64Mi and 1Ti"},
	{"a lawful delay without a reason", validBreach, `{"spec":{"lawfulDelay":{"until":"2026-11-30T10:00:00Z"}}}`, "spec.lawfulDelay.reason"},
	{"a lawful delay that ends before it begins", validBreach,
		`{"spec":{"lawfulDelay":{"reason":"FBI request","from":"2026-11-25T10:00:00Z","until":"2026-11-24T10:00:00Z"}}}`, "spec.lawfulDelay.until"},
	{"an extension that ends before detection", validBreach,
		`{"spec":{"jurisdictions":["GDPR","DPDP"],"extensions":[{"regime":"DPDP","duty":"DetailedReport","until":"2026-11-19T10:00:00Z"}]}}`, "an extension's until may not precede detectedAt"},
	{"a lawful delay from before detection", validBreach,
		`{"spec":{"lawfulDelay":{"reason":"FBI request","from":"2026-11-19T10:00:00Z"}}}`, "spec.lawfulDelay.from"},
	{"a lawful delay until before detection", validBreach,
		`{"spec":{"lawfulDelay":{"reason":"FBI request","until":"2026-11-19T10:00:00Z"}}}`, "spec.lawfulDelay.until"},
	{"a negative resident count", validBreach, `{"spec":{"affectedResidents":[{"regime":"CCPA","count":-1}]}}`, "spec.affectedResidents[0].count"},
	{"an empty description", validBreach, `{"spec":{"description":""}}`, "spec.description"},
	{"an empty notification reference", validBreach,
		`{"spec":{"notifications":[{"regime":"GDPR","duty":"Authority","at":"2026-11-21T10:00:00Z","reference":""}]}}`, "spec.notifications[0].reference"},
	// ErasureRequest
	{"no subject", validErasure, `{"spec":{"subject":{"customerID":null}}}`, "spec.subject"},
	{"two subjects", validErasure, `{"spec":{"subject":{"email":"a@example.com"}}}`, "spec.subject"},
	{"email without @", validErasure, `{"spec":{"subject":{"customerID":null,"email":"not-an-email"}}}`, "spec.subject.email"},
	{"a control character in a customer ID", validErasure, `{"spec":{"subject":{"customerID":"C-1\u0007"}}}`, "customerID holds a control character"},
	{"a C1 control character in a customer ID", validErasure, `{"spec":{"subject":{"customerID":"C-1\u0085"}}}`, "customerID holds a control character"},
	{"a bidirectional override in an email", validErasure, `{"spec":{"subject":{"customerID":null,"email":"ana\u202e@example.com"}}}`, "email holds a control character"},
	{"a bidirectional isolate in a customer ID", validErasure, `{"spec":{"subject":{"customerID":"C-\u20661"}}}`, "customerID holds a control character"},
	{"unknown erasure regime", validErasure, `{"spec":{"regime":"LGPD"}}`, "spec.regime"},
	{"internalDays with GDPR", validErasure, `{"spec":{"regime":"GDPR","internalDays":14}}`, "spec.internalDays"},
	{"internalDays of 0", validErasure, `{"spec":{"internalDays":0}}`, "spec.internalDays"},
	{"internalDays over a year", validErasure, `{"spec":{"internalDays":366}}`, "spec.internalDays"},
	{"extension of an internal deadline", validErasure, `{"spec":{"extension":{"until":"2027-01-01T00:00:00Z","reason":"backlog"}}}`, "spec.extension"},
	{"extension under DPDP", validErasure, `{"spec":{"regime":"DPDP","extension":{"until":"2027-01-01T00:00:00Z","reason":"backlog"}}}`, "spec.extension"},
	{"extension without a reason", validErasure, `{"spec":{"regime":"GDPR","extension":{"until":"2027-01-01T00:00:00Z"}}}`, "spec.extension.reason"},
	{"extension before receipt", validErasure, `{"spec":{"regime":"GDPR","receivedAt":"2026-11-20T10:00:00Z","extension":{"until":"2026-11-19T00:00:00Z","reason":"backlog"}}}`, "spec.extension.until"},
	{"extension notified before receipt", validErasure, `{"spec":{"regime":"GDPR","receivedAt":"2026-11-20T10:00:00Z","extension":{"until":"2027-01-20T00:00:00Z","reason":"backlog","notifiedAt":"2026-11-19T00:00:00Z"}}}`, "spec.extension.notifiedAt"},
	{"acknowledgement outside CCPA", validErasure, `{"spec":{"regime":"GDPR","acknowledgedAt":"2026-11-21T10:00:00Z"}}`, "spec.acknowledgedAt"},
	{"acknowledgement before receipt", validErasure, `{"spec":{"regime":"CCPA","receivedAt":"2026-11-20T10:00:00Z","acknowledgedAt":"2026-11-19T10:00:00Z"}}`, "spec.acknowledgedAt"},
}

// TestFullBreachReportIsAccepted: every field of the regulatory calendar in
// one report, and the report as it was written before it (notifiedAuthorityAt
// only), are both accepted.
func TestFullBreachReportIsAccepted(t *testing.T) {
	for i, patch := range []string{
		`{"spec":{"notifiedAuthorityAt":"2026-11-21T10:00:00Z"}}`,
		`{"spec":{
			"jurisdictions":["CERTIn","GDPR","UKGDPR","DPDP","CCPA","LGPD","NIS2","SingaporePDPA","AustraliaNDB","HIPAA"],
			"assessedAt":"2026-11-21T10:00:00Z",
			"affectedResidents":[{"regime":"CCPA","count":612},{"regime":"HIPAA","count":40}],
			"notifications":[
				{"regime":"CERTIn","duty":"Authority","at":"2026-11-20T15:00:00Z","reference":"CERTIn-2026-11-0042"},
				{"regime":"GDPR","duty":"Authority","at":"2026-11-24T10:00:00Z","lateReason":"the scope was unknown until the forensic report"},
				{"regime":"CCPA","duty":"Individuals","at":"2026-11-30T10:00:00Z"},
				{"regime":"NIS2","duty":"EarlyWarning","at":"2026-11-21T09:00:00Z"}],
			"extensions":[{"regime":"DPDP","duty":"DetailedReport","until":"2026-11-30T10:00:00Z","reference":"DPB/2026/17"}],
			"lawfulDelay":{"reason":"police investigation, letter of 2026-11-21","from":"2026-11-21T00:00:00Z"}}}`,
	} {
		obj := object(t, validBreach, patch)
		obj.SetName(fmt.Sprintf("full-breach-%d", i))
		if err := k8s.Create(context.Background(), obj, client.FieldValidation("Strict")); err != nil {
			t.Errorf("refused: %v", err)
		}
	}
}

// segmentKeys is a segments map of n keys, each allowing one value.
func segmentKeys(n int) string {
	m := map[string][]string{}
	for i := range n {
		m[fmt.Sprintf("key_%d", i)] = []string{"a"}
	}
	data, _ := json.Marshal(m)
	return string(data)
}

// segmentValues is a list of n distinct segment values.
func segmentValues(n int) string {
	v := make([]string, n)
	for i := range v {
		v[i] = fmt.Sprintf("value-%d", i)
	}
	data, _ := json.Marshal(v)
	return string(data)
}

// cidrs is a list of n distinct CIDRs.
func cidrs(n int) string {
	v := make([]string, n)
	for i := range v {
		v[i] = fmt.Sprintf("10.%d.0.0/16", i)
	}
	data, _ := json.Marshal(v)
	return string(data)
}

func TestInvalidManifestsAreRefused(t *testing.T) {
	ctx := context.Background()
	for i, tc := range invalidCases {
		t.Run(tc.name, func(t *testing.T) {
			obj := object(t, tc.base, tc.patch)
			obj.SetName(fmt.Sprintf("invalid-%d", i))
			err := k8s.Create(ctx, obj, client.FieldValidation("Strict"))
			if err == nil {
				t.Fatalf("the API server accepted an invalid manifest; want a refusal naming %s", tc.want)
			}
			if !apierrors.IsInvalid(err) && !apierrors.IsBadRequest(err) {
				t.Fatalf("want an Invalid or BadRequest refusal, got %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("the refusal does not name %s:\n%v", tc.want, err)
			}
			t.Logf("refused: %v", err)
			got := obj.DeepCopy()
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(obj), got); !apierrors.IsNotFound(err) {
				t.Fatalf("the refused object was stored anyway (get: %v)", err)
			}
		})
	}
	t.Logf("%d invalid manifests refused", len(invalidCases))
}

// classCampaign is validCampaign with a storage class.
var classCampaign = strings.Replace(validCampaign, "storage: {embedded: {size: 1Gi}}", "storage: {embedded: {size: 1Gi, storageClassName: fast}}", 1)

// invalidUpdates are changes to a stored object that the API server must
// refuse; the stored object must stay as it was.
var invalidUpdates = []struct {
	name  string
	base  string
	patch string
	want  string
}{
	{"change the storage class", classCampaign, `{"spec":{"storage":{"embedded":{"storageClassName":"slow"}}}}`, "storageClassName cannot change"},
	{"remove storage, and with it the class", classCampaign, `{"spec":{"storage":null}}`, "storageClassName cannot change"},
	{"add a storage class", validCampaign, `{"spec":{"storage":{"embedded":{"storageClassName":"fast"}}}}`, "storageClassName cannot change"},
	{"switch storage backend", validCampaign, `{"spec":{"storage":{"embedded":null,"postgres":{"secretRef":{"name":"pg"}}}}}`, "spec.storage"},
	{"shrink embedded volume", validCampaign, `{"spec":{"storage":{"embedded":{"size":"512Mi"}}}}`, "spec.storage.embedded.size"},
	{"shrink embedded volume, in bytes", validCampaign, `{"spec":{"storage":{"embedded":{"size":536870912}}}}`, "storage.embedded.size cannot shrink"},
	{"change an erasure request's subject", validErasure, `{"spec":{"subject":{"customerID":"C-9999"}}}`, "spec.subject"},
	{"add an empty selector to an erasure request without one", validErasure, `{"spec":{"campaignSelector":{}}}`, "spec.campaignSelector is immutable"},
	{"change an erasure request's regime", validErasure, `{"spec":{"regime":"GDPR"}}`, "spec.regime"},
	{"add a selector to an erasure request", validErasure, `{"spec":{"campaignSelector":{"matchLabels":{"team":"checkout"}}}}`, "spec.campaignSelector"},
	{"add receivedAt to an erasure request", validErasure, `{"spec":{"receivedAt":"2026-11-20T10:00:00Z"}}`, "spec.receivedAt"},
	{"change an erasure request's internalDays", validErasure, `{"spec":{"internalDays":10}}`, "spec.internalDays"},
}

func TestInvalidUpdatesAreRefused(t *testing.T) {
	ctx := context.Background()
	for i, tc := range invalidUpdates {
		t.Run(tc.name, func(t *testing.T) {
			stored := object(t, tc.base, "")
			stored.SetName(fmt.Sprintf("update-%d", i))
			if err := k8s.Create(ctx, stored); err != nil {
				t.Fatalf("creating the valid object: %v", err)
			}
			changed := object(t, tc.base, tc.patch)
			changed.SetName(stored.GetName())
			changed.SetResourceVersion(stored.GetResourceVersion())
			err := k8s.Update(ctx, changed)
			if err == nil {
				t.Fatalf("the API server accepted an invalid update; want a refusal naming %s", tc.want)
			}
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an Invalid refusal naming %s, got %v", tc.want, err)
			}
			after := stored.DeepCopy()
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(stored), after); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(after.Object["spec"], stored.Object["spec"]) {
				t.Fatalf("the refused update changed the stored spec:\nbefore %v\nafter  %v", stored.Object["spec"], after.Object["spec"])
			}
		})
	}
}

func TestValidUpdatesAreAccepted(t *testing.T) {
	ctx := context.Background()
	obj := object(t, validCampaign, "")
	obj.SetName("grow")
	if err := k8s.Create(ctx, obj); err != nil {
		t.Fatal(err)
	}
	grown := object(t, validCampaign, `{"spec":{"storage":{"embedded":{"size":"2Gi"}},"paused":true}}`)
	grown.SetName("grow")
	grown.SetResourceVersion(obj.GetResourceVersion())
	if err := k8s.Update(ctx, grown); err != nil {
		t.Fatalf("growing the volume and pausing must be allowed: %v", err)
	}
	// A Quantity may be written as a number of bytes, as a PVC's may.
	inBytes := object(t, validCampaign, `{"spec":{"storage":{"embedded":{"size":4294967296}},"paused":true}}`)
	inBytes.SetName("grow")
	inBytes.SetResourceVersion(grown.GetResourceVersion())
	if err := k8s.Update(ctx, inBytes); err != nil {
		t.Fatalf("growing the volume to 4Gi written in bytes must be allowed: %v", err)
	}
}

// TestErasureRequestDefaultsAndLaterFields: a request written before regimes
// existed reads regime Internal; a CCPA request may get its extension and
// acknowledgement after it was created.
func TestErasureRequestDefaultsAndLaterFields(t *testing.T) {
	ctx := context.Background()
	old := object(t, validErasure, "")
	old.SetName("before-regimes")
	if err := k8s.Create(ctx, old); err != nil {
		t.Fatal(err)
	}
	got := &privacyv1alpha1.ErasureRequest{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: old.GetNamespace(), Name: old.GetName()}, got); err != nil {
		t.Fatal(err)
	}
	if got.Spec.Regime != privacyv1alpha1.ErasureRegimeInternal || got.Spec.InternalDays != 0 {
		t.Errorf("regime %q internalDays %v, want Internal (30 days by default) and no internalDays", got.Spec.Regime, got.Spec.InternalDays)
	}

	ccpa := object(t, validErasure, `{"spec":{"regime":"CCPA","receivedAt":"2026-11-20T10:00:00Z","campaignSelector":{"matchLabels":{"team":"checkout"}}}}`)
	ccpa.SetName("ccpa")
	if err := k8s.Create(ctx, ccpa); err != nil {
		t.Fatal(err)
	}
	later := object(t, validErasure, `{"spec":{"regime":"CCPA","receivedAt":"2026-11-20T10:00:00Z","campaignSelector":{"matchLabels":{"team":"checkout"}},`+
		`"acknowledgedAt":"2026-11-23T09:00:00Z","extension":{"until":"2027-02-01T00:00:00Z","reason":"the request spans archived systems"}}}`)
	later.SetName("ccpa")
	later.SetResourceVersion(ccpa.GetResourceVersion())
	if err := k8s.Update(ctx, later); err != nil {
		t.Fatalf("adding an acknowledgement and an extension must be allowed: %v", err)
	}
}

// TestFullCollectorSpecIsAccepted applies every new field at its bounds and
// reads it back as the operator does.
func TestFullCollectorSpecIsAccepted(t *testing.T) {
	ctx := context.Background()
	var long []string
	for i := range 100 {
		long = append(long, fmt.Sprintf("%02d", i)+strings.Repeat("x", 62))
	}
	segments := privacyv1alpha1.Segments{"plan": {"free", "pro", "enterprise"}, "region": {"eu", "in", "us"}, "tier": long}
	segments["team_"+strings.Repeat("a", 58)] = privacyv1alpha1.SegmentValues{"Customer Success", "R.and.D", "ops_2"} // a 63-character key
	for i := len(segments); i < 20; i++ {
		segments[fmt.Sprintf("key_%d", i)] = privacyv1alpha1.SegmentValues{"a"}
	}
	full := &privacyv1alpha1.SurveyCampaign{}
	full.Name, full.Namespace = "full", testNamespace(t)
	full.Spec.Question = "How likely are you to recommend us to a friend or colleague?"
	full.Spec.Consent.NoticeVersion = "v1"
	full.Spec.RetentionPolicyRef.Name = "ninety-days"
	full.Spec.Storage.Embedded = &privacyv1alpha1.EmbeddedStorage{}
	full.Spec.Collect.Segments = segments
	maxStore, minFree := resource.MustParse("800Mi"), resource.MustParse("0")
	full.Spec.Collector.Limits = privacyv1alpha1.CollectorLimits{
		RequestsPerSecond: 1_000_000, Burst: 1, MaxConnections: 1, MaxConnectionsPerClient: 1_000_000,
		TrustedProxies: []string{"10.0.0.0/8", "192.168.1.0/24", "fd00::/8", "203.0.113.7/32"},
		MaxStoreSize:   &maxStore, MinFreeDisk: &minFree,
	}
	if err := k8s.Create(ctx, full, client.FieldValidation("Strict")); err != nil {
		t.Fatalf("a campaign using every bound was refused: %v", err)
	}
	got := &privacyv1alpha1.SurveyCampaign{}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(full), got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Spec.Collect.Segments, segments) {
		t.Errorf("segments read back as %v", got.Spec.Collect.Segments)
	}
	l := got.Spec.Collector.Limits
	if l.RequestsPerSecond != 1_000_000 || l.Burst != 1 || l.MaxConnections != 1 || l.MaxConnectionsPerClient != 1_000_000 ||
		len(l.TrustedProxies) != 4 || l.MaxStoreSize.Cmp(maxStore) != 0 || !l.MinFreeDisk.IsZero() {
		t.Errorf("limits read back as %+v", l)
	}
}

// TestLanguagesAreAccepted: a campaign written in Hindi, translated into
// English, with a 500-character question (MaxLength counts characters, and
// Devanagari takes three bytes each), reads back as written.
func TestLanguagesAreAccepted(t *testing.T) {
	ctx := context.Background()
	c := &privacyv1alpha1.SurveyCampaign{}
	c.Name, c.Namespace = "hindi-first", testNamespace(t)
	c.Spec.Question = strings.Repeat("क", 500)
	c.Spec.DefaultLanguage = privacyv1alpha1.LanguageHindi
	c.Spec.Consent = privacyv1alpha1.ConsentSpec{NoticeVersion: "v1", Purpose: "चेकआउट को बेहतर बनाना"}
	c.Spec.Languages = []privacyv1alpha1.LanguageSpec{{Lang: privacyv1alpha1.LanguageEnglish,
		Question: "How likely are you to recommend Acme Checkout to a friend or colleague?", Purpose: strings.Repeat("p", 256)}}
	c.Spec.RetentionPolicyRef.Name = "ninety-days"
	c.Spec.Storage.Embedded = &privacyv1alpha1.EmbeddedStorage{}
	if err := k8s.Create(ctx, c, client.FieldValidation("Strict")); err != nil {
		t.Fatalf("a Hindi campaign with an English translation was refused: %v", err)
	}
	got := &privacyv1alpha1.SurveyCampaign{}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(c), got); err != nil {
		t.Fatal(err)
	}
	if got.Spec.DefaultLanguage != privacyv1alpha1.LanguageHindi || !reflect.DeepEqual(got.Spec.Languages, c.Spec.Languages) {
		t.Errorf("read back defaultLanguage %q, languages %+v", got.Spec.DefaultLanguage, got.Spec.Languages)
	}
}

// TestStoredListSegmentsStillDecode: a campaign stored with the list form
// of earlier versions must not break the operator's cache of every
// campaign; it decodes as keys without values, which the operator reports.
func TestStoredListSegmentsStillDecode(t *testing.T) {
	var spec privacyv1alpha1.CollectSpec
	if err := json.Unmarshal([]byte(`{"segments":["plan","region"]}`), &spec); err != nil {
		t.Fatalf("the list form does not decode: %v", err)
	}
	if len(spec.Segments) != 2 || spec.Segments["plan"] != nil || spec.Segments["region"] != nil {
		t.Errorf("list form decoded as %#v", spec.Segments)
	}
	if err := json.Unmarshal([]byte(`{"segments":{"plan":["free","pro"]}}`), &spec); err != nil ||
		!reflect.DeepEqual(spec.Segments, privacyv1alpha1.Segments{"plan": {"free", "pro"}}) {
		t.Errorf("map form decoded as %#v (%v)", spec.Segments, err)
	}
	if err := json.Unmarshal([]byte(`{"segments":"plan"}`), &spec); err == nil {
		t.Error("a string decoded as segments")
	}
}

func TestSamplesAreAccepted(t *testing.T) {
	ctx := context.Background()
	files, err := filepath.Glob(filepath.Join(testenv.RepoRoot(), "config", "samples", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 4 {
		t.Fatalf("want at least one sample per kind in config/samples, found %d files", len(files))
	}
	kinds := map[string]bool{}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			obj := &unstructured.Unstructured{}
			if err := yaml.Unmarshal(data, &obj.Object); err != nil {
				t.Fatal(err)
			}
			obj.SetNamespace(testNamespace(t))
			if err := k8s.Create(ctx, obj, client.FieldValidation("Strict")); err != nil {
				t.Fatalf("the sample was refused: %v", err)
			}
			kinds[obj.GetKind()] = true
		})
	}
	for _, k := range []string{"SurveyCampaign", "RetentionPolicy", "BreachReport", "ErasureRequest"} {
		if !kinds[k] {
			t.Errorf("no accepted sample of kind %s", k)
		}
	}
}

// TestDefaults checks the safe defaults a minimal campaign gets from the API server.
func TestDefaults(t *testing.T) {
	ctx := context.Background()
	minimal := &privacyv1alpha1.SurveyCampaign{}
	minimal.Name, minimal.Namespace = "minimal", testNamespace(t)
	minimal.Spec.Question = "How likely are you to recommend us to a friend or colleague?"
	minimal.Spec.Consent.NoticeVersion = "v1"
	minimal.Spec.RetentionPolicyRef.Name = "ninety-days"
	if err := k8s.Create(ctx, minimal); err != nil {
		t.Fatal(err)
	}
	got := &privacyv1alpha1.SurveyCampaign{}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(minimal), got); err != nil {
		t.Fatal(err)
	}
	s := got.Spec
	checks := []struct {
		field     string
		got, want any
	}{
		{"consent.required", deref(s.Consent.Required), true},
		{"consent.lawfulBasis", s.Consent.LawfulBasis, privacyv1alpha1.LawfulBasisConsent},
		{"defaultLanguage", s.DefaultLanguage, privacyv1alpha1.LanguageEnglish},
		{"languages", len(s.Languages), 0},
		{"collect.email", ptr.Deref(s.Collect.Email, false), false},
		{"collect.customerID", ptr.Deref(s.Collect.CustomerID, false), false},
		{"collect.comment", ptr.Deref(s.Collect.Comment, false), false},
		{"encryption.keyRotationInterval", s.Encryption.KeyRotationInterval.Duration.String(), "720h0m0s"},
		{"privacy.minGroupSize", s.Privacy.MinGroupSize, int32(10)},
		{"privacy.redactComments", deref(s.Privacy.RedactComments), true},
		{"storage.postgres set", s.Storage.Postgres != nil, false},
		{"storage.embedded.size", s.Storage.Embedded.Size.String(), "1Gi"},
		{"collector.replicas", s.Collector.Replicas, int32(1)},
		{"collector.limits.requestsPerSecond", s.Collector.Limits.RequestsPerSecond, int32(10)},
		{"collector.limits.burst", s.Collector.Limits.Burst, int32(30)},
		{"collector.limits.maxConnections", s.Collector.Limits.MaxConnections, int32(1024)},
		{"collector.limits.maxConnectionsPerClient", s.Collector.Limits.MaxConnectionsPerClient, int32(64)},
		{"collector.limits.maxStoreSize set", s.Collector.Limits.MaxStoreSize != nil, false},
		{"collector.limits.minFreeDisk set", s.Collector.Limits.MinFreeDisk != nil, false},
		{"collector.limits.trustedProxies", len(s.Collector.Limits.TrustedProxies), 0},
		{"paused", ptr.Deref(s.Paused, false), false},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("spec.%s defaulted to %v, want %v", c.field, c.got, c.want)
		}
	}

	policy := object(t, `{"apiVersion":"privacy.surveyguard.io/v1alpha1","kind":"RetentionPolicy","metadata":{"name":"minimal"},"spec":{"maxAge":"24h"}}`, "")
	if err := k8s.Create(ctx, policy); err != nil {
		t.Fatal(err)
	}
	if a, _, _ := unstructured.NestedString(policy.Object, "spec", "action"); a != "Delete" {
		t.Errorf("spec.action defaulted to %q, want Delete", a)
	}
	if sch, _, _ := unstructured.NestedString(policy.Object, "spec", "schedule"); sch != "@daily" {
		t.Errorf("spec.schedule defaulted to %q, want @daily", sch)
	}
}

func TestKubectlExplainShowsFieldDocs(t *testing.T) {
	out, err := env.Kubectl("explain", "surveycampaign.spec.consent")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"consent describes the consent respondents give",
		"noticeVersion",
		"lawfulBasis",
		"Defaults to true",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl explain surveycampaign.spec.consent does not show %q:\n%s", want, out)
		}
	}
}

func TestKubectlGetCategoryAndColumns(t *testing.T) {
	obj := object(t, validPolicy, "")
	obj.SetName("columns")
	if err := k8s.Create(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
	out, err := env.Kubectl("get", "surveyguard", "-n", obj.GetNamespace())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "retentionpolicy.privacy.surveyguard.io/columns") {
		t.Errorf("kubectl get surveyguard does not list the policy:\n%s", out)
	}
	out, err = env.Kubectl("get", "rp", "columns", "-n", obj.GetNamespace())
	if err != nil {
		t.Fatal(err)
	}
	for _, col := range []string{"MAXAGE", "ACTION", "SCHEDULE", "CAMPAIGNS", "LAST PURGE", "READY", "AGE"} {
		if !strings.Contains(out, col) {
			t.Errorf("kubectl get rp has no %s column:\n%s", col, out)
		}
	}
}

// namespaces are the namespaces made for tests, one per test or subtest: the
// API server outlives one go test -count run, so names never repeat across runs.
var namespaces sync.Map // *testing.T -> string

// testNamespace is a namespace of the test's own.
func testNamespace(t *testing.T) string {
	t.Helper()
	if ns, ok := namespaces.Load(t); ok {
		return ns.(string)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "api-"}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatalf("creating the test's namespace: %v", err)
	}
	namespaces.Store(t, ns.Name)
	return ns.Name
}

// object builds an unstructured object in the test's namespace from a YAML
// manifest and an optional JSON merge patch.
func object(t *testing.T, manifest, patch string) *unstructured.Unstructured {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(manifest), &doc); err != nil {
		t.Fatalf("bad test manifest: %v", err)
	}
	if patch != "" {
		var p map[string]any
		if err := json.Unmarshal([]byte(patch), &p); err != nil {
			t.Fatalf("bad test patch: %v", err)
		}
		doc = mergePatch(doc, p)
	}
	obj := &unstructured.Unstructured{Object: doc}
	obj.SetNamespace(testNamespace(t))
	return obj
}

// mergePatch applies an RFC 7386 JSON merge patch: null deletes, objects merge, anything else replaces.
func mergePatch(target, patch map[string]any) map[string]any {
	if target == nil {
		target = map[string]any{}
	}
	for k, v := range patch {
		switch pv := v.(type) {
		case nil:
			delete(target, k)
		case map[string]any:
			tv, _ := target[k].(map[string]any)
			target[k] = mergePatch(tv, pv)
		default:
			target[k] = v
		}
	}
	return target
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// TestScheduleMacrosAreAccepted: every macro the docs list, aliases
// included, as a CronJob takes them.
func TestScheduleMacrosAreAccepted(t *testing.T) {
	ctx := context.Background()
	for _, macro := range []string{"@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually"} {
		obj := object(t, validPolicy, `{"spec":{"schedule":"`+macro+`"}}`)
		obj.SetName("macro-" + strings.TrimPrefix(macro, "@"))
		if err := k8s.Create(ctx, obj, client.DryRunAll); err != nil {
			t.Errorf("schedule %s: %v", macro, err)
		}
	}
}

// TestDocExamplesApplyServerSide: every whole surveyguard object the README
// and docs/ show in a yaml block is accepted by server-side apply, which
// Flux and Argo CD use (and which, unlike a client-side apply, sends a
// field written null to the API server's validation).
func TestDocExamplesApplyServerSide(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(testenv.RepoRoot(), "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, filepath.Join(testenv.RepoRoot(), "README.md"))
	block := regexp.MustCompile("(?s)```yaml\n(.*?)```")
	examples := 0
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range block.FindAllSubmatch(data, -1) {
			for i, doc := range strings.Split(string(m[1]), "\n---\n") {
				if !strings.Contains(doc, "apiVersion: privacy.surveyguard.io/") || !strings.Contains(doc, "\nspec:") {
					continue
				}
				examples++
				name := fmt.Sprintf("%s:%d", filepath.Base(file), examples)
				// Into the test's namespace, whatever the example names;
				// a field written null stays null.
				obj := &unstructured.Unstructured{}
				if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				obj.SetNamespace(testNamespace(t))
				body, err := json.Marshal(obj.Object)
				if err != nil {
					t.Fatal(err)
				}
				path := filepath.Join(t.TempDir(), fmt.Sprintf("example-%d-%d.json", examples, i))
				if err := os.WriteFile(path, body, 0o600); err != nil {
					t.Fatal(err)
				}
				if out, err := env.Kubectl("apply", "--server-side", "--dry-run=server", "-f", path); err != nil {
					t.Errorf("%s, example refused:\n%s\n%v", name, doc, out)
				}
			}
		}
	}
	if examples < 4 {
		t.Fatalf("%d examples found in the docs; the README alone shows one of each kind", examples)
	}
}

// TestCampaignNamesMustFitTheirChildren: a campaign's name becomes its
// collector's Service name and certificate name, so one that cannot is
// refused when applied, not stalled afterwards.
func TestCampaignNamesMustFitTheirChildren(t *testing.T) {
	ctx := context.Background()
	ns := testNamespace(t)
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{strings.Repeat("a", 53), true},
		{"checkout-nps-2", true},
		{strings.Repeat("a", 54), false},
		{"checkout.nps", false},
		{"-checkout", false},
	} {
		obj := object(t, validCampaign, `{}`)
		obj.SetName(tc.name)
		obj.SetNamespace(ns)
		err := k8s.Create(ctx, obj, client.FieldValidation("Strict"))
		switch {
		case tc.ok && err != nil:
			t.Errorf("%q refused: %v", tc.name, err)
		case !tc.ok && (err == nil || !strings.Contains(err.Error(), "metadata.name must be a DNS label of at most 53 characters")):
			t.Errorf("%q: %v; want a refusal naming metadata.name", tc.name, err)
		}
		if tc.ok && err == nil {
			// A later edit of an accepted campaign is not refused for its name.
			obj.SetLabels(map[string]string{"edited": "true"})
			if err := k8s.Update(ctx, obj); err != nil {
				t.Errorf("editing %q: %v", tc.name, err)
			}
		}
	}
}
