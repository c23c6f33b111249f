package redact

import (
	"math"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// normalized is a comment as the recognizers see it, and the way back to
// the original: byte i of n came from the character of src that starts at
// byte start[i] (an invalid byte counting as one character). start is nil
// when n is src (plain ASCII).
//
// When unscanned is set, the expansion budget (maxGrowth) ran out: n ends
// with unscannedMarker, whose bytes stand for the rest of src from the
// character that did not fit, and find takes that rest as a finding of
// KindUnscanned.
type normalized struct {
	n         string
	src       string
	start     []int32
	unscanned bool
}

// span maps the normalized bytes [s, e) back to the original text.
func (t *normalized) span(s, e int) (int, int) {
	if t.start == nil {
		return s, e
	}
	if t.unscanned && e == len(t.n) {
		return int(t.start[s]), len(t.src)
	}
	last := int(t.start[e-1])
	_, size := utf8.DecodeRuneInString(t.src[last:])
	return int(t.start[s]), last + size
}

// maxGrowth bounds the work of a comment: the characters whose normalized
// form is longer than they are (ﷺ is 3 bytes, its NFKC form 33; ½ is 2,
// "1⁄2" 5) may add up to this many bytes in all. It counts growth only, never
// what shrinks (full-width letters, other scripts' digits), so a scrubbed
// comment, its findings replaced by ASCII markers, never grows more than
// the comment did.
const maxGrowth = 16 << 10

// unscannedMarker ends the normalized text of a comment that exceeded
// maxGrowth, standing for everything from the first character that did
// not fit; it reads as a marker, and is replaced by one.
const unscannedMarker = "[" + KindUnscanned + "]"

// normalize maps each character of s on its own:
//   - every Unicode decimal digit (Devanagari ४, Bengali ৪, full-width ４…)
//     to its ASCII digit;
//   - every Unicode space (no-break, thin, ideographic…) to ' ';
//   - zero-width characters (ZWSP, ZWNJ, ZWJ, word joiner, BOM, soft hyphen,
//     Mongolian vowel separator) to ' ' between two digits, and to nothing
//     elsewhere;
//   - dashes (U+2010–2015, minus) to '-', curly apostrophes to an ASCII
//     apostrophe;
//   - anything else to its NFKC form (full-width letters and '＠' to ASCII),
//     the character taken alone: it is not composed with the one before.
//
// Plain ASCII, the common case, is returned as it is, without a map. The
// work is linear in len(s): one pass, no allocation per character.
//
// If the characters that expand would add more than maxGrowth bytes in
// all, normalization stops before the first one that does not fit, and
// the rest of s, unscanned, is represented by unscannedMarker (see
// normalized).
func normalize(s string) normalized {
	i := 0
	for i < len(s) && s[i] < utf8.RuneSelf {
		i++
	}
	if i == len(s) {
		return normalized{n: s}
	}
	t := normalized{src: s}
	if len(s) > math.MaxInt32 {
		// Offsets would not fit the map; no comment comes near this long.
		t.n, t.unscanned = unscannedMarker, true
		t.start = make([]int32, len(t.n))
		return t
	}
	var b strings.Builder
	b.Grow(len(s) + len(s)/8 + 16)
	start := make([]int32, i, len(s)+len(s)/8+16)
	for j := range i {
		start[j] = int32(j)
	}
	b.WriteString(s[:i])
	var buf [64]byte // the longest form of one character is 33 bytes (ﷺ)
	growth := 0
	// last is the last byte written to b, which cannot be read back.
	var last byte
	if i > 0 {
		last = s[i-1]
	}
	for i < len(s) {
		if c := s[i]; c < utf8.RuneSelf {
			b.WriteByte(c)
			start = append(start, int32(i))
			last = c
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		form := buf[:0]
		switch {
		case r == utf8.RuneError && size == 1:
			form = append(form, s[i])
		case zeroWidth(r):
			// Between two digits it separates groups, as a space would;
			// elsewhere it is dropped, so "priya\u200b@…" is one address.
			if next, _ := utf8.DecodeRuneInString(s[i+size:]); isDigit(last) && unicode.Is(unicode.Nd, next) {
				form = append(form, ' ')
			}
		case unicode.Is(unicode.Nd, r):
			form = append(form, "0123456789"[digitValue(r)])
		case unicode.IsSpace(r) || unicode.Is(unicode.Zs, r):
			form = append(form, ' ')
		case unicode.Is(unicode.Pd, r) || r == '\u2212':
			form = append(form, '-')
		case r == '\u2018' || r == '\u2019' || r == '\u02bc':
			form = append(form, '\'')
		default:
			c := s[i : i+size]
			if norm.NFKC.QuickSpanString(c) == size {
				// In NFKC already: most characters of most scripts, and é.
				form = append(form, c...)
				break
			}
			switch d := norm.NFKC.PropertiesString(c).Decomposition(); {
			case d == nil:
				// No decomposition, but it may compose with the character
				// before (a combining mark, a Hangul vowel): alone, it is
				// itself.
				form = append(form, c...)
			case norm.NFKC.QuickSpan(d) == len(d):
				// The decomposition, already in NFKC, is the NFKC form
				// (ａ is a, ﷺ is four words): most of them.
				form = append(form, d...)
			default:
				// One whose decomposition may compose again (ẛ is ṡ).
				form = append(form, recomposed(r, c)...)
			}
			if g := len(form) - size; g > 0 {
				if growth += g; growth > maxGrowth {
					b.WriteString(unscannedMarker)
					for range len(unscannedMarker) {
						start = append(start, int32(i))
					}
					t.n, t.start, t.unscanned = b.String(), start, true
					return t
				}
			}
		}
		if len(form) > 0 {
			b.Write(form)
			last = form[len(form)-1]
		}
		for range form {
			start = append(start, int32(i))
		}
		i += size
	}
	t.n, t.start = b.String(), start
	return t
}

// recomposedForms holds the NFKC forms computed by recomposed.
var recomposedForms struct {
	sync.RWMutex
	m map[rune]string
}

// recomposed is the NFKC form of c, the character r, computed in full: for
// the few characters whose decomposition is not in NFKC (about 260:
// spacing accents such as ¨, ǅ, half-width Hangul letters), which take the
// normalization's slow path, several hundred nanoseconds each. Each is
// computed once per process and then looked up.
func recomposed(r rune, c string) string {
	recomposedForms.RLock()
	f, ok := recomposedForms.m[r]
	recomposedForms.RUnlock()
	if ok {
		return f
	}
	f = norm.NFKC.String(c)
	recomposedForms.Lock()
	defer recomposedForms.Unlock()
	if recomposedForms.m == nil {
		recomposedForms.m = map[rune]string{}
	}
	recomposedForms.m[r] = f
	return f
}

func zeroWidth(r rune) bool {
	switch r {
	case '\u200b', '\u200c', '\u200d', '\u2060', '\ufeff', '\u00ad', '\u180e':
		return true
	}
	return false
}

// digitValue of a decimal digit: Unicode puts every script's digits 0-9 in
// consecutive code points, so the value is the distance from the start of
// the run, modulo 10 (some blocks hold several sets in a row).
func digitValue(r rune) int {
	k := 0
	for unicode.Is(unicode.Nd, r-rune(k)-1) {
		k++
	}
	return k % 10
}
