//go:build e2e && bench

package e2e

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// T4 reaction: how long after a task's last pod is seen Succeeded the task
// is seen Succeeded, both from the harness's watches, over tasks created
// at 5/s on an otherwise idle plane with the controller's default
// settings. It is the controller's latency from a pod event to the status
// write, plus two watch deliveries. Target: p99 ≤ 50 ms.
func (b *bench) reaction(ctx context.Context) error {
	if _, err := benchController(ctx, t1Settings[0]); err != nil {
		return err
	}
	n := b.cfg.Reaction
	prefix := b.prefix("react")
	tasks, err := seedTasks(prefix, n, "", "")
	if err != nil {
		return err
	}
	b.watch.follow(newTally(prefix+"-", 2))
	before, err := b.reactionMetrics(ctx)
	if err != nil {
		return err
	}
	if err := b.clients.createTasks(ctx, tasks, b.cfg.ReactionRate); err != nil {
		return err
	}
	if err := b.watch.waitUntil(ctx, 10*time.Minute, "every task Succeeded", allTasksSucceededEnd.cond(n)); err != nil {
		return err
	}
	after, err := b.reactionMetrics(ctx)
	if err != nil {
		return err
	}
	b.reactionParts(before, after)
	if err := writeTimeline(b.watch.timeline()); err != nil {
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
		f := figure{Name: fmt.Sprintf("T4 reaction %s (%d tasks at %g/s)", q.name, n, b.cfg.ReactionRate), Value: ms(quantile(d, q.q)), Unit: "ms"}
		if q.name == "p99" {
			f.Target = "≤ 50 ms"
			b.add(f, func(f figure) bool { return f.Value <= 50 })
			continue
		}
		b.add(f, nil)
	}
	return b.clients.cleanUp(ctx, b.watch, tasks)
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

// reactionParts adds where a reaction's time goes, as means over T4 from
// the processes' own histograms: the wait in the controller's workqueue,
// a sync, and the API server's time for the writes a sync makes (a status
// PUT; a pod create beside it for scale).
func (b *bench) reactionParts(before, after [2][]sample) {
	mean := func(i int, name string, labels map[string]string) float64 {
		n := sum(after[i], name+"_count", labels) - sum(before[i], name+"_count", labels)
		if n <= 0 {
			return 0
		}
		return (sum(after[i], name+"_sum", labels) - sum(before[i], name+"_sum", labels)) / n * 1000
	}
	const ctl, api = 0, 1
	for _, p := range []struct {
		name   string
		i      int
		metric string
		labels map[string]string
	}{
		{"T4 mean wait of a task in the controller's workqueue", ctl, "workqueue_queue_duration_seconds", map[string]string{"name": "kusciatask-controller"}},
		{"T4 mean sync in the controller", ctl, "kusciatask_sync_duration_seconds", nil},
		{"T4 API server's mean time for a task status write (PUT kusciatasks/status)", api, "apiserver_request_duration_seconds",
			map[string]string{"verb": "PUT", "resource": "kusciatasks", "subresource": "status"}},
		{"T4 API server's mean time for a pod create (POST pods)", api, "apiserver_request_duration_seconds",
			map[string]string{"verb": "POST", "resource": "pods", "subresource": ""}},
	} {
		b.add(figure{Name: p.name, Value: mean(p.i, p.metric, p.labels), Unit: "ms"}, nil)
	}
}

// quantile is the q-quantile of sorted durations (nearest rank).
func quantile(sorted []time.Duration, q float64) time.Duration {
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// writeTimeline writes _output/bench/t4.csv: per task, when its last pod
// and the task were seen Succeeded, and the reaction in ms.
func writeTimeline(tl map[string][2]time.Time) error {
	var sb strings.Builder
	sb.WriteString("task,last_pod_succeeded,task_succeeded,reaction_ms\n")
	for _, task := range slices.Sorted(maps.Keys(tl)) {
		t := tl[task]
		fmt.Fprintf(&sb, "%s,%s,%s,%.1f\n", task, t[0].Format(time.RFC3339Nano), t[1].Format(time.RFC3339Nano), ms(t[1].Sub(t[0])))
	}
	path := filepath.Join(env.root, "_output", "bench", "t4.csv")
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
