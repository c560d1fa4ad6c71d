// The get verb: a table of tasks, one task as a tree of parties and pods,
// or the tasks as stored (print.go), once or watched (get_watch.go).

package plugin

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/plugin/flaggroups"
	"kusciatask.io/controller/pkg/reservation"
	"kusciatask.io/controller/pkg/status"
)

const getExample = `  # Every task, one line each: phase, age, round, parties, reason
  kubectl kuscia get

  # More columns: the gang's minimum, the parties, the message
  kubectl kuscia get -o wide

  # One task as a tree: task → party → pod, the reservation round and what it waits for
  kubectl kuscia get secretflow-task-psi

  # The task as stored, status included; or one field of it
  kubectl kuscia get secretflow-task-psi -o yaml
  kubectl kuscia get secretflow-task-psi -o jsonpath='{.status.phase}'

  # The names of the tasks with a label, for scripts
  kubectl kuscia get -l team=psi -o name

  # Columns of your own
  kubectl kuscia get -o custom-columns=NAME:.metadata.name,PHASE:.status.phase,REASON:.status.reason

  # Follow the tasks: a line each time one changes (Ctrl-C ends)
  kubectl kuscia get -w`

// messageWidth caps the messages of the human output.
const messageWidth = 160

type getOptions struct {
	print         *printFlags
	selector      string
	allNamespaces bool
	watch         bool
	streams       genericiooptions.IOStreams
	deps
}

func newGetCommand(streams genericiooptions.IOStreams, d deps) *cobra.Command {
	o := &getOptions{print: newPrintFlags(), streams: streams, deps: d}
	cmd := &cobra.Command{
		Use:   "get [TASK]",
		Short: "List tasks, or show one task as a tree of parties and pods",
		Long: `Get lists KusciaTasks as a table (-o wide adds columns), or shows one task as
a tree of its parties and pods with the reservation round and what it waits
for. -o prints the tasks as stored instead, as kubectl get does: json, yaml,
name, jsonpath=..., go-template=..., custom-columns=....

KusciaTasks are cluster-scoped: -A/--all-namespaces is accepted, as kubectl
accepts it for any cluster-scoped resource, and changes nothing; so does
-n/--namespace.

With -w, get prints the tasks, then one line (or object) each time one
changes, until interrupted; a watched task is a table row, not a tree.`,
		Example:           getExample,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeTaskNames(d.clients, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), args)
		},
	}
	o.print.addFlags(cmd)
	cmd.Flags().StringVarP(&o.selector, "selector", "l", "", "Only tasks with these labels (e.g. -l team=psi,stage!=test), as kubectl's label selectors.")
	cmd.Flags().BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "Accepted and ignored: KusciaTasks are cluster-scoped, so every task is listed anyway.")
	cmd.Flags().BoolVarP(&o.watch, "watch", "w", false, "After printing, watch for changes and print each (until interrupted).")
	flaggroups.Set(cmd.Flags(), flaggroups.Selection, "selector", "all-namespaces")
	flaggroups.Set(cmd.Flags(), flaggroups.Output, "output", "no-headers", "template", "allow-missing-template-keys", "show-managed-fields", "watch")
	return cmd
}

func (o *getOptions) run(ctx context.Context, args []string) error {
	printer, err := o.print.toPrinter()
	if err != nil {
		return err
	}
	if len(args) > 0 && o.selector != "" {
		return usageError("a task name and -l/--selector cannot be used together")
	}
	if _, err := labels.Parse(o.selector); err != nil {
		return usageError("-l %q: %w", o.selector, err)
	}
	c, err := o.clients()
	if err != nil {
		return err
	}
	if o.watch {
		return o.runWatch(ctx, c, args, printer)
	}
	if len(args) == 0 {
		return o.printList(ctx, c, printer)
	}
	return o.printOne(ctx, c, args[0], printer)
}

// printList prints every task (matching -l) as a table or with printer.
func (o *getOptions) printList(ctx context.Context, c *Clients, printer printers.ResourcePrinter) error {
	list, err := c.Kuscia.KusciaV1alpha1().KusciaTasks().List(ctx, metav1.ListOptions{LabelSelector: o.selector})
	if err != nil {
		return &CodedError{Code: ExitError, Err: fmt.Errorf("listing KusciaTasks: %w", err)}
	}
	switch {
	case printer != nil && o.print.perItem():
		return printItems(printer, list, o.streams.Out)
	case printer != nil:
		return printObject(printer, list, o.streams.Out)
	}
	return o.table().print(o.streams.Out, list.Items)
}

// printOne prints one task: a tree, a wide table row, or with printer.
func (o *getOptions) printOne(ctx context.Context, c *Clients, name string, printer printers.ResourcePrinter) error {
	task, err := c.getTask(ctx, name)
	if err != nil {
		return err
	}
	if printer != nil {
		return printObject(printer, task, o.streams.Out)
	}
	if o.print.format() == outputWide {
		return o.table().print(o.streams.Out, []kusciav1alpha1.KusciaTask{*task})
	}
	pods, err := c.taskPods(ctx, task, nil)
	if err != nil {
		// The tree still shows what status says; restarts are missing.
		fmt.Fprintf(o.streams.ErrOut, "warning: %v\n", err)
	}
	return printTaskTree(o.streams.Out, task, pods, o.now(), paletteFor(o.streams.Out))
}

// table is the human table -o and --no-headers ask for.
func (o *getOptions) table() *taskTable {
	return &taskTable{wide: o.print.format() == outputWide, noHeaders: o.print.noHeaders, now: o.now()}
}

// treeWriter writes the lines of a task tree.
type treeWriter struct {
	out io.Writer
	err error
}

func (w *treeWriter) line(format string, args ...any) {
	if w.err == nil {
		_, w.err = fmt.Fprintf(w.out, format+"\n", args...)
	}
}

// printTaskTree prints task → party → pod, the reservation round, what it
// waits for and the last failure. Pods come from status.podStatuses (the
// controller's view, with its reasons) and the live pods (restarts, and
// pods status does not list yet).
func printTaskTree(out io.Writer, task *kusciav1alpha1.KusciaTask, pods []corev1.Pod, now time.Time, p palette) error {
	w := &treeWriter{out: out}
	s := &task.Status
	head := fmt.Sprintf("KusciaTask %s  %s", task.Name, p.phase(s.Phase))
	if s.Reason != "" {
		head += "  " + string(s.Reason)
	}
	head += "  age " + age(now, task.CreationTimestamp.Time)
	if s.CompletionTime != nil && s.StartTime != nil {
		head += "  took " + s.CompletionTime.Sub(s.StartTime.Time).String()
	}
	w.line("%s", head)
	if s.Message != "" {
		w.line("  message: %s", oneLine(s.Message, messageWidth))
	}
	w.line("  parties: %s", status.PartiesSummary(s, len(task.Spec.Parties)))
	for _, l := range reservationLines(task, now) {
		w.line("  %s", l)
	}
	live := map[string]*corev1.Pod{}
	for i := range pods {
		live[pods[i].Namespace+"/"+pods[i].Name] = &pods[i]
	}
	for i, party := range task.Spec.Parties {
		last := i == len(task.Spec.Parties)-1
		branch, indent := "├─", "│  "
		if last {
			branch, indent = "└─", "   "
		}
		w.line("%s %s", branch, partyLine(task, party, p))
		keys := partyPodKeys(s, live, party.DomainID)
		for j, key := range keys {
			podBranch := "├─"
			if j == len(keys)-1 {
				podBranch = "└─"
			}
			w.line("%s%s %s", indent, podBranch, podLine(key, s.PodStatuses[key], live[key], now, p))
		}
	}
	return w.err
}

// reservationLines say the round, what it waits for and the last failure.
func reservationLines(task *kusciav1alpha1.KusciaTask, now time.Time) []string {
	r := task.Status.Reservation
	if r == nil {
		return nil
	}
	l := fmt.Sprintf("reservation: round %d", r.Round)
	if r.RoundStartTime != nil {
		l += ", started " + age(now, r.RoundStartTime.Time) + " ago"
	}
	if len(r.ReservedParties) > 0 {
		l += ", reserved " + strings.Join(r.ReservedParties, ", ")
	}
	if r.GateOpenedTime != nil {
		l += ", gates opened " + age(now, r.GateOpenedTime.Time) + " ago"
	}
	out := []string{l}
	if task.Status.Phase == kusciav1alpha1.TaskPending {
		if r.ReleasedTime != nil {
			out = append(out, "waiting: round released "+age(now, r.ReleasedTime.Time)+" ago; the next round starts after the retry interval")
		} else if waiting := waitingParties(task); len(waiting) > 0 {
			out = append(out, "waiting for: "+strings.Join(waiting, ", "))
		}
	}
	if r.LastFailure != "" {
		out = append(out, "last failure: "+oneLine(r.LastFailure, messageWidth))
	}
	return out
}

// waitingParties are the parties not reserved in the current round
// (reservation.NotReserved), in spec order.
func waitingParties(task *kusciav1alpha1.KusciaTask) []string {
	var reserved []string
	if r := task.Status.Reservation; r != nil {
		reserved = r.ReservedParties
	}
	domainIDs := make([]string, 0, len(task.Spec.Parties))
	for _, p := range task.Spec.Parties {
		domainIDs = append(domainIDs, p.DomainID)
	}
	return reservation.NotReserved(reserved, domainIDs)
}

// partyLine is a party's domain, role, phase and message; a pending
// task's party also says whether it reserved.
func partyLine(task *kusciav1alpha1.KusciaTask, party kusciav1alpha1.PartyInfo, p palette) string {
	var ps *kusciav1alpha1.PartyTaskStatus
	for i := range task.Status.PartyTaskStatus {
		if task.Status.PartyTaskStatus[i].DomainID == party.DomainID {
			ps = &task.Status.PartyTaskStatus[i]
		}
	}
	l := "party " + party.DomainID
	if party.Role != "" {
		l += " (" + party.Role + ")"
	}
	if ps == nil {
		return l + "  " + p.phase("")
	}
	l += "  " + p.phase(ps.Phase)
	if task.Status.Phase == kusciav1alpha1.TaskPending {
		if slices.Contains(waitingParties(task), party.DomainID) {
			l += "  " + p.paint(ansiYellow, "waiting")
		} else {
			l += "  reserved"
		}
	}
	if ps.Message != "" {
		l += ": " + oneLine(ps.Message, messageWidth)
	}
	return l
}

// partyPodKeys are the "namespace/name" keys of a party's pods, from status
// and the live pods, sorted.
func partyPodKeys(s *kusciav1alpha1.KusciaTaskStatus, live map[string]*corev1.Pod, domainID string) []string {
	seen := map[string]bool{}
	var keys []string
	add := func(key, ns string) {
		if ns == domainID && !seen[key] {
			seen[key] = true
			keys = append(keys, key)
		}
	}
	for key, ps := range s.PodStatuses {
		if ps != nil {
			add(key, ps.Namespace)
		}
	}
	for key, pod := range live {
		add(key, pod.Namespace)
	}
	sort.Strings(keys)
	return keys
}

// podLine is one pod: node, phase, reason and message, restarts, ready
// time. Status's view wins; the live pod fills in what status lacks.
func podLine(key string, ps *kusciav1alpha1.PodStatus, pod *corev1.Pod, now time.Time, p palette) string {
	var node, reason, message string
	var phase corev1.PodPhase
	var ready *metav1.Time
	if pod != nil {
		node, phase, reason, message = pod.Spec.NodeName, pod.Status.Phase, pod.Status.Reason, pod.Status.Message
	}
	if ps != nil {
		node, phase, reason, message, ready = ps.NodeName, ps.PodPhase, ps.Reason, ps.Message, ps.ReadyTime
		if ps.TerminationLog != "" {
			message = ps.TerminationLog
		}
	}
	if node == "" {
		node = "<none>"
	}
	l := fmt.Sprintf("pod %s  node %s  %s", key, node, p.phase(kusciav1alpha1.KusciaTaskPhase(phase)))
	if reason != "" {
		l += "  " + reason
	}
	if ps != nil && ps.ExitCode != 0 {
		l += fmt.Sprintf(" (exit %d)", ps.ExitCode)
	}
	if pod != nil {
		l += fmt.Sprintf("  restarts %d", restarts(pod))
	}
	if ready != nil {
		l += "  ready " + age(now, ready.Time) + " ago"
	}
	if message != "" {
		l += ": " + oneLine(message, messageWidth)
	}
	return l
}

// restarts counts the restarts of the pod's containers and init containers.
func restarts(pod *corev1.Pod) int32 {
	var n int32
	for _, cs := range pod.Status.ContainerStatuses {
		n += cs.RestartCount
	}
	for _, cs := range pod.Status.InitContainerStatuses {
		n += cs.RestartCount
	}
	return n
}
