// Command regdoc writes docs/regulations.md from the regulatory table in
// internal/regulations. make generate runs it; a test fails when the file
// is out of date.
package main

import (
	"fmt"
	"os"

	"github.com/surveyguard/surveyguard/internal/regulations"
)

func main() {
	out := "docs/regulations.md"
	if len(os.Args) > 1 {
		out = os.Args[1]
	}
	if err := os.WriteFile(out, []byte(regulations.Markdown()), 0o644); err != nil { //nolint:gosec // documentation, world-readable on purpose
		fmt.Fprintln(os.Stderr, "regdoc:", err)
		os.Exit(1)
	}
}
