// get's table of tasks: one row per task, -o wide adding the gang's
// minimum, the parties and the message.

package plugin

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"k8s.io/cli-runtime/pkg/printers"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/status"
)

// wideMessageWidth caps the MESSAGE column of -o wide.
const wideMessageWidth = 80

// taskTable prints tasks as rows.
type taskTable struct {
	wide      bool
	noHeaders bool
	now       time.Time
}

// print prints the header and one row per task, sorted by name.
func (t *taskTable) print(out io.Writer, tasks []kusciav1alpha1.KusciaTask) error {
	if len(tasks) == 0 {
		_, err := fmt.Fprintln(out, "No KusciaTasks found.")
		return err
	}
	sort.Slice(tasks, func(i, j int) bool { return tasks[i].Name < tasks[j].Name })
	w := printers.GetNewTabWriter(out)
	if !t.noHeaders {
		fmt.Fprintln(w, t.header())
	}
	for i := range tasks {
		fmt.Fprintln(w, t.row(&tasks[i]))
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("writing the task list: %w", err)
	}
	return nil
}

func (t *taskTable) header() string {
	h := "NAME\tPHASE\tAGE\tROUND\tPARTIES\tREASON"
	if t.wide {
		h += "\tMIN-RESERVED\tDOMAINS\tMESSAGE"
	}
	return h
}

// row is one task's cells, tab-separated.
func (t *taskTable) row(task *kusciav1alpha1.KusciaTask) string {
	phase := string(task.Status.Phase)
	if phase == "" {
		phase = "<new>"
	}
	cells := []string{task.Name, phase, age(t.now, task.CreationTimestamp.Time),
		round(task), status.PartiesSummary(&task.Status, len(task.Spec.Parties)), string(task.Status.Reason)}
	if t.wide {
		cells = append(cells, minReserved(task), strings.Join(partyNamespaces(task), ","),
			oneLine(task.Status.Message, wideMessageWidth))
	}
	return strings.Join(cells, "\t")
}

func round(t *kusciav1alpha1.KusciaTask) string {
	if t.Status.Reservation == nil || t.Status.Reservation.Round == 0 {
		return "-"
	}
	return fmt.Sprint(t.Status.Reservation.Round)
}

// minReserved is how many parties must reserve: minReservedMembers, else
// every party.
func minReserved(t *kusciav1alpha1.KusciaTask) string {
	if c := t.Spec.ScheduleConfig; c != nil && c.MinReservedMembers != nil {
		return fmt.Sprint(*c.MinReservedMembers)
	}
	return fmt.Sprint(len(t.Spec.Parties))
}
