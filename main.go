// Command surveyguard is the operator, the survey collector and the retention
// purge run, in one binary: surveyguard manager | collector | purge.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/surveyguard/surveyguard/internal/cli"
	"github.com/surveyguard/surveyguard/internal/collector"
	"github.com/surveyguard/surveyguard/internal/manager"
	"github.com/surveyguard/surveyguard/internal/purge"
)

var commands = []cli.Command{
	{Name: "manager", Summary: "run the operator (controllers, metrics, health probes, leader election)", Run: manager.Main},
	{Name: "collector", Summary: "serve one campaign's survey page, response API and admin API", Run: collector.Main},
	{Name: "purge", Summary: "run one retention purge against a collector and print its receipt", Run: purge.Main},
}

func main() {
	args := os.Args[1:]
	if len(args) == 0 {
		cli.PrintUsage(os.Stderr, commands)
		os.Exit(2)
	}
	if cli.IsHelp(args[:1]) || args[0] == "help" {
		cli.PrintUsage(os.Stdout, commands)
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	for _, c := range commands {
		if c.Name != args[0] {
			continue
		}
		err := c.Run(ctx, args[1:], os.Stdout, os.Stderr)
		if err == nil {
			return
		}
		fmt.Fprintf(os.Stderr, "surveyguard %s: %v\n", c.Name, err)
		if errors.Is(err, cli.ErrUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "surveyguard: unknown command %q\n\n", args[0])
	cli.PrintUsage(os.Stderr, commands)
	os.Exit(2)
}
