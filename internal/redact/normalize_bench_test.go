package redact

import (
	"strings"
	"testing"
)

// expansionInputs are 4,000-character comments (the most the collector
// takes) of characters whose NFKC form differs from them, and everyday
// comments to compare them with.
var expansionInputs = []struct{ name, text string }{
	{"normal", benchComments[0]},                   // 278 bytes of English
	{"normal-hindi", benchComments[4]},             // Hindi and English
	{"fdfa", strings.Repeat("\ufdfa", 4000)},       // ﷺ: 3 bytes, NFKC 33
	{"e-acute", strings.Repeat("\u00e9", 4000)},    // é: a decomposition, but NFKC is é
	{"fullwidth", strings.Repeat("\uff41", 4000)},  // ａ: NFKC a
	{"recomposed", strings.Repeat("\uffab", 4000)}, // ﾫ: its decomposition composes again
}

// BenchmarkExpansion: the normalization alone and the whole scrub, of the
// inputs above.
//
//	go test -run '^$' -bench Expansion -benchmem ./internal/redact/
func BenchmarkExpansion(b *testing.B) {
	for _, c := range expansionInputs {
		b.Run("normalize/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.text)))
			for b.Loop() {
				_ = normalize(c.text)
			}
		})
		b.Run("comment/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.text)))
			for b.Loop() {
				_ = Comment(c.text)
			}
		})
	}
}
