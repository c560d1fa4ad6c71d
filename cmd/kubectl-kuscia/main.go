// Command kubectl-kuscia is the kubectl plugin `kubectl kuscia`: put it on
// PATH and run `kubectl kuscia --help`. See package
// kusciatask.io/controller/pkg/plugin.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"kusciatask.io/controller/pkg/plugin"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	cmd := plugin.NewCommand(genericclioptions.NewConfigFlags(true), streams)
	err := cmd.ExecuteContext(ctx)
	stop()
	if plugin.ShouldPrint(err) {
		fmt.Fprintln(os.Stderr, "error:", err)
	}
	os.Exit(plugin.ExitCode(err))
}
