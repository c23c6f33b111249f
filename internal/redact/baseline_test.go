package redact

// The scrubber as it was before normalization and the added kinds (eight
// regular expressions on the raw text), kept only as the baseline of
// BenchmarkComment.

import (
	"math/big"
	"net/netip"
	"regexp"
	"strings"
)

type oldRecognizer struct {
	kind  string
	re    *regexp.Regexp
	valid func(match string) bool
	// may is a cheap test on the text's character oldCounts: false means the
	// regexp cannot match, and is not run.
	may func(c oldCounts) bool
}

// oldCounts are the character classes a oldRecognizer needs at the least.
type oldCounts struct{ digits, upper, at, dotColon int }

func oldCount(text string) oldCounts {
	var c oldCounts
	for i := 0; i < len(text); i++ {
		switch b := text[i]; {
		case b >= '0' && b <= '9':
			c.digits++
		case b >= 'A' && b <= 'Z':
			c.upper++
		case b == '@':
			c.at++
		case b == '.' || b == ':':
			c.dotColon++
		}
	}
	return c
}

// Order matters: an email is taken before the UPI ID inside it could be, an
// IBAN before its digits could pass for a card, an IP before its digits
// could pass for a phone number, Aadhaar and cards before phone numbers.
var oldRecognizers = []oldRecognizer{
	{KindEmail, regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}`), nil,
		func(c oldCounts) bool { return c.at > 0 }},
	// name@bank, with no dot after the @: a UPI virtual payment address.
	{KindUPI, regexp.MustCompile(`\b[A-Za-z0-9._\-]{2,256}@[A-Za-z][A-Za-z0-9]{1,63}\b`), nil,
		func(c oldCounts) bool { return c.at > 0 }},
	{KindIBAN, regexp.MustCompile(`\b[A-Z]{2}[0-9]{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b`), oldValidIBAN,
		func(c oldCounts) bool { return c.upper >= 2 && c.digits >= 2 }},
	{KindIP, regexp.MustCompile(`\b(?:[0-9]{1,3}\.){3}[0-9]{1,3}\b|(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}`), oldValidIP,
		func(c oldCounts) bool { return c.dotColon >= 2 }},
	{KindAadhaar, regexp.MustCompile(`\b[2-9][0-9]{3}[ \-]?[0-9]{4}[ \-]?[0-9]{4}\b`), oldValidAadhaar,
		func(c oldCounts) bool { return c.digits >= 12 }},
	{KindCard, regexp.MustCompile(`\b[0-9](?:[ \-]?[0-9]){12,18}\b`), oldValidCard,
		func(c oldCounts) bool { return c.digits >= 13 }},
	{KindPAN, regexp.MustCompile(`\b[A-Z]{3}[PCHFATBLJG][A-Z][0-9]{4}[A-Z]\b`), nil,
		func(c oldCounts) bool { return c.upper >= 6 && c.digits >= 4 }},
	// +country code and 7-14 digits, or an Indian mobile number: optional
	// +91/91/0 prefix, then ten digits starting 6-9.
	{KindPhone, regexp.MustCompile(`(?:\+[1-9][0-9]{0,2}[ \-.]?(?:\(?[0-9]{1,4}\)?[ \-.]?){1,4}[0-9]{2,4}\b)|(?:\b(?:(?:91|0)[ \-]?)?[6-9][0-9]{4}[ \-]?[0-9]{5}\b)`), oldValidPhone,
		func(c oldCounts) bool { return c.digits >= 8 }},
}

// Comment scrubs text. Text with nothing to redact comes back unchanged and
// with a nil Counts.
func oldComment(text string) Result {
	r := Result{Text: text}
	c := oldCount(text)
	for _, rec := range oldRecognizers {
		if !rec.may(c) || !rec.re.MatchString(r.Text) {
			continue
		}
		r.Text = rec.re.ReplaceAllStringFunc(r.Text, func(m string) string {
			if rec.valid != nil && !rec.valid(m) {
				return m
			}
			if r.Counts == nil {
				r.Counts = map[string]int{}
			}
			r.Counts[rec.kind]++
			return "[" + rec.kind + "]"
		})
	}
	return r
}

func oldDigits(s string) []int {
	d := make([]int, 0, len(s))
	for _, c := range s {
		if c >= '0' && c <= '9' {
			d = append(d, int(c-'0'))
		}
	}
	return d
}

// oldValidCard is the Luhn check on 13 to 19 digits.
func oldValidCard(m string) bool {
	d := oldDigits(m)
	if len(d) < 13 || len(d) > 19 {
		return false
	}
	return oldLuhn(d)
}

func oldLuhn(d []int) bool {
	sum := 0
	for i := range d {
		v := d[len(d)-1-i]
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
	oldVerhoeffD = [10][10]int{
		{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 2, 3, 4, 0, 6, 7, 8, 9, 5},
		{2, 3, 4, 0, 1, 7, 8, 9, 5, 6}, {3, 4, 0, 1, 2, 8, 9, 5, 6, 7},
		{4, 0, 1, 2, 3, 9, 5, 6, 7, 8}, {5, 9, 8, 7, 6, 0, 4, 3, 2, 1},
		{6, 5, 9, 8, 7, 1, 0, 4, 3, 2}, {7, 6, 5, 9, 8, 2, 1, 0, 4, 3},
		{8, 7, 6, 5, 9, 3, 2, 1, 0, 4}, {9, 8, 7, 6, 5, 4, 3, 2, 1, 0},
	}
	oldVerhoeffP = [8][10]int{
		{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 5, 7, 6, 2, 8, 3, 0, 9, 4},
		{5, 8, 0, 3, 7, 9, 6, 1, 4, 2}, {8, 9, 1, 6, 0, 4, 3, 5, 2, 7},
		{9, 4, 5, 3, 1, 2, 6, 8, 7, 0}, {4, 2, 8, 6, 5, 7, 3, 9, 0, 1},
		{2, 7, 9, 3, 8, 0, 6, 4, 1, 5}, {7, 0, 4, 6, 9, 1, 3, 2, 5, 8},
	}
)

// verhoeff reports whether the digits end in a valid Verhoeff check digit.
func oldVerhoeff(d []int) bool {
	c := 0
	for i := range d {
		c = oldVerhoeffD[c][oldVerhoeffP[i%8][d[len(d)-1-i]]]
	}
	return c == 0
}

// oldValidAadhaar: 12 digits, not starting 0 or 1, Verhoeff-checked.
func oldValidAadhaar(m string) bool {
	d := oldDigits(m)
	return len(d) == 12 && d[0] >= 2 && oldVerhoeff(d)
}

// oldValidIBAN is the ISO 13616 mod-97 check.
func oldValidIBAN(m string) bool {
	s := strings.ReplaceAll(m, " ", "")
	if len(s) < 15 || len(s) > 34 {
		return false
	}
	rearranged := s[4:] + s[:4]
	var num strings.Builder
	for _, c := range rearranged {
		switch {
		case c >= '0' && c <= '9':
			num.WriteRune(c)
		case c >= 'A' && c <= 'Z':
			num.WriteString(big.NewInt(int64(c - 'A' + 10)).String())
		default:
			return false
		}
	}
	n, ok := new(big.Int).SetString(num.String(), 10)
	return ok && new(big.Int).Mod(n, big.NewInt(97)).Int64() == 1
}

func oldValidIP(m string) bool {
	if strings.Count(m, ":") == 0 && strings.Count(m, ".") != 3 {
		return false
	}
	_, err := netip.ParseAddr(m)
	return err == nil
}

// oldValidPhone keeps the digit count in the range real numbers have.
func oldValidPhone(m string) bool {
	n := len(oldDigits(m))
	return n >= 8 && n <= 15
}
