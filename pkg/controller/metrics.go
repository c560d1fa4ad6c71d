package controller

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	kuscialisters "kusciatask.io/controller/pkg/generated/listers/kuscia/v1alpha1"
)

// Values of the result label of kusciatask_sync_duration_seconds.
const (
	resultSuccess = "success"
	// resultConflict: the task changed under the sync (an optimistic
	// concurrency conflict); it is retried at once and is no error.
	resultConflict = "conflict"
	resultError    = "error"
)

// Metrics are the controller's Prometheus metrics. A nil *Metrics records
// nothing.
type Metrics struct {
	syncDuration *prometheus.HistogramVec
}

// NewMetrics registers the sync metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		syncDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kusciatask_sync_duration_seconds",
			Help:    "Time to sync one KusciaTask, by result (success or error).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
		}, []string{"result"}),
	}
	reg.MustRegister(m.syncDuration)
	// Both series exist from the start, so a scrape before the first sync
	// (and an alert on errors) sees zeros, not nothing.
	for _, result := range []string{resultSuccess, resultConflict, resultError} {
		m.syncDuration.WithLabelValues(result)
	}
	return m
}

func (m *Metrics) observeSync(d time.Duration, err error) {
	if m == nil {
		return
	}
	result := resultSuccess
	switch {
	case apierrors.IsConflict(err):
		result = resultConflict
	case err != nil:
		result = resultError
	}
	m.syncDuration.WithLabelValues(result).Observe(d.Seconds())
}

// taskPhaseCollector reports the number of tasks per phase from the lister at
// scrape time, so it never drifts from the cache.
type taskPhaseCollector struct {
	lister kuscialisters.KusciaTaskLister
	desc   *prometheus.Desc
}

// RegisterTaskPhaseCollector registers the kusciatask_tasks gauge (tasks by
// phase) on reg.
func RegisterTaskPhaseCollector(reg prometheus.Registerer, lister kuscialisters.KusciaTaskLister) {
	reg.MustRegister(&taskPhaseCollector{
		lister: lister,
		desc:   prometheus.NewDesc("kusciatask_tasks", "Number of KusciaTasks by phase.", []string{"phase"}, nil),
	})
}

func (t *taskPhaseCollector) Describe(ch chan<- *prometheus.Desc) { ch <- t.desc }

func (t *taskPhaseCollector) Collect(ch chan<- prometheus.Metric) {
	tasks, err := t.lister.List(labels.Everything())
	if err != nil {
		return
	}
	counts := map[kusciav1alpha1.KusciaTaskPhase]int{
		kusciav1alpha1.TaskPending: 0, kusciav1alpha1.TaskRunning: 0,
		kusciav1alpha1.TaskSucceeded: 0, kusciav1alpha1.TaskFailed: 0,
	}
	for _, task := range tasks {
		phase := task.Status.Phase
		if phase == "" {
			// Not seen by the controller yet: it is waiting to start.
			phase = kusciav1alpha1.TaskPending
		}
		counts[phase]++
	}
	for phase, n := range counts {
		ch <- prometheus.MustNewConstMetric(t.desc, prometheus.GaugeValue, float64(n), string(phase))
	}
}
