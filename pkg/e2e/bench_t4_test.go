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
	if err := b.clients.createTasks(ctx, tasks, b.cfg.ReactionRate); err != nil {
		return err
	}
	if err := b.watch.waitUntil(ctx, 10*time.Minute, "every task Succeeded", allTasksSucceededEnd.cond(n)); err != nil {
		return err
	}
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
		f := figure{Name: fmt.Sprintf("T4 reaction %s (%d tasks)", q.name, n), Value: ms(quantile(d, q.q)), Unit: "ms"}
		if q.name == "p99" {
			f.Target = "≤ 50 ms"
			b.add(f, func(f figure) bool { return f.Value <= 50 })
			continue
		}
		b.add(f, nil)
	}
	return b.clients.cleanUp(ctx, b.watch, tasks)
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
