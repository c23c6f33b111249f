// Package cli holds what surveyguard's subcommands share: the shape of a
// subcommand, its flag parsing and the top-level help.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
)

// Command is one subcommand of the surveyguard binary.
type Command struct {
	// Name is what follows "surveyguard" on the command line.
	Name string
	// Summary is the one line shown by "surveyguard --help".
	Summary string
	// Run runs the subcommand with the arguments that follow its name.
	Run func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// ErrUsage marks a command line that could not be understood; the caller
// exits with status 2.
var ErrUsage = errors.New("usage")

// IsHelp reports whether args ask for help.
func IsHelp(args []string) bool {
	return slices.ContainsFunc(args, func(a string) bool {
		return a == "-h" || a == "-help" || a == "--help"
	})
}

// NewFlagSet returns the flag set of a subcommand: usage is printed above
// its flags, help goes to stdout and errors to stderr.
func NewFlagSet(name, usage string, args []string, stdout, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	if IsHelp(args) {
		fs.SetOutput(stdout)
	}
	fs.Usage = func() {
		_, _ = fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	return fs
}

// Parse parses a subcommand's arguments. help is true when help was asked
// for and printed: the caller has nothing more to do. Bad flags and stray
// arguments are ErrUsage errors.
func Parse(fs *flag.FlagSet, args []string) (help bool, err error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return true, nil
		}
		return false, fmt.Errorf("%w: %w", ErrUsage, err)
	}
	if fs.NArg() > 0 {
		return false, fmt.Errorf("%w: unexpected arguments %q", ErrUsage, fs.Args())
	}
	return false, nil
}

// PrintUsage writes the top-level help listing every command.
func PrintUsage(w io.Writer, commands []Command) {
	_, _ = fmt.Fprintf(w, "surveyguard enforces privacy policy on NPS survey workloads.\n\n"+
		"Usage: surveyguard <command> [flags]\n\nCommands:\n")
	for _, c := range commands {
		_, _ = fmt.Fprintf(w, "  %-10s %s\n", c.Name, c.Summary)
	}
	_, _ = fmt.Fprintf(w, "\nRun \"surveyguard <command> --help\" for a command's flags.\n")
}
