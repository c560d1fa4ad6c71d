// Package plugin is the kubectl plugin `kubectl kuscia`: it shows a
// KusciaTask whole across its parties' namespaces (get, events), reads every
// party's logs at once (logs), waits for tasks to end (wait) and prints its
// version and the cluster's (version). It only reads from the cluster.
package plugin

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"kusciatask.io/controller/pkg/plugin/flaggroups"
	"kusciatask.io/controller/pkg/plugin/validate"
)

// Exit codes of every verb; wait adds ExitFailed and ExitTimeout.
const (
	// ExitOK: the verb did what it was asked (wait: every task Succeeded).
	ExitOK = 0
	// ExitFailed: wait saw a task Failed.
	ExitFailed = 1
	// ExitTimeout: wait's --timeout passed before every task finished.
	ExitTimeout = 2
	// ExitError: the verb could not do its work (bad arguments, a task
	// not found, the cluster unreachable or refusing).
	ExitError = 3
)

const rootLong = `kubectl kuscia shows KusciaTasks whole: a task's parties live in several
namespaces, and these verbs gather them. It never writes to the cluster.

Exit codes:
  0  done (wait: every task Succeeded)
  1  wait: a task Failed (its reason and message are printed)
  2  wait: --timeout passed first
  3  error: bad arguments, task not found, cluster unreachable
validate: 0 valid, 1 problems found (each printed), 3 usage or I/O error`

const rootExample = `  # All tasks, one line each
  kubectl kuscia get

  # One task as a tree: parties, pods, the reservation round
  kubectl kuscia get secretflow-task-psi

  # Every party's logs, interleaved, following new rounds
  kubectl kuscia logs secretflow-task-psi -f

  # Block until the task ends; exit 0 Succeeded, 1 Failed, 2 timeout
  kubectl kuscia wait secretflow-task-psi --timeout=10m

  # The task's, its pods' and PodGroups' events in time order
  kubectl kuscia events secretflow-task-psi

  # Every problem of a task before applying it, and what each party gets
  kubectl kuscia validate -f task.yaml

  # The plugin's version and the API server's
  kubectl kuscia version`

// CodedError carries a verb's exit code. Silent ones have said everything
// already; main prints the others.
type CodedError struct {
	Code   int
	Err    error
	Silent bool
}

func (e *CodedError) Error() string { return e.Err.Error() }
func (e *CodedError) Unwrap() error { return e.Err }

// ExitCode is the process exit code for what Execute returned.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var e *CodedError
	if errors.As(err, &e) {
		return e.Code
	}
	var coded interface{ ExitCode() int } // validate's errors
	if errors.As(err, &coded) {
		return coded.ExitCode()
	}
	return ExitError
}

// ShouldPrint reports whether main should print err (a silent exit error
// has been told already).
func ShouldPrint(err error) bool {
	var e *CodedError
	var told interface{ ExitCode() int } // validate prints its own errors
	return err != nil && !(errors.As(err, &e) && e.Silent) && !errors.As(err, &told)
}

// NewCommand is the root command `kubectl kuscia`, reading the cluster
// through flags (--kubeconfig, --context, ...) and writing to streams.
func NewCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	return newRoot(flags, streams, deps{clients: newClientsFromFlags(flags), now: time.Now})
}

// deps is what the verbs need besides their flags; tests inject fakes and
// a fixed clock.
type deps struct {
	clients clientsFunc
	now     func() time.Time
}

// newRoot builds the command tree.
func newRoot(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams, d deps) *cobra.Command {
	cmd := &cobra.Command{
		Use:           "kubectl-kuscia",
		Short:         "See, follow and wait for KusciaTasks across their parties",
		Long:          rootLong,
		Example:       rootExample,
		SilenceUsage:  true,
		SilenceErrors: true,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl kuscia"},
	}
	flags.AddFlags(cmd.PersistentFlags())
	cmd.AddCommand(
		newGetCommand(streams, d),
		newLogsCommand(streams, d),
		newWaitCommand(streams, d),
		newEventsCommand(streams, d),
		validate.NewCommand(flags, streams),
		newVersionCommand(streams, d),
	)
	flaggroups.Install(cmd, flaggroups.Selection, flaggroups.Input, flaggroups.Policy, flaggroups.Output)
	return cmd
}

// usageError is an error in the arguments: exit code ExitError.
func usageError(format string, args ...any) error {
	return &CodedError{Code: ExitError, Err: fmt.Errorf(format, args...)}
}
