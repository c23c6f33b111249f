package faults

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
	"github.com/surveyguard/surveyguard/internal/testenv"
)

// TestKillDuringConvergence runs the operator's binary against FAULTS_CAMPAIGNS
// campaigns (default 200) and SIGKILLs it FAULTS_KILLS times (default 10),
// each time at a random moment of a convergence, then starts it again.
//
// Each round gives the operator work for every campaign: the first creates
// them; the others change every campaign's question (a new ConfigMap, a new
// pod template), delete three campaigns and create three. Rounds 1, 4 and 7
// also create a breach report asking to rotate the keys of 25 campaigns (the
// first while those campaigns are being built). The kill comes when a share
// of the campaigns drawn from the PRNG (5% to 90%) have settled on the
// round's spec. Once the restarted operator has converged:
//   - every campaign has exactly its children, and every child belongs to a
//     campaign that exists (children of deleted campaigns are left to the
//     garbage collector, which envtest does not run, but their keys must be
//     gone: the finalizer destroys them);
//   - every child is built from the current spec and keys (ConfigMap
//     revision, pod template checksum);
//   - every campaign a report names shows one recorded rotation for that
//     report, and every data key but the first is such a rotation: no key
//     rotated twice, none lost;
//   - no campaign's HMAC key or first data key was made again since it was
//     first seen (key IDs and bytes stable across kills);
//   - the reports record the rotations the key Secrets show.
//
// Meanwhile an auditor checks every status the operator publishes (see
// audit_test.go).
func TestKillDuringConvergence(t *testing.T) {
	skipUnlessAsked(t)
	rng := seeded(t)
	n, kills := envInt("FAULTS_CAMPAIGNS", 200), envInt("FAULTS_KILLS", 10)
	env, k8s := startEnv(t)
	bin := operatorBinary(t)
	ctx := context.Background()
	const ns = "kill"
	createBasics(t, k8s, ns)
	audit := startAuditor(t, k8s, ns)
	stop, pid := testenv.StartManager(t, bin, env.Kubeconfig)

	var live []string               // the campaigns that should exist
	named := map[string]bool{}      // campaigns a report names: never deleted, so that every report stays whole
	gone := map[types.UID]string{}  // campaigns the test deleted, by UID
	prints := map[string]keyPrint{} // each campaign's keys as first seen
	reportRounds := map[int]bool{1: true, 4: true, 7: true}
	rev, next := 1, 0
	newOnes := func(k int) []client.Object {
		var objs []client.Object
		for range k {
			name := fmt.Sprintf("campaign-%04d", next)
			next++
			live = append(live, name)
			objs = append(objs, newCampaign(ns, name, rev))
		}
		return objs
	}

	type roundFigures struct {
		settledAtKill, total int
		workToKill, restart  time.Duration
		converge             time.Duration
	}
	var figures []roundFigures
	midway := kills // kills that came before every campaign had settled
	for round := 1; round <= kills; round++ {
		begin := time.Now()
		var created []client.Object
		if round == 1 {
			created = newOnes(n)
		} else {
			rev++
			if err := forEach(live, func(name string) error { return setRevision(ctx, k8s, ns, name, rev, nil) }); err != nil {
				t.Fatal(err)
			}
			for _, name := range pick(rng, unnamed(live, named), 3) {
				c := &privacyv1alpha1.SurveyCampaign{}
				if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, c); err != nil {
					t.Fatal(err)
				}
				if err := k8s.Delete(ctx, c); err != nil {
					t.Fatal(err)
				}
				gone[c.UID] = name
				live = slices.DeleteFunc(live, func(s string) bool { return s == name })
			}
			created = newOnes(3)
		}
		if err := createAll(ctx, k8s, created); err != nil {
			t.Fatal(err)
		}
		if reportRounds[round] {
			targets := pick(rng, live, 25)
			for _, c := range targets {
				named[c] = true
			}
			if err := k8s.Create(ctx, newReport(ns, fmt.Sprintf("breach-%d", round), false, targets)); err != nil {
				t.Fatal(err)
			}
		}

		// SIGKILL once a random share of the campaigns has settled.
		share := 0.05 + 0.85*rng.Float64()
		var settledNow int
		waitFor(t, 3*time.Minute, 100*time.Millisecond, fmt.Sprintf("round %d: %.0f%% of the campaigns settled", round, share*100), func() error {
			list := &privacyv1alpha1.SurveyCampaignList{}
			if err := k8s.List(ctx, list, client.InNamespace(ns)); err != nil {
				return err
			}
			settledNow = 0
			for i := range list.Items {
				if settled(&list.Items[i]) && revision(list.Items[i].Spec.Question) == rev {
					settledNow++
				}
			}
			if float64(settledNow) < share*float64(len(live)) {
				return fmt.Errorf("%d of %d", settledNow, len(live))
			}
			return nil
		})
		killed := time.Now()
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		stop()
		stop, pid = testenv.StartManager(t, bin, env.Kubeconfig)
		restarted := time.Now()

		var last *snapshot
		waitFor(t, 2*time.Minute, time.Second, fmt.Sprintf("round %d: converged after the kill", round), func() error {
			s, err := takeSnapshot(ctx, k8s, ns)
			if err != nil {
				return err
			}
			if bad := s.converged(gone); len(bad) > 0 {
				return fmt.Errorf("%d problems:\n%s", len(bad), firstFew(bad, 15))
			}
			last = s
			return nil
		})
		f := roundFigures{settledAtKill: settledNow, total: len(live), workToKill: killed.Sub(begin),
			restart: restarted.Sub(killed), converge: time.Since(restarted)}
		figures = append(figures, f)
		if f.settledAtKill == f.total {
			midway-- // the operator outran the trigger: this kill came after the convergence
		}
		t.Logf("round %d: SIGKILL %s after the work began, %d of %d campaigns settled; restarted in %s; converged %s later",
			round, f.workToKill.Round(time.Millisecond), f.settledAtKill, f.total, f.restart.Round(time.Millisecond), f.converge.Round(time.Millisecond))

		have := make([]string, 0, len(last.campaigns))
		for name := range last.campaigns {
			have = append(have, name)
		}
		sort.Strings(have)
		want := slices.Sorted(slices.Values(live))
		if !slices.Equal(have, want) {
			t.Fatalf("round %d: campaigns %v, want %v", round, have, want)
		}
		if bad := last.keysStable(prints); len(bad) > 0 {
			t.Fatalf("round %d: keys made again after a kill:\n%s", round, firstFew(bad, 15))
		}
	}
	rotations := 0
	s, err := takeSnapshot(ctx, k8s, ns)
	if err != nil {
		t.Fatal(err)
	}
	for name := range s.campaigns {
		if keys := s.secrets[name+"-keys"]; keys != nil {
			rotations += len(dataKeys(keys)) - 1
		}
	}
	var total time.Duration
	for _, f := range figures {
		total += f.converge
	}
	t.Logf("%d kills survived (%d during a convergence): %d campaigns live, %d deleted, %d breach rotations, mean convergence after a restart %s",
		len(figures), midway, len(live), len(gone), rotations, (total / time.Duration(max(1, len(figures)))).Round(time.Millisecond))

	checked, lag, lies := audit.verdict()
	t.Logf("auditor: %d published claims checked, each within %s of its event", checked, lag.Round(time.Millisecond))
	judge(t, lies)
}

// forEach runs f on every name with 8 goroutines and returns the first error.
func forEach(names []string, f func(string) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for range 8 {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(len(names)); i = next.Add(1) - 1 {
				if err := f(names[i]); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

// pick draws k distinct names (all of them when fewer), sorted.
func pick(rng *rand.Rand, names []string, k int) []string {
	perm := rng.Perm(len(names))
	out := make([]string, 0, k)
	for _, i := range perm[:min(k, len(names))] {
		out = append(out, names[i])
	}
	sort.Strings(out)
	return out
}

// unnamed are the names no report names.
func unnamed(names []string, named map[string]bool) []string {
	var out []string
	for _, n := range names {
		if !named[n] {
			out = append(out, n)
		}
	}
	return out
}
