//go:build e2e && bench

// T3 scale: the controller's memory per finished task held, and one
// sync's cost at 100 tasks against K.

package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/e2e/framework"
)

// T3 scale: what a controller holds per finished task, and whether one
// sync costs more with more tasks around.
//
//   - memory: a fresh controller's RSS (VmRSS) and heap right after a
//     forced GC (HeapAlloc: the live objects; HeapInuse: the spans holding
//     them, free slots included) with 0 tasks, and a fresh controller's
//     once K finished tasks exist and it has synced them all; per task
//     held = the difference / K. Target ≤ 20 KB per task (live heap).
//   - sync cost: the mean of kusciatask_sync_duration_seconds over R syncs
//     of one finished task (its labels touched R times), the lowest of
//     three such means, at 100 tasks and at K. Target: flat (read as
//     ratio ≤ 1.5).
//
// The K tasks are created with the CPU-bound client settings, N at a time
// (see finish), and their pods succeed after kwok's default 2 s.

var t3Settings = t1Settings[2] // cpu-bound, gate on

func (b *bench) scale(ctx context.Context) error {
	idle, err := b.freshControllerMemory(ctx, 0)
	if err != nil {
		return err
	}
	k := b.cfg.K
	first := min(100, k)
	prefix := b.prefix("scale")
	tasks, err := seedTasks(prefix, k, "", "")
	if err != nil {
		return err
	}
	b.watch.follow(newTally(prefix+"-", 2))
	if err := b.finish(ctx, tasks[:first], first); err != nil {
		return err
	}
	small, err := b.syncCost(ctx, tasks[0].Name)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := b.finish(ctx, tasks[first:], k); err != nil {
		return err
	}
	b.add(figure{Name: fmt.Sprintf("T3 time to create and finish %d more tasks, %d at a time (%s)", k-first, b.cfg.N, t3Settings),
		Value: time.Since(start).Seconds(), Unit: "s"}, nil)
	b.add(figure{Name: fmt.Sprintf("T3 tasks Failed of %d (e.g. ReservationExpired under load)", k),
		Value: float64(b.watch.counts().tasksFailed), Target: "0"}, func(f figure) bool { return f.Value == 0 })
	large, err := b.syncCost(ctx, tasks[0].Name)
	if err != nil {
		return err
	}
	b.add(figure{Name: fmt.Sprintf("T3 one sync at %d tasks (vs %d)", k, first), Value: large, Unit: "µs",
		Baseline: small, Target: "flat (ratio ≤ 1.5)"}, withinRatio(1.5))

	held, err := b.freshControllerMemory(ctx, k)
	if err != nil {
		return err
	}
	gc := "no forced GC"
	if idle.gcForced && held.gcForced {
		gc = "after a forced GC"
	}
	b.add(figure{Name: "T3 controller live heap, 0 tasks (" + gc + ")", Value: idle.live / 1e6, Unit: "MB"}, nil)
	b.add(figure{Name: fmt.Sprintf("T3 controller live heap, %d finished tasks", k), Value: held.live / 1e6, Unit: "MB"}, nil)
	b.add(figure{Name: "T3 controller RSS, 0 tasks", Value: idle.rss / 1e6, Unit: "MB"}, nil)
	b.add(figure{Name: fmt.Sprintf("T3 controller RSS, %d finished tasks", k), Value: held.rss / 1e6, Unit: "MB"}, nil)
	b.add(figure{Name: "T3 heap held per task (live objects after a GC)", Value: (held.live - idle.live) / float64(k) / 1024, Unit: "KB",
		Target: "≤ 20 KB"}, func(f figure) bool { return f.Value <= 20 })
	b.add(figure{Name: "T3 heap spans in use per task (with their free slots)", Value: (held.heap - idle.heap) / float64(k) / 1024, Unit: "KB"}, nil)
	b.add(figure{Name: "T3 RSS per task", Value: (held.rss - idle.rss) / float64(k) / 1024, Unit: "KB"}, nil)
	// The tasks stay: T3 runs last, and the plane is torn down after it.
	return nil
}

// finish creates tasks (the controller started by freshControllerMemory
// runs them) at most N at a time, and waits, on the watch, until the run's
// total of finished tasks reaches done. All at once, thousands of tasks
// wait so long for room on the API server and the scheduler that most of
// them expire unreserved (ReservationExpired: seen with 2,000 at N=200).
func (b *bench) finish(ctx context.Context, tasks []*kusciav1alpha1.KusciaTask, done int) error {
	already := done - len(tasks)
	for start := 0; start < len(tasks); start += b.cfg.N {
		end := min(start+b.cfg.N, len(tasks))
		if err := b.clients.createTasks(ctx, tasks[start:end], 0); err != nil {
			return err
		}
		want := already + end
		err := b.watch.waitUntil(ctx, 30*time.Minute, fmt.Sprintf("%d tasks finished", want), func(c counts) bool {
			return c.tasksDone+c.tasksFailed >= want
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// memory is a controller's resident set and live heap, in bytes.
type memory struct {
	// heap is the heap's spans in use (what the Go runtime holds for
	// objects, fragmentation included); live is the bytes of the objects
	// themselves (right after the forced GC, only live ones).
	rss, heap, live float64
	gcForced        bool
}

// freshControllerMemory starts a fresh controller, waits until it has
// synced at least tasks tasks (from its own metrics), forces a GC when it
// can, and reads its memory: the heap as the runtime saw it right after
// that GC (before a metrics scrape adds its own buffers), and the RSS.
func (b *bench) freshControllerMemory(ctx context.Context, tasks int) (memory, error) {
	p, err := benchController(ctx, t3Settings)
	if err != nil {
		return memory{}, err
	}
	deadline := time.Now().Add(10 * time.Minute)
	for {
		_, count, err := syncTotals(ctx)
		if err != nil {
			return memory{}, err
		}
		if count >= float64(tasks) {
			break
		}
		if time.Now().After(deadline) {
			return memory{}, fmt.Errorf("the fresh controller synced %g of %d tasks in 10 minutes", count, tasks)
		}
		time.Sleep(time.Second)
	}
	// Let the initial syncs' garbage and any queued work settle.
	time.Sleep(2 * time.Second)
	var m memory
	// The profile is kept: go tool pprof -sample_index=inuse_space shows
	// what the tasks hold.
	saveURL(ctx, "http://"+framework.MetricsAddress+"/debug/pprof/heap?gc=1",
		filepath.Join(env.root, "_output", "bench", fmt.Sprintf("heap-%d-tasks.pb.gz", tasks)))
	m.live, m.heap, m.gcForced = heapAfterGC(ctx)
	if !m.gcForced {
		// No profiling endpoint: the metrics, with whatever garbage the
		// heap holds at the time.
		samples, err := controllerMetrics(ctx)
		if err != nil {
			return m, err
		}
		m.heap = sum(samples, "go_memstats_heap_inuse_bytes", nil)
		m.live = sum(samples, "go_memstats_heap_alloc_bytes", nil)
	}
	if m.rss, err = rssBytes(p.Pid()); err != nil {
		return m, err
	}
	return m, nil
}

// heapAfterGC forces a GC in the controller and reads the runtime's
// HeapAlloc and HeapInuse right after it, from the text heap profile
// (/debug/pprof/heap?gc=1&debug=1 ends with runtime.MemStats). ok is false
// when the controller does not serve it (--profiling=false).
func heapAfterGC(ctx context.Context) (alloc, inuse float64, ok bool) {
	body, ok := getURL(ctx, "http://"+framework.MetricsAddress+"/debug/pprof/heap?gc=1&debug=1")
	if !ok {
		return 0, 0, false
	}
	alloc, okAlloc := memStat(string(body), "HeapAlloc")
	inuse, okInuse := memStat(string(body), "HeapInuse")
	return alloc, inuse, okAlloc && okInuse
}

// memStat reads "# name = value" from a text heap profile.
func memStat(profile, name string) (float64, bool) {
	for line := range strings.Lines(profile) {
		if v, cut := strings.CutPrefix(strings.TrimSpace(line), "# "+name+" = "); cut {
			f, err := strconv.ParseFloat(v, 64)
			return f, err == nil
		}
	}
	return 0, false
}

// syncTotals are the controller's kusciatask_sync_duration_seconds sum
// and count over every result.
func syncTotals(ctx context.Context) (seconds, count float64, err error) {
	samples, err := controllerMetrics(ctx)
	if err != nil {
		return 0, 0, err
	}
	return sum(samples, "kusciatask_sync_duration_seconds_sum", nil),
		sum(samples, "kusciatask_sync_duration_seconds_count", nil), nil
}

// syncCostRounds is how many times syncCost times R syncs; it keeps the
// lowest mean, the one least disturbed by whatever else the two cores ran.
const syncCostRounds = 3

// syncCost is the lowest of syncCostRounds means of R syncs of the task
// (see syncCostOnce), in µs.
func (b *bench) syncCost(ctx context.Context, task string) (float64, error) {
	best := 0.0
	for i := range syncCostRounds {
		mean, err := b.syncCostOnce(ctx, task)
		if err != nil {
			return 0, err
		}
		if i == 0 || mean < best {
			best = mean
		}
	}
	return best, nil
}

// syncCostOnce touches the task's labels R times, 20 ms apart, waits for
// the controller to have synced R more times, and returns the mean sync
// time in µs over those syncs.
func (b *bench) syncCostOnce(ctx context.Context, task string) (float64, error) {
	sum0, count0, err := syncTotals(ctx)
	if err != nil {
		return 0, err
	}
	one := []*kusciav1alpha1.KusciaTask{{}}
	one[0].Name = task
	for r := range b.cfg.R {
		if err := b.touchLabels(ctx, one, fmt.Sprint(r)); err != nil {
			return 0, err
		}
		time.Sleep(20 * time.Millisecond)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		sum1, count1, err := syncTotals(ctx)
		if err != nil {
			return 0, err
		}
		if count1-count0 >= float64(b.cfg.R) || time.Now().After(deadline) {
			if count1 == count0 {
				return 0, fmt.Errorf("touching task %s's labels %d times caused no sync", task, b.cfg.R)
			}
			return (sum1 - sum0) / (count1 - count0) * 1e6, nil
		}
		time.Sleep(200 * time.Millisecond)
	}
}
