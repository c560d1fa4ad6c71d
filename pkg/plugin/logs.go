package plugin

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/plugin/flaggroups"
)

// defaultContainerAnnotation names the container kubectl logs and exec use
// when none is given.
const defaultContainerAnnotation = "kubectl.kubernetes.io/default-container"

const logsExample = `  # Every party's pods' logs, each line prefixed [party/pod]
  kubectl kuscia logs secretflow-task-psi

  # Follow them, including the pods of later reservation rounds, until the task ends
  kubectl kuscia logs secretflow-task-psi -f

  # Only bob's last 20 lines of the past 5 minutes, with timestamps
  kubectl kuscia logs secretflow-task-psi --party bob --since 5m --tail 20 --timestamps`

type logsOptions struct {
	parties    []string
	follow     bool
	since      time.Duration
	tail       int64
	timestamps bool
	streams    genericiooptions.IOStreams
	deps
}

func newLogsCommand(streams genericiooptions.IOStreams, d deps) *cobra.Command {
	o := &logsOptions{streams: streams, deps: d}
	cmd := &cobra.Command{
		Use:   "logs TASK",
		Short: "Print every party's pods' logs at once, each line prefixed [party/pod]",
		Long: `Logs reads the application container of every pod of the task (the one the
pod's kubectl.kubernetes.io/default-container annotation names, else its first
container) in every party's namespace through the API server, and interleaves
their lines. With -f it follows them, starts reading the pods of a new
reservation round as they start, and returns once the task ended and every
stream closed. Logs come from the kubelets: a simulated node (kwok) has none.`,
		Example:           logsExample,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeTaskNames(d.clients, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), args[0])
		},
	}
	cmd.Flags().StringSliceVar(&o.parties, "party", nil, "Only these parties (domainIDs); repeat or comma-separate.")
	_ = cmd.RegisterFlagCompletionFunc("party", completeParties(d.clients))
	cmd.Flags().BoolVarP(&o.follow, "follow", "f", false, "Follow the logs, and the pods of new rounds, until the task ends.")
	cmd.Flags().DurationVar(&o.since, "since", 0, "Only lines newer than this (e.g. 5m).")
	cmd.Flags().Int64Var(&o.tail, "tail", -1, "Only the last N lines of each pod; -1 for all.")
	cmd.Flags().BoolVar(&o.timestamps, "timestamps", false, "Prefix each line with its timestamp.")
	flaggroups.Set(cmd.Flags(), flaggroups.Selection, "party", "since", "tail")
	flaggroups.Set(cmd.Flags(), flaggroups.Output, "follow", "timestamps")
	return cmd
}

func (o *logsOptions) run(ctx context.Context, name string) error {
	c, err := o.clients()
	if err != nil {
		return err
	}
	task, err := c.getTask(ctx, name)
	if err != nil {
		return err
	}
	parties, err := selectParties(task, o.parties)
	if err != nil {
		return err
	}
	f := &fanOut{logs: c.Logs, opts: o.podLogOptions(), out: &prefixWriter{w: o.streams.Out}, errOut: o.streams.ErrOut, started: map[types.UID]bool{}}
	if o.follow {
		return o.followTask(ctx, c, task, parties, f)
	}
	pods, err := c.taskPods(ctx, task, parties)
	if err != nil {
		return &CodedError{Code: ExitError, Err: err}
	}
	if len(pods) == 0 {
		fmt.Fprintf(o.streams.ErrOut, "task %s has no pods\n", task.Name)
	}
	for i := range pods {
		f.start(ctx, &pods[i], true)
	}
	return f.wait()
}

func (o *logsOptions) podLogOptions() corev1.PodLogOptions {
	opts := corev1.PodLogOptions{Follow: o.follow, Timestamps: o.timestamps}
	if o.since > 0 {
		s := int64(o.since.Round(time.Second) / time.Second)
		opts.SinceSeconds = &s
	}
	if o.tail >= 0 {
		t := o.tail
		opts.TailLines = &t
	}
	return opts
}

// selectParties checks --party against the task's parties; nil is all.
func selectParties(task *kusciav1alpha1.KusciaTask, names []string) (map[string]bool, error) {
	if len(names) == 0 {
		return nil, nil
	}
	known := partyNamespaces(task)
	out := map[string]bool{}
	for _, n := range names {
		if !slices.Contains(known, n) {
			return nil, usageError("task %s has no party %q (parties: %s)", task.Name, n, strings.Join(known, ", "))
		}
		out[n] = true
	}
	return out, nil
}

// fanOut reads many pods' logs into one output.
type fanOut struct {
	logs   LogStreamer
	opts   corev1.PodLogOptions
	out    *prefixWriter
	errOut io.Writer

	mu      sync.Mutex
	started map[types.UID]bool
	active  int
	errs    []error
	wg      sync.WaitGroup
	// idle is signalled when a stream ends (follow mode watches it).
	idle chan struct{}
}

// logContainer is the container whose logs a pod shows: the one its
// default-container annotation names, else its first.
func logContainer(pod *corev1.Pod) string {
	if name := pod.Annotations[defaultContainerAnnotation]; name != "" {
		for _, c := range pod.Spec.Containers {
			if c.Name == name {
				return name
			}
		}
	}
	if len(pod.Spec.Containers) == 0 {
		return ""
	}
	return pod.Spec.Containers[0].Name
}

// containerStarted reports whether the container ran at some point, so it
// has logs to read.
func containerStarted(pod *corev1.Pod, name string) bool {
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name == name {
			return cs.State.Running != nil || cs.State.Terminated != nil || cs.LastTerminationState.Terminated != nil
		}
	}
	return false
}

// podPrefix is "[party/pod] ".
func podPrefix(pod *corev1.Pod) string {
	party := pod.Labels[kusciav1alpha1.LabelParty]
	if party == "" {
		party = pod.Namespace
	}
	return "[" + party + "/" + pod.Name + "] "
}

// start reads a pod's logs once its container started; say tells on
// errOut why a pod has none yet.
func (f *fanOut) start(ctx context.Context, pod *corev1.Pod, say bool) {
	container := logContainer(pod)
	if !containerStarted(pod, container) {
		if say {
			fmt.Fprintf(f.errOut, "%scontainer %q has not started: no logs yet\n", podPrefix(pod), container)
		}
		return
	}
	f.mu.Lock()
	if f.started[pod.UID] {
		f.mu.Unlock()
		return
	}
	f.started[pod.UID] = true
	f.active++
	f.mu.Unlock()
	opts := f.opts
	opts.Container = container
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		err := f.copy(ctx, pod, &opts)
		f.mu.Lock()
		f.active--
		if err != nil && ctx.Err() == nil {
			f.errs = append(f.errs, err)
			fmt.Fprintf(f.errOut, "%s%v\n", podPrefix(pod), err)
		}
		f.mu.Unlock()
		if f.idle != nil {
			select {
			case f.idle <- struct{}{}:
			default:
			}
		}
	}()
}

// copy streams one pod's log, line by line, with its prefix.
func (f *fanOut) copy(ctx context.Context, pod *corev1.Pod, opts *corev1.PodLogOptions) error {
	rc, err := f.logs.StreamLogs(ctx, pod.Namespace, pod.Name, opts)
	if err != nil {
		return fmt.Errorf("reading the logs of container %s: %w", opts.Container, err)
	}
	defer rc.Close()
	prefix := podPrefix(pod)
	r := bufio.NewReader(rc)
	for {
		line, err := r.ReadString('\n')
		if line != "" {
			if werr := f.out.writeLine(prefix, line); werr != nil {
				return werr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the logs of container %s: %w", opts.Container, err)
		}
	}
}

// wait waits for every stream; an error when any failed.
func (f *fanOut) wait() error {
	f.wg.Wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.errs) > 0 {
		return &CodedError{Code: ExitError, Err: fmt.Errorf("reading the logs of %d pod(s) failed: %w", len(f.errs), errors.Join(f.errs...)), Silent: true}
	}
	return nil
}

func (f *fanOut) activeStreams() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.active
}

// prefixWriter writes whole lines from many goroutines, each with its
// prefix, never interleaving within a line.
type prefixWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (p *prefixWriter) writeLine(prefix, line string) error {
	if !strings.HasSuffix(line, "\n") {
		line += "\n"
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := io.WriteString(p.w, prefix+line); err != nil {
		return fmt.Errorf("writing logs: %w", err)
	}
	return nil
}
