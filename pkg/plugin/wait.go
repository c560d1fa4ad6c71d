package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	versioned "kusciatask.io/controller/pkg/generated/clientset/versioned"
)

const waitExample = `  # Block until the task ends: exit 0 Succeeded, 1 Failed, 2 timeout
  kubectl kuscia wait secretflow-task-psi

  # Several tasks; the first failure ends the wait with exit 1
  kubectl kuscia wait task-a task-b --timeout=30m && echo all succeeded`

type waitOptions struct {
	timeout time.Duration
	streams genericiooptions.IOStreams
	deps
}

func newWaitCommand(streams genericiooptions.IOStreams, d deps) *cobra.Command {
	o := &waitOptions{streams: streams, deps: d}
	cmd := &cobra.Command{
		Use:   "wait TASK...",
		Short: "Wait for tasks to end: exit 0 when all Succeeded, 1 when one Failed, 2 on timeout",
		Long: `Wait watches the tasks (it does not poll) until every one Succeeded (exit 0)
or one Failed (exit 1, its reason and message printed; the wait ends there).
Exit 2 when --timeout passes first; 3 when a task does not exist, is deleted,
or the cluster cannot be read.`,
		Example:           waitExample,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeTaskNames(d.clients, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), args)
		},
	}
	cmd.Flags().DurationVar(&o.timeout, "timeout", 10*time.Minute, "How long to wait; 0 waits without limit.")
	return cmd
}

func (o *waitOptions) run(ctx context.Context, names []string) error {
	c, err := o.clients()
	if err != nil {
		return err
	}
	if o.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	w := newTaskWaiter(names, o.streams.Out)
	_, err = watchtools.UntilWithSync(ctx, taskListWatch(c.Kuscia, names), &kusciav1alpha1.KusciaTask{}, w.precondition, w.observe)
	switch {
	case w.failed != nil:
		return &CodedError{Code: ExitFailed, Err: w.failed, Silent: true}
	case w.err != nil:
		return &CodedError{Code: ExitError, Err: w.err}
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return &CodedError{Code: ExitTimeout, Err: fmt.Errorf("timed out after %s waiting for %s", o.timeout, strings.Join(w.pending(), ", "))}
	case err != nil:
		return &CodedError{Code: ExitError, Err: fmt.Errorf("waiting for %s: %w", strings.Join(names, ", "), err)}
	}
	return nil
}

// taskListWatch lists and watches the named task, or all tasks when there
// are several.
func taskListWatch(client versioned.Interface, names []string) cache.ListerWatcher {
	tasks := client.KusciaV1alpha1().KusciaTasks()
	narrow := func(opts *metav1.ListOptions) {
		if len(names) == 1 {
			opts.FieldSelector = fields.OneTermEqualSelector("metadata.name", names[0]).String()
		}
	}
	// The wrapper tells the reflector whether the client streams lists
	// (fake clientsets do not).
	return cache.ToListWatcherWithWatchListSemantics(&cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			narrow(&opts)
			return tasks.List(ctx, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			narrow(&opts)
			return tasks.Watch(ctx, opts)
		},
	}, client)
}

// taskWaiter follows the tasks' phases through watch events.
type taskWaiter struct {
	names []string
	want  map[string]bool
	out   io.Writer
	done  map[string]bool
	// failed: a task Failed; err: the wait cannot go on (a task missing or
	// deleted).
	failed error
	err    error
}

func newTaskWaiter(names []string, out io.Writer) *taskWaiter {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	return &taskWaiter{names: names, want: want, out: out, done: map[string]bool{}}
}

// precondition checks, once the cache is synced, that every task exists.
func (w *taskWaiter) precondition(store cache.Store) (bool, error) {
	for _, name := range w.names {
		obj, exists, err := store.GetByKey(name)
		if err != nil {
			return true, fmt.Errorf("reading the cache: %w", err)
		}
		if !exists {
			w.err = fmt.Errorf("KusciaTask %q not found", name)
			return true, nil
		}
		if w.settle(obj.(*kusciav1alpha1.KusciaTask)) {
			return true, nil
		}
	}
	return false, nil
}

// observe handles one watch event; true ends the wait.
func (w *taskWaiter) observe(ev watch.Event) (bool, error) {
	task, ok := ev.Object.(*kusciav1alpha1.KusciaTask)
	if !ok || !w.want[task.Name] {
		return false, nil
	}
	if ev.Type == watch.Deleted {
		w.err = fmt.Errorf("KusciaTask %q was deleted before it finished", task.Name)
		return true, nil
	}
	return w.settle(task), nil
}

// settle records a task that finished; true when the wait is over (one
// failed or all succeeded).
func (w *taskWaiter) settle(task *kusciav1alpha1.KusciaTask) bool {
	if w.done[task.Name] {
		return len(w.done) == len(w.want)
	}
	switch task.Status.Phase {
	case kusciav1alpha1.TaskSucceeded:
		w.done[task.Name] = true
		fmt.Fprintf(w.out, "kusciatask/%s Succeeded\n", task.Name)
	case kusciav1alpha1.TaskFailed:
		w.done[task.Name] = true
		w.failed = fmt.Errorf("kusciatask/%s Failed: %s: %s", task.Name, task.Status.Reason, task.Status.Message)
		fmt.Fprintln(w.out, w.failed.Error())
		return true
	}
	return len(w.done) == len(w.want)
}

// pending are the tasks not finished yet.
func (w *taskWaiter) pending() []string {
	var out []string
	for _, n := range w.names {
		if !w.done[n] {
			out = append(out, n)
		}
	}
	return out
}
