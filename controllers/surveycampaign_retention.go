package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"slices"
	"time"

	"github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
)

// Each campaign gets a CronJob that runs `surveyguard purge` against its
// collector on its RetentionPolicy's schedule. The CronJob belongs to the
// campaign (it needs the campaign's admin token and CA, and goes with it);
// the policy only reports on what its campaigns' CronJobs did.

// defaultSchedule is the schedule of a policy that names none.
const defaultSchedule = "@daily"

// Settings of the retention CronJob.
const (
	// maxCronJobName leaves room for the 11 characters the CronJob
	// controller appends to name a Job.
	maxCronJobName = 52
	// retentionStartingDeadline is how late a missed run may still start.
	retentionStartingDeadline = 300
	// retentionHistory is how many finished Jobs of each outcome are kept.
	retentionHistory = 3
	// retentionDeadline bounds one run; the purge itself gives up after
	// purgeTimeout.
	retentionDeadline = 15 * 60
	purgeTimeout      = 10 * time.Minute
)

// policySchedule is the policy's schedule, or the default.
func policySchedule(p *privacyv1alpha1.RetentionPolicy) string {
	if p.Spec.Schedule == "" {
		return defaultSchedule
	}
	return p.Spec.Schedule
}

// parseSchedule parses a schedule the way the CronJob controller does.
func parseSchedule(s string) (cron.Schedule, error) {
	sched, err := cron.ParseStandard(s)
	if err != nil {
		return nil, fmt.Errorf("spec.schedule %q: %w", s, err)
	}
	return sched, nil
}

// schedulePeriod is the longest gap between the next runs after now (a
// weekday schedule's is the weekend), counted on a week's worth of runs at
// most.
func schedulePeriod(sched cron.Schedule, now time.Time) time.Duration {
	var longest time.Duration
	prev := sched.Next(now)
	for range 8 {
		next := sched.Next(prev)
		if next.IsZero() {
			break
		}
		longest = max(longest, next.Sub(prev))
		prev = next
	}
	return longest
}

// retentionSuspended says whether the policy stops scheduled purges, and why.
func retentionSuspended(p *privacyv1alpha1.RetentionPolicy) (bool, string, string) {
	switch {
	case ptr.Deref(p.Spec.LegalHold, false):
		return true, privacyv1alpha1.ReasonLegalHold, fmt.Sprintf("RetentionPolicy %s is under legal hold: nothing is purged", p.Name)
	case ptr.Deref(p.Spec.Suspend, false):
		return true, privacyv1alpha1.ReasonSuspended, fmt.Sprintf("RetentionPolicy %s is suspended: scheduled purges do not run", p.Name)
	}
	return false, "", ""
}

// retentionCronJobName is "<campaign>-retention", shortened with a digest of
// the campaign's name when that would be too long for a CronJob.
func retentionCronJobName(c *privacyv1alpha1.SurveyCampaign) string {
	const suffix = "-retention"
	if name := c.Name + suffix; len(name) <= maxCronJobName {
		return name
	}
	sum := sha256.Sum256([]byte(c.Name))
	digest := hex.EncodeToString(sum[:])[:6]
	return c.Name[:maxCronJobName-len(suffix)-len(digest)-1] + "-" + digest + suffix
}

// retentionSelectorLabels pick the campaign's retention pods; they differ
// from the collector's, so no collector selector, Service or policy picks them.
func retentionSelectorLabels(c *privacyv1alpha1.SurveyCampaign) map[string]string {
	return map[string]string{
		"app.kubernetes.io/name":     "surveyguard-retention",
		"app.kubernetes.io/instance": c.Name,
	}
}

// retentionLabels are on the CronJob, its Jobs and their pods.
func retentionLabels(c *privacyv1alpha1.SurveyCampaign, p *privacyv1alpha1.RetentionPolicy) map[string]string {
	l := retentionSelectorLabels(c)
	l[privacyv1alpha1.LabelManagedBy] = privacyv1alpha1.ManagedByValue
	l[privacyv1alpha1.LabelCampaign] = c.Name
	l[privacyv1alpha1.LabelRetentionPolicy] = p.Name
	return l
}

// desiredCronJob runs `surveyguard purge` against the campaign's collector on
// the policy's schedule. withCA mounts the CA the TLS Secret carries; without
// it (a public issuer) the system roots verify the collector.
func desiredCronJob(c *privacyv1alpha1.SurveyCampaign, p *privacyv1alpha1.RetentionPolicy, image string, withCA bool) *batchv1.CronJob {
	n := childNames(c)
	action := p.Spec.Action
	if action == "" {
		action = privacyv1alpha1.RetentionActionDelete
	}
	args := []string{"purge",
		"--admin-url", adminURL(c),
		"--token-file", path.Join(adminDir, tokenKey),
		"--max-age", p.Spec.MaxAge.Duration.String(),
		"--action", string(action),
		"--timeout", purgeTimeout.String(),
	}
	volumes := []corev1.Volume{{Name: "admin", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
		SecretName: n.adminToken, DefaultMode: ptr.To[int32](0o400), Items: []corev1.KeyToPath{{Key: tokenKey, Path: tokenKey}},
	}}}}
	mounts := []corev1.VolumeMount{{Name: "admin", MountPath: adminDir, ReadOnly: true}}
	if withCA {
		args = append(args, "--ca-file", path.Join(tlsDir, caCertKey))
		volumes = append(volumes, corev1.Volume{Name: "ca", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: n.tls, DefaultMode: ptr.To[int32](0o400), Items: []corev1.KeyToPath{{Key: caCertKey, Path: caCertKey}},
		}}})
		mounts = append(mounts, corev1.VolumeMount{Name: "ca", MountPath: tlsDir, ReadOnly: true})
	}
	suspended, _, _ := retentionSuspended(p)
	return &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: retentionCronJobName(c), Namespace: c.Namespace, Labels: retentionLabels(c, p)},
		Spec: batchv1.CronJobSpec{
			Schedule:                   policySchedule(p),
			Suspend:                    ptr.To(suspended),
			ConcurrencyPolicy:          batchv1.ForbidConcurrent,
			StartingDeadlineSeconds:    ptr.To[int64](retentionStartingDeadline),
			SuccessfulJobsHistoryLimit: ptr.To[int32](retentionHistory),
			FailedJobsHistoryLimit:     ptr.To[int32](retentionHistory),
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: retentionLabels(c, p)},
				Spec: batchv1.JobSpec{
					BackoffLimit:          ptr.To[int32](2),
					ActiveDeadlineSeconds: ptr.To[int64](retentionDeadline),
					Template: corev1.PodTemplateSpec{
						ObjectMeta: metav1.ObjectMeta{Labels: retentionLabels(c, p)},
						Spec: corev1.PodSpec{
							RestartPolicy:                corev1.RestartPolicyNever,
							ServiceAccountName:           n.collector,
							AutomountServiceAccountToken: ptr.To(false),
							EnableServiceLinks:           ptr.To(false),
							SecurityContext:              podSecurityContext(),
							Containers: []corev1.Container{{
								Name:  "purge",
								Image: image,
								Args:  args,
								Env: []corev1.EnvVar{{Name: "JOB_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{
									APIVersion: "v1", FieldPath: "metadata.labels['batch.kubernetes.io/job-name']",
								}}}},
								Resources: corev1.ResourceRequirements{
									Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
									Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")},
								},
								VolumeMounts:             mounts,
								SecurityContext:          containerSecurityContext(),
								TerminationMessagePath:   corev1.TerminationMessagePathDefault,
								TerminationMessagePolicy: corev1.TerminationMessageReadFile,
								ImagePullPolicy:          corev1.PullIfNotPresent,
							}},
							Volumes: volumes,
						},
					},
				},
			},
		},
	}
}

// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch

// readPurges is the retention-run input: the Jobs of a paused campaign's
// retention CronJob that are running (none are read for one that is not
// paused, whose collector runs anyway). A paused campaign's collector runs
// admin-only while one runs, so that a pause (a breach's containment, or a
// long spec.paused) never stops the purges the policy asks for; the purge
// waits for the collector to answer (internal/purge). A run is a Job the
// CronJob lists in status.active, or an unfinished Job it owns: one made by
// hand (kubectl create job --from, which sets the CronJob as its owner), or
// one the CronJob controller made but did not list (its status write lost).
// Jobs are cached by their managed-by label, and each change of one brings
// its campaign back (campaignOfJob).
func readPurges(ctx context.Context, r *SurveyCampaignReconciler, p *campaignPass) error {
	p.obs.purges = nil
	if !p.obs.paused {
		return nil // a running collector needs no run of its own
	}
	cj := &batchv1.CronJob{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: p.c.Namespace, Name: retentionCronJobName(p.c)}, cj); err != nil {
		return client.IgnoreNotFound(err)
	}
	for _, job := range cj.Status.Active {
		p.obs.purges = append(p.obs.purges, job.Name)
	}
	jobs := &batchv1.JobList{}
	if err := r.List(ctx, jobs, client.InNamespace(p.c.Namespace),
		client.MatchingLabels{privacyv1alpha1.LabelCampaign: p.c.Name}, client.UnsafeDisableDeepCopy); err != nil {
		return fmt.Errorf("listing retention Jobs: %w", err)
	}
	for i := range jobs.Items {
		job := &jobs.Items[i]
		if ownedBy(job, cj.UID) && !jobFinished(job) && !slices.Contains(p.obs.purges, job.Name) {
			p.obs.purges = append(p.obs.purges, job.Name)
		}
	}
	slices.Sort(p.obs.purges)
	return nil
}

// ownedBy says whether uid is among obj's owners.
func ownedBy(obj client.Object, uid types.UID) bool {
	return slices.ContainsFunc(obj.GetOwnerReferences(), func(o metav1.OwnerReference) bool { return o.UID == uid })
}

// jobFinished says whether the Job has completed or failed.
func jobFinished(job *batchv1.Job) bool {
	return slices.ContainsFunc(job.Status.Conditions, func(c batchv1.JobCondition) bool {
		return (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue
	})
}

// campaignOfJob is the campaign a retention Job purges, by its label: its
// start and end may start or end a paused campaign's admin-only run.
func campaignOfJob(_ context.Context, o client.Object) []reconcile.Request {
	name := o.GetLabels()[privacyv1alpha1.LabelCampaign]
	if name == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: o.GetNamespace(), Name: name}}}
}

// +kubebuilder:rbac:groups=batch,resources=cronjobs,verbs=get;list;watch;create;update;delete

// reconcileRetention is the retention CronJob component: <campaign>-retention
// runs the policy's purge on its schedule. A policy whose schedule does not
// parse leaves the CronJob its last schedule (the policy and
// RetentionEnforced say why), and no CronJob is made until it parses;
// everything else the policy says still applies: a suspend or a legal hold
// stops the purges, a new maxAge or action is taken.
func reconcileRetention(ctx context.Context, r *SurveyCampaignReconciler, p *campaignPass) error {
	c, obs, policy, withCA := p.c, p.obs, p.policy, len(p.caCert) > 0
	want := desiredCronJob(c, policy, p.image, withCA)
	_, schedErr := parseSchedule(policySchedule(policy))
	if schedErr != nil {
		if err := r.Get(ctx, client.ObjectKeyFromObject(want), &batchv1.CronJob{}); err != nil {
			return client.IgnoreNotFound(err) // none yet: no schedule to keep
		}
	}
	cj := &batchv1.CronJob{ObjectMeta: nameOf(want.ObjectMeta)}
	return r.ensureSlim(ctx, c, cj, want, obs, func() error {
		for k, v := range want.Labels {
			cj.Labels[k] = v
		}
		if schedErr != nil {
			want.Spec.Schedule = cj.Spec.Schedule
		}
		if !equality.Semantic.DeepDerivative(want.Spec, cj.Spec) ||
			podWidened(&want.Spec.JobTemplate.Spec.Template.Spec, &cj.Spec.JobTemplate.Spec.Template.Spec) {
			cj.Spec = want.Spec
		}
		return nil
	})
}
