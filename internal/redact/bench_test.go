package redact

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// benchComments are survey comments of about 300 bytes, half with personal
// data, half without (prices, dates, order numbers, times, a version, and
// non-ASCII text that takes the normalization path).
var benchComments = []string{
	"The delivery was two days late and the box was damaged, but the support team sorted it out quickly. Please call me on +91 98765 43210 if you need the photos of the damaged item; I am usually free after 6 pm. Overall a decent experience, the app could load the order page faster.",
	"Ordered on 12/11/2026, order #4521873, paid Rs 1,299 after a discount of Rs 200. The product is fine, the packaging could be better. Version 4.12.3 of the app fixed the crash on login, thanks for that. I would rate it 8 out of 10, and the new UI is a clear improvement over the old.",
	"My name is Priya Sharma and I was charged twice on card 4111 1111 1111 1111 for the same order. I wrote to priya.sharma@gmail.com from the help page but nobody replied in three days. Please refund the second charge to the same card and confirm by email when it is done. Thanks.",
	"Great service overall. The store in Koramangala 5th block was clean, the staff at the billing counter were polite, and the queue moved fast even at 7:45 pm on a Saturday. Parking was a problem though, and the lift to the second floor was not working. Pin code 560034, if that helps.",
	"ऑर्डर समय पर नहीं आया। ₹649 का भुगतान किया था। The app shows the order as delivered but I have not received anything yet. Please check with the courier, the tracking has not moved since Monday morning and nobody answers.",
	"KYC failed again: my aadhaar 4991 1866 5246 and PAN ABCPE1234F were both rejected by the app even though the details are correct. The upload screen keeps spinning on Android 14. I tried three times between 10:15 and 11:45 today. Please fix this or let me submit the documents at the branch.",
	"+1 for the new dark mode and the faster checkout. It would be nice to have Hindi and Tamil as languages, and a way to save more than one delivery address. The recharge of 239 failed once but the money came back within an hour, which was reassuring. Keep it up, team, well done.",
	"Refund of Rs 4,599.00 pending since 3 weeks for order 402-1234567-8912345. I have called the customer care number five times, each time I was told to wait 48 hours. This is really not acceptable for a premium member. Please escalate and update me on the same ticket, CRM-882134.",
}

func benchmarkScrubber(b *testing.B, fn func(string) Result) {
	b.ReportAllocs()
	var bytes int
	for _, c := range benchComments {
		bytes += len(c)
	}
	b.SetBytes(int64(bytes))
	n := 0
	cpu0 := cpuTime(b)
	for b.Loop() {
		for _, c := range benchComments {
			_ = fn(c)
		}
		n += len(benchComments)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "comments/s")
	// The same per second of the process's CPU time: what one core does
	// when the machine is shared.
	b.ReportMetric(float64(n)/(cpuTime(b)-cpu0).Seconds(), "comments/cpu-s")
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkComment: comments scrubbed per second, this scrubber and the
// eight-regexp one it replaced, in the same run. Run it on one core:
//
//	go test -run '^$' -bench Comment -cpu 1 ./internal/redact/
func BenchmarkComment(b *testing.B) {
	b.Run("scrubber", func(b *testing.B) { benchmarkScrubber(b, Comment) })
	b.Run("baseline", func(b *testing.B) { benchmarkScrubber(b, oldComment) })
}

func TestBenchComments(t *testing.T) {
	pii := 0
	for _, c := range benchComments {
		if len(c) < 250 || len(c) > 350 {
			t.Errorf("bench comment is %d bytes, want about 300: %q", len(c), c)
		}
		if Comment(c).Counts != nil {
			pii++
		}
	}
	if pii != 3 {
		t.Errorf("%d bench comments have personal data, want 3 of %d", pii, len(benchComments))
	}
}

// BenchmarkCommentAdversarial: 4,000-character comments (the longest the
// collector takes) made to be slow: the same name or number hundreds of
// times, long runs of separators and digits.
func BenchmarkCommentAdversarial(b *testing.B) {
	for _, c := range []struct{ name, text string }{
		{"repeated-name", "my name is Priya " + strings.Repeat("Priya ", 700)},
		{"names", strings.Repeat("I am Ravi Kumar Singh. Mr Sharma x ", 120)},
		{"phones", strings.Repeat("98765 43210 ", 340)},
		{"digit-runs", strings.Repeat("1-", 2000)},
		{"colons", strings.Repeat("a:", 2000)},
		{"at-signs", strings.Repeat("a@b ", 1000)},
		{"context", strings.Repeat("voter ABC1234567 DOB 12/03/1985 ", 125)},
		{"devanagari-digits", strings.Repeat("९८७६५ ४३२१० ", 200)},
	} {
		text := c.text[:min(len(c.text), 4000)]
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				_ = Comment(text)
			}
		})
	}
}
