package controllers

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
	"github.com/surveyguard/surveyguard/internal/collectorapi"
)

// observed is what one reconcile pass learned, from which status is computed.
type observed struct {
	// stall, when set, is why the spec cannot work: the component that
	// concluded so returned it, and the pass stopped there.
	stall *stalledError
	// failed, when set, is the error a component returned: the pass
	// stopped there and is retried, and saw only part of the campaign.
	failed error
	// stallAfter is a stall that lets the pass go on (a volume that cannot
	// grow, a refused image: the collector, its pause and its keys still
	// need the rest); it becomes the pass's stall at its end, and
	// stallLate says the stall came so: the pass saw everything, and its
	// status is published in full under the stall.
	stallAfter *stalledError
	stallLate  bool
	// changed lists the children this pass created or updated;
	// changedBy the same by operation (created, updated).
	changed   []string
	changedBy map[string][]string
	// waiting, when set, is what the campaign waits for that no watch reports
	// (cert-manager issuing its certificate).
	waiting string
	// policy is the campaign's RetentionPolicy, when it exists.
	policy *privacyv1alpha1.RetentionPolicy
	// breaches is what the namespace's BreachReports mean for the campaign;
	// breachesRead says they were listed.
	breaches     campaignBreaches
	breachesRead bool
	// paused is spec.paused or a breach containment.
	paused bool
	// erasures are the ErasureRequests that still have to erase from the
	// campaign, and purges the retention Jobs running against it: a paused
	// collector runs admin-only for them.
	erasures []string
	purges   []string
	// deployment is the collector's Deployment as last read.
	deployment *appsv1.Deployment
	// stats are the collector's figures; statsErr why they could not be read.
	stats    *collectorapi.Stats
	statsErr error
	// rolledOut says every collector pod runs the Deployment's current
	// template (readStats): none still seals with a key set older than
	// the one the figures came from.
	rolledOut bool
	// deploymentGeneration is the generation of the Deployment rolledOut
	// was read from.
	deploymentGeneration int64
	// terminatingUncounted says the Deployment's status does not count
	// terminating pods (terminatingReplicas, from Kubernetes 1.35):
	// rolledOut cannot see them.
	terminatingUncounted bool
	// lastKeyID is the newest data key ID ever made (status.encryption.lastKeyID).
	lastKeyID string
	// activeKeyID and rotatedAt describe the key Secret, breachRotations the
	// rotations it records for breach reports.
	activeKeyID     string
	rotatedAt       time.Time
	breachRotations []privacyv1alpha1.BreachKeyRotation
}

func setCondition(c *privacyv1alpha1.SurveyCampaign, typ string, ok bool, reason, msg string) {
	status := metav1.ConditionFalse
	if ok {
		status = metav1.ConditionTrue
	}
	meta.SetStatusCondition(&c.Status.Conditions, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: c.Generation,
	})
}

func setConditionUnknown(c *privacyv1alpha1.SurveyCampaign, typ, reason, msg string) {
	meta.SetStatusCondition(&c.Status.Conditions, metav1.Condition{
		Type: typ, Status: metav1.ConditionUnknown, Reason: reason, Message: msg, ObservedGeneration: c.Generation,
	})
}

// deploymentAvailable says whether the collector Deployment has rolled out
// its current spec with at least one available replica.
func deploymentAvailable(d *appsv1.Deployment) (bool, string) {
	if d == nil {
		return false, "the collector Deployment does not exist yet"
	}
	if d.Status.ObservedGeneration < d.Generation {
		return false, "the collector Deployment is rolling out"
	}
	if d.Status.AvailableReplicas < 1 {
		return false, fmt.Sprintf("the collector has %d available replicas", d.Status.AvailableReplicas)
	}
	return true, fmt.Sprintf("%d collector replicas available", d.Status.AvailableReplicas)
}

// setCampaignStatus computes every condition and published figure from obs.
func setCampaignStatus(c *privacyv1alpha1.SurveyCampaign, obs observed, now time.Time) {
	before := slices.Clone(c.Status.Conditions)
	defer func() { stampTransitions(before, c.Status.Conditions, now) }()
	if obs.breachesRead {
		var customers *int64
		if obs.stats != nil && !obs.stats.Suppressed {
			customers = &obs.stats.DistinctCustomers
		}
		setBreaches(c, obs.breaches, customers)
		// pausedBy says the collector takes no responses (scaled to zero,
		// or admin-only for an erasure) for those reports, which the
		// reports record as done: publish it only from a Deployment this
		// pass wrote, and keep the last word otherwise (a pass that failed
		// or stalled before reaching it).
		if obs.deployment != nil {
			c.Status.PausedBy = nil
			if publicOff(obs.deployment) {
				// At most what the status holds (the first by name):
				// more would make every status write fail.
				c.Status.PausedBy = obs.breaches.pausedBy[:min(len(obs.breaches.pausedBy), maxStatusList)]
			}
		}
	}
	if st := obs.stall; st != nil && !obs.stallLate {
		setCondition(c, privacyv1alpha1.ConditionStalled, true, st.reason, st.message)
		setCondition(c, privacyv1alpha1.ConditionReady, false, st.reason, st.message)
		meta.RemoveStatusCondition(&c.Status.Conditions, privacyv1alpha1.ConditionReconciling)
		if st.reason == privacyv1alpha1.ReasonKeyMissing {
			// The key Secret is gone: what the collector seals with is
			// no longer kept anywhere but in its memory.
			setCondition(c, privacyv1alpha1.ConditionEncryptionEnforced, false, st.reason, st.message)
		}
		return
	}
	if obs.failed != nil {
		// The pass saw only part of the campaign: what the collector, the
		// keys, the storage and the retention were last seen to be stays,
		// and the pass is retried.
		setCondition(c, privacyv1alpha1.ConditionReconciling, true, ReasonRetrying,
			"the last pass failed and is retried: "+truncateMessage(obs.failed.Error()))
		meta.RemoveStatusCondition(&c.Status.Conditions, privacyv1alpha1.ConditionStalled)
		return
	}
	c.Status.Endpoint = endpoint(c)

	available, availableMsg := deploymentAvailable(obs.deployment)
	switch {
	case obs.paused && publicOff(obs.deployment):
		setCondition(c, privacyv1alpha1.ConditionCollectorAvailable, false, privacyv1alpha1.ReasonPaused, pausedMessage(c, obs))
	case !available:
		setCondition(c, privacyv1alpha1.ConditionCollectorAvailable, false, privacyv1alpha1.ReasonCollectorUnavailable, availableMsg)
	case obs.statsErr != nil:
		setCondition(c, privacyv1alpha1.ConditionCollectorAvailable, false, privacyv1alpha1.ReasonCollectorUnavailable,
			"the collector's admin API does not answer: "+obs.statsErr.Error())
	default:
		setCondition(c, privacyv1alpha1.ConditionCollectorAvailable, true, privacyv1alpha1.ReasonSucceeded, availableMsg)
	}

	setEncryptionEnforced(c, obs)
	setStorageAvailable(c, obs.stats)
	if obs.activeKeyID != "" {
		c.Status.Encryption = &privacyv1alpha1.EncryptionStatus{
			ActiveKeyID: obs.activeKeyID, RotatedAt: &metav1.Time{Time: obs.rotatedAt}, BreachRotations: obs.breachRotations,
			LastKeyID: obs.lastKeyID,
		}
	}
	if obs.stats != nil {
		setNPS(c, obs.stats, now)
		setRedactions(c, obs.stats)
	}
	setRetention(c, obs.policy, obs.stats, now)

	alarm := readyAlarm(c)
	if obs.paused && alarm != nil && alarm.Type == privacyv1alpha1.ConditionStorageAvailable {
		// A paused collector takes no answers: a full store refuses none.
		alarm = nil
	}
	// Stalled is removed after the switch unless the switch set it: a
	// condition removed and set again moves to the end of the list, and
	// the status would change on every pass.
	stalled := false
	defer func() {
		if !stalled {
			meta.RemoveStatusCondition(&c.Status.Conditions, privacyv1alpha1.ConditionStalled)
		}
	}()
	switch {
	case len(obs.changed) > 0 || obs.waiting != "":
		msg := obs.waiting
		if len(obs.changed) > 0 {
			msg = fmt.Sprintf("updated %v", obs.changed)
			if obs.waiting == "" && !available && !obs.paused {
				// What the campaign waits for now, which the next pass
				// says too: a new campaign's status is written once, not
				// twice. The event lists what was created.
				msg = availableMsg
			}
		}
		setCondition(c, privacyv1alpha1.ConditionReconciling, true, privacyv1alpha1.ReasonProgressing, msg)
		setCondition(c, privacyv1alpha1.ConditionReady, false, privacyv1alpha1.ReasonProgressing, msg)
	case alarm != nil:
		// A person must act (restore a key, purge or raise a limit):
		// nothing converges by itself, so Stalled, not Reconciling
		// (kstatus: Failed). A pause does not hide a key's alarm: the
		// responses sealed by the key are still there.
		meta.RemoveStatusCondition(&c.Status.Conditions, privacyv1alpha1.ConditionReconciling)
		stalled = true
		setCondition(c, privacyv1alpha1.ConditionStalled, true, alarm.Reason, alarm.Message)
		setCondition(c, privacyv1alpha1.ConditionReady, false, alarm.Reason, alarm.Message)
	case obs.paused && !publicOff(obs.deployment):
		msg := "scaling the collector to zero for " + pauseCauses(c, obs.breaches.pausedBy)
		setCondition(c, privacyv1alpha1.ConditionReconciling, true, privacyv1alpha1.ReasonProgressing, msg)
		setCondition(c, privacyv1alpha1.ConditionReady, false, privacyv1alpha1.ReasonProgressing, msg)
	case obs.paused:
		meta.RemoveStatusCondition(&c.Status.Conditions, privacyv1alpha1.ConditionReconciling)
		setCondition(c, privacyv1alpha1.ConditionReady, true, privacyv1alpha1.ReasonPaused, pausedMessage(c, obs))
	case !available:
		setCondition(c, privacyv1alpha1.ConditionReconciling, true, privacyv1alpha1.ReasonProgressing, availableMsg)
		setCondition(c, privacyv1alpha1.ConditionReady, false, privacyv1alpha1.ReasonProgressing, availableMsg)
	case obs.statsErr != nil:
		// Its pods are available: the admin API is expected back (a
		// restart, a rollout), so the campaign is still converging.
		const msg = "the collector's admin API does not answer"
		setCondition(c, privacyv1alpha1.ConditionReconciling, true, privacyv1alpha1.ReasonCollectorUnavailable, msg)
		setCondition(c, privacyv1alpha1.ConditionReady, false, privacyv1alpha1.ReasonCollectorUnavailable, msg)
	default:
		meta.RemoveStatusCondition(&c.Status.Conditions, privacyv1alpha1.ConditionReconciling)
		setCondition(c, privacyv1alpha1.ConditionReady, true, privacyv1alpha1.ReasonSucceeded, "the collector is serving")
	}
	if st := obs.stall; st != nil && obs.stallLate {
		// A person must act, though the pass went through: everything it
		// saw is published above, and the stall is the conclusion.
		meta.RemoveStatusCondition(&c.Status.Conditions, privacyv1alpha1.ConditionReconciling)
		stalled = true
		setCondition(c, privacyv1alpha1.ConditionStalled, true, st.reason, st.message)
		setCondition(c, privacyv1alpha1.ConditionReady, false, st.reason, st.message)
	}
}

// setEncryptionEnforced says whether personal fields are sealed by the
// active key and every key the stored responses need is there. A missing
// data key or a rejected hmac key, once reported, stays reported while the
// collector's figures cannot be read (its /readyz fails meanwhile): only
// the collector can say it is resolved.
func setEncryptionEnforced(c *privacyv1alpha1.SurveyCampaign, obs observed) {
	keys := childNames(c).keys
	st := obs.stats
	// What the collector reported stays; the key Secret's deletion, which
	// the operator found itself, is over once the pass read the Secret.
	reported := keyAlarm(c)
	if reported != nil && strings.HasPrefix(reported.Message, keySecretGone(keys)) {
		reported = nil
	}
	switch {
	case obs.activeKeyID == "":
		setCondition(c, privacyv1alpha1.ConditionEncryptionEnforced, false, privacyv1alpha1.ReasonProgressing, "the key Secret is not ready")
	case st != nil && len(st.MissingKeyIDs) > 0:
		setCondition(c, privacyv1alpha1.ConditionEncryptionEnforced, false, privacyv1alpha1.ReasonKeyMissing, missingKeysMessage(st.MissingKeyIDs, st.ChangedKeyIDs, keys))
	case st != nil && st.HMACKeyRejected:
		setCondition(c, privacyv1alpha1.ConditionEncryptionEnforced, false, privacyv1alpha1.ReasonHMACKeyRejected, fmt.Sprintf(
			"the hmac key in Secret %s changed while stored responses carry pseudonyms made with the previous one; "+
				"the collector keeps using the previous key; restore it", keys))
	case st == nil && reported != nil:
		// Keep it as it was.
	case st != nil && st.ActiveKeyID != obs.activeKeyID:
		setCondition(c, privacyv1alpha1.ConditionEncryptionEnforced, false, privacyv1alpha1.ReasonProgressing,
			fmt.Sprintf("the collector encrypts with %s; waiting for it to load %s", st.ActiveKeyID, obs.activeKeyID))
	default:
		msg := "personal fields are encrypted with key " + obs.activeKeyID
		if st != nil && st.RewrapPending > 0 {
			msg += fmt.Sprintf("; %d responses still sealed by an older key are being re-wrapped", st.RewrapPending)
		}
		setCondition(c, privacyv1alpha1.ConditionEncryptionEnforced, true, privacyv1alpha1.ReasonSucceeded, msg)
	}
}

// missingKeysMessage names the data keys the collector misses: ids, of
// which changed are in the Secret with other bytes than sealed the stored
// responses.
func missingKeysMessage(ids, changed []string, secret string) string {
	var gone []string
	for _, id := range ids {
		if !slices.Contains(changed, id) {
			gone = append(gone, id)
		}
	}
	var says []string
	say := func(ids []string, one, many string) {
		ids = slices.Sorted(slices.Values(ids))
		switch len(ids) {
		case 0:
		case 1:
			says = append(says, fmt.Sprintf(one, ids[0], secret))
		default:
			says = append(says, fmt.Sprintf(many, strings.Join(ids, ", "), secret))
		}
	}
	say(gone, "data key %s is missing from Secret %s while stored responses are sealed by it",
		"data keys %s are missing from Secret %s while stored responses are sealed by them")
	say(changed, "data key %s in Secret %s holds other bytes than the key that sealed stored responses under that ID",
		"data keys %s in Secret %s hold other bytes than the keys that sealed stored responses under those IDs")
	if len(ids) == 1 {
		return strings.Join(says, "; ") + "; restore it from backup"
	}
	return strings.Join(says, "; ") + "; restore them from backup"
}

// keyAlarm is EncryptionEnforced when it reports a key a person must restore.
func keyAlarm(c *privacyv1alpha1.SurveyCampaign) *metav1.Condition {
	cond := meta.FindStatusCondition(c.Status.Conditions, privacyv1alpha1.ConditionEncryptionEnforced)
	if cond != nil && cond.Status == metav1.ConditionFalse &&
		(cond.Reason == privacyv1alpha1.ReasonKeyMissing || cond.Reason == privacyv1alpha1.ReasonHMACKeyRejected) {
		return cond
	}
	return nil
}

// readyAlarm is the condition that keeps the campaign from being Ready
// until a person acts: a key to restore, or a full store (ingest refused).
func readyAlarm(c *privacyv1alpha1.SurveyCampaign) *metav1.Condition {
	if cond := keyAlarm(c); cond != nil {
		return cond
	}
	if cond := meta.FindStatusCondition(c.Status.Conditions, privacyv1alpha1.ConditionStorageAvailable); cond != nil &&
		cond.Status == metav1.ConditionFalse && cond.Reason == privacyv1alpha1.ReasonStorageBudgetExceeded {
		return cond
	}
	return nil
}

// setStorageAvailable publishes the storage budget the collector reports.
// While its figures cannot be read the condition stays as it was (Unknown
// before the first read), so it does not flap with the collector.
func setStorageAvailable(c *privacyv1alpha1.SurveyCampaign, st *collectorapi.Stats) {
	if st == nil {
		if meta.FindStatusCondition(c.Status.Conditions, privacyv1alpha1.ConditionStorageAvailable) == nil {
			setConditionUnknown(c, privacyv1alpha1.ConditionStorageAvailable, privacyv1alpha1.ReasonCollectorUnavailable,
				"the storage use is not known yet: the collector's figures have not been read")
		}
		return
	}
	s := st.Storage
	if s.Full {
		why := s.Reason
		if why == "" {
			why = "the storage budget is used up"
		}
		setCondition(c, privacyv1alpha1.ConditionStorageAvailable, false, privacyv1alpha1.ReasonStorageBudgetExceeded,
			why+"; new responses are refused until a purge frees space or spec.collector.limits (maxStoreSize, minFreeDisk) or storage.embedded.size changes")
		return
	}
	var prev string
	if cond := meta.FindStatusCondition(c.Status.Conditions, privacyv1alpha1.ConditionStorageAvailable); cond != nil &&
		cond.Status == metav1.ConditionTrue {
		prev = cond.Message
	}
	setCondition(c, privacyv1alpha1.ConditionStorageAvailable, true, privacyv1alpha1.ReasonSucceeded, storageMessage(prev, s))
}

// storageMessage says how much of the budget is used ("412Mi of 800Mi used;
// 2.1Gi free"). It keeps prev, the message published last, while the
// figures stay close to what it shows (storageClose): the store's files
// and the volume's free space move a little with every write and
// checkpoint, and status is not rewritten for that.
func storageMessage(prev string, s collectorapi.StorageStats) string {
	next := collectorapi.HumanBytes(s.UsedBytes) + " used"
	if s.MaxBytes > 0 {
		next = collectorapi.HumanBytes(s.UsedBytes) + " of " + collectorapi.HumanBytes(s.MaxBytes) + " used"
	}
	if s.FreeBytes != nil {
		next += "; " + collectorapi.HumanBytes(*s.FreeBytes) + " free"
	}
	m := storageMessageRE.FindStringSubmatch(prev)
	if m == nil || next == prev {
		return next
	}
	used, okUsed := parseHumanBytes(m[1])
	sameMax := (m[3] == "" && s.MaxBytes == 0) || (s.MaxBytes > 0 && m[3] == collectorapi.HumanBytes(s.MaxBytes))
	sameFree := m[5] == "" && s.FreeBytes == nil
	if free, ok := parseHumanBytes(m[5]); ok && s.FreeBytes != nil {
		sameFree = storageClose(free, *s.FreeBytes)
	}
	if okUsed && sameMax && sameFree && storageClose(used, s.UsedBytes) {
		return prev
	}
	return next
}

// storageMessageRE reads a message storageMessage wrote.
var storageMessageRE = regexp.MustCompile(`^(\S+?)( of (\S+))? used(; (\S+) free)?$`)

// storageClose says whether a figure moved less than 5% (or 1Mi) from the
// one published.
func storageClose(published, now int64) bool {
	d := now - published
	if d < 0 {
		d = -d
	}
	return d <= max(published/20, 1<<20)
}

// parseHumanBytes reads what collectorapi.HumanBytes wrote.
func parseHumanBytes(s string) (int64, bool) {
	if n, ok := strings.CutSuffix(s, "B"); ok {
		v, err := strconv.ParseInt(n, 10, 64)
		return v, err == nil
	}
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return 0, false
	}
	return q.Value(), true
}

// setRedactions publishes the collector's counts of what it scrubbed from
// comments, by kind in alphabetical order; at most maxRedactionKinds.
func setRedactions(c *privacyv1alpha1.SurveyCampaign, st *collectorapi.Stats) {
	var out []privacyv1alpha1.RedactionCount
	for _, kind := range slices.Sorted(maps.Keys(st.Redactions)) {
		if n := st.Redactions[kind]; n > 0 && kind != "" && len(kind) <= 32 && len(out) < maxRedactionKinds {
			out = append(out, privacyv1alpha1.RedactionCount{Kind: kind, Count: n})
		}
	}
	c.Status.Redactions = out
}

// maxRedactionKinds is status.redactions' MaxItems.
const maxRedactionKinds = 32

// setNPS publishes the collector's figures; updatedAt moves only when they
// change, so an idle campaign's status is not rewritten by every poll.
func setNPS(c *privacyv1alpha1.SurveyCampaign, st *collectorapi.Stats, now time.Time) {
	next := &privacyv1alpha1.NPSStatus{
		Responses: st.Responses, Suppressed: ptr.To(st.Suppressed), Score: st.Score,
		Promoters: st.Promoters, Passives: st.Passives, Detractors: st.Detractors, MarginOfError: st.MarginOfError,
	}
	if prev := c.Status.NPS; prev != nil {
		was := prev.DeepCopy()
		was.UpdatedAt = nil
		if equality.Semantic.DeepEqual(was, next) {
			return
		}
	}
	next.UpdatedAt = &metav1.Time{Time: now}
	c.Status.NPS = next
}

// breachWindowStart is the start of the trailing 12 months at now: the
// same day and time a year before, or the month's last day when it has no
// such day (29 February goes back to 28 February, where AddDate would
// normalize to 1 March and leave a day of breaches out).
func breachWindowStart(now time.Time) time.Time {
	now = now.UTC()
	y, m, d := now.Date()
	last := time.Date(y-1, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
	return time.Date(y-1, m, min(d, last), now.Hour(), now.Minute(), now.Second(), now.Nanosecond(), time.UTC)
}

// campaignBreaches is what the campaign's reports mean for it: the names of
// unresolved reports that pause it, the UIDs of unresolved reports that want
// its keys rotated, and how many reports were detected in the trailing 12
// months (from exactly twelve months ago up to now).
type campaignBreaches struct {
	pausedBy  []string
	rotateFor []string
	count     int32
	// named are the UIDs of every report naming the campaign, resolved or
	// not: the key Secret's record of breach rotations keeps theirs only.
	named map[string]bool
}

func breachesOf(reports []privacyv1alpha1.BreachReport, campaign string, now time.Time) campaignBreaches {
	out := campaignBreaches{named: map[string]bool{}}
	from := breachWindowStart(now)
	for i := range reports {
		b := &reports[i]
		if !b.DeletionTimestamp.IsZero() || !names(b, campaign) {
			continue
		}
		out.named[string(b.UID)] = true
		if detected := b.Spec.DetectedAt.Time; !detected.Before(from) && !detected.After(now) {
			out.count++
		}
		if b.Spec.ResolvedAt != nil {
			continue
		}
		if ptr.Deref(b.Spec.Containment.PauseCollection, false) {
			out.pausedBy = append(out.pausedBy, b.Name)
		}
		if ptr.Deref(b.Spec.Containment.RotateKeys, false) {
			out.rotateFor = append(out.rotateFor, string(b.UID))
		}
	}
	sort.Strings(out.pausedBy)
	sort.Strings(out.rotateFor)
	return out
}

// breachBand classifies a number of breaches in 12 months.
func breachBand(count int32) privacyv1alpha1.BreachBand {
	switch {
	case count == 0:
		return privacyv1alpha1.BreachBandOptimal
	case count <= 3:
		return privacyv1alpha1.BreachBandAcceptable
	}
	return privacyv1alpha1.BreachBandConcerning
}

// breachRate is count / customers to four decimals; "0" with no breaches,
// and empty (undefined) with breaches but no known customers.
func breachRate(count int32, customers int64) string {
	switch {
	case count == 0:
		return "0"
	case customers <= 0:
		return ""
	}
	return fmt.Sprintf("%.4f", float64(count)/float64(customers))
}

// setBreaches publishes the campaign's breach figures; customers come from
// the collector's stats, or the last figure read when there are none.
func setBreaches(c *privacyv1alpha1.SurveyCampaign, b campaignBreaches, customers *int64) {
	next := &privacyv1alpha1.BreachRateStatus{Count: ptr.To(b.count), Band: breachBand(b.count)}
	switch {
	case customers != nil:
		next.Customers = *customers
	case c.Status.Breaches != nil:
		next.Customers = c.Status.Breaches.Customers
	}
	next.Rate = breachRate(b.count, next.Customers)
	c.Status.Breaches = next
}

// scaledToZero says the collector Deployment, as this pass wrote it, runs no replica.
func scaledToZero(d *appsv1.Deployment) bool {
	return d != nil && d.Spec.Replicas != nil && *d.Spec.Replicas == 0
}

// pausedMessage says why a campaign's collector takes no responses, and how.
func pausedMessage(c *privacyv1alpha1.SurveyCampaign, obs observed) string {
	if runsAdminOnly(obs.deployment) {
		var until []string
		if len(obs.erasures) > 0 {
			until = append(until, "ErasureRequest "+strings.Join(obs.erasures, ", ")+" erased")
		}
		if len(obs.purges) > 0 {
			until = append(until, "retention Job "+strings.Join(obs.purges, ", ")+" finished")
		}
		return "paused by " + pauseCauses(c, obs.breaches.pausedBy) +
			": the collector runs admin-only (public listener off) until " + strings.Join(until, " and ") + "; stored data is kept"
	}
	return "paused by " + pauseCauses(c, obs.breaches.pausedBy) + ": the collector is scaled to zero; stored data is kept"
}

// pauseCauses names what pauses the campaign.
func pauseCauses(c *privacyv1alpha1.SurveyCampaign, pausedBy []string) string {
	var why []string
	if ptr.Deref(c.Spec.Paused, false) {
		why = append(why, "spec.paused")
	}
	if len(pausedBy) > 0 {
		why = append(why, "the containment of BreachReport "+strings.Join(pausedBy, ", "))
	}
	return strings.Join(why, " and ")
}

// setRetention publishes how the campaign's retention is carried out:
// status.retention from the collector's figures, and RetentionEnforced —
// False when the oldest response is older than maxAge plus one schedule
// period, or while a legal hold keeps everything.
func setRetention(c *privacyv1alpha1.SurveyCampaign, p *privacyv1alpha1.RetentionPolicy, st *collectorapi.Stats, now time.Time) {
	if p == nil {
		return
	}
	r := c.Status.Retention
	if r == nil || r.Policy != p.Name {
		r = &privacyv1alpha1.RetentionStatus{Policy: p.Name}
	}
	if st != nil {
		r.OldestRecordTime = nil
		if st.OldestRecordTime != nil {
			r.OldestRecordTime = &metav1.Time{Time: st.OldestRecordTime.UTC().Truncate(time.Second)}
		}
		if lp := st.LastPurge; lp != nil && !lp.DryRun {
			r.LastPurgeTime = &metav1.Time{Time: lp.FinishedAt.UTC().Truncate(time.Second)}
			r.LastPurged = lp.Purged + lp.Anonymized
			r.LastReceipt = policyReceipt("", lp)
		}
	}
	c.Status.Retention = r

	if held, reason, msg := retentionSuspended(p); held && reason == privacyv1alpha1.ReasonLegalHold {
		setCondition(c, privacyv1alpha1.ConditionRetentionEnforced, false, reason, msg)
		return
	}
	sched, err := parseSchedule(policySchedule(p))
	if err != nil {
		setCondition(c, privacyv1alpha1.ConditionRetentionEnforced, false, privacyv1alpha1.ReasonInvalidSpec,
			fmt.Sprintf("RetentionPolicy %s has an invalid schedule: %v", p.Name, err))
		return
	}
	if st == nil {
		// Not read this pass (paused, not yet available): judge by the
		// oldest response last read, which only a purge makes younger.
		switch {
		case meta.FindStatusCondition(c.Status.Conditions, privacyv1alpha1.ConditionRetentionEnforced) == nil:
			setConditionUnknown(c, privacyv1alpha1.ConditionRetentionEnforced, privacyv1alpha1.ReasonCollectorUnavailable,
				"the age of the oldest response is not known yet: the collector's figures have not been read")
			return
		case r.OldestRecordTime == nil:
			return
		}
	}
	allowed := p.Spec.MaxAge.Duration + schedulePeriod(sched, now)
	if r.OldestRecordTime == nil {
		setCondition(c, privacyv1alpha1.ConditionRetentionEnforced, true, privacyv1alpha1.ReasonSucceeded, "no raw response is stored")
		return
	}
	age := now.Sub(r.OldestRecordTime.Time)
	if age > allowed {
		setCondition(c, privacyv1alpha1.ConditionRetentionEnforced, false, privacyv1alpha1.ReasonRetentionOverdue, fmt.Sprintf(
			"the oldest response is %s old, overdue by %s: RetentionPolicy %s allows %s plus one schedule period (%s)",
			coarse(age), coarse(age-allowed), p.Name, p.Spec.MaxAge.Duration, schedulePeriod(sched, now)))
		return
	}
	setCondition(c, privacyv1alpha1.ConditionRetentionEnforced, true, privacyv1alpha1.ReasonSucceeded, fmt.Sprintf(
		"no response is older than RetentionPolicy %s allows (%s plus one schedule period)", p.Name, p.Spec.MaxAge.Duration))
}

// coarse shows an age in minutes below an hour, hours below two days, days
// beyond, so an overdue campaign's message (and status) does not change on
// every poll.
func coarse(d time.Duration) string {
	switch {
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	}
	return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
}
