package controllers

import (
	"context"
	"path"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
)

// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;update;delete

// reconcileDeployment is the Deployment component: <campaign>-collector runs
// the hardened collector; a checksum of its configuration, keys and database
// connection string rolls the pods when one changes, and a pause (the spec's
// or a breach's) scales it to zero, or, while an ErasureRequest still has to
// erase from it or a retention Job runs, to one replica admin-only. Fields the API server defaults
// are left alone (DeepDerivative); anything an edit added to the pod is
// not (podWidened).
func reconcileDeployment(ctx context.Context, r *SurveyCampaignReconciler, p *campaignPass) error {
	want := desiredDeployment(p.c, p.image, checksum(p.config, p.keys.Data, p.dsn), p.obs.paused, p.obs.adminOnly())
	deploy := &appsv1.Deployment{ObjectMeta: nameOf(want.ObjectMeta)}
	if err := r.ensureSlim(ctx, p.c, deploy, want, p.obs, func() error {
		if !equality.Semantic.DeepDerivative(want.Spec, deploy.Spec) || podWidened(&want.Spec.Template.Spec, &deploy.Spec.Template.Spec) {
			deploy.Spec = want.Spec
		}
		return nil
	}); err != nil {
		return err
	}
	p.obs.deployment = deploy
	// The pods now roll onto these keys: the keys component may retire
	// older ones once the rollout is done, not before (surveycampaign_keys.go).
	r.verified.record(client.ObjectKeyFromObject(p.c), templateKeys, templateKeysPair(p.keys.Data, deploy.Generation))
	return nil
}

func desiredDeployment(c *privacyv1alpha1.SurveyCampaign, image, sum string, paused, adminOnly bool) *appsv1.Deployment {
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
	if adminOnly {
		// The public port stops before the admin-only pod starts: a
		// rolling update would keep a pod taking responses until the new
		// one is available, for good if it never becomes so, while the
		// campaign already reads paused.
		strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	}
	if pg := c.Spec.Storage.Postgres; pg != nil {
		// Every key of the Secret: a private CA beside the connection
		// string is read as sslrootcert=/secrets/db/ca.crt.
		volumes = append(volumes, corev1.Volume{Name: "db", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: pg.SecretRef.Name, DefaultMode: ptr.To[int32](0o400),
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
	startupProbe := probe("/healthz", 5)
	startupProbe.FailureThreshold = 60
	resources := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
	}
	if c.Spec.Collector.Resources != nil {
		resources = *c.Spec.Collector.Resources
	}
	args := []string{"collector", "--config", path.Join(configDir, configFile)}
	count := replicas(c, paused)
	if paused && adminOnly {
		args, count = append(args, adminOnlyFlag), 1
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: n.collector, Namespace: c.Namespace, Labels: childLabels(c)},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(count),
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
						Image: image,
						Args:  args,
						Ports: []corev1.ContainerPort{
							{Name: "public", ContainerPort: publicPort, Protocol: corev1.ProtocolTCP},
							{Name: "admin", ContainerPort: adminPort, Protocol: corev1.ProtocolTCP},
						},
						// The listeners open once the store is open and the
						// keys checked (a first migration, a slow database):
						// up to 5 minutes before liveness counts.
						StartupProbe:             startupProbe,
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
