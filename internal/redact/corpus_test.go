package redact

import (
	"bufio"
	"encoding/json"
	"os"
	"slices"
	"testing"
)

// corpusEntry is one line of testdata/corpus.jsonl: a comment and the
// personal data in it, each as its kind and its exact text. A comment with
// no pii is an everyday negative.
type corpusEntry struct {
	Text string `json:"text"`
	PII  []struct {
		Kind string `json:"kind"`
		Text string `json:"text"`
	} `json:"pii"`
}

func readCorpus(t testing.TB) []corpusEntry {
	f, err := os.Open("testdata/corpus.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	var out []corpusEntry
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		var e corpusEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("corpus.jsonl:%d: %v", line, err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCorpus measures precision and recall per kind on the labelled corpus:
// a finding counts as right only if its kind and its exact text are
// labelled. It fails when a kind's recall is under 0.95, when a kind has
// no positives, or when more than 1% of the negatives get any finding.
func TestCorpus(t *testing.T) {
	type tally struct{ tp, fp, fn int }
	per := map[string]*tally{}
	for _, k := range Kinds {
		per[k] = &tally{}
	}
	negatives, flagged := 0, 0
	for _, e := range readCorpus(t) {
		tx, found := find(e.Text)
		var want []string
		for _, p := range e.PII {
			if per[p.Kind] == nil {
				t.Fatalf("corpus: unknown kind %q in %q", p.Kind, e.Text)
			}
			want = append(want, p.Kind+"\x00"+p.Text)
		}
		var got []string
		for _, m := range found {
			s, end := tx.span(m.s, m.e)
			got = append(got, m.kind+"\x00"+e.Text[s:end])
		}
		if len(want) == 0 {
			negatives++
			if len(got) > 0 {
				flagged++
				t.Logf("false positive in negative %q: %q", e.Text, got)
			}
		}
		for _, g := range got {
			k := g[:slices.Index([]byte(g), 0)]
			if i := slices.Index(want, g); i >= 0 {
				per[k].tp++
				want = slices.Delete(want, i, i+1)
			} else {
				per[k].fp++
				if len(e.PII) > 0 {
					t.Logf("wrong finding %q in %q", g, e.Text)
				}
			}
		}
		for _, w := range want {
			k := w[:slices.Index([]byte(w), 0)]
			per[k].fn++
			t.Logf("missed %q in %q", w, e.Text)
		}
	}
	t.Logf("%-9s %4s %4s %4s %9s %7s", "kind", "tp", "fp", "fn", "precision", "recall")
	for _, k := range Kinds {
		c := per[k]
		precision := float64(c.tp) / float64(max(c.tp+c.fp, 1))
		recall := float64(c.tp) / float64(max(c.tp+c.fn, 1))
		t.Logf("%-9s %4d %4d %4d %9.3f %7.3f", k, c.tp, c.fp, c.fn, precision, recall)
		if c.tp+c.fn == 0 {
			t.Errorf("%s: no positives in the corpus", k)
		} else if recall < 0.95 {
			t.Errorf("%s: recall %.3f < 0.95", k, recall)
		}
	}
	rate := float64(flagged) / float64(max(negatives, 1))
	t.Logf("negatives: %d, with a finding: %d (%.2f%%)", negatives, flagged, 100*rate)
	if negatives < 150 {
		t.Errorf("corpus has %d negatives, want at least 150", negatives)
	}
	if rate > 0.01 {
		t.Errorf("false positives on %.2f%% of the negatives, want at most 1%%", 100*rate)
	}
}
