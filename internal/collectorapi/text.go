package collectorapi

import "unicode"

// ControlCharacter finds a character no text field may hold: C0 and C1
// control characters (NUL included) other than tab, line feed and carriage
// return where multiline is true, and the bidirectional embeddings,
// overrides and isolates (U+202A–U+202E, U+2066–U+2069) that make text read
// differently from what it is. It returns the character and whether one was found.
func ControlCharacter(s string, multiline bool) (rune, bool) {
	for _, r := range s {
		switch {
		case multiline && (r == '\t' || r == '\n' || r == '\r'):
		case unicode.IsControl(r), r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069:
			return r, true
		}
	}
	return 0, false
}
