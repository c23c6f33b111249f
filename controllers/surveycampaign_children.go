package controllers

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

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
		Campaign: c.Name,
		Question: c.Spec.Question,
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
	data, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	// The collector refuses what it cannot serve; check here so that the
	// campaign says so instead of a crash-looping pod.
	if _, err := collectorapi.ParseConfig(data); err != nil {
		return nil, err
	}
	return data, nil
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

func desiredServiceAccount(c *privacyv1alpha1.SurveyCampaign) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{
		ObjectMeta:                   metav1.ObjectMeta{Name: childNames(c).collector, Namespace: c.Namespace, Labels: childLabels(c)},
		AutomountServiceAccountToken: ptr.To(false),
	}
}

func desiredConfigMap(c *privacyv1alpha1.SurveyCampaign, config []byte) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: childNames(c).collector, Namespace: c.Namespace, Labels: childLabels(c)},
		Data:       map[string]string{configFile: string(config)},
	}
}

func desiredPVC(c *privacyv1alpha1.SurveyCampaign) *corev1.PersistentVolumeClaim {
	size := embeddedSize(c)
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: childNames(c).data, Namespace: c.Namespace, Labels: childLabels(c)},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}},
		},
	}
	if e := c.Spec.Storage.Embedded; e != nil {
		pvc.Spec.StorageClassName = e.StorageClassName
	}
	return pvc
}

func secretVolume(name, secret string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
		Secret: &corev1.SecretVolumeSource{SecretName: secret, DefaultMode: ptr.To[int32](0o400)},
	}}
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

// collectorImage is the image of the campaign's pods.
func collectorImage(c *privacyv1alpha1.SurveyCampaign, image string) string {
	if c.Spec.Collector.Image != "" {
		return c.Spec.Collector.Image
	}
	return image
}

func desiredDeployment(c *privacyv1alpha1.SurveyCampaign, image, sum string, paused bool) *appsv1.Deployment {
	n := childNames(c)
	volumes := []corev1.Volume{
		{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: n.collector}, DefaultMode: ptr.To[int32](0o444),
		}}},
		secretVolume("keys", n.keys),
		secretVolume("tls", n.tls),
		secretVolume("admin", n.adminToken),
		{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}},
	}
	mounts := []corev1.VolumeMount{
		{Name: "config", MountPath: configDir, ReadOnly: true},
		{Name: "keys", MountPath: keysDir, ReadOnly: true},
		{Name: "tls", MountPath: tlsDir, ReadOnly: true},
		{Name: "admin", MountPath: adminDir, ReadOnly: true},
		{Name: "tmp", MountPath: "/tmp"},
	}
	strategy := appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType}
	if pg := c.Spec.Storage.Postgres; pg != nil {
		volumes = append(volumes, corev1.Volume{Name: "db", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: pg.SecretRef.Name, DefaultMode: ptr.To[int32](0o400),
			Items: []corev1.KeyToPath{{Key: dsnKey(pg), Path: dsnKey(pg)}},
		}}})
		mounts = append(mounts, corev1.VolumeMount{Name: "db", MountPath: dsnDir, ReadOnly: true})
	} else {
		// One SQLite writer on a ReadWriteOnce volume: the old pod goes first.
		strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
		volumes = append(volumes, corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: n.data},
		}})
		mounts = append(mounts, corev1.VolumeMount{Name: "data", MountPath: dataDir})
	}
	probe := func(p string, period int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Path: p, Port: intstr.FromString("admin"), Scheme: corev1.URISchemeHTTPS,
			}},
			// Every number is set: DeepDerivative compares zero integers too.
			PeriodSeconds: period, TimeoutSeconds: 3, FailureThreshold: 3, SuccessThreshold: 1,
		}
	}
	resources := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
	}
	if c.Spec.Collector.Resources != nil {
		resources = *c.Spec.Collector.Resources
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: n.collector, Namespace: c.Namespace, Labels: childLabels(c)},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas(c, paused)),
			Selector: &metav1.LabelSelector{MatchLabels: selectorLabels(c)},
			Strategy: strategy,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: childLabels(c), Annotations: map[string]string{annotationChecksum: sum}},
				Spec: corev1.PodSpec{
					ServiceAccountName:           n.collector,
					AutomountServiceAccountToken: ptr.To(false),
					EnableServiceLinks:           ptr.To(false),
					SecurityContext:              podSecurityContext(),
					Containers: []corev1.Container{{
						Name:  "collector",
						Image: collectorImage(c, image),
						Args:  []string{"collector", "--config", path.Join(configDir, configFile)},
						Ports: []corev1.ContainerPort{
							{Name: "public", ContainerPort: publicPort, Protocol: corev1.ProtocolTCP},
							{Name: "admin", ContainerPort: adminPort, Protocol: corev1.ProtocolTCP},
						},
						LivenessProbe:            probe("/healthz", 10),
						ReadinessProbe:           probe("/readyz", 5),
						Resources:                resources,
						VolumeMounts:             mounts,
						SecurityContext:          containerSecurityContext(),
						TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
					}},
					Volumes: volumes,
				},
			},
		},
	}
}

func desiredService(c *privacyv1alpha1.SurveyCampaign) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: childNames(c).collector, Namespace: c.Namespace, Labels: childLabels(c)},
		Spec: corev1.ServiceSpec{
			Selector: selectorLabels(c),
			Ports: []corev1.ServicePort{
				{Name: "public", Port: publicPort, TargetPort: intstr.FromString("public"), Protocol: corev1.ProtocolTCP},
				{Name: "admin", Port: adminPort, TargetPort: intstr.FromString("admin"), Protocol: corev1.ProtocolTCP},
			},
		},
	}
}

// desiredNetworkPolicy opens the public port to all, the admin port to the
// operator's namespace only, and lets the collector reach DNS and (with
// PostgreSQL storage) the database port.
func desiredNetworkPolicy(c *privacyv1alpha1.SurveyCampaign, operatorNamespace string) *networkingv1.NetworkPolicy {
	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP
	port := func(p int, proto corev1.Protocol) networkingv1.NetworkPolicyPort {
		return networkingv1.NetworkPolicyPort{Port: ptr.To(intstr.FromInt(p)), Protocol: &proto}
	}
	egress := []networkingv1.NetworkPolicyEgressRule{{Ports: []networkingv1.NetworkPolicyPort{port(53, udp), port(53, tcp)}}}
	if c.Spec.Storage.Postgres != nil {
		egress = append(egress, networkingv1.NetworkPolicyEgressRule{Ports: []networkingv1.NetworkPolicyPort{port(5432, tcp)}})
	}
	return &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: childNames(c).collector, Namespace: c.Namespace, Labels: childLabels(c)},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: selectorLabels(c)},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{
				{Ports: []networkingv1.NetworkPolicyPort{port(publicPort, tcp)}},
				{
					Ports: []networkingv1.NetworkPolicyPort{port(adminPort, tcp)},
					From: []networkingv1.NetworkPolicyPeer{
						{NamespaceSelector: &metav1.LabelSelector{
							MatchLabels: map[string]string{"kubernetes.io/metadata.name": operatorNamespace},
						}},
						// The campaign's own retention Jobs, in its namespace.
						{PodSelector: &metav1.LabelSelector{MatchLabels: retentionSelectorLabels(c)}},
					},
				},
			},
			Egress: egress,
		},
	}
}

func desiredPDB(c *privacyv1alpha1.SurveyCampaign) *policyv1.PodDisruptionBudget {
	return &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: childNames(c).collector, Namespace: c.Namespace, Labels: childLabels(c)},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MaxUnavailable: ptr.To(intstr.FromInt(1)),
			Selector:       &metav1.LabelSelector{MatchLabels: selectorLabels(c)},
		},
	}
}
