//go:build e2e

package e2e

import (
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/e2e/framework"
)

// maxSyncsStraightThrough bounds the syncs of a two-party task that runs
// straight to Succeeded (issue 23: they were ~26).
const maxSyncsStraightThrough = 10

// syncsSettle is how long the controller gets, after the task's end, for
// the syncs that follow it (the echo of its last status write, its pods'
// last updates): they are the task's too.
const syncsSettle = 3 * time.Second

// The seed PSI task, run straight through on the shared controller,
// costs at most maxSyncsStraightThrough syncs, counted by the controller
// itself (kusciatask_sync_duration_seconds_count, all results) between
// a scrape before the task is created and one after it finished; the
// split by cause (kusciatask_syncs_by_cause_total) is logged.
func TestSyncsPerStraightThroughTask(t *testing.T) {
	const name = "syncs-psi"
	raw, err := os.ReadFile(example("secretflow-task-psi.yaml"))
	require.NoError(t, err)
	manifest := strings.Replace(string(raw), "name: secretflow-task-psi", "name: "+name, 1)
	require.Contains(t, manifest, "name: "+name)
	deleteTaskOnCleanup(t, name)

	eventually(t, 30*time.Second, "the controller to serve /metrics", func() (bool, string) {
		code, body := httpGet(t, "http://"+framework.MetricsAddress+"/metrics")
		return code == 200, body
	})
	before := scrape(t)
	applyYAML(t, manifest)
	waitPhase(t, name, kusciav1alpha1.TaskSucceeded, 90*time.Second)
	time.Sleep(syncsSettle)
	after := scrape(t)

	syncs := deltaOf(before, after, "kusciatask_sync_duration_seconds_count{")
	byCause := map[string]float64{}
	for series := range after {
		if c, ok := strings.CutPrefix(series, `kusciatask_syncs_by_cause_total{cause="`); ok {
			c = strings.TrimSuffix(c, `"}`)
			if d := after[series] - before[series]; d > 0 {
				byCause[c] = d
			}
		}
	}
	t.Logf("syncs of one straight-through two-party task: %g; by cause (a sync counts once per cause it had): %s", syncs, splitString(byCause))
	assert.Positive(t, syncs)
	assert.LessOrEqual(t, syncs, float64(maxSyncsStraightThrough), "syncs per straight-through task; by cause: %s", splitString(byCause))
}

// deltaOf sums, over the series whose name{labels} starts with prefix, the
// change from before to after.
func deltaOf(before, after map[string]float64, prefix string) float64 {
	var d float64
	for series, v := range after {
		if strings.HasPrefix(series, prefix) {
			d += v - before[series]
		}
	}
	return d
}

// splitString is a cause → count map as "cause=n ...", sorted by cause.
func splitString(m map[string]float64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strconv.FormatFloat(m[k], 'f', -1, 64)
	}
	return strings.Join(parts, " ")
}
