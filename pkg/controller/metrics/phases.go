// The kusciatask_tasks gauge: the tasks of the cache by phase.

package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/tools/cache"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// PhaseCounts counts the tasks of the informer cache by phase. The task
// event handler keeps it up to date, one task at a time, so a scrape of
// kusciatask_tasks costs the same at 10 tasks as at 10,000 (listing the
// cache at each scrape would not).
type PhaseCounts struct {
	mu sync.Mutex
	n  map[kusciav1alpha1.KusciaTaskPhase]int
}

// countedPhases are the phases kusciatask_tasks reports, each always.
var countedPhases = []kusciav1alpha1.KusciaTaskPhase{
	kusciav1alpha1.TaskPending, kusciav1alpha1.TaskRunning, kusciav1alpha1.TaskSucceeded, kusciav1alpha1.TaskFailed,
}

// NewPhaseCounts counts no task yet.
func NewPhaseCounts() *PhaseCounts {
	return &PhaseCounts{n: map[kusciav1alpha1.KusciaTaskPhase]int{}}
}

// Move counts a task leaving the phase of old and entering the phase of
// obj; old is nil for an added task, obj nil for a deleted one.
// Tombstones are unwrapped; anything that is no task is ignored.
func (p *PhaseCounts) Move(old, obj any) {
	from, hadOld := phaseOf(old)
	to, hasNew := phaseOf(obj)
	if hadOld && hasNew && from == to {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if hadOld {
		p.n[from]--
	}
	if hasNew {
		p.n[to]++
	}
}

// snapshot is the count of each counted phase.
func (p *PhaseCounts) snapshot() map[kusciav1alpha1.KusciaTaskPhase]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[kusciav1alpha1.KusciaTaskPhase]int, len(countedPhases))
	for _, phase := range countedPhases {
		out[phase] = p.n[phase]
	}
	return out
}

// phaseOf is the phase a task counts in: a task the controller has not
// seen yet is waiting to start, so Pending.
func phaseOf(obj any) (kusciav1alpha1.KusciaTaskPhase, bool) {
	if obj == nil {
		return "", false
	}
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	task, ok := obj.(*kusciav1alpha1.KusciaTask)
	if !ok {
		return "", false
	}
	if task.Status.Phase == "" {
		return kusciav1alpha1.TaskPending, true
	}
	return task.Status.Phase, true
}

// taskPhaseCollector reports the counts at scrape time.
type taskPhaseCollector struct {
	counts *PhaseCounts
	desc   *prometheus.Desc
}

// RegisterTaskPhases registers the kusciatask_tasks gauge (the tasks of
// the controller's cache by phase, as counts holds them) on reg.
func RegisterTaskPhases(reg prometheus.Registerer, counts *PhaseCounts) {
	reg.MustRegister(&taskPhaseCollector{
		counts: counts,
		desc:   prometheus.NewDesc("kusciatask_tasks", "Number of KusciaTasks by phase.", []string{"phase"}, nil),
	})
}

func (t *taskPhaseCollector) Describe(ch chan<- *prometheus.Desc) { ch <- t.desc }

func (t *taskPhaseCollector) Collect(ch chan<- prometheus.Metric) {
	for phase, n := range t.counts.snapshot() {
		ch <- prometheus.MustNewConstMetric(t.desc, prometheus.GaugeValue, float64(n), string(phase))
	}
}
