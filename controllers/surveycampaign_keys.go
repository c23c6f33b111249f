package controllers

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
	"github.com/surveyguard/surveyguard/internal/collectorapi"
)

// defaultKeyRotation is spec.encryption.keyRotationInterval's default.
const defaultKeyRotation = 720 * time.Hour

func rotationInterval(c *privacyv1alpha1.SurveyCampaign) time.Duration {
	if d := c.Spec.Encryption.KeyRotationInterval; d != nil && d.Duration > 0 {
		return d.Duration
	}
	return defaultKeyRotation
}

func randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("reading random bytes: %w", err)
	}
	return b, nil
}

// dataKeyIDs lists the key IDs in a key Secret, oldest (lowest number) first.
func dataKeyIDs(data map[string][]byte) []string {
	var ids []string
	for k := range data {
		if id, ok := strings.CutPrefix(k, "key-"); ok {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return keyNumber(ids[i]) < keyNumber(ids[j]) })
	return ids
}

// keyNumber reads the n of a "k<n>" key ID; other IDs sort first.
func keyNumber(id string) int {
	n, err := strconv.Atoi(strings.TrimPrefix(id, "k"))
	if err != nil {
		return -1
	}
	return n
}

// nextKeyID is the ID of a new data key: one more than the highest of the
// Secret's and of used, the IDs the campaign is known to have issued
// beyond what the Secret holds now. An ID is never issued twice: a Secret
// restored from a backup older than the last rotation lacks the keys made
// since, and a new key under one of their IDs would make what they seal
// fail to decrypt, with no key reported missing.
func nextKeyID(data map[string][]byte, used ...string) string {
	return "k" + strconv.Itoa(highestKeyNumber(data, used...)+1)
}

// lastKeyID is the highest data key ID of the Secret's and of used; "" when
// there is none.
func lastKeyID(data map[string][]byte, used ...string) string {
	if n := highestKeyNumber(data, used...); n > 0 {
		return "k" + strconv.Itoa(n)
	}
	return ""
}

func highestKeyNumber(data map[string][]byte, used ...string) int {
	highest := 0
	for _, id := range append(dataKeyIDs(data), used...) {
		highest = max(highest, keyNumber(id))
	}
	return highest
}

// issuedKeyIDs are the data key IDs the campaign has published or its
// collector reports: its status's active and last key and breach
// rotations, and the collector's active key and the keys it misses.
func issuedKeyIDs(c *privacyv1alpha1.SurveyCampaign, stats *collectorapi.Stats) []string {
	var ids []string
	if e := c.Status.Encryption; e != nil {
		ids = append(ids, e.ActiveKeyID, e.LastKeyID)
		for _, r := range e.BreachRotations {
			ids = append(ids, r.KeyID)
		}
	}
	if stats != nil {
		ids = append(ids, stats.ActiveKeyID)
		ids = append(ids, stats.MissingKeyIDs...)
	}
	return ids
}

// keyState reads the active key ID and rotation time of a key Secret.
func keyState(s *corev1.Secret) (string, time.Time) {
	at, _ := time.Parse(time.RFC3339, s.Annotations[annotationRotatedAt])
	return strings.TrimSpace(string(s.Data["active"])), at
}

// addDataKey makes a new active key in s, stamped now, under an ID neither
// s nor used holds (nextKeyID).
func addDataKey(s *corev1.Secret, now time.Time, used ...string) (string, error) {
	key, err := randomBytes(32)
	if err != nil {
		return "", err
	}
	if s.Data == nil {
		s.Data = map[string][]byte{}
	}
	id := nextKeyID(s.Data, used...)
	s.Data["key-"+id] = key
	s.Data["active"] = []byte(id)
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	s.Annotations[annotationRotatedAt] = now.UTC().Format(time.RFC3339)
	return id, nil
}

// keyRotation records one rotation a breach containment asked for.
type keyRotation struct {
	Key string    `json:"key"`
	At  time.Time `json:"at"`
}

// breachRotations reads, from the key Secret, the rotations done for breach
// reports, by report UID. The record is written in the same update as the
// new key, so a rotation is never done twice for a report, across restarts.
func breachRotations(s *corev1.Secret) map[string]keyRotation {
	out := map[string]keyRotation{}
	if raw := s.Annotations[annotationBreachRotations]; raw != "" {
		_ = json.Unmarshal([]byte(raw), &out) // a damaged record is rebuilt by the next rotation
	}
	return out
}

// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;delete

// reconcileKeys is the keys component: the key Secret <campaign>-keys, with
// the data keys and the HMAC key the collector encrypts and pseudonymises
// with. The breach reports' rotations and the collector's figures come from
// the components before it.
func reconcileKeys(ctx context.Context, r *SurveyCampaignReconciler, p *campaignPass) error {
	s, err := r.keySecret(ctx, p.c, p.obs, p.obs.breaches.rotateFor, p.obs.breaches.named)
	p.keys = s
	return err
}

// keySecret creates the key Secret once, adds a new active key every
// rotation interval or when an unresolved breach report (rotateFor, by UID)
// asks for one it has not had, and drops keys older than the active one once
// the collector reports that nothing is sealed by them any more. It never
// changes the HMAC key, and never makes a new Secret once keys existed: a
// Secret that is gone or damaged stalls the campaign.
func (r *SurveyCampaignReconciler) keySecret(ctx context.Context, c *privacyv1alpha1.SurveyCampaign, obs *observed, rotateFor []string, named map[string]bool) (*corev1.Secret, error) {
	n := childNames(c)
	now := r.Clock.Now()
	s := &corev1.Secret{}
	err := r.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: n.keys}, s)
	if apierrors.IsNotFound(err) && c.Status.Encryption != nil && c.Status.Encryption.ActiveKeyID != "" {
		// The keys existed (status names the active one), so responses and
		// pseudonyms may be sealed by them: new keys, above all a new HMAC
		// key, would make them unreadable and unfindable for erasure. The
		// cache may only lag behind, or miss a Secret that lost its label:
		// ask the API server before concluding it is gone.
		live := &corev1.Secret{}
		switch err = r.APIReader.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: n.keys}, live); {
		case apierrors.IsNotFound(err):
			return nil, stallAndRecheck(privacyv1alpha1.ReasonKeyMissing,
				keySecretGone(n.keys)+" while stored responses may be sealed by its keys (active key %s); the operator does not "+
					"make new keys over them: restore the Secret from backup, or delete the campaign to start over",
				c.Status.Encryption.ActiveKeyID)
		case err != nil:
			return nil, fmt.Errorf("reading the key Secret: %w", err)
		case live.Labels[privacyv1alpha1.LabelManagedBy] != privacyv1alpha1.ManagedByValue:
			// Label it again so that the cache (and its watch) see it.
			if live.Labels == nil {
				live.Labels = map[string]string{}
			}
			for k, v := range childLabels(c) {
				live.Labels[k] = v
			}
			if err := r.Update(ctx, live); err != nil {
				return nil, fmt.Errorf("labelling the key Secret: %w", err)
			}
			obs.changed = append(obs.changed, "Secret/"+n.keys)
		}
		s = live
	}
	if apierrors.IsNotFound(err) {
		s = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: n.keys, Namespace: c.Namespace, Labels: childLabels(c)}, Type: corev1.SecretTypeOpaque}
		hmacKey, err := randomBytes(32)
		if err != nil {
			return nil, err
		}
		s.Data = map[string][]byte{"hmac": hmacKey}
		id, err := addDataKey(s, now)
		if err != nil {
			return nil, err
		}
		// A report that already asks for a rotation gets this first key as
		// its rotation: it is made after the report asked, so the breach
		// cannot have exposed it. Its containment is then recorded at once,
		// not at the next look a minute later, with a key rotated for
		// nothing.
		if len(rotateFor) > 0 {
			done := map[string]keyRotation{}
			for _, uid := range rotateFor {
				done[uid] = keyRotation{Key: id, At: now.UTC().Truncate(time.Second)}
			}
			if err := recordRotations(s, done); err != nil {
				return nil, err
			}
		}
		if err := r.own(c, s); err != nil {
			return nil, err
		}
		if err := r.Create(ctx, s); err != nil {
			return nil, fmt.Errorf("creating the key Secret: %w", err)
		}
		// The pass's one "Created" event names it with its first data key
		// (an event of its own would be one more write per new campaign).
		obs.recordChange("Secret", n.keys, string(controllerutil.OperationResultCreated), " (data key "+id+")")
		obs.activeKeyID, obs.rotatedAt = keyState(s)
		obs.breachRotations = publishedRotations(s)
		obs.lastKeyID = id
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the key Secret: %w", err)
	}
	active, rotatedAt := keyState(s)
	if active == "" || len(s.Data["key-"+active]) != 32 || len(s.Data["hmac"]) < 32 {
		// Never regenerate the HMAC key or drop data keys: data sealed by
		// them would become unreadable. A person must repair the Secret.
		return nil, stall(privacyv1alpha1.ReasonInvalidSpec,
			"key Secret %s is damaged (no active key, a key that is not 32 bytes, or an HMAC key under 32 bytes); restore it from backup", n.keys)
	}
	update := s.DeepCopy()
	done := breachRotations(s)
	// The record of a report that no longer exists goes: nothing reads it,
	// and kept for every report ever made it would outgrow what the status
	// can publish.
	stale := false
	for uid := range done {
		if !named[uid] {
			delete(done, uid)
			stale = true
		}
	}
	var pending []string
	for _, uid := range rotateFor {
		if _, ok := done[uid]; !ok {
			pending = append(pending, uid)
		}
	}
	switch {
	case len(pending) > 0 || !now.Before(rotatedAt.Add(rotationInterval(c))):
		id, err := addDataKey(update, now, issuedKeyIDs(c, obs.stats)...)
		if err != nil {
			return nil, err
		}
		why := "rotation interval reached"
		if len(pending) > 0 {
			for _, uid := range pending {
				done[uid] = keyRotation{Key: id, At: now.UTC().Truncate(time.Second)}
			}
			why = "requested by a breach containment"
		}
		if len(pending) > 0 || stale {
			if err := recordRotations(update, done); err != nil {
				return nil, err
			}
		}
		if err := r.Update(ctx, update); err != nil {
			return nil, fmt.Errorf("rotating keys: %w", err)
		}
		r.event(c, corev1.EventTypeNormal, "KeyRotated", "Rotate", "new data key %s is active (%s); %s stays until its data is re-wrapped", id, why, active)
		obs.changed = append(obs.changed, "Secret/"+n.keys)
		s = update
	case obs.stats != nil && obs.stats.ActiveKeyID == active && obs.stats.RewrapPending == 0 &&
		len(obs.stats.MissingKeyIDs) == 0 && obs.rolledOut && len(dataKeyIDs(s.Data)) > 1 &&
		r.verified.holds(client.ObjectKeyFromObject(c), templateKeys, templateKeysPair(s.Data, obs.deploymentGeneration)) &&
		!r.terminatingLeft(ctx, c, obs):
		// Retire only when the collector says nothing needs the old keys:
		// all re-wrapped, and no key it needs missing from its files (its
		// figures then come from an incomplete keyring: keep everything).
		// One pod answered: with several (PostgreSQL), a pod of the
		// template before the rotation may still seal new answers with
		// the old key, so none may be left: the Deployment's template
		// must carry these keys (an earlier pass wrote or verified it;
		// one whose update keeps failing, an admission policy's refusal,
		// does not) and be rolled out.
		var dropped []string
		for _, id := range dataKeyIDs(s.Data) {
			if id != active {
				delete(update.Data, "key-"+id)
				dropped = append(dropped, id)
			}
		}
		// A Secret restored with kubectl apply keeps a copy of every key
		// in this annotation: the retired ones must leave it too.
		delete(update.Annotations, corev1.LastAppliedConfigAnnotation)
		if err := r.Update(ctx, update); err != nil {
			return nil, fmt.Errorf("removing re-wrapped keys: %w", err)
		}
		r.event(c, corev1.EventTypeNormal, "KeysRetired", "Retire", "removed data keys %v: the collector re-wrapped everything under %s", dropped, active)
		obs.changed = append(obs.changed, "Secret/"+n.keys)
		s = update
	case stale:
		if err := recordRotations(update, done); err != nil {
			return nil, err
		}
		if err := r.Update(ctx, update); err != nil {
			return nil, fmt.Errorf("forgetting the rotations of deleted breach reports: %w", err)
		}
		obs.changed = append(obs.changed, "Secret/"+n.keys)
		s = update
	}
	obs.activeKeyID, obs.rotatedAt = keyState(s)
	obs.breachRotations = publishedRotations(s)
	obs.lastKeyID = lastKeyID(s.Data, issuedKeyIDs(c, obs.stats)...)
	return s, nil
}

// terminatingLeft says whether a collector pod may still be terminating
// where the Deployment's status does not say (before Kubernetes 1.35): its
// Service's EndpointSlices are asked, and a failure to read them counts as
// one left.
func (r *SurveyCampaignReconciler) terminatingLeft(ctx context.Context, c *privacyv1alpha1.SurveyCampaign, obs *observed) bool {
	if !obs.terminatingUncounted {
		return false
	}
	left, err := terminatingCollector(ctx, r.APIReader, c)
	return err != nil || left
}

// recordRotations writes done as the key Secret's record of breach
// rotations (s is the copy to update).
func recordRotations(s *corev1.Secret, done map[string]keyRotation) error {
	if len(done) == 0 {
		delete(s.Annotations, annotationBreachRotations)
		return nil
	}
	record, err := json.Marshal(done)
	if err != nil {
		return err
	}
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	s.Annotations[annotationBreachRotations] = string(record)
	return nil
}

// maxStatusList is how many items the status's lists of reports hold
// (status.pausedBy's and status.encryption.breachRotations' MaxItems).
const maxStatusList = 100

// publishedRotations is the key Secret's record of breach rotations as the
// campaign publishes it (status.encryption.breachRotations), by report UID:
// the newest maxStatusList, should more reports than that want the
// campaign's keys rotated.
func publishedRotations(s *corev1.Secret) []privacyv1alpha1.BreachKeyRotation {
	var out []privacyv1alpha1.BreachKeyRotation
	for uid, rot := range breachRotations(s) {
		out = append(out, privacyv1alpha1.BreachKeyRotation{ReportUID: uid, KeyID: rot.Key, RotatedAt: metav1.Time{Time: rot.At.UTC()}})
	}
	if len(out) > maxStatusList {
		slices.SortFunc(out, func(a, b privacyv1alpha1.BreachKeyRotation) int {
			return cmp.Or(b.RotatedAt.Compare(a.RotatedAt.Time), strings.Compare(a.ReportUID, b.ReportUID))
		})
		out = out[:maxStatusList]
	}
	slices.SortFunc(out, func(a, b privacyv1alpha1.BreachKeyRotation) int { return strings.Compare(a.ReportUID, b.ReportUID) })
	return out
}

// keySecretGone begins the KeyMissing message of a deleted key Secret:
// the operator's own finding, which a pass that reads the Secret again
// clears, unlike a missing key the collector reports.
func keySecretGone(name string) string { return "key Secret " + name + " is gone" }
