//go:build e2e && bench

// T2 writes: the API server's writes per task run to Succeeded, and on a
// no-op.

package bench

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
)

// T2 writes: what M tasks running straight to Succeeded cost the API
// server in writes, counted by the kube-apiserver itself
// (apiserver_request_total, by verb, group, resource and subresource)
// before and after, with nothing else going on; then a no-op (every pod
// annotated, every task's labels touched) that should cause no controller
// write at all. Target per task: the objects it must create, one
// gate-opening patch per pod, 2 status writes, at most 2 Events; 0 on the
// no-op.

// t2Settle is how long the controller gets, after the last awaited event,
// for writes that would follow it (an Event after the terminal status, a
// reaction to a no-op). Nothing is awaited in between: it is a quiet period.
const t2Settle = 3 * time.Second

// writeCounts are API server writes by kind, over an interval.
type writeCounts struct {
	creates      float64 // pods, services, config maps, PodGroups
	podPatches   float64 // pods, the main resource (the gate's annotation)
	statusWrites float64 // kusciatasks/status
	taskWrites   float64 // kusciatasks, the main resource (not creates)
	events       float64 // core Events, created or patched
}

func (w writeCounts) total() float64 {
	return w.creates + w.podPatches + w.statusWrites + w.taskWrites + w.events
}

// requests sums apiserver_request_total over verbs for one group,
// resource and subresource.
func requests(samples []sample, group, resource, subresource string, verbs ...string) float64 {
	var total float64
	for _, v := range verbs {
		total += sum(samples, "apiserver_request_total", map[string]string{
			"group": group, "resource": resource, "subresource": subresource, "verb": v})
	}
	return total
}

var updateVerbs = []string{"PUT", "PATCH", "APPLY"}

// countWrites are the writes between two scrapes; the tasks' own creates
// (the harness's) are not counted.
func countWrites(before, after []sample) writeCounts {
	delta := func(group, resource, sub string, verbs ...string) float64 {
		return requests(after, group, resource, sub, verbs...) - requests(before, group, resource, sub, verbs...)
	}
	return writeCounts{
		creates: delta("", "pods", "", "POST") + delta("", "services", "", "POST") +
			delta("", "configmaps", "", "POST") + delta("scheduling.k8s.io", "podgroups", "", "POST"),
		podPatches:   delta("", "pods", "", updateVerbs...),
		statusWrites: delta(kusciav1alpha1.GroupName, "kusciatasks", "status", updateVerbs...),
		taskWrites:   delta(kusciav1alpha1.GroupName, "kusciatasks", "", updateVerbs...),
		events:       delta("", "events", "", append([]string{"POST"}, updateVerbs...)...),
	}
}

func (b *bench) writes(ctx context.Context) error {
	if _, err := benchController(ctx, t1Settings[0]); err != nil {
		return err
	}
	m := b.cfg.M
	prefix := b.prefix("writes")
	tasks, err := seedTasks(prefix, m, "", "")
	if err != nil {
		return err
	}
	perTask, err := objectsPerTask(ctx, tasks[0])
	if err != nil {
		return err
	}
	b.watch.follow(newTally(prefix+"-", 2))
	before, err := b.clients.apiserverMetrics(ctx)
	if err != nil {
		return err
	}
	ctlBefore, err := controllerMetrics(ctx)
	if err != nil {
		return err
	}
	if err := b.clients.createTasks(ctx, tasks, 0); err != nil {
		return err
	}
	if err := b.watch.waitUntil(ctx, 10*time.Minute, "every task Succeeded", allTasksSucceededEnd.cond(m)); err != nil {
		return err
	}
	time.Sleep(t2Settle)
	after, err := b.clients.apiserverMetrics(ctx)
	if err != nil {
		return err
	}
	ctlAfter, err := controllerMetrics(ctx)
	if err != nil {
		return err
	}
	w := countWrites(before, after)
	fm := float64(m)
	b.add(figure{Name: "T2 creates per task", Value: w.creates / fm, Baseline: float64(perTask),
		Target: "objects it must create"}, func(f figure) bool { return f.Value <= f.Baseline })
	b.add(figure{Name: "T2 pod patches per pod", Value: w.podPatches / (2 * fm), Target: "≤ 1 (the gate)"},
		func(f figure) bool { return f.Value <= 1 })
	b.add(figure{Name: "T2 kusciatasks/status writes per task", Value: w.statusWrites / fm, Target: "≤ 2"},
		func(f figure) bool { return f.Value <= 2 })
	b.add(figure{Name: "T2 kusciatasks (not status) writes per task", Value: w.taskWrites / fm, Target: "0"},
		func(f figure) bool { return f.Value == 0 })
	b.add(figure{Name: "T2 Events created+patched per task", Value: w.events / fm, Target: "≤ 2"},
		func(f figure) bool { return f.Value <= 2 })
	bound := float64(perTask) + 2 + 2 + 2
	b.add(figure{Name: "T2 writes per task, all", Value: w.total() / fm, Target: fmt.Sprintf("≤ %g", bound)},
		func(f figure) bool { return f.Value <= bound })
	b.addSyncs("T2", m, ctlBefore, ctlAfter, true)

	noop, err := b.noOpWrites(ctx, tasks)
	if err != nil {
		return err
	}
	b.add(figure{Name: "T2 controller writes on a no-op (all tasks)", Value: noop, Target: "0"},
		func(f figure) bool { return f.Value == 0 })
	return b.clients.cleanUp(ctx, b.watch, tasks)
}

// noOpWrites annotates every pod of the tasks and touches every task's
// labels, and returns the writes that followed besides the harness's own.
func (b *bench) noOpWrites(ctx context.Context, tasks []*kusciav1alpha1.KusciaTask) (float64, error) {
	pods, err := b.taskPods(ctx, tasks)
	if err != nil {
		return 0, err
	}
	before, err := b.clients.apiserverMetrics(ctx)
	if err != nil {
		return 0, err
	}
	patch := []byte(`{"metadata":{"annotations":{"bench.kusciatask.io/no-op":"1"}}}`)
	for _, p := range pods {
		if _, err := b.clients.kube.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			return 0, fmt.Errorf("annotate pod %s: %w", p.Name, err)
		}
	}
	if err := b.touchLabels(ctx, tasks, "no-op"); err != nil {
		return 0, err
	}
	time.Sleep(t2Settle)
	after, err := b.clients.apiserverMetrics(ctx)
	if err != nil {
		return 0, err
	}
	w := countWrites(before, after)
	w.podPatches -= float64(len(pods))
	w.taskWrites -= float64(len(tasks))
	return w.total(), nil
}

// touchLabels merge-patches a label onto every task.
func (b *bench) touchLabels(ctx context.Context, tasks []*kusciav1alpha1.KusciaTask, value string) error {
	patch := []byte(fmt.Sprintf(`{"metadata":{"labels":{"bench.kusciatask.io/touch":%q}}}`, value))
	for _, t := range tasks {
		if _, err := b.clients.kuscia.KusciaV1alpha1().KusciaTasks().Patch(ctx, t.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			return fmt.Errorf("touch task %s: %w", t.Name, err)
		}
	}
	return nil
}

type podRef struct{ Namespace, Name string }

// taskPods lists the pods of the tasks (one list per domain namespace).
func (b *bench) taskPods(ctx context.Context, tasks []*kusciav1alpha1.KusciaTask) ([]podRef, error) {
	names := map[string]bool{}
	for _, t := range tasks {
		names[builder.TaskLabelValue(t.Name)] = true
	}
	var out []podRef
	for _, ns := range []string{"alice", "bob"} {
		list, err := b.clients.kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: kusciav1alpha1.LabelTask})
		if err != nil {
			return nil, fmt.Errorf("list pods: %w", err)
		}
		for _, p := range list.Items {
			if names[p.Labels[kusciav1alpha1.LabelTask]] {
				out = append(out, podRef{p.Namespace, p.Name})
			}
		}
	}
	return out, nil
}

// objectsPerTask is how many objects the controller must create for the
// task: what the builder builds with PodGroups when served.
func objectsPerTask(ctx context.Context, task *kusciav1alpha1.KusciaTask) (int, error) {
	loop, err := newBareLoop(ctx, t1Settings[0], contentProtobuf)
	if err != nil {
		return 0, err
	}
	task = task.DeepCopy()
	task.UID = "count"
	plan, err := builder.PlanTask(task, builder.Inputs{AppImages: loop.images, Namespaces: loop.domains, Policy: loop.policy, Start: time.Now()})
	if err != nil {
		return 0, fmt.Errorf("plan: %w", err)
	}
	parties, err := builder.BuildTask(ctx, task, plan, 1)
	if err != nil {
		return 0, fmt.Errorf("build: %w", err)
	}
	n := 0
	for _, p := range parties {
		n += len(p.ConfigMaps) + len(p.Services) + len(p.Pods)
		if p.PodGroup != nil {
			n++
		}
	}
	return n, nil
}
