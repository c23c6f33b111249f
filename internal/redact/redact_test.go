package redact

import (
	"maps"
	"strings"
	"testing"
)

func TestComment(t *testing.T) {
	cases := []struct {
		name, in, want string
		counts         map[string]int
	}{
		{"email", "write to Priya.S+nps@example.co.in please", "write to [email] please", map[string]int{KindEmail: 1}},
		{"upi", "refund to ramesh@okicici or 9876543210@ybl", "refund to [upi] or [upi]", map[string]int{KindUPI: 2}},
		{"card spaced", "card 4111 1111 1111 1111 was charged", "card [card] was charged", map[string]int{KindCard: 1}},
		{"card dashed", "4012-8888-8888-1881", "[card]", map[string]int{KindCard: 1}},
		{"aadhaar", "my aadhaar 4991 1866 5246", "my aadhaar [aadhaar]", map[string]int{KindAadhaar: 1}},
		{"pan", "PAN ABCPE1234F attached", "PAN [pan] attached", map[string]int{KindPAN: 1}},
		{"iban", "IBAN GB82 WEST 1234 5698 7654 32 ok", "IBAN [iban] ok", map[string]int{KindIBAN: 1}},
		{"iban compact", "DE89370400440532013000", "[iban]", map[string]int{KindIBAN: 1}},
		{"indian mobile", "call 98765 43210 or +91 98765 43210", "call [phone] or [phone]", map[string]int{KindPhone: 2}},
		{"international phone", "UK office +44 20 7946 0958, US +1 (415) 555-2671", "UK office [phone], US [phone]", map[string]int{KindPhone: 2}},
		{"ipv4", "from 192.168.1.10 today", "from [ip] today", map[string]int{KindIP: 1}},
		{"ipv6", "via 2001:db8::1 today", "via [ip] today", map[string]int{KindIP: 1}},
		{"mixed", "a@b.io, 4111111111111111, 10.0.0.1", "[email], [card], [ip]", map[string]int{KindEmail: 1, KindCard: 1, KindIP: 1}},
		// Matched after normalization, replaced in the original text.
		{"no-break space", "call 98765\u00a043210 now", "call [phone] now", map[string]int{KindPhone: 1}},
		{"zero-width space", "aadhaar 4991\u200b1866\u200b5246.", "aadhaar [aadhaar].", map[string]int{KindAadhaar: 1}},
		{"full-width", "ｐｒｉｙａ＠ｅｘａｍｐｌｅ．ｃｏｍ ok", "[email] ok", map[string]int{KindEmail: 1}},
		{"devanagari digits", "फ़ोन ९८७६५ ४३२१० पर", "फ़ोन [phone] पर", map[string]int{KindPhone: 1}},
		{"aadhaar dots", "uid 4991.1866.5246", "uid [aadhaar]", map[string]int{KindAadhaar: 1}},
		{"lower case", "pan abcpe1234f iban gb82 west 1234 5698 7654 32", "pan [pan] iban [iban]", map[string]int{KindPAN: 1, KindIBAN: 1}},
		{"landlines", "022 2345 6789, 080-23456789, (011) 2345 6789", "[phone], [phone], [phone]", map[string]int{KindPhone: 3}},
		{"00 prefix", "UK 00 44 20 7946 0958", "UK [phone]", map[string]int{KindPhone: 1}},
		{"north american", "1 (415) 555-2671, 1-415-555-2671, 415.555.2671", "[phone], [phone], [phone]", map[string]int{KindPhone: 3}},
		// The added kinds.
		{"gstin", "GSTIN 27AAPFU0939F1ZV on the bill", "GSTIN [gstin] on the bill", map[string]int{KindGSTIN: 1}},
		{"voter id", "voter id ABC1234567", "voter id [voterid]", map[string]int{KindVoterID: 1}},
		{"passport", "passport no. J8369854", "passport no. [passport]", map[string]int{KindPassport: 1}},
		{"vehicle", "car MH 12 AB 1234 and dl3cab1234", "car [vehicle] and [vehicle]", map[string]int{KindVehicle: 2}},
		{"ssn", "SSN 123-45-6789", "SSN [ssn]", map[string]int{KindSSN: 1}},
		{"nino", "NI AB 12 34 56 C", "NI [nino]", map[string]int{KindNINO: 1}},
		{"mac", "mac 00:1a:2b:3c:4d:5e", "mac [mac]", map[string]int{KindMAC: 1}},
		{"dob", "DOB: 12/03/1985, born 3rd March 1990", "DOB: [dob], born [dob]", map[string]int{KindDOB: 2}},
		{"name", "My name is Priya Sharma. Priya again. Mr. D'Souza helped", "My name is [name]. [name] again. Mr. [name] helped", map[string]int{KindName: 3}},
		{"bitcoin", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "[crypto] [crypto]", map[string]int{KindCrypto: 2}},
		{"repeated without context", "voter id ABC1234567, again ABC1234567", "voter id [voterid], again [voterid]", map[string]int{KindVoterID: 2}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Comment(tc.in)
			if got.Text != tc.want {
				t.Errorf("Comment(%q).Text = %q, want %q", tc.in, got.Text, tc.want)
			}
			if !maps.Equal(got.Counts, tc.counts) {
				t.Errorf("counts = %v, want %v", got.Counts, tc.counts)
			}
		})
	}
}

// TestLeavesOrdinaryTextAlone: numbers that fail their checksum, times,
// dates, prices and order numbers are not personal data.
func TestLeavesOrdinaryTextAlone(t *testing.T) {
	for _, in := range []string{
		"Checkout took 10:30:45 minutes on 2026-11-20, order 123456, paid Rs 1,200.50",
		"card 4111 1111 1111 1112 fails Luhn",
		"aadhaar-like 4991 1866 5247 fails Verhoeff",
		"IBAN-like GB82 WEST 1234 5698 7654 33 fails mod 97",
		"version 1.2.3 and 999.1.1.1 are not addresses, nor version 10.0.0.1",
		"Great service, 10/10, would recommend!",
		"+1 for the new UI, rated 4.5/5, pin 560001, v2.3.1 at 10:30",
		"GSTIN 27AAPFU0939F1ZA fails its check character",
		"SSN 666-12-3456 and 900-12-3456 are not issued",
		"ABC1234567 without a word such as voter before it is a code",
		"coupon XYZAB1234C and AWB 7894561230 are references",
		"I am very happy, I am Happy, this is Amazing",
		"born to shop, date of delivery 12/12/2026",
		"1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb fails base58check",
		"",
	} {
		if got := Comment(in); got.Text != in || got.Counts != nil {
			t.Errorf("Comment(%q) = %q %v; want it unchanged", in, got.Text, got.Counts)
		}
	}
}

func TestChecksums(t *testing.T) {
	// Wikipedia's Verhoeff example: 236 has check digit 3.
	if !verhoeff([]byte("2363")) || verhoeff([]byte("2364")) {
		t.Error("Verhoeff check of 2363/2364 is wrong")
	}
	if !luhn([]byte("79927398713")) || luhn([]byte("79927398714")) {
		t.Error("Luhn check of 79927398713 is wrong")
	}
	if !mod97([]byte("GB82WEST12345698765432")) || mod97([]byte("GB82WEST12345698765433")) {
		t.Error("mod-97 check of the GB82 WEST example is wrong")
	}
}

func FuzzComment(f *testing.F) {
	for _, s := range []string{
		"a@b.io 4111 1111 1111 1111", "+91 98765 43210", "GB82 WEST 1234 5698 7654 32", "::1", "x",
		"My name is Priya Sharma, Priya again", "DOB: 12/03/1985", "voter id ABC1234567 and ABC1234567",
		"９８７６５\u00a0４３２１０ and ४९९१ १८६६ ५२४६", "gstin 27aapfu0939f1zv", "mac 00:1a:2b:3c:4d:5e",
		"1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "Mr. D'Souza", "MH 12 AB 1234", "AB 12 34 56 C",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		r := Comment(in)
		again := Comment(r.Text)
		if again.Text != r.Text {
			t.Fatalf("redacting twice changes the text: %q -> %q -> %q", in, r.Text, again.Text)
		}
		for kind, n := range r.Counts {
			if n <= 0 || !strings.Contains(r.Text, "["+kind+"]") {
				t.Fatalf("count %s=%d without a marker in %q", kind, n, r.Text)
			}
		}
		tx, found := find(in)
		if len(found) == 0 {
			if r.Text != in || r.Counts != nil {
				t.Fatalf("nothing found in %q, yet it became %q %v", in, r.Text, r.Counts)
			}
			return
		}
		first := scrub(in)
		// The text outside the findings is kept as it was, and each finding
		// maps back to original text that normalizes to what was matched.
		var rebuilt strings.Builder
		last := 0
		for _, m := range found {
			s, e := tx.span(m.s, m.e)
			if s < last || e <= s {
				t.Fatalf("findings overlap or are empty in %q: %v", in, found)
			}
			// A character whose NFKC form is several (¼ is 1⁄4) is taken
			// whole when a finding takes part of it.
			ms, me := m.s, m.e
			for tx.start != nil && ms > 0 && tx.start[ms-1] == tx.start[ms] {
				ms--
			}
			for tx.start != nil && me < len(tx.n) && tx.start[me] == tx.start[me-1] {
				me++
			}
			if got := normalize(in[s:e]).n; got != tx.n[ms:me] {
				t.Fatalf("offset map: %q maps back to %q, which normalizes to %q", tx.n[m.s:m.e], in[s:e], got)
			}
			rebuilt.WriteString(in[last:s] + "[" + m.kind + "]")
			last = e
		}
		rebuilt.WriteString(in[last:])
		if rebuilt.String() != first.Text {
			t.Fatalf("scrub(%q) = %q, want %q", in, first.Text, rebuilt.String())
		}
		// No identifier that was found is left standing as a word (beside
		// a marker, text may stand alone now that did not before: a marker
		// counts as a letter here).
		rest := r.Text
		for _, k := range Kinds {
			rest = strings.ReplaceAll(rest, "["+k+"]", "x")
		}
		for _, m := range found {
			s, e := tx.span(m.s, m.e)
			if v := in[s:e]; containsWord(rest, v) {
				t.Fatalf("%s %q found in %q is still in %q", m.kind, v, in, r.Text)
			}
		}
	})
}

// containsWord reports whether v is in s with no letter or digit (or
// non-ASCII byte) right before or after it.
func containsWord(s, v string) bool {
	for from := 0; ; {
		i := strings.Index(s[from:], v)
		if i < 0 {
			return false
		}
		a, e := from+i, from+i+len(v)
		if (a == 0 || !isWordByte(s[a-1])) && (e == len(s) || !isWordByte(s[e])) {
			return true
		}
		from = a + 1
	}
}
