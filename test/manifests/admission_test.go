package manifests

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/surveyguard/surveyguard/internal/testenv"
)

// TestAdmissionPoliciesCheckSecretReferences installs the chart and checks,
// as two users of a namespace who may both write SurveyCampaigns and
// ErasureRequests, that only the one who may read a Secret can name it: as
// an erasure's subject, or as a campaign's database (when created, and when
// changed). The refusal names the field and is the same for a Secret that
// does not exist, so it tells nothing of the namespace's Secrets.
func TestAdmissionPoliciesCheckSecretReferences(t *testing.T) {
	e := ownServer(t)
	if out, err := helmOn(t, e, "install", release, chart, "-n", releaseNS, "--create-namespace", "--wait=hookOnly"); err != nil {
		t.Fatalf("helm install: %v\n%s", err, out)
	}
	const ns = "refs"
	createNamespace(t, e, ns)
	kubectl := func(t *testing.T, args ...string) {
		t.Helper()
		if out, err := e.Kubectl(args...); err != nil {
			t.Fatalf("kubectl %v: %v\n%s", args, err, out)
		}
	}
	kubectl(t, "create", "secret", "generic", "erase-c-7", "-n", ns, "--from-literal=customerID=C-7")
	kubectl(t, "create", "secret", "generic", "support-nps-pg", "-n", ns, "--from-literal=dsn=postgres://db.example/nps")
	kubectl(t, "create", "role", "survey-author", "-n", ns, "--verb=get,create,update,patch",
		"--resource=surveycampaigns.privacy.surveyguard.io,erasurerequests.privacy.surveyguard.io")
	kubectl(t, "create", "rolebinding", "survey-author", "-n", ns, "--role=survey-author", "--user=alice", "--user=bob")
	kubectl(t, "create", "role", "secret-reader", "-n", ns, "--verb=get", "--resource=secrets",
		"--resource-name=erase-c-7", "--resource-name=support-nps-pg", "--resource-name=support-nps-pg-next")
	kubectl(t, "create", "rolebinding", "secret-reader", "-n", ns, "--role=secret-reader", "--user=bob")

	samples := filepath.Join(testenv.RepoRoot(), "config", "samples")
	erasure := filepath.Join(samples, "privacy_v1alpha1_erasurerequest.yaml")
	campaign := filepath.Join(samples, "privacy_v1alpha1_surveycampaign_postgres.yaml")
	// as applies file (or runs another command) as user; it returns the
	// API server's answer and whether it accepted.
	as := func(user string, args ...string) (string, bool) {
		out, err := e.Kubectl(append(args, "-n", ns, "--as="+user)...)
		return out, err == nil
	}
	const subjectRefused = `spec.subject.secretRef.name: alice may not get the Secret "erase-c-7" in namespace refs, so cannot name it`

	// A policy is enforced once the API server has loaded it: until then a
	// dry run is let through.
	for _, p := range []struct{ file, refused string }{
		{erasure, subjectRefused},
		{campaign, `spec.storage.postgres.secretRef.name: alice may not get the Secret "support-nps-pg"`},
	} {
		deadline := time.Now().Add(90 * time.Second)
		for {
			out, ok := as("alice", "create", "--dry-run=server", "-f", p.file)
			if !ok && strings.Contains(out, p.refused) {
				break
			}
			if !ok && !strings.Contains(out, "may not get") {
				t.Fatalf("alice's dry run of %s failed for another reason: %s", p.file, out)
			}
			if time.Now().After(deadline) {
				t.Fatalf("the policy for %s is not enforced after 90 s; the last dry run gave %q", p.file, out)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	t.Run("erasure subject", func(t *testing.T) {
		if out, ok := as("alice", "create", "-f", erasure); ok || !strings.Contains(out, subjectRefused) {
			t.Errorf("alice, who may not read the Secret, created an erasure naming it (or was refused for another reason): %s", out)
		}
		missing := writeTemp(t, "missing.yaml", `apiVersion: privacy.surveyguard.io/v1alpha1
kind: ErasureRequest
metadata: {name: erase-nobody}
spec:
  subject: {secretRef: {name: no-such-secret}}
`)
		want := `spec.subject.secretRef.name: alice may not get the Secret "no-such-secret" in namespace refs, so cannot name it`
		if out, ok := as("alice", "create", "-f", missing); ok || !strings.Contains(out, want) {
			t.Errorf("naming a Secret that does not exist: %s; want the same refusal as for one that exists", out)
		}
		if out, ok := as("bob", "create", "-f", erasure); !ok {
			t.Errorf("bob, who may read the Secret, could not name it: %s", out)
		}
		inline := writeTemp(t, "inline.yaml", `apiVersion: privacy.surveyguard.io/v1alpha1
kind: ErasureRequest
metadata: {name: erase-inline}
spec:
  subject: {customerID: C-8}
`)
		if out, ok := as("alice", "create", "-f", inline); !ok {
			t.Errorf("an inline subject names no Secret, yet alice was refused: %s", out)
		}
		// Only the subject is checked: alice may still edit what may change.
		if out, ok := as("alice", "patch", "er", "erase-c-7", "--type=merge", "-p", `{"spec":{"extension":{"until":"2027-12-01T00:00:00Z","reason":"archives"}}}`); !ok {
			t.Errorf("alice could not add an extension to bob's request: %s", out)
		}
	})

	t.Run("campaign database", func(t *testing.T) {
		const refused = `spec.storage.postgres.secretRef.name: alice may not get the Secret "support-nps-pg" in namespace refs, so cannot name it`
		if out, ok := as("alice", "create", "-f", campaign); ok || !strings.Contains(out, refused) {
			t.Errorf("alice created a campaign on a database Secret she may not read: %s", out)
		}
		if out, ok := as("bob", "create", "-f", campaign); !ok {
			t.Fatalf("bob, who may read the Secret, could not name it: %s", out)
		}
		// Another field: the Secret's name is not asked again.
		if out, ok := as("alice", "patch", "sgc", "support-nps", "--type=merge", "-p", `{"spec":{"paused":true}}`); !ok {
			t.Errorf("alice could not pause bob's campaign: %s", out)
		}
		// Another Secret: asked again, of whoever changes it.
		next := `{"spec":{"storage":{"postgres":{"secretRef":{"name":"support-nps-pg-next"}}}}}`
		want := `spec.storage.postgres.secretRef.name: alice may not get the Secret "support-nps-pg-next" in namespace refs, so cannot name it`
		if out, ok := as("alice", "patch", "sgc", "support-nps", "--type=merge", "-p", next); ok || !strings.Contains(out, want) {
			t.Errorf("alice pointed the campaign at a Secret she may not read: %s", out)
		}
		if out, ok := as("bob", "patch", "sgc", "support-nps", "--type=merge", "-p", next); !ok {
			t.Errorf("bob could not point the campaign at a Secret he may read: %s", out)
		}
		// Another key of the same Secret is read as well: asked again.
		otherKey := `{"spec":{"storage":{"postgres":{"secretRef":{"name":"support-nps-pg-next","key":"password"}}}}}`
		want = `spec.storage.postgres.secretRef.name: alice may not get the Secret "support-nps-pg-next" in namespace refs, so cannot name it`
		if out, ok := as("alice", "patch", "sgc", "support-nps", "--type=merge", "-p", otherKey); ok || !strings.Contains(out, want) {
			t.Errorf("alice pointed the campaign at another key of a Secret she may not read: %s", out)
		}
		embedded := filepath.Join(samples, "privacy_v1alpha1_surveycampaign.yaml")
		if out, ok := as("alice", "create", "--dry-run=server", "-f", embedded); !ok {
			t.Errorf("a campaign naming no Secret, yet alice was refused: %s", out)
		}
	})
}
