// Command localcluster runs the simulated cluster the end-to-end tests use
// (kube-apiserver, etcd, kube-controller-manager, kube-scheduler and KWOK
// with fake nodes, built by hack/build-control-plane.sh) on loopback for
// `make demo`, writes an admin kubeconfig, and stops it all on SIGINT or
// SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/surveyguard/surveyguard/internal/testenv"
)

func main() {
	kubeconfig := flag.String("kubeconfig-out", "", "where to write the admin kubeconfig (required)")
	nodes := flag.Int("nodes", 1, "how many KWOK nodes to register")
	flag.Parse()
	if *kubeconfig == "" {
		fmt.Fprintln(os.Stderr, "localcluster: --kubeconfig-out is required")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env, err := testenv.StartCluster(*nodes)
	if err != nil {
		fmt.Fprintln(os.Stderr, "localcluster:", err)
		os.Exit(1)
	}
	code := 0
	if err := copyFile(env.Kubeconfig, *kubeconfig); err != nil {
		fmt.Fprintln(os.Stderr, "localcluster:", err)
		code = 1
	} else {
		fmt.Printf("localcluster: API server at %s, %d KWOK nodes, started in %s; kubeconfig %s\n",
			env.Config.Host, len(env.Nodes), env.Started.Round(time.Millisecond), *kubeconfig)
		<-ctx.Done()
	}
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "localcluster: stopping:", err)
		code = 1
	}
	os.Exit(code)
}

func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, data, 0o600) //nolint:gosec // G703: the path is the operator's own --kubeconfig-out flag
}
