//go:build e2e && bench

// T4 reaction: a task's last pod Succeeded → the task Succeeded, on an
// idle plane and under load, and where that time goes.

package bench

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// T4 reaction: how long after a task's last pod is seen Succeeded the task
// is seen Succeeded, both from the harness's watches, with the controller's
// default settings. It is the controller's latency from a pod event to the
// status write, plus two watch deliveries. Two runs of the same number of
// tasks:
//
//   - on an idle plane (the target, p99 ≤ 50 ms): the tasks are created at
//     ReactionRate/s with pods that keep running; once every pod is Running
//     and the plane has settled, the harness ends the tasks one at a time
//     at ReactionRate/s, writing both pods' status Succeeded as a kubelet
//     would. Nothing else happens on the plane meanwhile.
//   - under load: tasks created at ReactionRate/s whose pods succeed 2 s
//     after running, so each reaction shares the plane with the creation
//     of the tasks behind it.
func (b *bench) reaction(ctx context.Context) error {
	if _, err := benchController(ctx, t1Settings[0]); err != nil {
		return err
	}
	// Under load first: the idle run then starts on a plane that has
	// finished the load's clean-up while its own tasks were created.
	if err := b.reactionRun(ctx, false); err != nil {
		return err
	}
	return b.reactionRun(ctx, true)
}

// t4Settle is how long the idle run lets the plane settle (endpoint
// slices, the scheduler's and kwok's last writes) before ending tasks.
const t4Settle = 5 * time.Second

func (b *bench) reactionRun(ctx context.Context, idle bool) error {
	n, rate := b.cfg.Reaction, b.cfg.ReactionRate
	prefix := b.prefix("react")
	outcome, label, csv := "", fmt.Sprintf("under load, %d tasks created at %g/s", n, rate), "t4-load.csv"
	if idle {
		outcome, label, csv = "run", fmt.Sprintf("idle plane, %d tasks ended at %g/s", n, rate), "t4.csv"
	}
	tasks, err := seedTasks(prefix, n, outcome, "")
	if err != nil {
		return err
	}
	b.watch.follow(newTally(prefix+"-", 2))
	var before [2][]sample
	if !idle {
		if before, err = b.reactionMetrics(ctx); err != nil {
			return err
		}
	}
	if err := b.clients.createTasks(ctx, tasks, rate); err != nil {
		return err
	}
	if idle {
		if err := b.watch.waitUntil(ctx, 10*time.Minute, "every pod Running", allRunningEnd.cond(n)); err != nil {
			return err
		}
		time.Sleep(t4Settle)
		if before, err = b.reactionMetrics(ctx); err != nil {
			return err
		}
		profiled := b.clients.apiserverProfile(ctx, time.Duration(float64(n)/rate*float64(time.Second)), "apiserver-t4-idle.pprof")
		if err := b.endTasks(ctx, tasks, rate); err != nil {
			return err
		}
		<-profiled
	}
	if err := b.watch.waitUntil(ctx, 10*time.Minute, "every task Succeeded", allTasksSucceededEnd.cond(n)); err != nil {
		return err
	}
	after, err := b.reactionMetrics(ctx)
	if err != nil {
		return err
	}
	b.reactionParts(label, idle, before, after)
	if !idle {
		b.addSyncs("T4 ("+label+")", n, before[0], after[0], false)
	}
	if err := writeTimeline(csv, b.watch.timeline()); err != nil {
		return err
	}
	d := b.watch.reactions()
	if len(d) < n {
		return fmt.Errorf("reaction: %d of %d tasks had both events", len(d), n)
	}
	slices.Sort(d)
	for _, q := range []struct {
		name string
		q    float64
	}{{"p50", 0.50}, {"p90", 0.90}, {"p99", 0.99}} {
		f := figure{Name: fmt.Sprintf("T4 reaction %s (%s)", q.name, label), Value: ms(quantile(d, q.q)), Unit: "ms"}
		switch {
		case idle && q.name == "p99":
			f.Target = "≤ 50 ms"
			b.add(f, func(f figure) bool { return f.Value <= 50 })
		case q.name == "p99":
			// Issue 23: what the first wave's controller did under this
			// load; the stretch is the idle target.
			f.Target = "≤ 70 ms (stretch ≤ 50 ms)"
			b.add(f, func(f figure) bool { return f.Value <= 70 })
		default:
			b.add(f, nil)
		}
	}
	return b.clients.cleanUp(ctx, b.watch, tasks)
}

// apiserverProfile saves, in _output/bench/name, the API server's CPU
// profile over the next d, when the plane serves it (LOCAL_UP_PROFILING=true);
// the channel closes when that is done or failed.
func (c *benchClients) apiserverProfile(ctx context.Context, d time.Duration, name string) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		seconds := max(1, int(d.Seconds()))
		data, err := c.kube.CoreV1().RESTClient().Get().AbsPath("/debug/pprof/profile").
			Param("seconds", strconv.Itoa(seconds)).Timeout(d + time.Minute).DoRaw(ctx)
		if err != nil {
			return // not served: profiling is off
		}
		_ = os.WriteFile(filepath.Join(env.root, "_output", "bench", name), data, 0o644)
	}()
	return done
}

// endTasks ends the tasks at rate per second, one at a time: each of a
// task's pods gets the status a kubelet writes when every container exits
// 0. The kwok stages leave a pod with KWOK_OUTCOME=run Running, so nothing
// else writes it.
func (b *bench) endTasks(ctx context.Context, tasks []*kusciav1alpha1.KusciaTask, rate float64) error {
	return parallel(tasks, 1, rate, func(task *kusciav1alpha1.KusciaTask) error {
		for _, key := range b.watch.podsOfTask(task.Name) {
			ns, name, _ := strings.Cut(key, "/")
			if err := b.clients.succeedPod(ctx, ns, name); err != nil {
				return err
			}
		}
		return nil
	})
}

// succeedPod writes a running pod's status as the kubelet does once every
// container exited 0.
func (c *benchClients) succeedPod(ctx context.Context, ns, name string) error {
	pods := c.kube.CoreV1().Pods(ns)
	pod, err := pods.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get pod %s/%s: %w", ns, name, err)
	}
	now := metav1.Now()
	pod.Status.Phase = corev1.PodSucceeded
	for i := range pod.Status.Conditions {
		if cond := &pod.Status.Conditions[i]; cond.Type == corev1.PodReady || cond.Type == corev1.ContainersReady {
			cond.Status, cond.Reason, cond.LastTransitionTime = corev1.ConditionFalse, "PodCompleted", now
		}
	}
	for i := range pod.Status.ContainerStatuses {
		cs := &pod.Status.ContainerStatuses[i]
		started := now
		if cs.State.Running != nil {
			started = cs.State.Running.StartedAt
		}
		cs.Ready, cs.Started = false, new(false)
		cs.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 0, Reason: "Completed", StartedAt: started, FinishedAt: now}}
	}
	if _, err := pods.UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("end pod %s/%s: %w", ns, name, err)
	}
	return nil
}

// reactionMetrics scrapes the controller's and the API server's metrics.
func (b *bench) reactionMetrics(ctx context.Context) ([2][]sample, error) {
	ctl, err := controllerMetrics(ctx)
	if err != nil {
		return [2][]sample{}, err
	}
	api, err := b.clients.apiserverMetrics(ctx)
	return [2][]sample{ctl, api}, err
}

// reactionParts adds where a reaction's time goes, as means over a T4 run
// from the processes' own histograms: the wait in the controller's
// workqueue, a sync, and the API server's time for the write a reaction
// makes (a task status PUT), with another write beside it for scale.
func (b *bench) reactionParts(label string, idle bool, before, after [2][]sample) {
	mean := func(i int, name string, labels map[string]string) float64 {
		n := sum(after[i], name+"_count", labels) - sum(before[i], name+"_count", labels)
		if n <= 0 {
			return 0
		}
		return (sum(after[i], name+"_sum", labels) - sum(before[i], name+"_sum", labels)) / n * 1000
	}
	const ctl, api = 0, 1
	type part struct {
		name   string
		i      int
		metric string
		labels map[string]string
	}
	// For scale, the write that starts a reaction on an idle plane (the
	// harness's pod status PUT), or a pod create under load.
	other := part{"T4 API server's mean time for a pod create (POST pods)", api, "apiserver_request_duration_seconds",
		map[string]string{"verb": "POST", "resource": "pods", "subresource": ""}}
	if idle {
		other = part{"T4 API server's mean time for a pod status write (PUT pods/status)", api, "apiserver_request_duration_seconds",
			map[string]string{"verb": "PUT", "resource": "pods", "subresource": "status"}}
	}
	for _, p := range []part{
		{"T4 mean wait of a task in the controller's workqueue", ctl, "workqueue_queue_duration_seconds", map[string]string{"name": "kusciatask-controller"}},
		{"T4 mean sync in the controller", ctl, "kusciatask_sync_duration_seconds", nil},
		{"T4 API server's mean time for a task status write (PUT kusciatasks/status)", api, "apiserver_request_duration_seconds",
			map[string]string{"verb": "PUT", "resource": "kusciatasks", "subresource": "status"}},
		{"T4 of which etcd's (the API server's mean etcd update of a task)", api, "etcd_request_duration_seconds",
			map[string]string{"operation": "update", "group": kusciav1alpha1.GroupName, "resource": "kusciatasks"}},
		{"T4 API server's mean wait for its watch cache of tasks to be fresh", api, "apiserver_watch_cache_read_wait_seconds",
			map[string]string{"group": kusciav1alpha1.GroupName, "resource": "kusciatasks"}},
		other,
	} {
		b.add(figure{Name: fmt.Sprintf("%s (%s)", p.name, label), Value: mean(p.i, p.metric, p.labels), Unit: "ms"}, nil)
	}
	// The tails: a p99 reaction waits where a p99 part does, not a mean one.
	for _, p := range []part{
		{"T4 p99 wait of a task in the controller's workqueue", ctl, "workqueue_queue_duration_seconds", map[string]string{"name": "kusciatask-controller"}},
		{"T4 p99 sync in the controller", ctl, "kusciatask_sync_duration_seconds", nil},
		{"T4 API server's p99 time for a task status write (PUT kusciatasks/status)", api, "apiserver_request_duration_seconds",
			map[string]string{"verb": "PUT", "resource": "kusciatasks", "subresource": "status"}},
		// The controller PUTs task statuses, and its Lease (a client of its own).
		{"T4 p99 wait of a status write (PUT) in the controller's client rate limiter", ctl, "rest_client_rate_limiter_duration_seconds",
			map[string]string{"verb": "PUT"}},
		{"T4 p99 wait of a create (POST) in the controller's client rate limiter", ctl, "rest_client_rate_limiter_duration_seconds",
			map[string]string{"verb": "POST"}},
	} {
		v := histogramQuantile(before[p.i], after[p.i], p.metric, p.labels, 0.99)
		b.add(figure{Name: fmt.Sprintf("%s, bucket bound (%s)", p.name, label), Value: v, Unit: "ms"}, nil)
	}
}

// quantile is the q-quantile of sorted durations (nearest rank).
func quantile(sorted []time.Duration, q float64) time.Duration {
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// writeTimeline writes _output/bench/<name>: per task, when its last pod
// and the task were seen Succeeded, and the reaction in ms.
func writeTimeline(name string, tl map[string][2]time.Time) error {
	var sb strings.Builder
	sb.WriteString("task,last_pod_succeeded,task_succeeded,reaction_ms\n")
	for _, task := range slices.Sorted(maps.Keys(tl)) {
		t := tl[task]
		fmt.Fprintf(&sb, "%s,%s,%s,%.1f\n", task, t[0].Format(time.RFC3339Nano), t[1].Format(time.RFC3339Nano), ms(t[1].Sub(t[0])))
	}
	path := filepath.Join(env.root, "_output", "bench", name)
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
