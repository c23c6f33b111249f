package faults

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
)

// What the operator promises about a campaign's children, written down
// from the outside: names, labels, annotations a user can read. Where a
// value is the operator's own convention (the key Secret's breach-rotation
// record, the pod template's checksum) the controllers' file that defines it
// is named.

const (
	// annotationBreachRotations on the key Secret records, by report UID,
	// the key made for a breach containment (controllers/surveycampaign_keys.go).
	annotationBreachRotations = "privacy.surveyguard.io/breach-rotations"
	// annotationChecksum on the pod template digests the collector's
	// configuration and keys (controllers/surveycampaign_children.go).
	annotationChecksum = "privacy.surveyguard.io/config-checksum"
	// configFile is the ConfigMap key of the collector's configuration.
	configFile = "collector.yaml"
)

// question is a campaign's question at a revision: the revision is how the
// tests tell which spec a child was built from.
func question(rev int) string {
	return fmt.Sprintf("How likely are you to recommend us to a friend or colleague? (revision %d)", rev)
}

var revisionRE = regexp.MustCompile(`\(revision (\d+)\)`)

// revision reads the revision out of a question or a collector configuration; -1 without one.
func revision(s string) int {
	m := revisionRE.FindStringSubmatch(s)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func newCampaign(ns, name string, rev int) *privacyv1alpha1.SurveyCampaign {
	return &privacyv1alpha1.SurveyCampaign{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: privacyv1alpha1.SurveyCampaignSpec{
			Question:           question(rev),
			Consent:            privacyv1alpha1.ConsentSpec{NoticeVersion: "2026-01"},
			RetentionPolicyRef: privacyv1alpha1.LocalObjectReference{Name: policyName},
			Storage:            privacyv1alpha1.StorageSpec{Embedded: &privacyv1alpha1.EmbeddedStorage{}},
		},
	}
}

// newReport is an unresolved breach report asking to rotate the keys of
// campaigns (and to pause them when pause is set). It is decoded from JSON,
// as a user's manifest would be.
func newReport(ns, name string, pause bool, campaigns []string) *privacyv1alpha1.BreachReport {
	refs := make([]map[string]string, 0, len(campaigns))
	for _, c := range campaigns {
		refs = append(refs, map[string]string{"name": c})
	}
	manifest, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"namespace": ns, "name": name},
		"spec": map[string]any{
			"campaignRefs": refs,
			"detectedAt":   time.Now().Add(-time.Hour).UTC().Format(time.RFC3339),
			"category":     "DataLeak", "severity": "High",
			"containment": map[string]any{"pauseCollection": pause, "rotateKeys": true},
		},
	})
	if err != nil {
		panic(err)
	}
	b := &privacyv1alpha1.BreachReport{}
	if err := json.Unmarshal(manifest, b); err != nil {
		panic(err)
	}
	return b
}

// containment reads what a report's spec.containment asks (through JSON:
// what the API says, whatever Go types carry it).
func containment(b *privacyv1alpha1.BreachReport) (pause, rotate bool) {
	var c struct {
		PauseCollection bool `json:"pauseCollection"`
		RotateKeys      bool `json:"rotateKeys"`
	}
	raw, _ := json.Marshal(b.Spec.Containment)
	_ = json.Unmarshal(raw, &c)
	return c.PauseCollection, c.RotateKeys
}

// specPaused reads a campaign's spec.paused (through JSON, as containment does).
func specPaused(c *privacyv1alpha1.SurveyCampaign) bool {
	var spec struct {
		Paused bool `json:"paused"`
	}
	raw, _ := json.Marshal(c.Spec)
	_ = json.Unmarshal(raw, &spec)
	return spec.Paused
}

// createAll creates objs with 8 clients at once.
func createAll(ctx context.Context, k8s client.Client, objs []client.Object) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(len(objs)); i = next.Add(1) - 1 {
				if err := k8s.Create(ctx, objs[i]); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// setRevision changes a campaign's question (a merge patch: no conflict
// with the operator's own writes) and its paused flag when paused is set.
func setRevision(ctx context.Context, k8s client.Client, ns, name string, rev int, paused *bool) error {
	spec := map[string]any{"question": question(rev)}
	if paused != nil {
		spec["paused"] = *paused
	}
	patch, err := json.Marshal(map[string]any{"spec": spec})
	if err != nil {
		return err
	}
	c := &privacyv1alpha1.SurveyCampaign{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	return k8s.Patch(ctx, c, client.RawPatch(types.MergePatchType, patch))
}

// childKind is one kind of object the operator makes for campaigns.
type childKind struct {
	kind   string
	object func() client.Object
	list   func() client.ObjectList
	// names are the children of this kind a campaign named n must have.
	names func(n string) []string
}

func collector(n string) []string { return []string{n + "-collector"} }

// childKinds is every kind the operator makes for a campaign with embedded
// storage, one replica and its own CA (no PodDisruptionBudget below two
// replicas), and the names it gives them.
var childKinds = []childKind{
	{"ServiceAccount", func() client.Object { return &corev1.ServiceAccount{} }, func() client.ObjectList { return &corev1.ServiceAccountList{} }, collector},
	{"Secret", func() client.Object { return &corev1.Secret{} }, func() client.ObjectList { return &corev1.SecretList{} }, func(n string) []string {
		return []string{n + "-admin-token", n + "-ca", n + "-keys", n + "-tls"}
	}},
	{"ConfigMap", func() client.Object { return &corev1.ConfigMap{} }, func() client.ObjectList { return &corev1.ConfigMapList{} }, collector},
	{"PersistentVolumeClaim", func() client.Object { return &corev1.PersistentVolumeClaim{} }, func() client.ObjectList { return &corev1.PersistentVolumeClaimList{} }, func(n string) []string {
		return []string{n + "-data"}
	}},
	{"Deployment", func() client.Object { return &appsv1.Deployment{} }, func() client.ObjectList { return &appsv1.DeploymentList{} }, collector},
	{"Service", func() client.Object { return &corev1.Service{} }, func() client.ObjectList { return &corev1.ServiceList{} }, collector},
	{"NetworkPolicy", func() client.Object { return &networkingv1.NetworkPolicy{} }, func() client.ObjectList { return &networkingv1.NetworkPolicyList{} }, collector},
	{"PodDisruptionBudget", func() client.Object { return &policyv1.PodDisruptionBudget{} }, func() client.ObjectList { return &policyv1.PodDisruptionBudgetList{} }, func(string) []string { return nil }},
	{"CronJob", func() client.Object { return &batchv1.CronJob{} }, func() client.ObjectList { return &batchv1.CronJobList{} }, func(n string) []string { return []string{n + "-retention"} }},
}

// cryptoShredded are the Secrets the operator itself destroys when a
// campaign is deleted (its finalizer), instead of leaving them to the
// garbage collector: their keys must not outlive the campaign.
func cryptoShredded(n string) []string { return []string{n + "-keys", n + "-ca", n + "-tls"} }

// snapshot is everything in a namespace that the checks read.
type snapshot struct {
	campaigns   map[string]*privacyv1alpha1.SurveyCampaign
	reports     []privacyv1alpha1.BreachReport
	objects     map[string][]client.Object // by kind: every object of the kinds the operator makes
	secrets     map[string]*corev1.Secret
	configMaps  map[string]*corev1.ConfigMap
	deployments map[string]*appsv1.Deployment
}

func takeSnapshot(ctx context.Context, k8s client.Reader, ns string) (*snapshot, error) {
	s := &snapshot{
		campaigns: map[string]*privacyv1alpha1.SurveyCampaign{}, objects: map[string][]client.Object{},
		secrets: map[string]*corev1.Secret{}, configMaps: map[string]*corev1.ConfigMap{}, deployments: map[string]*appsv1.Deployment{},
	}
	campaigns := &privacyv1alpha1.SurveyCampaignList{}
	if err := k8s.List(ctx, campaigns, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	for i := range campaigns.Items {
		s.campaigns[campaigns.Items[i].Name] = &campaigns.Items[i]
	}
	reports := &privacyv1alpha1.BreachReportList{}
	if err := k8s.List(ctx, reports, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	s.reports = reports.Items
	for _, k := range childKinds {
		l := k.list()
		if err := k8s.List(ctx, l, client.InNamespace(ns)); err != nil {
			return nil, err
		}
		items, err := meta.ExtractList(l)
		if err != nil {
			return nil, err
		}
		for _, item := range items {
			o := item.(client.Object)
			s.objects[k.kind] = append(s.objects[k.kind], o)
			switch o := o.(type) {
			case *corev1.Secret:
				s.secrets[o.Name] = o
			case *corev1.ConfigMap:
				s.configMaps[o.Name] = o
			case *appsv1.Deployment:
				s.deployments[o.Name] = o
			}
		}
	}
	return s, nil
}

// structure checks the children: every campaign has exactly the children it
// should (no duplicate, none missing), every child is labelled for and
// controlled by a campaign that exists, with that campaign's UID. A child of
// a campaign the test deleted (gone is its UID → name) waits for the garbage
// collector, which envtest does not run: it is allowed, but not the Secrets
// the operator must destroy itself.
func (s *snapshot) structure(gone map[types.UID]string) []string {
	var bad []string
	have := map[string]map[string][]string{} // campaign → kind → names
	for _, k := range childKinds {
		for _, o := range s.objects[k.kind] {
			id := k.kind + "/" + o.GetName()
			owner := metav1.GetControllerOf(o)
			campaign := o.GetLabels()[privacyv1alpha1.LabelCampaign]
			switch {
			case owner == nil || owner.Kind != "SurveyCampaign":
				bad = append(bad, id+" has no SurveyCampaign controller: an orphan no garbage collector will remove")
				continue
			case campaign != owner.Name || o.GetLabels()[privacyv1alpha1.LabelManagedBy] != privacyv1alpha1.ManagedByValue:
				bad = append(bad, fmt.Sprintf("%s is controlled by campaign %s but labelled %v", id, owner.Name, o.GetLabels()))
				continue
			}
			c, ok := s.campaigns[owner.Name]
			if !ok || c.UID != owner.UID {
				name, deleted := gone[owner.UID]
				switch {
				case !deleted:
					bad = append(bad, fmt.Sprintf("%s is controlled by campaign %s (uid %s), which never existed here: an orphan", id, owner.Name, owner.UID))
				case k.kind == "Secret" && slices.Contains(cryptoShredded(name), o.GetName()):
					bad = append(bad, fmt.Sprintf("%s survives the deletion of campaign %s: its finalizer must destroy it", id, name))
				}
				continue
			}
			if have[c.Name] == nil {
				have[c.Name] = map[string][]string{}
			}
			have[c.Name][k.kind] = append(have[c.Name][k.kind], o.GetName())
		}
	}
	for name, c := range s.campaigns {
		if !c.DeletionTimestamp.IsZero() {
			continue
		}
		for _, k := range childKinds {
			got, want := have[name][k.kind], k.names(name)
			sort.Strings(got)
			if !slices.Equal(got, want) {
				bad = append(bad, fmt.Sprintf("campaign %s has %s %v, want %v", name, k.kind, got, want))
			}
		}
	}
	sort.Strings(bad)
	return bad
}

// rotationRecord is one entry of the key Secret's breach-rotation record.
type rotationRecord struct {
	Key string    `json:"key"`
	At  time.Time `json:"at"`
}

func rotations(s *corev1.Secret) (map[string]rotationRecord, error) {
	out := map[string]rotationRecord{}
	if raw := s.Annotations[annotationBreachRotations]; raw != "" {
		if err := json.Unmarshal([]byte(raw), &out); err != nil {
			return nil, fmt.Errorf("Secret %s: %s is not JSON: %w", s.Name, annotationBreachRotations, err)
		}
	}
	return out, nil
}

// dataKeys lists the data key IDs of a key Secret ("k1", "k2"...), sorted by number.
func dataKeys(s *corev1.Secret) []string {
	var ids []string
	for k := range s.Data {
		if id, ok := strings.CutPrefix(k, "key-"); ok {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return keyNumber(ids[i]) < keyNumber(ids[j]) })
	return ids
}

func keyNumber(id string) int {
	n, err := strconv.Atoi(strings.TrimPrefix(id, "k"))
	if err != nil {
		return -1
	}
	return n
}

// podChecksum is the digest the operator puts on the collector's pod
// template, from the configuration and the keys it mounts, so that a change
// to either rolls the pods (controllers/surveycampaign_children.go,
// checksum; embedded storage has no DSN).
func podChecksum(config []byte, keys map[string][]byte) string {
	h := sha256.New()
	_, _ = h.Write(config)
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

// asks is what the unresolved breach reports ask of a campaign: the UIDs of
// those rotating its keys, the names of those pausing it.
func (s *snapshot) asks(campaign string) (rotateFor []string, pausedBy []string) {
	for i := range s.reports {
		b := &s.reports[i]
		if !b.DeletionTimestamp.IsZero() || b.Spec.ResolvedAt != nil ||
			!slices.ContainsFunc(b.Spec.CampaignRefs, func(r privacyv1alpha1.LocalObjectReference) bool { return r.Name == campaign }) {
			continue
		}
		pause, rotate := containment(b)
		if rotate {
			rotateFor = append(rotateFor, string(b.UID))
		}
		if pause {
			pausedBy = append(pausedBy, b.Name)
		}
	}
	sort.Strings(rotateFor)
	sort.Strings(pausedBy)
	return rotateFor, pausedBy
}

func condition(conds []metav1.Condition, typ string) *metav1.Condition {
	return meta.FindStatusCondition(conds, typ)
}

// settled says the campaign's last pass judged its current generation and
// changed nothing (a pass that wrote says "updated [...]" in Reconciling).
func settled(c *privacyv1alpha1.SurveyCampaign) bool {
	if c.Status.ObservedGeneration != c.Generation || !c.DeletionTimestamp.IsZero() {
		return false
	}
	r := condition(c.Status.Conditions, privacyv1alpha1.ConditionReconciling)
	return r == nil || !strings.HasPrefix(r.Message, "updated ")
}

// converged checks that the namespace is in the state the spec asks for:
// the structure above, and for every campaign a settled status, children
// built from its current spec (ConfigMap at its revision, the pod template's
// checksum over that configuration and the current keys, replicas 0 when
// paused by spec or report, 1 otherwise), one data key per rotation the
// reports asked for and none without a reason, and every report's
// containment recorded as what the key Secrets and Deployments show.
func (s *snapshot) converged(gone map[types.UID]string) []string {
	bad := s.structure(gone)
	for name, c := range s.campaigns {
		if !c.DeletionTimestamp.IsZero() {
			bad = append(bad, "campaign "+name+" is still being deleted")
			continue
		}
		if !settled(c) {
			r := condition(c.Status.Conditions, privacyv1alpha1.ConditionReconciling)
			bad = append(bad, fmt.Sprintf("campaign %s: observedGeneration %d of %d, Reconciling %+v", name, c.Status.ObservedGeneration, c.Generation, r))
			continue
		}
		bad = append(bad, s.campaignState(c)...)
	}
	bad = append(bad, s.reportState()...)
	sort.Strings(bad)
	return bad
}

func (s *snapshot) campaignState(c *privacyv1alpha1.SurveyCampaign) []string {
	var bad []string
	name := c.Name
	cm, keys, d := s.configMaps[name+"-collector"], s.secrets[name+"-keys"], s.deployments[name+"-collector"]
	if cm == nil || keys == nil || d == nil {
		return nil // structure reported it
	}
	if got, want := revision(cm.Data[configFile]), revision(c.Spec.Question); got != want {
		bad = append(bad, fmt.Sprintf("campaign %s: ConfigMap at revision %d, spec at %d", name, got, want))
	}
	rotateFor, pausedBy := s.asks(name)
	done, err := rotations(keys)
	if err != nil {
		return append(bad, err.Error())
	}
	reasons := []string{"k1"} // every data key but the first must be a recorded rotation
	for _, uid := range rotateFor {
		rec, ok := done[uid]
		if !ok {
			bad = append(bad, fmt.Sprintf("campaign %s: no key rotation for report uid %s", name, uid))
			continue
		}
		if !slices.Contains(reasons, rec.Key) {
			reasons = append(reasons, rec.Key)
		}
	}
	for uid := range done {
		if !slices.Contains(rotateFor, uid) {
			bad = append(bad, fmt.Sprintf("campaign %s: a rotation is recorded for report uid %s, which does not ask for one", name, uid))
		}
	}
	ids := dataKeys(keys)
	sort.Slice(reasons, func(i, j int) bool { return keyNumber(reasons[i]) < keyNumber(reasons[j]) })
	if !slices.Equal(ids, reasons) {
		bad = append(bad, fmt.Sprintf("campaign %s: data keys %v, but only %v have a reason (k1 and the recorded rotations): a key rotated twice or a rotation lost", name, ids, reasons))
	}
	active := strings.TrimSpace(string(keys.Data["active"]))
	if len(ids) > 0 && active != ids[len(ids)-1] {
		bad = append(bad, fmt.Sprintf("campaign %s: active key %s, newest %s", name, active, ids[len(ids)-1]))
	}
	if e := c.Status.Encryption; e == nil || e.ActiveKeyID != active {
		bad = append(bad, fmt.Sprintf("campaign %s: status.encryption %+v, the key Secret's active key is %s", name, e, active))
	} else {
		published := map[string]string{}
		for _, r := range e.BreachRotations {
			published[r.ReportUID] = r.KeyID
		}
		recorded := map[string]string{}
		for uid, r := range done {
			recorded[uid] = r.Key
		}
		if !maps.Equal(published, recorded) {
			bad = append(bad, fmt.Sprintf("campaign %s: status.encryption.breachRotations %v, the key Secret records %v", name, published, recorded))
		}
	}
	wantReplicas := int32(1)
	if specPaused(c) || len(pausedBy) > 0 {
		wantReplicas = 0
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas != wantReplicas {
		bad = append(bad, fmt.Sprintf("campaign %s: Deployment replicas %v, want %d", name, d.Spec.Replicas, wantReplicas))
	}
	if got, want := d.Spec.Template.Annotations[annotationChecksum], podChecksum([]byte(cm.Data[configFile]), keys.Data); got != want {
		bad = append(bad, fmt.Sprintf("campaign %s: the pod template's checksum %s is not that of the current configuration and keys (%s): the pods would not roll", name, got, want))
	}
	if !slices.Equal(c.Status.PausedBy, pausedBy) {
		bad = append(bad, fmt.Sprintf("campaign %s: status.pausedBy %v, want %v", name, c.Status.PausedBy, pausedBy))
	}
	return bad
}

// reportState checks that each report's containment record is what the
// campaigns' key Secrets and Deployments show, and that it says Contained.
func (s *snapshot) reportState() []string {
	var bad []string
	for i := range s.reports {
		b := &s.reports[i]
		pause, rotate := containment(b)
		if b.Status.ObservedGeneration != b.Generation {
			bad = append(bad, fmt.Sprintf("report %s: observedGeneration %d of %d", b.Name, b.Status.ObservedGeneration, b.Generation))
			continue
		}
		if cond := condition(b.Status.Conditions, privacyv1alpha1.ConditionContained); cond == nil || cond.Status != metav1.ConditionTrue {
			bad = append(bad, fmt.Sprintf("report %s: Contained %+v", b.Name, cond))
		}
		recs := map[string]privacyv1alpha1.CampaignContainment{}
		for _, r := range b.Status.Containment {
			recs[r.Campaign] = r
		}
		for _, ref := range b.Spec.CampaignRefs {
			if _, ok := s.campaigns[ref.Name]; !ok {
				continue
			}
			rec := recs[ref.Name]
			if pause && rec.PausedAt == nil {
				bad = append(bad, fmt.Sprintf("report %s: no pause recorded for campaign %s", b.Name, ref.Name))
			}
			if rotate {
				if rec.KeysRotatedAt == nil {
					bad = append(bad, fmt.Sprintf("report %s: no key rotation recorded for campaign %s", b.Name, ref.Name))
				} else if why := rotationMismatch(s.secrets[ref.Name+"-keys"], b.UID, rec.KeyID); why != "" {
					bad = append(bad, fmt.Sprintf("report %s records key %s for campaign %s, but %s", b.Name, rec.KeyID, ref.Name, why))
				}
			}
		}
	}
	return bad
}

// rotationMismatch says why a report's record of a key rotation is not what
// the key Secret shows; "" when it is.
func rotationMismatch(keys *corev1.Secret, report types.UID, keyID string) string {
	if keys == nil {
		return "the key Secret does not exist"
	}
	done, err := rotations(keys)
	if err != nil {
		return err.Error()
	}
	if rec, ok := done[string(report)]; !ok || rec.Key != keyID {
		return fmt.Sprintf("the key Secret records %+v for the report (found %v)", rec, ok)
	}
	if len(keys.Data["key-"+keyID]) == 0 {
		return "the key Secret has no key " + keyID
	}
	return ""
}

// keyPrint is what must never change in a campaign's key Secret once made:
// the Secret itself (UID), its HMAC key and its first data key.
type keyPrint struct {
	uid        types.UID
	hmac, key1 string
}

func printOf(s *corev1.Secret) keyPrint {
	sum := func(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:8]) }
	return keyPrint{uid: s.UID, hmac: sum(s.Data["hmac"]), key1: sum(s.Data["key-k1"])}
}

// keysStable records the key prints of campaigns seen for the first time
// and reports any campaign whose keys were made again.
func (s *snapshot) keysStable(prints map[string]keyPrint) []string {
	var bad []string
	for name := range s.campaigns {
		keys := s.secrets[name+"-keys"]
		if keys == nil {
			continue
		}
		now := printOf(keys)
		was, ok := prints[name]
		switch {
		case !ok:
			prints[name] = now
		case was != now:
			bad = append(bad, fmt.Sprintf("campaign %s: keys made again: %+v, first seen %+v", name, now, was))
		}
	}
	sort.Strings(bad)
	return bad
}

// firstFew joins at most n lines of list, saying how many were left out.
func firstFew(list []string, n int) string {
	if len(list) <= n {
		return strings.Join(list, "\n")
	}
	return strings.Join(list[:n], "\n") + fmt.Sprintf("\n... and %d more", len(list)-n)
}
