package controllers

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	goyaml "go.yaml.in/yaml/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
	"github.com/surveyguard/surveyguard/internal/collectorapi"
)

// Ports of the collector, in the pod and on the Service.
const (
	publicPort = 8443
	adminPort  = 9443
)

// Paths inside the collector pod.
const (
	configDir    = "/etc/surveyguard"
	configFile   = "collector.yaml"
	dataDir      = "/data"
	keysDir      = "/secrets/keys"
	tlsDir       = "/secrets/tls"
	adminDir     = "/secrets/admin"
	dsnDir       = "/secrets/db"
	tokenKey     = "token"
	caCertKey    = "ca.crt"
	caKeyKey     = "ca.key"
	collectorUID = 65532
)

// Annotations the operator sets.
const (
	// annotationChecksum on the pod template changes with the collector's
	// configuration and keys, so a change rolls the pods.
	annotationChecksum = "privacy.surveyguard.io/config-checksum"
	// annotationRotatedAt on the key Secret is when its active key was made.
	annotationRotatedAt = "privacy.surveyguard.io/rotated-at"
	// annotationBreachRotations on the key Secret records the rotations done
	// for breach reports: {"<report UID>": {"key": "k3", "at": ...}}.
	annotationBreachRotations = "privacy.surveyguard.io/breach-rotations"
)

// maxCampaignName keeps "<name>-collector" within a 63-character DNS label.
const maxCampaignName = 63 - len("-collector")

// children names every object the operator makes for a campaign.
type children struct {
	collector  string // ServiceAccount, ConfigMap, Deployment, Service, NetworkPolicy, PDB
	keys       string // data keys and HMAC key
	adminToken string
	tls        string // serving certificate, key and CA certificate (mounted)
	ca         string // the campaign CA's key (never mounted)
	data       string // PersistentVolumeClaim
}

func childNames(c *privacyv1alpha1.SurveyCampaign) children {
	return children{
		collector:  c.Name + "-collector",
		keys:       c.Name + "-keys",
		adminToken: c.Name + "-admin-token",
		tls:        c.Name + "-tls",
		ca:         c.Name + "-ca",
		data:       c.Name + "-data",
	}
}

// childLabels are on every child; selectorLabels pick the collector's pods.
func childLabels(c *privacyv1alpha1.SurveyCampaign) map[string]string {
	return map[string]string{
		privacyv1alpha1.LabelManagedBy: privacyv1alpha1.ManagedByValue,
		privacyv1alpha1.LabelCampaign:  c.Name,
		"app.kubernetes.io/name":       "surveyguard-collector",
		"app.kubernetes.io/instance":   c.Name,
	}
}

func selectorLabels(c *privacyv1alpha1.SurveyCampaign) map[string]string {
	return map[string]string{
		"app.kubernetes.io/name":     "surveyguard-collector",
		"app.kubernetes.io/instance": c.Name,
	}
}

// serviceDNSNames are the names the collector's certificate carries.
func serviceDNSNames(c *privacyv1alpha1.SurveyCampaign) []string {
	svc := childNames(c).collector
	return []string{
		svc + "." + c.Namespace + ".svc",
		svc + "." + c.Namespace + ".svc.cluster.local",
		svc + "." + c.Namespace,
		svc,
	}
}

// endpoint is the public URL published in status.
func endpoint(c *privacyv1alpha1.SurveyCampaign) string {
	return fmt.Sprintf("https://%s:%d", serviceDNSNames(c)[0], publicPort)
}

// adminURL is where the operator reaches the admin API.
func adminURL(c *privacyv1alpha1.SurveyCampaign) string {
	return fmt.Sprintf("https://%s:%d", serviceDNSNames(c)[0], adminPort)
}

func replicas(c *privacyv1alpha1.SurveyCampaign, paused bool) int32 {
	if paused {
		return 0
	}
	if c.Spec.Collector.Replicas > 0 {
		return c.Spec.Collector.Replicas
	}
	return 1
}

// collectorConfig renders the collector's configuration file from the
// campaign and its policy.
func collectorConfig(c *privacyv1alpha1.SurveyCampaign, policy *privacyv1alpha1.RetentionPolicy) ([]byte, error) {
	consent := c.Spec.Consent
	required := consent.Required == nil || *consent.Required
	minGroup := int(c.Spec.Privacy.MinGroupSize)
	if minGroup == 0 {
		minGroup = 10
	}
	segments, err := collectSegments(c.Spec.Collect.Segments)
	if err != nil {
		return nil, err
	}
	cfg := collectorapi.Config{
		Campaign:        c.Name,
		Question:        c.Spec.Question,
		DefaultLanguage: string(c.Spec.DefaultLanguage),
		Languages:       collectorLanguages(c.Spec.Languages),
		Consent: collectorapi.ConsentConfig{
			Required: required, NoticeVersion: consent.NoticeVersion,
			Purpose: consent.Purpose, LawfulBasis: string(consent.LawfulBasis),
		},
		Collect: collectorapi.CollectConfig{
			Comment: ptr.Deref(c.Spec.Collect.Comment, false), Email: ptr.Deref(c.Spec.Collect.Email, false),
			CustomerID: ptr.Deref(c.Spec.Collect.CustomerID, false), Segments: segments,
		},
		Limits: collectorLimits(c),
		Privacy: collectorapi.PrivacyConfig{
			MinGroupSize:   minGroup,
			RedactComments: c.Spec.Privacy.RedactComments == nil || *c.Spec.Privacy.RedactComments,
		},
		Retention:      collectorapi.Retention{MaxAge: collectorapi.Duration{Duration: policy.Spec.MaxAge.Duration}},
		Listen:         collectorapi.ListenConfig{Public: fmt.Sprintf(":%d", publicPort), Admin: fmt.Sprintf(":%d", adminPort)},
		TLS:            collectorapi.TLSConfig{CertFile: path.Join(tlsDir, corev1.TLSCertKey), KeyFile: path.Join(tlsDir, corev1.TLSPrivateKeyKey)},
		KeysDir:        keysDir,
		AdminTokenFile: path.Join(adminDir, tokenKey),
	}
	if pg := c.Spec.Storage.Postgres; pg != nil {
		cfg.Store = collectorapi.StoreConfig{Driver: "postgres", DSNFile: path.Join(dsnDir, dsnKey(pg))}
	} else {
		cfg.Store = collectorapi.StoreConfig{Driver: "sqlite", Path: path.Join(dataDir, "responses.db")}
	}
	// The collector refuses what it cannot serve; check here so that the
	// campaign says so instead of a crash-looping pod. (That the file
	// rendered parses back to the same configuration is TestCollectorConfig's.)
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return configYAML(cfg)
}

// collectorLanguages copies spec.languages into the collector's form.
func collectorLanguages(in []privacyv1alpha1.LanguageSpec) []collectorapi.LanguageConfig {
	if len(in) == 0 {
		return nil
	}
	out := make([]collectorapi.LanguageConfig, len(in))
	for i, l := range in {
		out[i] = collectorapi.LanguageConfig{Lang: string(l.Lang), Question: l.Question, Purpose: l.Purpose}
	}
	return out
}

// collectSegments copies spec.collect.segments into the collector's form.
// A key without values is what a campaign stored in the list form of
// earlier versions decodes to: say how to fix it.
func collectSegments(in privacyv1alpha1.Segments) (map[string][]string, error) {
	if len(in) == 0 {
		return nil, nil
	}
	out := make(map[string][]string, len(in))
	var bare []string
	for k, v := range in {
		if len(v) == 0 {
			bare = append(bare, k)
		}
		out[k] = append([]string(nil), v...)
	}
	if len(bare) > 0 {
		sort.Strings(bare)
		return nil, fmt.Errorf("spec.collect.segments declares no values for %s: the list form (segments: [plan, region]) "+
			"is no longer accepted; declare each key's allowed values, for example segments: {plan: [free, pro]}", strings.Join(bare, ", "))
	}
	return out, nil
}

// defaultStorePercent is the share of storage.embedded.size the store may
// fill when spec.collector.limits.maxStoreSize is unset: the rest is room
// for the filesystem, purges and erasure.
const defaultStorePercent = 80

// collectorLimits renders spec.collector.limits. An embedded store without a
// maxStoreSize gets 80% of its volume (whole bytes, rounded down); zero
// values are left for the collector to default.
func collectorLimits(c *privacyv1alpha1.SurveyCampaign) collectorapi.LimitsConfig {
	l := c.Spec.Collector.Limits
	out := collectorapi.LimitsConfig{
		RequestsPerSecond:       int(l.RequestsPerSecond),
		Burst:                   int(l.Burst),
		MaxConnections:          int(l.MaxConnections),
		MaxConnectionsPerClient: int(l.MaxConnectionsPerClient),
		TrustedProxies:          append([]string(nil), l.TrustedProxies...),
	}
	if len(out.TrustedProxies) == 0 {
		out.TrustedProxies = nil
	}
	if l.MinFreeDisk != nil {
		out.MinFreeDisk = ptr.To(l.MinFreeDisk.DeepCopy())
	}
	switch {
	case l.MaxStoreSize != nil:
		out.MaxStoreSize = ptr.To(l.MaxStoreSize.DeepCopy())
	case c.Spec.Storage.Embedded != nil:
		// size * 80 / 100 rounded down, in integers that cannot overflow.
		size := embeddedSize(c)
		v := size.Value()
		out.MaxStoreSize = resource.NewQuantity(v/100*defaultStorePercent+v%100*defaultStorePercent/100, resource.BinarySI)
	}
	return out
}

// embeddedSize is storage.embedded.size, or its default.
func embeddedSize(c *privacyv1alpha1.SurveyCampaign) resource.Quantity {
	if e := c.Spec.Storage.Embedded; e != nil && e.Size != nil {
		return e.Size.DeepCopy()
	}
	return resource.MustParse("1Gi")
}

func dsnKey(pg *privacyv1alpha1.PostgresStorage) string {
	if pg.SecretRef.Key != "" {
		return pg.SecretRef.Key
	}
	return "dsn"
}

// checksum digests the inputs that must roll the pods when they change: the
// configuration, the keys and (PostgreSQL) the connection string.
func checksum(config []byte, keys map[string][]byte, dsn []byte) string {
	h := sha256.New()
	_, _ = h.Write(config)
	if dsn != nil {
		_, _ = h.Write([]byte("\x00dsn\x00"))
		_, _ = h.Write(dsn)
	}
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		_, _ = fmt.Fprintf(h, "\x00%s\x00", k)
		_, _ = h.Write(keys[k])
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

func secretVolume(name, secret string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
		Secret: &corev1.SecretVolumeSource{SecretName: secret, DefaultMode: ptr.To[int32](0o400)},
	}}
}

// podWidened says whether got, a pod spec the API server holds, adds to
// want what widens what the pod may do, which equality.Semantic.
// DeepDerivative (the callers' comparison) reads as defaults: it ignores
// every field want leaves unset and every element a list of got has past
// want's. That is a container, a hostPath volume, the host's namespaces,
// another service account, a security context beyond want's (an added
// capability, privileged), or the program's arguments. Other additions (an
// env var, a pull secret, a volume and its mount) are left, as an admission
// webhook may make them on every write: reverting them would be a write
// for ever.
func podWidened(want, got *corev1.PodSpec) bool {
	if len(got.Containers) != len(want.Containers) || len(got.InitContainers) != len(want.InitContainers) ||
		len(got.EphemeralContainers) != len(want.EphemeralContainers) ||
		got.HostNetwork != want.HostNetwork || got.HostPID != want.HostPID || got.HostIPC != want.HostIPC ||
		got.ServiceAccountName != want.ServiceAccountName ||
		!equality.Semantic.DeepDerivative(got.SecurityContext, want.SecurityContext) {
		return true
	}
	for _, v := range got.Volumes {
		if v.HostPath != nil {
			return true
		}
	}
	for i := range want.Containers {
		w, g := &want.Containers[i], &got.Containers[i]
		// Arguments appended (a purge's --dry-run, a second --max-age that
		// wins over the first) change what the program does.
		if !slices.Equal(g.Command, w.Command) || !slices.Equal(g.Args, w.Args) ||
			!equality.Semantic.DeepDerivative(g.SecurityContext, w.SecurityContext) {
			return true
		}
	}
	return false
}

// podSecurityContext is the hardening of every pod the operator runs.
func podSecurityContext() *corev1.PodSecurityContext {
	return &corev1.PodSecurityContext{
		RunAsNonRoot:   ptr.To(true),
		RunAsUser:      ptr.To[int64](collectorUID),
		RunAsGroup:     ptr.To[int64](collectorUID),
		FSGroup:        ptr.To[int64](collectorUID),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// containerSecurityContext is the hardening of every container the operator runs.
func containerSecurityContext() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		RunAsNonRoot:             ptr.To(true),
		ReadOnlyRootFilesystem:   ptr.To(true),
		AllowPrivilegeEscalation: ptr.To(false),
		Privileged:               ptr.To(false),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// checkImage is the collector image component: a campaign may name its
// own collector image only among those the operator allows. The pod runs
// with the campaign's keys, admin token and data mounted, so an image of
// the editor's choosing would read them all: spec.collector.image would
// be a way around RBAC for whoever may edit a campaign. A refused image is
// never run: the collector and its purge Jobs run the operator's own, so
// that containment, legal holds, rotations and purges go on, and the
// campaign is Stalled at the end of its pass, naming the image.
func checkImage(_ context.Context, r *SurveyCampaignReconciler, p *campaignPass) error {
	image := p.c.Spec.Collector.Image
	switch {
	case image == "":
		p.image = r.CollectorImage
	case imageAllowed(image, r.CollectorImage, r.AllowedCollectorImages):
		p.image = image
	default:
		p.image = r.CollectorImage
		p.obs.stallLater(stall(privacyv1alpha1.ReasonImageNotAllowed,
			"spec.collector.image %q is not allowed, so the collector runs %s: the operator runs images of its own repository (%s) and those its --allowed-collector-images flag lists",
			image, r.CollectorImage, imageRepository(r.CollectorImage)))
	}
	return nil
}

// imageAllowed says whether a campaign may run image: one of the
// repository of own (any tag or digest), or one allowed entry: an entry
// ending in "/" allows every image under that path, any other entry
// allows that repository (any tag or digest) or that exact reference.
func imageAllowed(image, own string, allowed []string) bool {
	repo := imageRepository(image)
	if repo == "" || strings.Contains(image, "..") {
		return false // no repository, or a path that climbs out of a prefix
	}
	if own != "" && repo == imageRepository(own) {
		return true
	}
	return slices.ContainsFunc(allowed, func(a string) bool {
		return a == image || a == repo || strings.HasSuffix(a, "/") && strings.HasPrefix(image, a)
	})
}

// imageRepository is an image reference without its tag and digest
// ("registry:5000/team/app:v1@sha256:…" is "registry:5000/team/app").
func imageRepository(image string) string {
	image, _, _ = strings.Cut(image, "@")
	if i := strings.LastIndexByte(image, ':'); i > strings.LastIndexByte(image, '/') {
		image = image[:i]
	}
	return image
}

// configYAML renders v as sigs.k8s.io/yaml.Marshal does, byte for byte (the
// ConfigMap's content, and with it the pod template's checksum, must not
// change under running collectors), without its JSON-to-YAML step: yaml.v2
// reading the whole configuration as one line of JSON allocated about 170 KB
// for every campaign pass. The JSON is decoded by encoding/json instead, its
// numbers made int or float64 as yaml.v2 would.
func configYAML(v any) ([]byte, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.UseNumber()
	var obj any
	if err := dec.Decode(&obj); err != nil {
		return nil, err
	}
	return goyaml.Marshal(yamlNumbers(obj))
}

// yamlNumbers replaces, in place, every json.Number in a decoded JSON value
// by the int or float64 yaml.v2 would have read.
func yamlNumbers(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = yamlNumbers(e)
		}
	case []any:
		for i, e := range t {
			t[i] = yamlNumbers(e)
		}
	case json.Number:
		if i, err := strconv.ParseInt(string(t), 10, 64); err == nil {
			return int(i)
		}
		if f, err := t.Float64(); err == nil {
			return f
		}
	}
	return v
}
