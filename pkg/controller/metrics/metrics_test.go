package metrics

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

var t0 = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	n, err := testutil.GatherAndCount(reg, "kusciatask_sync_duration_seconds")
	require.NoError(t, err)
	assert.Equal(t, 3, n, "success, conflict and error series exist before any sync")

	m.ObserveSync(time.Millisecond, nil)
	m.ObserveSync(time.Millisecond, errors.New("boom"))
	m.ObserveSync(time.Millisecond, nil)
	conflict := apierrors.NewConflict(kusciav1alpha1.Resource("kusciatasks"), "t", errors.New("the object has been modified"))
	m.ObserveSync(time.Millisecond, fmt.Errorf("update status of task t: %w", conflict))
	assert.Equal(t, map[string]uint64{resultSuccess: 2, resultConflict: 1, resultError: 1}, syncCounts(t, reg),
		"a conflict is routine, not an error")
	var nilMetrics *Metrics
	assert.NotPanics(t, func() { nilMetrics.ObserveSync(time.Second, nil) })
	assert.NotPanics(t, func() { nilMetrics.ObserveSyncCauses([]string{"pod"}) })

	m.ObserveSyncCauses([]string{"pod", "timer"})
	m.ObserveSyncCauses([]string{"pod"})
	m.ObserveSyncCauses(nil)
	for cause, want := range map[string]float64{"pod": 2, "timer": 1, causeUnknown: 1} {
		assert.Equal(t, want, testutil.ToFloat64(m.syncsByCause.WithLabelValues(cause)), cause)
	}

}

// syncCounts are the observation counts of kusciatask_sync_duration_seconds
// by result.
func syncCounts(t *testing.T, reg *prometheus.Registry) map[string]uint64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]uint64{}
	for _, mf := range families {
		if mf.GetName() != "kusciatask_sync_duration_seconds" {
			continue
		}
		for _, metric := range mf.GetMetric() {
			for _, l := range metric.GetLabel() {
				if l.GetName() == "result" {
					out[l.GetValue()] = metric.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	return out
}

// A task's life as its status writes tell it: rounds by outcome, the time
// its gang took, how it finished.
func TestTransitionMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	at := func(sec int) *metav1.Time { tm := metav1.NewTime(t0.Add(time.Duration(sec) * time.Second)); return &tm }
	pending := kusciav1alpha1.KusciaTaskStatus{Phase: kusciav1alpha1.TaskPending, StartTime: at(0),
		Reservation: &kusciav1alpha1.ReservationStatus{Round: 1}}
	released := *pending.DeepCopy()
	released.Reservation.ReleasedTime = at(30)
	round2 := *pending.DeepCopy()
	round2.Reservation.Round = 2
	running := *round2.DeepCopy()
	running.Phase, running.LastReconcileTime = kusciav1alpha1.TaskRunning, at(45)
	succeeded := *running.DeepCopy()
	succeeded.Phase, succeeded.Reason = kusciav1alpha1.TaskSucceeded, kusciav1alpha1.ReasonSucceeded
	expired := *released.DeepCopy()
	expired.Phase, expired.Reason = kusciav1alpha1.TaskFailed, kusciav1alpha1.ReasonReservationExpired

	steps := [][2]kusciav1alpha1.KusciaTaskStatus{
		{{}, pending}, {pending, released}, {released, released}, {released, round2},
		{round2, running}, {running, succeeded}, {succeeded, succeeded},
		{released, expired},
	}
	for _, s := range steps {
		m.ObserveTransition(&s[0], &s[1])
	}
	want := `
# HELP kusciatask_finished_total Tasks that reached Succeeded or Failed, by phase and reason.
# TYPE kusciatask_finished_total counter
kusciatask_finished_total{phase="Failed",reason="ReservationExpired"} 1
kusciatask_finished_total{phase="Succeeded",reason="Succeeded"} 1
# HELP kusciatask_reservation_rounds_total Reservation rounds by outcome: reserved, released (not reserved in time, or a pod failed), or expired (the task's lifecycleSeconds passed; once per task).
# TYPE kusciatask_reservation_rounds_total counter
kusciatask_reservation_rounds_total{outcome="expired"} 1
kusciatask_reservation_rounds_total{outcome="released"} 1
kusciatask_reservation_rounds_total{outcome="reserved"} 1
`
	assert.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want), "kusciatask_finished_total", "kusciatask_reservation_rounds_total"))
	n, err := testutil.GatherAndCount(reg, "kusciatask_time_to_reserve_seconds")
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	var nilMetrics *Metrics
	assert.NotPanics(t, func() { nilMetrics.ObserveTransition(&pending, &running) })
}
