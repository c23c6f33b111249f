package redact

import (
	"unicode"
	"unicode/utf8"
)

// Kinds found by the words around them: dates of birth and names.

// dobContext: "DOB", "D.O.B", "born", "birth" (date of birth, birth date)
// or "birthday" within the five words before word i.
func (sc *scanner) dobContext(i int) bool {
	return sc.near(i, 5, ctxDOB) && sc.within(i, 5, func(k int) bool {
		return sc.flags[k]&ctxDOB != 0 && (!sc.is(k, "b") || (sc.is(k-1, "o") && sc.is(k-2, "d")))
	})
}

var months = map[string]int{
	"jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4, "april": 4,
	"may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8, "sep": 9, "sept": 9,
	"september": 9, "oct": 10, "october": 10, "nov": 11, "november": 11, "dec": 12, "december": 12,
}

func (sc *scanner) month(i int) bool {
	if i >= len(sc.words) || sc.words[i].class != wLetters || sc.wlen(i) > 9 {
		return false
	}
	var b [9]byte
	t := sc.text(i)
	for k := 0; k < len(t); k++ {
		b[k] = t[k] | 0x20
	}
	return months[string(b[:len(t)])] > 0
}

// day: word i is 1-31, maybe with st, nd, rd or th.
func (sc *scanner) day(i int) bool {
	if i >= len(sc.words) {
		return false
	}
	t := sc.text(i)
	n, k := 0, 0
	for k < len(t) && k < 2 && isDigit(t[k]) {
		n = n*10 + int(t[k]-'0')
		k++
	}
	if k == 0 || n < 1 || n > 31 {
		return false
	}
	switch rest := t[k:]; {
	case rest == "":
		return true
	case len(rest) == 2:
		return equalFold(rest, "st") || equalFold(rest, "nd") || equalFold(rest, "rd") || equalFold(rest, "th")
	}
	return false
}

func (sc *scanner) year(i int) bool {
	if i >= len(sc.words) || sc.words[i].class != wDigits || sc.wlen(i) != 4 {
		return false
	}
	t := sc.text(i)
	return t[:2] == "19" || t[:2] == "20"
}

func sepDate(g string) bool { return g == " " || g == ", " || g == "-" || g == "," }

// matchDOB: after a birth context word, a date: 12/03/1985, 12-03-85,
// 1985-03-12, 12.03.1985, 12 March 1985, 12th of March, 1985, March 12,
// 1985, or a day and month without the year.
func matchDOB(sc *scanner, i int) (int, int, bool) {
	if !sc.dobContext(i) {
		return 0, 0, false
	}
	s := sc.words[i].s
	if sc.words[i].class == wDigits {
		if j, ok := sc.numericDate(i); ok {
			return s, j, true
		}
	}
	// Day [of] Month [year]
	if sc.day(i) && i+1 < len(sc.words) && sepDate(sc.gap(i)) {
		m := i + 1
		if sc.is(m, "of") && m+1 < len(sc.words) && sc.gap(m) == " " {
			m++
		}
		if sc.month(m) {
			if m+1 < len(sc.words) && sepDate(sc.gap(m)) && sc.year(m+1) {
				return s, m + 1, true
			}
			return s, m, true
		}
	}
	// Month day [year]
	if sc.month(i) && i+1 < len(sc.words) && sepDate(sc.gap(i)) && sc.day(i+1) {
		if i+2 < len(sc.words) && sepDate(sc.gap(i+1)) && sc.year(i+2) {
			return s, i + 2, true
		}
		return s, i + 1, true
	}
	return 0, 0, false
}

// numericDate: d/m/y, m/d/y or y-m-d with '/', '-' or '.', a two- or
// four-digit year.
func (sc *scanner) numericDate(i int) (int, bool) {
	sep := func(g string) bool { return g == "/" || g == "-" || g == "." }
	j := sc.chain(i, 3, wDigits, sep)
	if j != i+2 || !sc.sameGaps(i, j) || !sc.numberEnd(j) {
		return 0, false
	}
	v := func(k int) int {
		n := 0
		for _, c := range sc.text(k) {
			n = n*10 + int(c-'0')
		}
		return n
	}
	a, b, c := v(i), v(i+1), v(i+2)
	la, lb, lc := sc.wlen(i), sc.wlen(i+1), sc.wlen(i+2)
	dm := func(d, m int) bool { return d >= 1 && d <= 31 && m >= 1 && m <= 12 }
	switch {
	case la == 4 && lb <= 2 && lc <= 2:
		return j, a >= 1900 && a <= 2099 && dm(c, b)
	case la <= 2 && lb <= 2 && (lc == 2 || (lc == 4 && c >= 1900 && c <= 2099)):
		return j, dm(a, b) || dm(b, a)
	}
	return 0, false
}

// names finds person names after a phrase that introduces one. A name is
// one to three words of letters; the words must be capitalized, except
// after "my name is" and "name:", where the respondent says it is a name.
// Common words that follow such phrases ("I am Happy", "Ms Office") are not
// names (notName).
func (sc *scanner) names() {
	if sc.ctx&ctxName == 0 {
		return
	}
	for k := 0; k+1 < len(sc.words); k++ {
		if sc.flags[k]&ctxName == 0 {
			continue
		}
		anyCase, needAfter := false, false
		switch {
		case sc.is(k, "is") && sc.is(k-1, "name") && sc.is(k-2, "my"),
			sc.is(k, "s") && sc.is(k-1, "name") && sc.gap(k-1) == "'",
			sc.is(k, "name") && (sc.gap(k) == ": " || sc.gap(k) == ":" || sc.gap(k) == " - "):
			anyCase = true
		case sc.is(k, "is") && sc.is(k-1, "name"),
			sc.is(k, "am") && sc.is(k-1, "i"),
			sc.is(k, "m") && sc.is(k-1, "i") && sc.gap(k-1) == "'",
			sc.is(k, "myself", "regards"),
			sc.is(k, "mr", "mrs", "ms", "miss", "dr", "smt", "shri", "sri", "shrimati", "kumari", "prof") && sc.upper(k):
		case sc.is(k, "is") && sc.is(k-1, "this"):
			needAfter = true
		default:
			continue
		}
		if !nameGap(sc.gap(k)) {
			continue
		}
		i := k + 1
		j := sc.nameWords(i, anyCase)
		if j < i {
			continue
		}
		if needAfter && (j+1 == len(sc.words) || sc.gap(j) != " " || !sc.is(j+1, "from", "here", "speaking")) {
			continue
		}
		sc.add(KindName, sc.words[i].s, sc.words[j].e)
		k = j
	}
}

// nameGap: the text between the phrase and the name: spaces, maybe a ':',
// ',' or '.' (after a title).
func nameGap(g string) bool {
	if len(g) == 0 || len(g) > 3 {
		return false
	}
	for k := 0; k < len(g); k++ {
		switch g[k] {
		case ' ', ':', ',', '.', '\n', '\t', '-':
		default:
			return false
		}
	}
	return true
}

// nameWords returns the last word of a name starting at word i, or i-1.
// Words joined by ' or - (D'Souza, Mary-Jane) are one.
func (sc *scanner) nameWords(i int, anyCase bool) int {
	j := i - 1
	for w := 0; w < 3; w++ {
		k := j + 1
		if k >= len(sc.words) || (w > 0 && sc.gap(j) != " ") || !sc.nameWord(k, anyCase) {
			break
		}
		for k+1 < len(sc.words) && (sc.gap(k) == "'" || sc.gap(k) == "-") && sc.nameWord(k+1, true) {
			k++
		}
		j = k
	}
	return j
}

func (sc *scanner) nameWord(k int, anyCase bool) bool {
	w := sc.words[k]
	if sc.taken[k] || w.class&(wDigits|wAlnum) != 0 || notName[lowerWord(sc.text(k))] {
		return false
	}
	if w.e-w.s < 2 && (k+1 == len(sc.words) || sc.gap(k) != "'") {
		// One letter is no name, but the O of O'Brien is.
		return false
	}
	return anyCase || sc.capitalized(k)
}

// capitalized: an upper-case letter followed by a lower-case one (or
// alone).
func (sc *scanner) capitalized(k int) bool {
	t := sc.text(k)
	r, size := utf8.DecodeRuneInString(t)
	if size == len(t) {
		return unicode.IsUpper(r)
	}
	r2, _ := utf8.DecodeRuneInString(t[size:])
	return unicode.IsUpper(r) && unicode.IsLower(r2)
}

func (sc *scanner) upper(k int) bool {
	r, _ := utf8.DecodeRuneInString(sc.text(k))
	return unicode.IsUpper(r)
}

func lowerWord(t string) string {
	var b [16]byte
	if len(t) > len(b) {
		return ""
	}
	for k := 0; k < len(t); k++ {
		c := t[k]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[k] = c
	}
	return string(b[:len(t)])
}
