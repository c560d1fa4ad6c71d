package controller

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	n, err := testutil.GatherAndCount(reg, "kusciatask_sync_duration_seconds")
	require.NoError(t, err)
	assert.Equal(t, 2, n, "success and error series exist before any sync")

	m.observeSync(time.Millisecond, nil)
	m.observeSync(time.Millisecond, errors.New("boom"))
	m.observeSync(time.Millisecond, nil)
	assert.Equal(t, map[string]uint64{resultSuccess: 2, resultError: 1}, syncCounts(t, reg))
	var nilMetrics *Metrics
	assert.NotPanics(t, func() { nilMetrics.observeSync(time.Second, nil) })

	running := seedTask(t, "secretflow-task-psi.yaml")
	running.Status.Phase = kusciav1alpha1.TaskRunning
	fresh := seedTask(t, "task-template.yaml")
	f := newFixture(t, running, fresh)
	phases := prometheus.NewRegistry()
	RegisterTaskPhaseCollector(phases, f.kInf.Kuscia().V1alpha1().KusciaTasks().Lister())
	want := `
# HELP kusciatask_tasks Number of KusciaTasks by phase.
# TYPE kusciatask_tasks gauge
kusciatask_tasks{phase="Failed"} 0
kusciatask_tasks{phase="Pending"} 1
kusciatask_tasks{phase="Running"} 1
kusciatask_tasks{phase="Succeeded"} 0
`
	assert.NoError(t, testutil.GatherAndCompare(phases, strings.NewReader(want), "kusciatask_tasks"))
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
