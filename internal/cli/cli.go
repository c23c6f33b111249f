// Package cli holds what surveyguard's subcommands share: the shape of a
// subcommand and its dispatch.
package cli

import (
	"context"
	"errors"
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

// Unbuilt returns a Run for a role that a later release provides: it prints
// the role's usage and fails with a clear error unless help was asked for.
func Unbuilt(usage string) func(context.Context, []string, io.Writer, io.Writer) error {
	return func(_ context.Context, args []string, stdout, stderr io.Writer) error {
		if IsHelp(args) {
			_, err := fmt.Fprint(stdout, usage)
			return err
		}
		if _, err := fmt.Fprint(stderr, usage); err != nil {
			return err
		}
		return errors.New("this build does not include this role yet")
	}
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
