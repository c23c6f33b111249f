package redact

import (
	"cmp"
	"slices"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Word classes.
const (
	wDigits  = 1 << iota // ASCII digits only
	wLetters             // ASCII letters only
	wAlnum               // ASCII letters and digits
	wOther               // has letters or marks beyond ASCII
)

// word is a run of letters and digits in the normalized text.
type word struct {
	s, e  int
	class uint8
}

// scanner holds a normalized comment cut into words, what was found so far
// and which words it took.
type scanner struct {
	n     string
	words []word
	taken []bool
	// mask marks the bytes of n that were found.
	mask []bool
	// owner is, for each taken word, 1 + the index of its finding.
	owner []int
	// flags are the context word flags of each word; ctx, of them all.
	flags []uint8
	ctx   uint8
	found []match
	// repeated: the findings before it had their repeats looked for; done:
	// the texts looked for.
	repeated int
	done     []string
	buf      [96]byte
}

var scanners = sync.Pool{New: func() any { return new(scanner) }}

// newScanner takes a scanner from the pool; release gives it back.
func newScanner(n string) *scanner {
	sc := scanners.Get().(*scanner)
	*sc = scanner{n: n, words: sc.words[:0], taken: sc.taken[:0], owner: sc.owner[:0], flags: sc.flags[:0],
		found: sc.found[:0], mask: slices.Grow(sc.mask[:0], len(n))[:len(n)], done: sc.done[:0]}
	clear(sc.mask)
	for i := 0; i < len(n); {
		c := n[i]
		if c < utf8.RuneSelf && !isAlnum(c) {
			i++
			continue
		}
		w := word{s: i}
		for i < len(n) {
			c := n[i]
			if c < utf8.RuneSelf {
				switch {
				case isDigit(c):
					w.class |= wDigits
				case isAlnum(c):
					w.class |= wLetters
				default:
					goto done
				}
				i++
				continue
			}
			r, size := utf8.DecodeRuneInString(n[i:])
			if !unicode.IsLetter(r) && !unicode.IsMark(r) && !unicode.IsDigit(r) {
				break
			}
			w.class |= wOther
			i += size
		}
	done:
		if w.s == i {
			// A non-ASCII character that is no letter: skip it.
			_, size := utf8.DecodeRuneInString(n[i:])
			i += size
			continue
		}
		w.e = i
		switch {
		case w.class&wOther != 0:
			w.class = wOther
		case w.class == wDigits|wLetters:
			w.class = wAlnum
		}
		sc.words = append(sc.words, w)
	}
	sc.taken = slices.Grow(sc.taken, len(sc.words))[:len(sc.words)]
	sc.owner = slices.Grow(sc.owner, len(sc.words))[:len(sc.words)]
	sc.flags = slices.Grow(sc.flags, len(sc.words))[:len(sc.words)]
	clear(sc.taken)
	clear(sc.owner)
	clear(sc.flags)
	var b [12]byte
	for i, w := range sc.words {
		if w.class != wLetters || w.e-w.s > len(b) || sc.marker(i) {
			continue
		}
		for k := w.s; k < w.e; k++ {
			b[k-w.s] = n[k] | 0x20
		}
		sc.flags[i] = contextWords[string(b[:w.e-w.s])]
		sc.ctx |= sc.flags[i]
	}
	return sc
}

// Context word flags.
const (
	ctxDOB       = 1 << iota // dob, born, birth, birthday, bday, and the b of D.O.B.
	ctxVoter                 // voter, epic, election, electoral
	ctxPassport              // passport
	ctxSSN                   // ssn, social
	ctxReference             // referenceWords
	ctxName                  // the words that end a phrase introducing a name
)

var contextWords = map[string]uint8{
	"dob": ctxDOB, "born": ctxDOB, "birth": ctxDOB, "birthday": ctxDOB, "bday": ctxDOB, "b": ctxDOB,
	"voter": ctxVoter, "epic": ctxVoter, "election": ctxVoter, "electoral": ctxVoter,
	"passport": ctxPassport,
	"ssn":      ctxSSN, "social": ctxSSN,
	"is": ctxName, "am": ctxName, "m": ctxName, "s": ctxName, "name": ctxName, "myself": ctxName,
	"regards": ctxName, "mr": ctxName, "mrs": ctxName, "ms": ctxName, "miss": ctxName, "dr": ctxName,
	"smt": ctxName, "shri": ctxName, "sri": ctxName, "shrimati": ctxName, "kumari": ctxName, "prof": ctxName,
}

func init() {
	for _, w := range referenceWords {
		contextWords[w] |= ctxReference
	}
}

func (sc *scanner) release() {
	if cap(sc.words) > 4096 || cap(sc.mask) > 1<<14 {
		return // a very long comment: let its slices go
	}
	sc.n = ""
	scanners.Put(sc)
}

func isAlnum(c byte) bool { return isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'z') }

// isWordByte: a byte that can be part of a word (non-ASCII bytes may be).
func isWordByte(c byte) bool { return c >= utf8.RuneSelf || isAlnum(c) }

func (sc *scanner) text(i int) string { return sc.n[sc.words[i].s:sc.words[i].e] }

func (sc *scanner) wlen(i int) int { return sc.words[i].e - sc.words[i].s }

// gap is the text between word i and word i+1.
func (sc *scanner) gap(i int) string { return sc.n[sc.words[i].e:sc.words[i+1].s] }

// before is the text between word i-1 (or the start) and word i.
func (sc *scanner) before(i int) string {
	if i == 0 {
		return sc.n[:sc.words[0].s]
	}
	return sc.n[sc.words[i-1].e:sc.words[i].s]
}

// after is the text between word i and word i+1 (or the end).
func (sc *scanner) after(i int) string {
	if i+1 == len(sc.words) {
		return sc.n[sc.words[i].e:]
	}
	return sc.gap(i)
}

// add records a finding and marks its bytes and the words it touches as
// taken.
func (sc *scanner) add(kind string, s, e int) {
	sc.found = append(sc.found, match{kind: kind, s: s, e: e})
	for p := s; p < e; p++ {
		sc.mask[p] = true
	}
	for i := sc.wordAt(s); i < len(sc.words) && sc.words[i].s < e; i++ {
		sc.taken[i] = true
		sc.owner[i] = len(sc.found)
	}
}

// wordAt is the first word that ends after byte p.
func (sc *scanner) wordAt(p int) int {
	i, _ := slices.BinarySearchFunc(sc.words, p, func(w word, p int) int { return cmp.Compare(w.e, p+1) })
	return i
}

// freeBytes reports whether [s, e) overlaps nothing found.
func (sc *scanner) freeBytes(s, e int) bool {
	for p := s; p < e; p++ {
		if sc.mask[p] {
			return false
		}
	}
	return true
}

// chain returns the last word j >= i such that words i..j are free, of a
// class in classes, at most max of them, each gap accepted by sep.
func (sc *scanner) chain(i, maxWords int, classes uint8, sep func(string) bool) int {
	j := i
	for j+1 < len(sc.words) && j+1-i < maxWords && !sc.taken[j+1] &&
		sc.words[j+1].class&classes != 0 && sep(sc.gap(j)) {
		j++
	}
	return j
}

// compact writes words i..j into sc.buf without the gaps, letters in upper
// case; nil when they do not fit.
func (sc *scanner) compact(i, j int) []byte {
	b := sc.buf[:0]
	for k := i; k <= j; k++ {
		w := sc.words[k]
		if len(b)+w.e-w.s > len(sc.buf) {
			return nil
		}
		for p := w.s; p < w.e; p++ {
			c := sc.n[p]
			if c >= 'a' && c <= 'z' {
				c -= 'a' - 'A'
			}
			b = append(b, c)
		}
	}
	return b
}

// marker reports whether word i is in brackets, as the markers such as
// [name] are: no context word then.
func (sc *scanner) marker(i int) bool {
	w := sc.words[i]
	return w.s > 0 && sc.n[w.s-1] == '[' && w.e < len(sc.n) && sc.n[w.e] == ']'
}

// is reports whether word i is, ignoring case, one of ws.
func (sc *scanner) is(i int, ws ...string) bool {
	if i < 0 || i >= len(sc.words) {
		return false
	}
	if sc.marker(i) {
		return false
	}
	t := sc.text(i)
	for _, w := range ws {
		if len(w) == len(t) && equalFold(t, w) {
			return true
		}
	}
	return false
}

// equalFold compares ASCII text with a lower-case word.
func equalFold(t, lower string) bool {
	for k := 0; k < len(t); k++ {
		c := t[k]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[k] {
			return false
		}
	}
	return true
}

// near reports whether a word with the context flag comes within the n
// words before word i.
func (sc *scanner) near(i, n int, flag uint8) bool {
	return sc.ctx&flag != 0 && sc.within(i, n, func(k int) bool { return sc.flags[k]&flag != 0 })
}

// within reports whether ok holds for a free word within the n words
// before word i. The words of one finding count as one, as its marker will.
func (sc *scanner) within(i, n int, ok func(k int) bool) bool {
	for k := i - 1; k >= 0 && n > 0; k-- {
		if !sc.taken[k] && ok(k) {
			return true
		}
		if sc.owner[k] == 0 || k == 0 || sc.owner[k-1] != sc.owner[k] {
			n--
		}
	}
	return false
}

// recognizer finds one kind starting at a word.
type recognizer struct {
	kind string
	// first is the classes the first word may have.
	first uint8
	// needs is a context flag that must be in the comment, or 0.
	needs uint8
	// match reports the words i..j of a finding, and where it starts when
	// that is before word i (a '+' or '('); ok false if there is none.
	match func(sc *scanner, i int) (start, j int, ok bool)
}

// each runs r from every free word.
func (sc *scanner) each(r recognizer) {
	if sc.ctx&r.needs != r.needs {
		return
	}
	for i := 0; i < len(sc.words); i++ {
		if sc.taken[i] || sc.words[i].class&r.first == 0 {
			continue
		}
		start, j, ok := r.match(sc, i)
		if !ok {
			continue
		}
		for k := i; k <= j; k++ {
			if sc.taken[k] {
				ok = false
			}
		}
		if ok && sc.freeBytes(start, sc.words[j].e) {
			sc.add(r.kind, start, sc.words[j].e)
			i = j
		}
	}
}
