// Command kuscia-gate is the init container that holds a reserved task pod:
// it waits until the pod's annotation kuscia.secretflow/gate reads "open",
// seen through a downward-API file, and exits 0; if its deadline passes
// first it writes why to the termination log and exits 1. It has no API
// access and runs no shell (see package kusciatask.io/controller/pkg/gate).
//
// Two more modes serve a pod that pulls its images during the reservation:
// --install copies this binary into a shared volume (run from the gate
// image), --pull-only exits 0 at once (run from an application image, whose
// pull was the point).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"kusciatask.io/controller/pkg/gate"
)

// Exit codes besides 0 (open) and gate.ExitClosed.
const exitUsage = 2

// maxTerminationMessage is what the kubelet keeps of a termination message.
const maxTerminationMessage = 4096

const usage = `kuscia-gate waits for its pod's gate to open.

It reads --file (a downward-API projection of the pod annotation
kuscia.secretflow/gate) whenever its folder changes (inotify) and at every
--poll-interval, and exits 0 once the file reads "open". If the gate
is still closed at --deadline it writes the reason to --termination-log and
exits 1; bad flags exit 2.

With --install=<path> it instead copies its own binary to <path> and exits
0; with --pull-only it exits 0 at once (an init container that only makes
the kubelet pull its image).

Usage:
  kuscia-gate --deadline=<RFC 3339 time | duration> [flags]
  kuscia-gate --install=<path>
  kuscia-gate --pull-only

Flags:
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := run(ctx, os.Args[1:], os.Stderr, clock.RealClock{})
	stop()
	klog.Flush()
	os.Exit(code)
}

// options are the gate's flags.
type options struct {
	file           string
	deadline       string
	pollInterval   time.Duration
	terminationLog string
	install        string
	pullOnly       bool
}

func parseFlags(args []string, output io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("kuscia-gate", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.StringVar(&o.file, "file", gate.FilePath, "File holding the gate annotation's value (a downward-API volume).")
	fs.StringVar(&o.deadline, "deadline", "", `When to give up: an RFC 3339 time ("2026-01-02T03:04:05Z") or a duration from now ("330s"). Required.`)
	fs.DurationVar(&o.pollInterval, "poll-interval", gate.DefaultPollInterval,
		fmt.Sprintf("How often to read --file besides when its folder changes, between %s and %s.", gate.MinPollInterval, gate.MaxPollInterval))
	fs.StringVar(&o.terminationLog, "termination-log", "/dev/termination-log",
		"Where to write why the gate did not open: the container's terminationMessagePath, which must exist.")
	fs.StringVar(&o.install, "install", "", "Copy this binary to the given path (mode 0555) and exit.")
	fs.BoolVar(&o.pullOnly, "pull-only", false, "Exit 0 at once: the container's image is on the node.")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return o, nil
}

// run is the whole gate; it returns the exit code.
func run(ctx context.Context, args []string, stderr io.Writer, clk clock.WithTicker) int {
	logger := klog.FromContext(ctx)
	opts, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return fail(logger, opts.terminationLog, exitUsage, fmt.Sprintf("kuscia-gate: %v", err))
	}
	switch {
	case opts.install != "" && opts.pullOnly:
		return fail(logger, opts.terminationLog, exitUsage, "kuscia-gate: --install and --pull-only exclude each other")
	case opts.install != "":
		if err := install(opts.install); err != nil {
			return fail(logger, opts.terminationLog, exitUsage, fmt.Sprintf("kuscia-gate: %v", err))
		}
		logger.Info("Installed the gate binary", "path", opts.install)
		return 0
	case opts.pullOnly:
		logger.Info("Image present")
		return 0
	}
	deadline, err := gate.ParseDeadline(opts.deadline, clk.Now())
	if err != nil {
		return fail(logger, opts.terminationLog, exitUsage, fmt.Sprintf("kuscia-gate: --deadline: %v", err))
	}
	waiter := gate.Waiter{
		Read:     func() (string, error) { b, err := os.ReadFile(opts.file); return string(b), err },
		Clock:    clk,
		Interval: opts.pollInterval,
		Deadline: deadline,
	}
	// The watch only makes the gate open sooner; without one it polls.
	if changed, stopWatch, err := watchDir(filepath.Dir(opts.file)); err != nil {
		logger.Info("Polling only: cannot watch the gate file's folder", "err", err)
	} else {
		defer stopWatch()
		waiter.Changed = changed
	}
	started := clk.Now()
	logger.Info("Waiting for the gate to open", "file", opts.file, "deadline", gate.FormatDeadline(deadline))
	err = waiter.Wait(ctx)
	switch {
	case err == nil:
		logger.Info("Gate open", "waited", clk.Since(started).Round(time.Millisecond))
		return 0
	case gate.IsClosed(err):
		return fail(logger, opts.terminationLog, gate.ExitClosed, err.Error())
	default:
		return fail(logger, opts.terminationLog, exitUsage, fmt.Sprintf("kuscia-gate: %v", err))
	}
}

// fail logs msg, writes it to the termination log (when one is set) and
// returns code.
func fail(logger klog.Logger, terminationLog string, code int, msg string) int {
	logger.Error(nil, msg)
	if terminationLog == "" {
		return code
	}
	if len(msg) > maxTerminationMessage {
		msg = msg[:maxTerminationMessage]
	}
	if err := writeExisting(terminationLog, msg); err != nil {
		logger.Error(err, "Cannot write the termination log", "path", terminationLog)
	}
	return code
}

// writeExisting replaces the content of an existing file. The kubelet
// creates the termination log before the container starts; a gate run by
// hand never creates /dev/termination-log on the host.
func writeExisting(path, content string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(content)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// install copies the running binary to path, readable and executable by
// all: the gate and pull-only containers run it from a shared emptyDir as
// whatever user they are.
func install(path string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("install: find this binary: %w", err)
	}
	return copyFile(self, path)
}

// copyFile copies src to dst (created or replaced) with mode 0555.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("install: %w", err)
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o555)
	if err != nil {
		return fmt.Errorf("install: %w", err)
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("install %s: %w", dst, err)
	}
	return nil
}
