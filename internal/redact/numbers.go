package redact

import (
	"net/netip"
	"strings"
)

// shapeRecognizers run in this order, after emails, UPI IDs and IPv6
// addresses and before names (see Kinds).
var shapeRecognizers = []recognizer{
	{KindIP, wDigits, 0, matchIPv4},
	{KindCrypto, wAlnum, 0, matchCrypto},
	{KindIBAN, wAlnum, 0, matchIBAN},
	{KindGSTIN, wAlnum, 0, matchGSTIN},
	{KindPAN, wAlnum, 0, matchPAN},
	{KindCard, wDigits, 0, matchCard},
	{KindAadhaar, wDigits, 0, matchAadhaar},
	{KindMAC, wDigits | wLetters | wAlnum, 0, matchMAC},
	{KindVehicle, wDigits | wLetters | wAlnum, 0, matchVehicle},
	{KindNINO, wLetters | wAlnum, 0, matchNINO},
	{KindSSN, wDigits, 0, matchSSN},
	{KindPhone, wDigits, 0, matchPhone},
}

// contextRecognizers run after names; the date of birth, the one that
// spans several words, first.
var contextRecognizers = []recognizer{
	{KindDOB, wDigits | wLetters | wAlnum, ctxDOB, matchDOB},
	{KindVoterID, wAlnum, ctxVoter, matchVoterID},
	{KindPassport, wDigits | wAlnum, ctxPassport, matchPassport},
	{KindSSN, wDigits, ctxSSN, matchSSNAfterContext},
}

// Separators inside a number.
func sepNumber(g string) bool { return g == " " || g == "-" || g == "." }
func sepSpace(g string) bool  { return g == " " }
func sepSpaceDash(g string) bool {
	return g == " " || g == "-"
}

// sepPhone: one of " -.", or a bracket with or without a space, as in
// "+1 (415) 555-2671" and "(022) 2345 6789".
func sepPhone(g string) bool {
	switch g {
	case " ", "-", ".", "(", ")", " (", ") ", ")-", " - ":
		return true
	}
	return false
}

// referenceWords introduce numbers and codes that are not personal data.
var referenceWords = []string{
	"order", "awb", "pnr", "tracking", "invoice", "ref", "reference", "ticket", "utr", "txn",
	"transaction", "booking", "consignment", "shipment", "coupon", "code", "promo", "voucher", "sku",
	"model", "product", "version", "build", "release",
}

// reference reports whether word i, a number or code written without
// separators, comes right after a reference word (one other word, such as
// "ID" or "no", may stand between).
func (sc *scanner) reference(i int) bool { return sc.near(i, 2, ctxReference) }

// numberStart: word i is not the continuation of a number before it (a
// finding before it is no number: it will be a marker).
func (sc *scanner) numberStart(i int) bool {
	return i == 0 || sc.words[i-1].class != wDigits || sc.taken[i-1] || !sepNumber(sc.gap(i-1))
}

// numberEnd: word j is not followed by more of the same number.
func (sc *scanner) numberEnd(j int) bool {
	return j+1 == len(sc.words) || sc.words[j+1].class != wDigits || sc.taken[j+1] || !sepNumber(sc.gap(j))
}

// sameGaps: every gap between words i..j is the same.
func (sc *scanner) sameGaps(i, j int) bool {
	for k := i + 1; k < j; k++ {
		if sc.gap(k) != sc.gap(i) {
			return false
		}
	}
	return true
}

func (sc *scanner) lens(i, j int, want ...int) bool {
	if j-i+1 != len(want) {
		return false
	}
	for k, n := range want {
		if sc.wlen(i+k) != n {
			return false
		}
	}
	return true
}

// matchIPv4: four numbers 0-255 joined by dots, not part of a longer dotted
// number (a version such as 1.2.3.4.5), not right after a reference word
// ("version 1.2.3.4").
func matchIPv4(sc *scanner, i int) (int, int, bool) {
	dot := func(g string) bool { return g == "." }
	if i > 0 && sc.words[i-1].class == wDigits && dot(sc.gap(i-1)) {
		return 0, 0, false
	}
	j := sc.chain(i, 5, wDigits, dot)
	if j != i+3 || sc.reference(i) {
		return 0, 0, false
	}
	a, err := netip.ParseAddr(sc.n[sc.words[i].s:sc.words[j].e])
	return sc.words[i].s, j, err == nil && a.Is4()
}

// matchMAC: six pairs of hex digits joined by ':' or '-' (all the same), or
// three groups of four joined by '.'.
func matchMAC(sc *scanner, i int) (int, int, bool) {
	sep := func(g string) bool { return g == ":" || g == "-" || g == "." }
	if n := sc.wlen(i); (n != 2 && n != 4) || !sep(sc.after(i)) {
		return 0, 0, false
	}
	j := sc.chain(i, 7, wDigits|wLetters|wAlnum, sep)
	if !sc.sameGaps(i, j) {
		return 0, 0, false
	}
	var ok bool
	switch g := sc.after(i); {
	case j == i+5 && g != ".":
		ok = sc.lens(i, j, 2, 2, 2, 2, 2, 2)
	case j == i+2 && g == ".":
		ok = sc.lens(i, j, 4, 4, 4)
	}
	if !ok {
		return 0, 0, false
	}
	for p := sc.words[i].s; p < sc.words[j].e; p++ {
		if c := sc.n[p] | 0x20; !isDigit(sc.n[p]) && (c < 'a' || c > 'f') && !sep(sc.n[p:p+1]) {
			return 0, 0, false
		}
	}
	return sc.words[i].s, j, true
}

// matchCard: 13 to 19 digits, written together, in fours, or as 4-6-5 or
// 4-6-4 (Amex, Diners), starting with a card network's first digit (2-6,
// 8), the whole number and nothing more, Luhn-checked.
func matchCard(sc *scanner, i int) (int, int, bool) {
	if !sc.numberStart(i) {
		return 0, 0, false
	}
	j := sc.chain(i, 6, wDigits, sepSpaceDash)
	if !sc.numberEnd(j) || !sc.sameGaps(i, j) {
		return 0, 0, false
	}
	d := sc.compact(i, j)
	if len(d) < 13 || len(d) > 19 || !strings.ContainsRune("234568", rune(d[0])) || (i == j && sc.reference(i)) {
		return 0, 0, false
	}
	shaped := i == j || sc.lens(i, j, 4, 6, 5) || sc.lens(i, j, 4, 6, 4)
	if !shaped {
		shaped = true
		for k := i; k < j; k++ {
			shaped = shaped && sc.wlen(k) == 4
		}
	}
	return sc.words[i].s, j, shaped && luhn(d)
}

// matchAadhaar: twelve digits, together or as 4-4-4 (space, '-' or '.'),
// not starting 0 or 1, Verhoeff-checked.
func matchAadhaar(sc *scanner, i int) (int, int, bool) {
	if !sc.numberStart(i) {
		return 0, 0, false
	}
	j := sc.chain(i, 4, wDigits, sepNumber)
	shaped := i == j || sc.lens(i, j, 4, 4, 4)
	if !sc.numberEnd(j) || !sc.sameGaps(i, j) || !shaped || (i == j && sc.reference(i)) {
		return 0, 0, false
	}
	d := sc.compact(i, j)
	return sc.words[i].s, j, len(d) == 12 && d[0] >= '2' && verhoeff(d)
}

// matchSSN: a US social security number as 3-2-4 digits joined by '-' or
// spaces.
func matchSSN(sc *scanner, i int) (int, int, bool) {
	if !sc.numberStart(i) {
		return 0, 0, false
	}
	j := sc.chain(i, 4, wDigits, sepSpaceDash)
	ok := sc.numberEnd(j) && sc.lens(i, j, 3, 2, 4) && sc.sameGaps(i, j)
	return sc.words[i].s, j, ok && validSSN(sc.compact(i, j))
}

// matchSSNAfterContext: nine digits together after "SSN" or "social"
// (security) within five words.
func matchSSNAfterContext(sc *scanner, i int) (int, int, bool) {
	ok := sc.wlen(i) == 9 && sc.numberStart(i) && sc.numberEnd(i) && sc.near(i, 5, ctxSSN)
	return sc.words[i].s, i, ok && validSSN(sc.compact(i, i))
}

// matchPhone tries the longest run of digit groups from word i first.
func matchPhone(sc *scanner, i int) (int, int, bool) {
	last := sc.chain(i, 6, wDigits, sepPhone)
	for j := last; j >= i; j-- {
		if s, ok := sc.phone(i, j); ok {
			return s, j, true
		}
	}
	return 0, 0, false
}

// phone reports whether words i..j are a phone number (see
// docs/collector.md for the shapes), and where it starts.
func (sc *scanner) phone(i, j int) (int, bool) {
	start := sc.words[i].s
	pre := sc.before(i)
	plus := strings.HasSuffix(pre, "+")
	if plus {
		start--
	}
	paren := strings.HasSuffix(pre, "(") && strings.HasPrefix(sc.after(i), ")")
	if paren {
		start--
	}
	if plus && paren {
		return 0, false
	}
	d := sc.compact(i, j)
	n := len(d)
	if d == nil || n < 8 || n > 15 || j-i > 5 {
		return 0, false
	}
	switch {
	case plus:
		// +country code, 8-15 digits in all.
		return start, d[0] != '0'
	case n >= 10 && d[0] == '0' && d[1] == '0' && d[2] != '0':
		// 00 and a country code, 8-13 digits after it.
		return start, true
	}
	if j-i <= 3 {
		m := d
		switch {
		case n == 13 && string(m[:3]) == "091":
			m = m[3:]
		case n == 12 && m[0] == '9' && m[1] == '1':
			m = m[2:]
		case n == 11 && m[0] == '0':
			m = m[1:]
		}
		// An Indian mobile: ten digits starting 6-9, maybe after 91, 091 or
		// 0; ten bare digits after a reference word are that reference.
		bare := n == 10 && i == j
		if len(m) == 10 && m[0] >= '6' && (!bare || !sc.reference(i)) {
			return start, true
		}
	}
	// An Indian landline: 0, the STD code and the subscriber number, eleven
	// digits, the code (with its 0) written apart as 3-5 digits or not at all.
	if n == 11 && d[0] == '0' && d[1] != '0' && (i == j || (j-i <= 2 && sc.wlen(i) >= 3 && sc.wlen(i) <= 5)) {
		return start, true
	}
	// A North American number: [1-]NXX-NXX-XXXX or (NXX) NXX-XXXX.
	k := i
	if sc.wlen(i) == 1 && d[0] == '1' && j == i+3 {
		k = i + 1
	}
	if j == k+2 && sc.lens(k, j, 3, 3, 4) {
		a, x := sc.n[sc.words[k].s], sc.n[sc.words[k+1].s]
		g1, g2 := sc.gap(k), sc.gap(k+1)
		bracket := strings.HasSuffix(sc.before(k), "(") && (g1 == ") " || g1 == ")") && sepNumber(g2)
		if a >= '2' && x >= '2' && ((g1 == g2 && (g1 == "-" || g1 == ".")) || bracket) {
			return start, true
		}
	}
	return 0, false
}
