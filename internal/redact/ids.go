package redact

// Identifiers made of letters and digits. All but the Bitcoin addresses are
// matched in any case.

// matchCrypto: a Bitcoin address, base58check (P2PKH "1…", P2SH "3…") or
// bech32/bech32m ("bc1…"), checksum-verified.
func matchCrypto(sc *scanner, i int) (int, int, bool) {
	t := sc.text(i)
	switch {
	case len(t) >= 26 && len(t) <= 35 && (t[0] == '1' || t[0] == '3'):
		return sc.words[i].s, i, base58check(t)
	case len(t) >= 14 && (t[0]|0x20) == 'b' && (t[1]|0x20) == 'c' && t[2] == '1':
		return sc.words[i].s, i, bech32(t)
	}
	return 0, 0, false
}

// matchIBAN: a country code, two check digits and up to 30 letters and
// digits, together or in groups of four with spaces, 15-34 characters,
// mod-97-checked.
func matchIBAN(sc *scanner, i int) (int, int, bool) {
	t := sc.text(i)
	if len(t) < 4 || !isAlpha(t[0]) || !isAlpha(t[1]) || !isDigit(t[2]) || !isDigit(t[3]) {
		return 0, 0, false
	}
	last := sc.chain(i, 9, wDigits|wLetters|wAlnum, sepSpace)
	for j := last; j >= i; j-- {
		if i != j {
			fours := true
			for k := i; k < j; k++ {
				fours = fours && sc.wlen(k) == 4
			}
			if !fours || sc.wlen(j) > 4 {
				continue
			}
		}
		if mod97(sc.compact(i, j)) {
			return sc.words[i].s, j, true
		}
	}
	return 0, 0, false
}

func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// isPAN: five letters (the fourth the holder's type: P, C, H, F, A, T, B,
// L, J or G), four digits, a letter.
func isPAN(u []byte) bool {
	if len(u) != 10 || !allUpper(u[:5]) || !allDigits(u[5:9]) || !isUpper(u[9]) {
		return false
	}
	switch u[3] {
	case 'P', 'C', 'H', 'F', 'A', 'T', 'B', 'L', 'J', 'G':
		return true
	}
	return false
}

func matchPAN(sc *scanner, i int) (int, int, bool) {
	return sc.words[i].s, i, sc.wlen(i) == 10 && isPAN(sc.compact(i, i)) && !sc.reference(i)
}

// matchGSTIN: a state code (01-38, 97, 99), the holder's PAN, an entity
// number, 'Z' and the Luhn mod 36 check character.
func matchGSTIN(sc *scanner, i int) (int, int, bool) {
	if sc.wlen(i) != 15 {
		return 0, 0, false
	}
	u := sc.compact(i, i)
	if !allDigits(u[:2]) || !isPAN(u[2:12]) || u[13] != 'Z' || base36Value(u[12]) < 1 {
		return 0, 0, false
	}
	state := int(u[0]-'0')*10 + int(u[1]-'0')
	if (state < 1 || state > 38) && state != 97 && state != 99 {
		return 0, 0, false
	}
	return sc.words[i].s, i, gstinCheck(u) == u[14]
}

// matchVoterID: an EPIC number, three letters and seven digits, after
// "voter", "EPIC", "election" or "electoral" within five words.
func matchVoterID(sc *scanner, i int) (int, int, bool) {
	if sc.wlen(i) != 10 {
		return 0, 0, false
	}
	u := sc.compact(i, i)
	ok := allUpper(u[:3]) && allDigits(u[3:]) && sc.near(i, 5, ctxVoter)
	return sc.words[i].s, i, ok
}

// matchPassport: after "passport" within five words, an Indian passport
// number (a letter and seven digits) or another country's (one or two
// letters and six to eight digits, or nine digits).
func matchPassport(sc *scanner, i int) (int, int, bool) {
	n := sc.wlen(i)
	if n < 7 || n > 10 || !sc.near(i, 5, ctxPassport) {
		return 0, 0, false
	}
	u := sc.compact(i, i)
	letters := 0
	for letters < len(u) && isUpper(u[letters]) {
		letters++
	}
	digits := len(u) - letters
	ok := allDigits(u[letters:]) && ((letters >= 1 && letters <= 2 && digits >= 6 && digits <= 8) || (letters == 0 && digits == 9))
	return sc.words[i].s, i, ok
}

// The codes of India's states and union territories on number plates.
var plateStates = map[string]bool{}

func init() {
	for _, s := range []string{
		"AN", "AP", "AR", "AS", "BR", "CG", "CH", "DD", "DL", "DN", "GA", "GJ", "HP", "HR", "JH", "JK",
		"KA", "KL", "LA", "LD", "MH", "ML", "MN", "MP", "MZ", "NL", "OD", "OR", "PB", "PY", "RJ", "SK",
		"TG", "TN", "TR", "TS", "UK", "UP", "WB",
	} {
		plateStates[s] = true
	}
}

// matchVehicle: an Indian registration, state code, district (1-2 digits),
// series (1-3 letters) and four digits ("MH 12 AB 1234", "DL3CAB1234"), or
// a Bharat series one ("22 BH 1234 AA"), together or with spaces or '-'.
func matchVehicle(sc *scanner, i int) (int, int, bool) {
	t := sc.text(i)
	if len(t) < 2 || len(t) > 10 {
		return 0, 0, false
	}
	if st := [2]byte{t[0] &^ 0x20, t[1] &^ 0x20}; !plateStates[string(st[:])] && (!isDigit(t[0]) || !isDigit(t[1])) {
		return 0, 0, false
	}
	last := sc.chain(i, 4, wDigits|wLetters|wAlnum, sepSpaceDash)
	for j := last; j >= i; j-- {
		if u := sc.compact(i, j); plate(u) && sc.numberEnd(j) {
			return sc.words[i].s, j, true
		}
	}
	return 0, 0, false
}

func plate(u []byte) bool {
	run := func(p int, digits bool) int {
		q := p
		for q < len(u) && isDigit(u[q]) == digits && (digits || isUpper(u[q])) {
			q++
		}
		return q - p
	}
	if len(u) < 8 || len(u) > 10 {
		return false
	}
	if isDigit(u[0]) {
		// Bharat series: year, BH, four digits, one or two letters.
		return len(u) >= 9 && run(0, true) == 2 && string(u[2:4]) == "BH" && run(4, true) == 4 && run(8, false) == len(u)-8
	}
	if !plateStates[string(u[:2])] {
		return false
	}
	d := run(2, true)
	s := run(2+d, false)
	return d >= 1 && d <= 2 && s >= 1 && s <= 3 && run(2+d+s, true) == 4 && 2+d+s+4 == len(u)
}

// matchNINO: a UK National Insurance number, together or spaced ("AB 12 34
// 56 C"), prefix and suffix letters checked.
func matchNINO(sc *scanner, i int) (int, int, bool) {
	switch n := sc.wlen(i); {
	case n == 2:
		if i+1 == len(sc.words) || sc.words[i+1].class != wDigits {
			return 0, 0, false
		}
	case n != 8 && n != 9:
		return 0, 0, false
	}
	last := sc.chain(i, 5, wDigits|wLetters|wAlnum, sepSpace)
	for j := last; j >= i; j-- {
		if validNINO(sc.compact(i, j)) {
			return sc.words[i].s, j, true
		}
	}
	return 0, 0, false
}
