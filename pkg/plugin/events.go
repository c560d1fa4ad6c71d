package plugin

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
)

const eventsExample = `  # The task's events and its pods' and PodGroups' in every party, oldest first
  kubectl kuscia events secretflow-task-psi`

type eventsOptions struct {
	streams genericiooptions.IOStreams
	deps
}

func newEventsCommand(streams genericiooptions.IOStreams, d deps) *cobra.Command {
	o := &eventsOptions{streams: streams, deps: d}
	return &cobra.Command{
		Use:   "events TASK",
		Short: "Show the task's, its pods' and its PodGroups' events in one time-ordered list",
		Long: `Events gathers the task's own events (recorded by the controller) and the
events of its pods and PodGroups in every party's namespace (the scheduler's,
the kubelets'), oldest first. Pods are found by the task-UID label and by the
names in status.podStatuses, so the pods of earlier rounds are included.`,
		Example:           eventsExample,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeTaskNames(d.clients, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), args[0])
		},
	}
}

func (o *eventsOptions) run(ctx context.Context, name string) error {
	c, err := o.clients()
	if err != nil {
		return err
	}
	task, err := c.getTask(ctx, name)
	if err != nil {
		return err
	}
	events, err := c.taskEvents(ctx, task)
	if err != nil {
		return &CodedError{Code: ExitError, Err: err}
	}
	return printEvents(o.streams.Out, events, o.now())
}

// taskEvents collects the events of the task (in the default namespace,
// where events of cluster-scoped objects go), its pods and its PodGroups,
// sorted by time.
func (c *Clients) taskEvents(ctx context.Context, task *kusciav1alpha1.KusciaTask) ([]corev1.Event, error) {
	own, err := c.Kube.CoreV1().Events(metav1.NamespaceDefault).List(ctx, metav1.ListOptions{
		FieldSelector: fields.Set{"involvedObject.kind": "KusciaTask", "involvedObject.name": task.Name}.String(),
	})
	if err != nil {
		return nil, fmt.Errorf("listing the events of task %s: %w", task.Name, err)
	}
	var out []corev1.Event
	for _, e := range own.Items {
		if e.InvolvedObject.Kind == "KusciaTask" && e.InvolvedObject.Name == task.Name && (e.InvolvedObject.UID == "" || e.InvolvedObject.UID == task.UID) {
			out = append(out, e)
		}
	}
	children, err := c.childNames(ctx, task)
	if err != nil {
		return nil, err
	}
	for _, ns := range partyNamespaces(task) {
		list, err := c.Kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("listing the events of namespace %s: %w", ns, err)
		}
		for _, e := range list.Items {
			if children[childKey{e.InvolvedObject.Kind, e.InvolvedObject.Namespace, e.InvolvedObject.Name}] {
				out = append(out, e)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return eventTime(&out[i]).Before(eventTime(&out[j])) })
	return out, nil
}

type childKey struct{ kind, namespace, name string }

// childNames are the task's pods (live, by the task-UID label, and those
// status remembers) and its parties' PodGroups.
func (c *Clients) childNames(ctx context.Context, task *kusciav1alpha1.KusciaTask) (map[childKey]bool, error) {
	out := map[childKey]bool{}
	pods, err := c.taskPods(ctx, task, nil)
	if err != nil {
		return nil, err
	}
	for _, p := range pods {
		out[childKey{"Pod", p.Namespace, p.Name}] = true
	}
	for _, ps := range task.Status.PodStatuses {
		if ps != nil {
			out[childKey{"Pod", ps.Namespace, ps.PodName}] = true
		}
	}
	for _, p := range task.Spec.Parties {
		out[childKey{"PodGroup", p.DomainID, builder.PodGroupName(task.Name, p.Role)}] = true
	}
	return out, nil
}

// eventTime is when an event last happened.
func eventTime(e *corev1.Event) time.Time {
	switch {
	case e.Series != nil && !e.Series.LastObservedTime.IsZero():
		return e.Series.LastObservedTime.Time
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.FirstTimestamp.IsZero():
		return e.FirstTimestamp.Time
	}
	return e.CreationTimestamp.Time
}

// printEvents prints LAST SEEN, TYPE, REASON, OBJECT, MESSAGE.
func printEvents(out io.Writer, events []corev1.Event, now time.Time) error {
	if len(events) == 0 {
		_, err := fmt.Fprintln(out, "No events found.")
		return err
	}
	w := printers.GetNewTabWriter(out)
	fmt.Fprintln(w, "LAST SEEN\tTYPE\tREASON\tOBJECT\tMESSAGE")
	for i := range events {
		e := &events[i]
		obj := strings.ToLower(e.InvolvedObject.Kind) + "/"
		if e.InvolvedObject.Namespace != "" {
			obj += e.InvolvedObject.Namespace + "/"
		}
		obj += e.InvolvedObject.Name
		msg := oneLine(e.Message, messageWidth)
		if e.Count > 1 {
			msg += fmt.Sprintf(" (x%d)", e.Count)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", age(now, eventTime(e)), e.Type, e.Reason, obj, msg)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("writing the events: %w", err)
	}
	return nil
}
