// Command kuscia-testapp stands in for a SecretFlow application on a real
// node: it prints the task config the controller rendered for its pod, then
// ends the way its environment says, with the very variables (names and
// meanings) the kwok stages read on simulated pods (hack/kwok/README.md):
//
//	KWOK_OUTCOME    unset: exit 0 after the delay; "fail": exit KWOK_EXIT_CODE
//	                after the delay, KWOK_MESSAGE as the termination message;
//	                "run" or any other value: keep running until SIGTERM/SIGINT
//	KWOK_EXIT_CODE  the exit code of "fail" (default 1)
//	KWOK_MESSAGE    the termination message of "fail"
//	KWOK_DELAY      a Go duration before exiting (default 2s; "" means none)
//
// Usage: kuscia-testapp [--termination-log=PATH] [PATH...]. Each PATH (a
// file, or a folder walked in lexical order) is printed as
// "==> PATH <==" and the file's content; the AppImage
// examples/realnode/appimage-testapp.yaml passes its config mounts.
//
// Only its own container's variables count (kwok looks at every container
// of the pod), and an exit code outside 1-255 is 1: no process can fail with
// 0, and the kernel keeps only a byte. It is a test fixture, not a product:
// it is built into the kuscia-testapp image by `make image`.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// defaultTerminationLog is the kubelet's default terminationMessagePath.
const defaultTerminationLog = "/dev/termination-log"

func main() {
	fs := flag.NewFlagSet("kuscia-testapp", flag.ContinueOnError)
	terminationLog := fs.String("termination-log", defaultTerminationLog,
		"File the termination message is written to (the container's terminationMessagePath).")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	app := testApp{stdout: os.Stdout, stderr: os.Stderr, terminationLog: *terminationLog, wait: waitFor}
	os.Exit(app.run(ctx, fs.Args(), os.LookupEnv))
}

// waitFor waits d, or until ctx ends (a negative d waits until ctx ends).
func waitFor(ctx context.Context, d time.Duration) {
	if d < 0 {
		<-ctx.Done()
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// testApp is one run, its side effects injectable for tests.
type testApp struct {
	stdout, stderr io.Writer
	terminationLog string
	// wait blocks for the given duration, forever (negative) or until ctx ends.
	wait func(ctx context.Context, d time.Duration)
}

// run prints the config files under paths, then carries out the plan the
// environment gives, and returns the exit code.
func (a testApp) run(ctx context.Context, paths []string, lookupEnv func(string) (string, bool)) int {
	p, warnings := planFromEnv(lookupEnv)
	for _, w := range warnings {
		fmt.Fprintln(a.stderr, "kuscia-testapp:", w)
	}
	for _, path := range paths {
		if err := printConfig(a.stdout, path); err != nil {
			fmt.Fprintln(a.stderr, "kuscia-testapp:", err)
		}
	}
	fmt.Fprintf(a.stdout, "kuscia-testapp: outcome %s, delay %s\n", p.outcome, p.delay)
	if p.outcome == outcomeRun {
		a.wait(ctx, -1)
		fmt.Fprintln(a.stdout, "kuscia-testapp: stopped")
		return 0
	}
	a.wait(ctx, p.delay)
	if p.outcome == outcomeSucceed {
		fmt.Fprintln(a.stdout, "kuscia-testapp: done")
		return 0
	}
	if p.message != "" {
		if err := os.WriteFile(a.terminationLog, []byte(p.message), 0o644); err != nil {
			fmt.Fprintln(a.stderr, "kuscia-testapp: write the termination message:", err)
		}
	}
	fmt.Fprintf(a.stdout, "kuscia-testapp: failing with exit code %d\n", p.exitCode)
	return p.exitCode
}
