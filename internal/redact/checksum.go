package redact

import (
	"crypto/sha256"
	"strings"
)

// The checksums and validity rules of the identifiers. Each takes the
// identifier compacted: separators removed, letters in upper case (bech32:
// as written).

func luhn(d []byte) bool {
	sum := 0
	for i := range d {
		v := int(d[len(d)-1-i] - '0')
		if i%2 == 1 {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	return sum%10 == 0
}

// The Verhoeff tables (dihedral group D5).
var (
	verhoeffD = [10][10]byte{
		{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 2, 3, 4, 0, 6, 7, 8, 9, 5},
		{2, 3, 4, 0, 1, 7, 8, 9, 5, 6}, {3, 4, 0, 1, 2, 8, 9, 5, 6, 7},
		{4, 0, 1, 2, 3, 9, 5, 6, 7, 8}, {5, 9, 8, 7, 6, 0, 4, 3, 2, 1},
		{6, 5, 9, 8, 7, 1, 0, 4, 3, 2}, {7, 6, 5, 9, 8, 2, 1, 0, 4, 3},
		{8, 7, 6, 5, 9, 3, 2, 1, 0, 4}, {9, 8, 7, 6, 5, 4, 3, 2, 1, 0},
	}
	verhoeffP = [8][10]byte{
		{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 5, 7, 6, 2, 8, 3, 0, 9, 4},
		{5, 8, 0, 3, 7, 9, 6, 1, 4, 2}, {8, 9, 1, 6, 0, 4, 3, 5, 2, 7},
		{9, 4, 5, 3, 1, 2, 6, 8, 7, 0}, {4, 2, 8, 6, 5, 7, 3, 9, 0, 1},
		{2, 7, 9, 3, 8, 0, 6, 4, 1, 5}, {7, 0, 4, 6, 9, 1, 3, 2, 5, 8},
	}
)

// verhoeff reports whether the digits end in a valid Verhoeff check digit.
func verhoeff(d []byte) bool {
	c := byte(0)
	for i := range d {
		c = verhoeffD[c][verhoeffP[i%8][d[len(d)-1-i]-'0']]
	}
	return c == 0
}

// mod97 is the ISO 13616 IBAN check: country and check digits moved to the
// end, letters as 10-35, the number modulo 97 is 1.
func mod97(s []byte) bool {
	if len(s) < 15 || len(s) > 34 {
		return false
	}
	r := 0
	add := func(c byte) bool {
		switch {
		case c >= '0' && c <= '9':
			r = (r*10 + int(c-'0')) % 97
		case c >= 'A' && c <= 'Z':
			r = (r*100 + int(c-'A'+10)) % 97
		default:
			return false
		}
		return true
	}
	for _, c := range s[4:] {
		if !add(c) {
			return false
		}
	}
	for _, c := range s[:4] {
		if !add(c) {
			return false
		}
	}
	return r == 1
}

const base36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

func base36Value(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10
	}
	return -1
}

// gstinCheck is the GSTIN's 15th character: Luhn mod 36 over the first 14.
func gstinCheck(s []byte) byte {
	sum := 0
	for i := 0; i < 14; i++ {
		v := base36Value(s[i]) * (1 + i%2)
		sum += v/36 + v%36
	}
	return base36[(36-sum%36)%36]
}

const base58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

var base58Index = func() (t [128]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(base58); i++ {
		t[base58[i]] = int8(i)
	}
	return t
}()

// base58check reports whether s is a Bitcoin P2PKH or P2SH address: 25
// bytes, version 0 or 5, and the first four bytes of the double SHA-256 of
// the first 21 at the end.
func base58check(s string) bool {
	var out [25]byte
	for i := 0; i < len(s); i++ {
		if s[i] >= 128 || base58Index[s[i]] < 0 {
			return false
		}
		carry := int(base58Index[s[i]])
		for j := len(out) - 1; j >= 0; j-- {
			carry += 58 * int(out[j])
			out[j] = byte(carry & 0xff)
			carry >>= 8
		}
		if carry != 0 {
			return false
		}
	}
	// Leading '1's are leading zero bytes.
	zeros := 0
	for zeros < len(s) && s[zeros] == '1' {
		zeros++
	}
	lead := 0
	for lead < len(out) && out[lead] == 0 {
		lead++
	}
	if lead != zeros || (out[0] != 0 && out[0] != 5) {
		return false
	}
	h := sha256.Sum256(out[:21])
	h = sha256.Sum256(h[:])
	return h[0] == out[21] && h[1] == out[22] && h[2] == out[23] && h[3] == out[24]
}

const bech32Chars = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

// bech32 reports whether s is a segwit address on "bc": BIP 173 (bech32,
// witness version 0) or BIP 350 (bech32m, versions 1-16) checksum, in one
// case.
func bech32(s string) bool {
	if len(s) < 14 || len(s) > 90 {
		return false
	}
	lower, upper := false, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z':
			lower = true
		case c >= 'A' && c <= 'Z':
			upper = true
		}
	}
	if lower && upper {
		return false
	}
	chk := uint32(1)
	poly := func(v uint32) {
		b := chk >> 25
		chk = (chk&0x1ffffff)<<5 ^ v
		for i, g := range [5]uint32{0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3} {
			if (b>>i)&1 == 1 {
				chk ^= g
			}
		}
	}
	// The human-readable part "bc", expanded.
	poly('b' >> 5)
	poly('c' >> 5)
	poly(0)
	poly('b' & 31)
	poly('c' & 31)
	var version int
	for i := 3; i < len(s); i++ {
		c := s[i] | 0x20
		v := -1
		for k := 0; k < len(bech32Chars); k++ {
			if bech32Chars[k] == c {
				v = k
				break
			}
		}
		if v < 0 {
			return false
		}
		if i == 3 {
			version = v
		}
		poly(uint32(v))
	}
	switch {
	case version == 0:
		return chk == 1
	case version <= 16:
		return chk == 0x2bc830a3
	}
	return false
}

// validSSN: a US social security number's area is not 000, 666 or 900-999,
// its group not 00, its serial not 0000.
func validSSN(d []byte) bool {
	if len(d) != 9 {
		return false
	}
	area := string(d[:3])
	return area != "000" && area != "666" && d[0] != '9' && string(d[3:5]) != "00" && string(d[5:]) != "0000"
}

// validNINO: a UK National Insurance number, two prefix letters (the first
// not D, F, I, Q, U or V; the second not D, F, I, O, Q, U or V; not BG, GB,
// KN, NK, NT, TN or ZZ), six digits, a suffix A-D.
func validNINO(s []byte) bool {
	if len(s) != 9 || !isUpper(s[0]) || !isUpper(s[1]) || !allDigits(s[2:8]) || s[8] < 'A' || s[8] > 'D' {
		return false
	}
	if strings.IndexByte("DFIQUV", s[0]) >= 0 || strings.IndexByte("DFIOQUV", s[1]) >= 0 {
		return false
	}
	switch string(s[:2]) {
	case "BG", "GB", "KN", "NK", "NT", "TN", "ZZ":
		return false
	}
	return true
}

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func allDigits(s []byte) bool {
	for _, c := range s {
		if !isDigit(c) {
			return false
		}
	}
	return true
}

func allUpper(s []byte) bool {
	for _, c := range s {
		if !isUpper(c) {
			return false
		}
	}
	return true
}
