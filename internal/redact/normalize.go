package redact

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// normalized is a comment as the recognizers see it, and the way back to
// the original: byte i of n came from the original's bytes
// [start[i], end[i]). Both are nil when n is the original (plain ASCII).
type normalized struct {
	n          string
	start, end []int
}

// span maps the normalized bytes [s, e) back to the original text.
func (t *normalized) span(s, e int) (int, int) {
	if t.start == nil {
		return s, e
	}
	return t.start[s], t.end[e-1]
}

// normalize maps each character of s on its own:
//   - every Unicode decimal digit (Devanagari ४, Bengali ৪, full-width ４…)
//     to its ASCII digit;
//   - every Unicode space (no-break, thin, ideographic…) to ' ';
//   - zero-width characters (ZWSP, ZWNJ, ZWJ, word joiner, BOM, soft hyphen,
//     Mongolian vowel separator) to ' ' between two digits, and to nothing
//     elsewhere;
//   - dashes (U+2010–2015, minus) to '-', curly apostrophes to an ASCII
//     apostrophe;
//   - anything else to its NFKC form (full-width letters and '＠' to ASCII).
//
// Plain ASCII, the common case, is returned as it is, without a map.
func normalize(s string) normalized {
	i := 0
	for i < len(s) && s[i] < utf8.RuneSelf {
		i++
	}
	if i == len(s) {
		return normalized{n: s}
	}
	b := make([]byte, 0, len(s)+8)
	start := make([]int, 0, len(s)+8)
	end := make([]int, 0, len(s)+8)
	for j := 0; j < i; j++ {
		start, end = append(start, j), append(end, j+1)
	}
	b = append(b, s[:i]...)
	for i < len(s) {
		if c := s[i]; c < utf8.RuneSelf {
			b, start, end = append(b, c), append(start, i), append(end, i+1)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		n := len(b)
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[i])
		case zeroWidth(r):
			// Between two digits it separates groups, as a space would;
			// elsewhere it is dropped, so "priya\u200b@…" is one address.
			if next, _ := utf8.DecodeRuneInString(s[i+size:]); n > 0 && isDigit(b[n-1]) && unicode.Is(unicode.Nd, next) {
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
		default:
			if p := norm.NFKC.PropertiesString(s[i : i+size]); p.Decomposition() == nil {
				b = append(b, s[i:i+size]...)
			} else {
				b = norm.NFKC.AppendString(b, s[i:i+size])
			}
		}
		for ; n < len(b); n++ {
			start, end = append(start, i), append(end, i+size)
		}
		i += size
	}
	return normalized{n: string(b), start: start, end: end}
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
