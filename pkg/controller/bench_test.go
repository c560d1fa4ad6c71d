package controller

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"

	"kusciatask.io/controller/examples"
	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// wideTask is the seed's PSI task spread over n parties.
func wideTask(b *testing.B, n int) []runtime.Object {
	task := seedTask(b, examples.PSITaskFile)
	task.Spec.Parties = nil
	objs := []runtime.Object{task, appImage(b, examples.SecretflowImageFile)}
	for i := range n {
		d := fmt.Sprintf("party-%d", i)
		task.Spec.Parties = append(task.Spec.Parties, kusciav1alpha1.PartyInfo{DomainID: d, AppImageRef: "secretflow-image"})
		objs = append(objs, domain(d))
	}
	task.Spec.Initiator = "party-0"
	return objs
}

// BenchmarkSync compares the sync that creates a task's resources (the
// baseline) with the steady-state sync of the same task, which must make no
// API calls and cost a small fraction of it. `make bench` prints both; read
// the ratio of their ns/op.
func BenchmarkSync(b *testing.B) {
	for _, parties := range []int{2, 16} {
		b.Run(fmt.Sprintf("create/parties=%d", parties), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				f := newFixture(&testing.T{}, wideTask(b, parties)...)
				f.refresh()
				b.StartTimer()
				if _, err := f.c.syncHandler(f.ctx, keyOf(psi)); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("steady/parties=%d", parties), func(b *testing.B) {
			f := newFixture(&testing.T{}, wideTask(b, parties)...)
			f.mustSync(psi) // writes Pending, then creates
			f.mustSync(psi) // reports what it created
			f.refresh()
			f.kube.ClearActions()
			f.kuscia.ClearActions()
			for b.Loop() {
				if _, err := f.c.syncHandler(f.ctx, keyOf(psi)); err != nil {
					b.Fatal(err)
				}
			}
			if n := len(f.writes()); n != 0 {
				b.Fatalf("steady-state sync wrote %d times", n)
			}
		})
	}
}

// BenchmarkLifecycle takes the seed's PSI task, gated, through a
// straight run (created, seen, reserved, running, succeeded, a resync) and
// reports the controller's writes per task: status writes and Events with
// the status held (--status-batch-delay, the default) and with every
// change written at once (the baseline). T2 of `make bench`: 2 status
// writes and 2 Events.
func BenchmarkLifecycle(b *testing.B) {
	for _, mode := range []struct {
		name  string
		delay time.Duration
	}{{"written-at-once", 0}, {"held", DefaultStatusBatchDelay}} {
		b.Run(mode.name, func(b *testing.B) {
			var total lifecycleWrites
			for b.Loop() {
				total.add(straightRun(b, mode.delay))
			}
			b.ReportMetric(float64(total.status)/float64(b.N), "status-writes/task")
			b.ReportMetric(float64(total.events)/float64(b.N), "events/task")
			b.ReportMetric(float64(total.gates)/float64(b.N), "gate-patches/task")
		})
	}
}

// lifecycleWrites counts a task's writes.
type lifecycleWrites struct{ status, events, gates int }

func (w *lifecycleWrites) add(o lifecycleWrites) {
	w.status, w.events, w.gates = w.status+o.status, w.events+o.events, w.gates+o.gates
}

// straightRun runs one gated PSI task from creation to Succeeded and a
// resync, and counts its writes.
func straightRun(b *testing.B, delay time.Duration) lifecycleWrites {
	b.StopTimer()
	t := &testing.T{}
	f := newGatedFixture(t, psiObjects(t)...)
	f.c.statusBatchDelay = delay
	b.StartTimer()
	var w lifecycleWrites
	steps := []func(){
		func() {},
		func() { f.clock.Step(time.Second) },
		func() { f.updatePods(bind("node-0")); f.clock.Step(time.Second) },
		func() { f.updatePods(runPod) },
		func() { f.updatePods(succeedPod); f.clock.Step(time.Second) },
		func() { f.clock.Step(time.Minute) },
	}
	for _, step := range steps {
		step()
		if _, err := f.sync(psi); err != nil {
			b.Fatal(err)
		}
		for _, write := range f.writes() {
			switch {
			case strings.HasPrefix(write, "update kusciatasks/status"):
				w.status++
			case strings.HasPrefix(write, "patch pods"):
				w.gates++
			}
		}
		w.events += len(f.events())
	}
	if phase := f.task(psi).Status.Phase; phase != kusciav1alpha1.TaskSucceeded {
		b.Fatalf("task is %s", phase)
	}
	return w
}
