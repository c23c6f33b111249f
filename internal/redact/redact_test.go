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
		"version 1.2.3 and 999.1.1.1 are not addresses",
		"Great service, 10/10, would recommend!",
		"",
	} {
		if got := Comment(in); got.Text != in || got.Counts != nil {
			t.Errorf("Comment(%q) = %q %v; want it unchanged", in, got.Text, got.Counts)
		}
	}
}

func TestChecksums(t *testing.T) {
	// Wikipedia's Verhoeff example: 236 has check digit 3.
	if !verhoeff([]int{2, 3, 6, 3}) || verhoeff([]int{2, 3, 6, 4}) {
		t.Error("Verhoeff check of 2363/2364 is wrong")
	}
	if !luhn([]int{7, 9, 9, 2, 7, 3, 9, 8, 7, 1, 3}) || luhn([]int{7, 9, 9, 2, 7, 3, 9, 8, 7, 1, 4}) {
		t.Error("Luhn check of 79927398713 is wrong")
	}
	if !validIBAN("GB82WEST12345698765432") || validIBAN("GB82WEST12345698765433") {
		t.Error("mod-97 check of the GB82 WEST example is wrong")
	}
}

func FuzzComment(f *testing.F) {
	for _, s := range []string{"a@b.io 4111 1111 1111 1111", "+91 98765 43210", "GB82 WEST 1234 5698 7654 32", "::1", "x"} {
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
	})
}
