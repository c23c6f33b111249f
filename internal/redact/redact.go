// Package redact scrubs personal data from free-text comments before they
// are stored. Each finding is replaced by a marker such as "[email]" and
// counted by kind; the counts may be published, the text never.
//
// A comment is first normalized (NFKC, every script's digits to ASCII,
// Unicode spaces to ' ', zero-width characters to ' ' between digits and
// to nothing elsewhere), then cut into words; the recognizers match on the normalized words and the matches are
// replaced in the original text. Normalization is linear and bounded: what
// would grow the comment by more than 16 KiB is not read but redacted
// (KindUnscanned). Identifiers with a checksum are checked;
// the ones without are taken only in their exact shape or after a context
// word. docs/collector.md lists every kind with its rules.
package redact

import (
	"net/netip"
	"slices"
	"strings"
)

// The kinds of personal data recognized.
const (
	KindEmail    = "email"
	KindPhone    = "phone"
	KindCard     = "card"
	KindAadhaar  = "aadhaar"
	KindPAN      = "pan"
	KindUPI      = "upi"
	KindIBAN     = "iban"
	KindIP       = "ip"
	KindGSTIN    = "gstin"
	KindVoterID  = "voterid"
	KindPassport = "passport"
	KindVehicle  = "vehicle"
	KindSSN      = "ssn"
	KindNINO     = "nino"
	KindMAC      = "mac"
	KindDOB      = "dob"
	KindName     = "name"
	KindCrypto   = "crypto"
)

// KindUnscanned is not personal data but the part of a comment that was
// not looked at, and so is not kept: when the characters whose normalized
// form is longer than they are (ﷺ, 3 bytes, is 33) would add more than
// 16 KiB to it, the comment is read up to the first one that does not fit,
// and from there to its end replaced by "[unscanned]". It is not in Kinds.
// Everyday text does not come near the bound: of 4,000 characters (the
// collector's limit), more than 540 would have to be ﷺ, or more than 1,000
// squared words such as ㌖ (キロメートル).
const KindUnscanned = "unscanned"

// Kinds lists every kind, in the order the recognizers run: an earlier kind
// takes its text before a later one can (an email before the UPI ID inside
// it, a GSTIN before its PAN, an IBAN before its digits pass for a card, an
// IP address or a checksummed number before its digits pass for a phone
// number). The kinds found by a context word come last.
var Kinds = []string{
	KindEmail, KindUPI, KindIP, KindCrypto, KindIBAN, KindGSTIN, KindPAN, KindCard, KindAadhaar,
	KindMAC, KindVehicle, KindNINO, KindSSN, KindPhone, KindName, KindDOB, KindVoterID, KindPassport,
}

// Result is a scrubbed text and what was taken out of it.
type Result struct {
	Text   string
	Counts map[string]int
}

// Comment scrubs text. Text with nothing to redact comes back unchanged and
// with a nil Counts.
//
// A marker can leave the text beside it standing alone (digits that
// continued a number now end at "[email]"), so the scrubbed text is
// scrubbed again while that finds more, up to maxPasses times in all.
func Comment(text string) Result {
	r := scrub(text)
	for pass := 1; pass < maxPasses && r.Counts != nil; pass++ {
		again := scrub(r.Text)
		if again.Counts == nil {
			break
		}
		r.Text = again.Text
		for k, n := range again.Counts {
			r.Counts[k] += n
		}
	}
	return r
}

const maxPasses = 4

// scrub is one pass: the findings in text replaced by their markers.
func scrub(text string) Result {
	t, found := find(text)
	r := Result{Text: text}
	if len(found) == 0 {
		return r
	}
	r.Counts = make(map[string]int, 2)
	var b strings.Builder
	b.Grow(len(text))
	last := 0
	for _, m := range found {
		s, e := t.span(m.s, m.e)
		b.WriteString(text[last:s])
		b.WriteString("[" + m.kind + "]")
		last = e
		r.Counts[m.kind]++
	}
	b.WriteString(text[last:])
	r.Text = b.String()
	return r
}

// match is a finding: bytes [s, e) of the normalized text.
type match struct {
	kind string
	s, e int
}

// find returns the normalized text and the findings in it, in text order,
// none overlapping.
func find(text string) (normalized, []match) {
	t := normalize(text)
	if len(t.n) < 4 {
		return t, nil
	}
	sc := newScanner(t.n)
	defer sc.release()
	if t.unscanned {
		// Taken first, so that nothing else overlaps it, and not looked
		// for again elsewhere.
		sc.add(KindUnscanned, len(t.n)-len(unscannedMarker), len(t.n))
		sc.repeated = len(sc.found)
	}
	if strings.IndexByte(sc.n, '@') >= 0 {
		sc.addresses()
	}
	if strings.Count(sc.n, ":") >= 2 {
		sc.ipv6()
	}
	// Shapes first, then names, then what needs a context word within a
	// few words before it: a finding counts there as one word, as its
	// marker will, so redacting the output again finds nothing new.
	for _, r := range shapeRecognizers {
		sc.each(r)
	}
	sc.names()
	sc.repeats()
	for _, r := range contextRecognizers {
		sc.each(r)
		sc.repeats()
	}
	if len(sc.found) == 0 {
		return t, nil
	}
	found := slices.Clone(sc.found)
	slices.SortFunc(found, func(a, b match) int { return a.s - b.s })
	return t, found
}

// addresses finds, around each '@', an email address (local part of
// letters, digits and ._%+-, a domain of dot-separated labels ending in a
// top-level domain of two or more letters) or, when the part after the '@'
// has no dot, a UPI ID (two or more of letters, digits and ._-, '@', a
// handle of 2-64 letters and digits starting with a letter). Either stands
// alone as a word.
func (sc *scanner) addresses() {
	n := sc.n
	for at := strings.IndexByte(n, '@'); at >= 0; {
		local := func(upi bool) int {
			s := at
			for s > 0 && (isAlnum(n[s-1]) || n[s-1] == '.' || n[s-1] == '_' || n[s-1] == '-' ||
				(!upi && (n[s-1] == '%' || n[s-1] == '+'))) {
				s--
			}
			return s
		}
		e := at + 1
		for e < len(n) && (isAlnum(n[e]) || n[e] == '.' || n[e] == '-') {
			e++
		}
		// A full stop or dash after the address is not part of it.
		for e > at+1 && (n[e-1] == '.' || n[e-1] == '-') {
			e--
		}
		domain := n[at+1 : e]
		kind, s := "", 0
		if dot := strings.LastIndexByte(domain, '.'); dot >= 0 {
			if tld := domain[dot+1:]; len(tld) >= 2 && allLetters(tld) && validLabels(domain) {
				kind, s = KindEmail, local(false)
			}
		} else if len(domain) >= 2 && len(domain) <= 64 && isAlpha(domain[0]) && !strings.Contains(domain, "-") {
			kind, s = KindUPI, local(true)
			if at-s < 2 {
				kind = ""
			}
		}
		if kind != "" && s < at && (s == 0 || !isWordByte(n[s-1])) && (e == len(n) || !isWordByte(n[e])) && sc.freeBytes(s, e) {
			sc.add(kind, s, e)
		}
		next := strings.IndexByte(n[at+1:], '@')
		if next < 0 {
			break
		}
		at += 1 + next
	}
}

func allLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isAlpha(s[i]) {
			return false
		}
	}
	return true
}

// validLabels: no empty label between dots.
func validLabels(domain string) bool {
	return domain[0] != '.' && !strings.Contains(domain, "..")
}

// ipv6 takes runs of hex digits, colons and dots with at least two colons,
// standing alone as a word, that parse as an IPv6 address.
func (sc *scanner) ipv6() {
	n := sc.n
	for i := 0; i < len(n); {
		if !isIPv6Char(n[i]) {
			i++
			continue
		}
		j := i
		colons := 0
		for j < len(n) && isIPv6Char(n[j]) {
			if n[j] == ':' {
				colons++
			}
			j++
		}
		s, e := i, j
		for e > s && (n[e-1] == '.' || n[e-1] == ':') && !strings.HasSuffix(n[s:e], "::") {
			e--
		}
		if colons >= 2 && (s == 0 || !isWordByte(n[s-1])) && (j == len(n) || !isWordByte(n[j])) {
			if a, err := netip.ParseAddr(n[s:e]); err == nil && a.Is6() && hexDigits(n[s:e]) >= 2 && sc.freeBytes(s, e) {
				sc.add(KindIP, s, e)
			}
		}
		i = j
	}
}

func isIPv6Char(c byte) bool {
	return c == ':' || c == '.' || isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'f')
}

func hexDigits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] != ':' && s[i] != '.' {
			n++
		}
	}
	return n
}

// repeats: once an identifier is found, the same text elsewhere in the
// comment, standing alone as a word, is the same identifier (a voter ID
// repeated without its context word; a name, or each of its words, said
// again).
func (sc *scanner) repeats() {
	for k := sc.repeated; k < len(sc.found); k++ {
		m := sc.found[k]
		sc.repeat(m.kind, sc.n[m.s:m.e])
		if m.kind != KindName {
			continue
		}
		for i := sc.wordAt(m.s); i < len(sc.words) && sc.words[i].e <= m.e; i++ {
			if w := sc.words[i]; w.e-w.s >= 3 && sc.capitalized(i) {
				sc.repeat(m.kind, sc.n[w.s:w.e])
			}
		}
	}
	sc.repeated = len(sc.found)
}

func (sc *scanner) repeat(kind, v string) {
	if slices.Contains(sc.done, v) {
		return
	}
	sc.done = append(sc.done, v)
	for from := 0; from < len(sc.n); {
		i := strings.Index(sc.n[from:], v)
		if i < 0 {
			break
		}
		s, e := from+i, from+i+len(v)
		from = s + 1
		if (s > 0 && isWordByte(sc.n[s-1])) || (e < len(sc.n) && isWordByte(sc.n[e])) {
			continue
		}
		if sc.freeBytes(s, e) {
			sc.add(kind, s, e)
		}
	}
}
