package redact

import (
	"maps"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// normalizeRef is normalize as its comment says, written plainly: each
// character mapped on its own, with no bound. It returns the normalized
// text and, for each of its bytes, the character of s it came from.
func normalizeRef(s string) (n string, start, end []int) {
	var b []byte
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		k := len(b)
		switch {
		case r < utf8.RuneSelf:
			b = append(b, s[i])
		case r == utf8.RuneError && size == 1:
			b = append(b, s[i])
		case zeroWidth(r):
			if next, _ := utf8.DecodeRuneInString(s[i+size:]); k > 0 && isDigit(b[k-1]) && unicode.Is(unicode.Nd, next) {
				b = append(b, ' ')
			}
		case unicode.Is(unicode.Nd, r):
			b = append(b, "0123456789"[digitValue(r)])
		case unicode.IsSpace(r) || unicode.Is(unicode.Zs, r):
			b = append(b, ' ')
		case unicode.Is(unicode.Pd, r) || r == '\u2212':
			b = append(b, '-')
		case r == '\u2018' || r == '\u2019' || r == '\u02bc':
			b = append(b, '\'')
		case norm.NFKC.PropertiesString(s[i:i+size]).Decomposition() == nil:
			b = append(b, s[i:i+size]...)
		default:
			b = append(b, norm.NFKC.String(s[i:i+size])...)
		}
		for ; k < len(b); k++ {
			start, end = append(start, i), append(end, i+size)
		}
		i += size
	}
	return string(b), start, end
}

// growthRef is what the expanding characters of s add to it.
func growthRef(s string) int {
	g := 0
	for i, r := range s {
		if r < utf8.RuneSelf || zeroWidth(r) || unicode.Is(unicode.Nd, r) || unicode.IsSpace(r) ||
			unicode.Is(unicode.Zs, r) || unicode.Is(unicode.Pd, r) {
			continue
		}
		size := utf8.RuneLen(r)
		if r == utf8.RuneError && !strings.HasPrefix(s[i:], "\ufffd") {
			size = 1
		}
		if f := norm.NFKC.String(s[i : i+size]); len(f) > size {
			g += len(f) - size
		}
	}
	return g
}

// checkNormalize compares normalize(s) with normalizeRef(s), the text and
// the way back, byte by byte.
func checkNormalize(t *testing.T, s string) {
	t.Helper()
	if g := growthRef(s); g > maxGrowth {
		t.Fatalf("test input grows by %d, over the bound", g)
	}
	got := normalize(s)
	n, start, end := normalizeRef(s)
	if got.n != n {
		t.Fatalf("normalize(%+q) = %+q, want %+q", s, got.n, n)
	}
	if got.unscanned {
		t.Fatalf("normalize(%+q) is unscanned", s)
	}
	for i := range len(n) {
		if gs, ge := got.span(i, i+1); gs != start[i] || ge != end[i] {
			t.Fatalf("normalize(%+q): byte %d of %+q comes from [%d, %d), want [%d, %d)", s, i, n, gs, ge, start[i], end[i])
		}
		if got.start != nil && int(got.start[i]) != start[i] {
			t.Fatalf("normalize(%+q): start[%d] = %d, want %d", s, i, got.start[i], start[i])
		}
	}
}

// TestNormalizeEveryCharacter: every character, in runs of 256, normalizes
// as it would alone (the fast paths for text already in NFKC and for
// decompositions already in NFKC give the character's NFKC form).
func TestNormalizeEveryCharacter(t *testing.T) {
	var b strings.Builder
	k := 0
	for r := rune(0x80); r <= unicode.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		b.WriteRune(r)
		if k++; k%256 == 0 || r == unicode.MaxRune {
			checkNormalize(t, b.String())
			// And between ASCII, as it comes in comments.
			checkNormalize(t, "x"+strings.Join(strings.Split(b.String(), ""), "1 ")+"y")
			b.Reset()
		}
	}
}

// TestNormalizeMixed: text of digits of several scripts, spaces,
// zero-width characters, combining marks, half-width katakana and its
// voiced marks, full-width letters and invalid bytes, each character
// mapped on its own.
func TestNormalizeMixed(t *testing.T) {
	pool := []string{
		"a", "Z", "7", " ", "@", ".", "-", "\u00e9", "e\u0301", "\u0301", "\u0341", "\u0344", "\uff76", "\uff9e",
		"\uff41", "\uff20", "\uff14", "\u096a", "\u09ea", "\u00a0", "\u3000", "\u200b", "\u200d", "\u00ad", "\u2013",
		"\u2212", "\u2019", "\u00bd", "\u2474", "\u3316", "\ufdfa", "\u1e9b", "\uffab", "\u01c4", "\u00a8", "가",
		"\u1100", "\u3150", "\xff", "\xe0\x80", "\ufffd", "\U0001d7d2", "ß", "İ", "ﬃ", "™",
	}
	rng := rand.New(rand.NewPCG(1, 2)) //nolint:gosec // G404: reproducible test inputs, not a secret
	for range 3000 {
		var b strings.Builder
		for range rng.IntN(40) {
			b.WriteString(pool[rng.IntN(len(pool))])
		}
		checkNormalize(t, b.String())
	}
	for _, e := range readCorpus(t) {
		checkNormalize(t, e.Text)
	}
	for _, c := range benchComments {
		checkNormalize(t, c)
	}
}

// TestNormalizeBound: the characters that expand add at most maxGrowth
// bytes; the rest of the comment, from the first one that does not fit,
// is not read but redacted as one [unscanned].
func TestNormalizeBound(t *testing.T) {
	const fdfa = "\ufdfa" // 3 bytes; its NFKC form, 33
	fit := maxGrowth / 30
	in := strings.Repeat(fdfa, fit)
	if r := Comment(in); r.Text != in || r.Counts != nil {
		t.Errorf("%d × ﷺ, within the bound: got %d bytes, counts %v; want it unchanged", fit, len(r.Text), r.Counts)
	}
	if tx := normalize(in); tx.unscanned || len(tx.n) != fit*33 {
		t.Errorf("%d × ﷺ normalize to %d bytes (unscanned %v), want %d", fit, len(tx.n), tx.unscanned, fit*33)
	}

	for _, tc := range []struct {
		name, in, want string
		counts         map[string]int
	}{
		{"the rest", in + fdfa + " call 98765 43210", in + "[unscanned]", map[string]int{KindUnscanned: 1}},
		{"the collector's longest", strings.Repeat(fdfa, 4000), in + "[unscanned]", map[string]int{KindUnscanned: 1}},
		{"before the bound", "call 98765 43210 " + in + fdfa + "x", "call [phone] " + in + "[unscanned]",
			map[string]int{KindPhone: 1, KindUnscanned: 1}},
		// What shrinks (full-width letters, 3 bytes to 1) leaves no room
		// for more growth.
		{"growth only", strings.Repeat("\uff41", 20000) + in + fdfa, strings.Repeat("\uff41", 20000) + in + "[unscanned]",
			map[string]int{KindUnscanned: 1}},
		// A finding just before the bound stands alone, as before a marker.
		{"finding at the bound", in + " call 98765 43210" + fdfa + "x", in + " call [phone][unscanned]",
			map[string]int{KindPhone: 1, KindUnscanned: 1}},
		// One that the bound cuts is not read, and its rest not kept.
		{"finding across the bound", in + " call 98765" + fdfa + " 43210", in + " call 98765[unscanned]",
			map[string]int{KindUnscanned: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Comment(tc.in)
			if r.Text != tc.want {
				t.Errorf("Comment(…) = …%q (%d bytes), want …%q (%d bytes)",
					r.Text[max(0, len(r.Text)-40):], len(r.Text), tc.want[max(0, len(tc.want)-40):], len(tc.want))
			}
			if !maps.Equal(r.Counts, tc.counts) {
				t.Errorf("counts = %v, want %v", r.Counts, tc.counts)
			}
			// Scrubbing the scrubbed comment changes nothing: what is left
			// grows no more than it did.
			if again := Comment(r.Text); again.Text != r.Text || again.Counts != nil {
				t.Errorf("scrubbed again: %d bytes, counts %v; want it unchanged", len(again.Text), again.Counts)
			}
		})
	}

	// "[unscanned]" typed in a comment is no finding.
	if r := Comment("see [unscanned] and ﷺ"); r.Counts != nil {
		t.Errorf("a typed [unscanned]: counts %v, want none", r.Counts)
	}
}

// TestNormalizeAllocations: normalizing allocates a fixed number of times
// and a few bytes per byte of the comment, whatever its characters: the
// per-character NFKC of before allocated for each (4,000 × ﷺ: 4,035 times,
// 14.6 MB; 4,000 × é: 4,003 times, 2.4 MB).
func TestNormalizeAllocations(t *testing.T) {
	for _, c := range expansionInputs {
		if n := testing.AllocsPerRun(20, func() { _ = normalize(c.text) }); n > 6 {
			t.Errorf("normalize(%s) allocates %v times, want at most 6", c.name, n)
		}
		if n := testing.AllocsPerRun(20, func() { _ = Comment(c.text) }); n > 100 {
			t.Errorf("Comment(%s) allocates %v times, want at most 100", c.name, n)
		}
		// Bytes: the normalized text and its map (5 bytes a byte), with
		// room for their growing; the map of a normalized text that
		// grew to its bound.
		var before, after runtime.MemStats
		const runs = 10
		runtime.ReadMemStats(&before)
		for range runs {
			_ = normalize(c.text)
		}
		runtime.ReadMemStats(&after)
		perRun := (after.TotalAlloc - before.TotalAlloc) / runs
		if limit := uint64(16*len(c.text) + 10*maxGrowth); perRun > limit {
			t.Errorf("normalize(%s) allocates %d bytes for %d, want at most %d", c.name, perRun, len(c.text), limit)
		}
	}
}

func TestRecomposedIsCached(t *testing.T) {
	in := strings.Repeat("\uffab\u00a8\u01c4\u0344", 1000) // their decompositions compose again
	_ = normalize(in)
	if n := testing.AllocsPerRun(20, func() { _ = normalize(in) }); n > 6 {
		t.Errorf("normalize allocates %v times, want at most 6", n)
	}
	recomposedForms.RLock()
	defer recomposedForms.RUnlock()
	m := recomposedForms.m
	if m == nil {
		t.Fatal("nothing cached")
	}
	for _, r := range []rune{'\uffab', '\u00a8', '\u01c4', '\u0344'} {
		if f, ok := m[r]; !ok || f != norm.NFKC.String(string(r)) {
			t.Errorf("cached form of %U = %+q, %v; want %+q", r, f, ok, norm.NFKC.String(string(r)))
		}
	}
	if keys := slices.Collect(maps.Keys(m)); len(keys) > 400 {
		t.Errorf("%d characters cached, want a few hundred at most", len(keys))
	}
}

// FuzzNormalize: normalize is normalizeRef up to the bound; past it, the
// text ends with the marker at the first character that does not fit, and
// the comment scrubbed keeps nothing from there.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{
		"ｐｒｉｙａ＠ｅｘａｍｐｌｅ．ｃｏｍ", "९८७६५\u200b४३२१०", "ｶﾞ e\u0341 ᄀㅐ ½ ⑴ ﷺ", "\xff\xfe", "R\u0341x",
	} {
		f.Add(s, 0)
		f.Add(s, 1)
	}
	f.Fuzz(func(t *testing.T, s string, over int) {
		if over%2 == 0 {
			if growthRef(s) <= maxGrowth {
				checkNormalize(t, s)
			}
			return
		}
		// Past the bound: s after 547 × ﷺ.
		pre := strings.Repeat("\ufdfa", maxGrowth/30)
		in := pre + "\ufdfa" + s
		tx := normalize(in)
		ref, _, _ := normalizeRef(pre)
		if !tx.unscanned || tx.n != ref+unscannedMarker {
			t.Fatalf("normalize(ﷺ… %+q): unscanned %v, %d bytes; want %d", s, tx.unscanned, len(tx.n), len(ref)+len(unscannedMarker))
		}
		if s, e := tx.span(len(ref), len(tx.n)); s != len(pre) || e != len(in) {
			t.Fatalf("the marker maps to [%d, %d), want [%d, %d)", s, e, len(pre), len(in))
		}
		r := Comment(in)
		if r.Text != pre+unscannedMarker || r.Counts[KindUnscanned] != 1 {
			t.Fatalf("Comment(ﷺ… %+q) = …%+q %v", s, r.Text[len(pre):], r.Counts)
		}
	})
}
