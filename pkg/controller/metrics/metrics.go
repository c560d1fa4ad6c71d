// Package metrics holds the KusciaTask controller's Prometheus metrics: how
// its syncs went, what its status writes changed (reservation rounds, time
// to reserve, finished tasks) and the tasks of its cache by phase. The
// metric names and label values are what dashboards and the e2e tests
// read; they do not change.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
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
	// rounds counts reservation rounds by how they ended: reserved,
	// released (timed out or a pod failed) or expired (lifecycleSeconds).
	rounds *prometheus.CounterVec
	// timeToReserve is the time from a task's start to its gang reserved.
	timeToReserve prometheus.Histogram
	// finished counts tasks that reached a terminal phase, by reason.
	finished *prometheus.CounterVec
	// syncsByCause counts syncs by the causes of the queue adds that led
	// to each (see ObserveSyncCauses).
	syncsByCause *prometheus.CounterVec
}

// Outcomes of a reservation round, the outcome label of
// kusciatask_reservation_rounds_total.
const (
	roundReserved = "reserved"
	roundReleased = "released"
	roundExpired  = "expired"
)

// New registers the sync metrics on reg.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		syncDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kusciatask_sync_duration_seconds",
			Help:    "Time to sync one KusciaTask, by result (success or error).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
		}, []string{"result"}),
	}
	m.rounds = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kusciatask_reservation_rounds_total",
		Help: "Reservation rounds by outcome: reserved, released (not reserved in time, or a pod failed), or expired (the task's lifecycleSeconds passed; once per task).",
	}, []string{"outcome"})
	m.timeToReserve = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "kusciatask_time_to_reserve_seconds",
		Help:    "Time from a task's startTime until its gang was reserved.",
		Buckets: prometheus.ExponentialBuckets(0.25, 2, 12),
	})
	m.finished = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kusciatask_finished_total",
		Help: "Tasks that reached Succeeded or Failed, by phase and reason.",
	}, []string{"phase", "reason"})
	m.syncsByCause = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kusciatask_syncs_by_cause_total",
		Help: "Syncs by what queued them (task, resync, pod, service, configmap, podgroup, referrer, timer, retry, unknown). " +
			"A sync counts once for each cause among the queue adds gathered since the task's last sync, so the sum over causes is at least the number of syncs.",
	}, []string{"cause"})
	reg.MustRegister(m.syncDuration, m.rounds, m.timeToReserve, m.finished, m.syncsByCause)
	for _, outcome := range []string{roundReserved, roundReleased, roundExpired} {
		m.rounds.WithLabelValues(outcome)
	}
	// Both series exist from the start, so a scrape before the first sync
	// (and an alert on errors) sees zeros, not nothing.
	for _, result := range []string{resultSuccess, resultConflict, resultError} {
		m.syncDuration.WithLabelValues(result)
	}
	return m
}

// ObserveSync counts a sync that took d and ended with err.
func (m *Metrics) ObserveSync(d time.Duration, err error) {
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

// causeUnknown is the cause a sync counts under when no queue add was
// noted for it (a test's direct queue add).
const causeUnknown = "unknown"

// ObserveSyncCauses counts one sync under each of its causes, or under
// unknown when it has none.
func (m *Metrics) ObserveSyncCauses(causes []string) {
	if m == nil {
		return
	}
	if len(causes) == 0 {
		causes = []string{causeUnknown}
	}
	for _, c := range causes {
		m.syncsByCause.WithLabelValues(c).Inc()
	}
}

// ObserveTransition counts what a status write changed: a round that
// ended, the time the gang took, a task that finished.
func (m *Metrics) ObserveTransition(old, s *kusciav1alpha1.KusciaTaskStatus) {
	if m == nil {
		return
	}
	if s.Reservation != nil && s.Reservation.ReleasedTime != nil &&
		(old.Reservation == nil || old.Reservation.ReleasedTime == nil || old.Reservation.Round != s.Reservation.Round) {
		m.rounds.WithLabelValues(roundReleased).Inc()
	}
	if old.Phase == s.Phase {
		return
	}
	switch {
	case s.Phase == kusciav1alpha1.TaskRunning:
		m.rounds.WithLabelValues(roundReserved).Inc()
		if s.StartTime != nil && s.LastReconcileTime != nil {
			m.timeToReserve.Observe(s.LastReconcileTime.Sub(s.StartTime.Time).Seconds())
		}
	case s.Reason == kusciav1alpha1.ReasonReservationExpired:
		m.rounds.WithLabelValues(roundExpired).Inc()
	}
	if s.Phase.IsTerminal() {
		m.finished.WithLabelValues(string(s.Phase), string(s.Reason)).Inc()
	}
}
