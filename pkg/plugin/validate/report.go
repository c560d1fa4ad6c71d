package validate

// This file holds validate's report: each task's problems and what the
// controller would build of it, and a one-line summary at the end.

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"kusciatask.io/controller/pkg/builder"
)

// Problem is one thing that keeps a task from running: Reason is the
// reason the controller would fail the task with (a KusciaTaskReason), or
// ReasonSchema for a document the API does not accept as written.
type Problem struct {
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// ReasonSchema is a document that breaks the API's schema: a field the API
// does not declare, a value of the wrong type.
const ReasonSchema = "SchemaViolation"

// report is what validate found, for all the tasks of the files.
type report struct {
	// inputProblems are problems of the AppImage and namespace documents.
	inputProblems []Problem
	// notes are said once, before the tasks.
	notes []string
	// checked says against what: offline files, or the cluster.
	checked string
	// policy is the controller policy the tasks were built under.
	policy builder.Policy
	tasks  []*taskReport
}

// taskReport is one task: its problems and what it would create.
type taskReport struct {
	name, where string
	problems    []Problem
	notes       []string
	check       *builder.Check
	// appImages are the parties' AppImage names, in spec order.
	appImages []string
}

// summary is the report's last line: how many problems, in how many of
// the tasks, e.g. "3 problems in 1 of 2 tasks".
func (r *report) summary() string {
	withProblems, inTasks := 0, 0
	for _, t := range r.tasks {
		if len(t.problems) > 0 {
			withProblems++
			inTasks += len(t.problems)
		}
	}
	switch {
	case len(r.inputProblems) > 0:
		return fmt.Sprintf("%s: %d in %s, %d in the input files",
			countProblems(r.problemCount()), inTasks, someTasks(withProblems, len(r.tasks)), len(r.inputProblems))
	case withProblems > 0:
		return fmt.Sprintf("%s in %s", countProblems(inTasks), someTasks(withProblems, len(r.tasks)))
	}
	return fmt.Sprintf("no problems in %s", plural(len(r.tasks), "task"))
}

// someTasks is "1 of 2 tasks", or "1 task" when it is the only one.
func someTasks(n, of int) string {
	if n == of && of == 1 {
		return "1 task"
	}
	return fmt.Sprintf("%d of %s", n, plural(of, "task"))
}

func (r *report) problemCount() int {
	n := len(r.inputProblems)
	for _, t := range r.tasks {
		n += len(t.problems)
	}
	return n
}

// Limits of what the summary shows of a rendered config file; -o yaml
// shows it all.
const (
	maxFileLines   = 40
	maxLineColumns = 160
)

// writeText writes the report for a person.
// With summaries, each task's objects follow its problems.
func (r *report) writeText(w io.Writer, summaries bool) {
	fmt.Fprintf(w, "Checked %s.\n", r.checked)
	fmt.Fprintf(w, "Built as the controller builds it with %s.\n", policySummary(r.policy))
	for _, n := range r.notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	if len(r.inputProblems) > 0 {
		fmt.Fprintf(w, "\nInput files: %s\n", countProblems(len(r.inputProblems)))
		writeProblems(w, r.inputProblems)
	}
	for _, t := range r.tasks {
		fmt.Fprintln(w)
		t.writeText(w, summaries)
	}
	fmt.Fprintf(w, "\n%s\n", r.summary())
}

func (t *taskReport) writeText(w io.Writer, summary bool) {
	verdict := "valid"
	if len(t.problems) > 0 {
		verdict = countProblems(len(t.problems))
	}
	fmt.Fprintf(w, "KusciaTask %s in %s: %s\n", t.name, t.where, verdict)
	writeProblems(w, t.problems)
	for _, n := range t.notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	if !summary || t.check == nil || t.check.Plan == nil {
		return
	}
	if len(t.problems) > 0 {
		fmt.Fprintln(w, "  The controller would create nothing of this task while a problem remains; it would build:")
	} else {
		fmt.Fprintln(w, "  The controller would create, in each party's namespace:")
	}
	for i, party := range t.check.Plan.Parties {
		// A task with problems shows its objects, not their files.
		t.writeParty(w, i, party, len(t.problems) == 0)
	}
}

// writeParty writes party i of the plan: what it would create, or that it
// is blocked.
func (t *taskReport) writeParty(w io.Writer, i int, party *builder.PartyPlan, files bool) {
	role := party.Role
	if role == "" {
		role = "-"
	}
	fmt.Fprintf(w, "  party %s (role %s, AppImage %s", party.DomainID, role, t.appImages[i])
	if t.check.Plan.Blocked[i] {
		fmt.Fprintln(w, "): not built")
		return
	}
	objs := t.check.Parties[i]
	fmt.Fprintf(w, ", image %s): %s, %d must reserve\n", party.Image, plural(len(objs.Pods), "pod"), party.MinReservedPods)
	if pg := objs.PodGroup; pg != nil {
		fmt.Fprintf(w, "    podgroup   %s/%s  gang minCount %d\n", pg.Namespace, pg.Name, pg.Spec.SchedulingPolicy.Gang.MinCount)
	}
	for _, pod := range objs.Pods {
		fmt.Fprintf(w, "    pod        %s/%s  %s\n", pod.Namespace, pod.Name, podSummary(pod))
	}
	for _, svc := range objs.Services {
		port := svc.Spec.Ports[0]
		fmt.Fprintf(w, "    service    %s/%s  headless, port %s %d (%s)\n", svc.Namespace, svc.Name, port.Name, port.Port,
			svc.Annotations[builder.AnnotationPortScope])
	}
	for _, cm := range objs.ConfigMaps {
		fmt.Fprintf(w, "    configmap  %s/%s  %s\n", cm.Namespace, cm.Name, strings.Join(slices.Sorted(maps.Keys(cm.Data)), ", "))
		if !files {
			continue
		}
		for _, name := range slices.Sorted(maps.Keys(cm.Data)) {
			writeFile(w, name, cm.Data[name])
		}
	}
}

// policySummary names the controller flags the tasks were built under.
func policySummary(p builder.Policy) string {
	gate := "--reservation-gate=false"
	if p.Gate.Enabled() {
		gate = fmt.Sprintf("--gate-image=%s --pull-during-reservation=%t", p.Gate.Image, p.Gate.PullImages)
	}
	return fmt.Sprintf("--pod-security-level=%s %s --pod-groups=%t", p.PodSecurityLevel, gate, p.PodGroups)
}

// podSummary says what runs in a pod.
func podSummary(pod *corev1.Pod) string {
	var parts []string
	for _, c := range pod.Spec.InitContainers {
		parts = append(parts, "init "+c.Name)
	}
	for _, c := range pod.Spec.Containers {
		parts = append(parts, "container "+c.Name)
	}
	return strings.Join(parts, ", ")
}

// writeFile shows a rendered config file, indented, cut to the summary's
// limits.
func writeFile(w io.Writer, name, content string) {
	lines := strings.Split(strings.TrimSuffix(content, "\n"), "\n")
	fmt.Fprintf(w, "      %s (%s):\n", name, plural(len(content), "byte"))
	for i, line := range lines {
		if i == maxFileLines {
			fmt.Fprintf(w, "        … %s more (-o yaml shows them)\n", plural(len(lines)-i, "line"))
			break
		}
		if runes := []rune(line); len(runes) > maxLineColumns {
			line = string(runes[:maxLineColumns]) + "…"
		}
		fmt.Fprintf(w, "        %s\n", line)
	}
}

func writeProblems(w io.Writer, problems []Problem) {
	width := 0
	for _, p := range problems {
		width = max(width, len(p.Reason))
	}
	for _, p := range problems {
		fmt.Fprintf(w, "  ✗ %-*s  %s\n", width, p.Reason, p.Message)
	}
}

func countProblems(n int) string { return plural(n, "problem") }

func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
