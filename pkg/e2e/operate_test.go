//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/e2e/framework"
)

// syncCount reads kusciatask_sync_duration_seconds_count{result=...} from a
// controller's /metrics.
func syncCount(t *testing.T, metrics, result string) int {
	t.Helper()
	var body string
	eventually(t, 30*time.Second, "the controller to serve "+metrics, func() (bool, string) {
		var code int
		code, body = httpGet(t, "http://"+metrics+"/metrics")
		return code == 200, body
	})
	re := regexp.MustCompile(`(?m)^kusciatask_sync_duration_seconds_count\{result="` + result + `"\} (\d+)$`)
	m := re.FindStringSubmatch(body)
	require.NotNil(t, m, "no sync count for result %q", result)
	n, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	return n
}

// logSize is where the controller's log ends now; errorLines reads the
// error-level lines (klog's "E" prefix) written after that.
func logSize(t *testing.T) int64 {
	t.Helper()
	fi, err := os.Stat(env.controller.Log)
	require.NoError(t, err)
	return fi.Size()
}

func errorLines(t *testing.T, from int64) []string {
	t.Helper()
	f, err := os.Open(env.controller.Log)
	require.NoError(t, err)
	defer f.Close()
	_, err = f.Seek(from, 0)
	require.NoError(t, err)
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	errLine := regexp.MustCompile(`^E\d{4} `)
	for sc.Scan() {
		if errLine.MatchString(sc.Text()) {
			out = append(out, sc.Text())
		}
	}
	return out
}

// Another client updating the task's labels every 100 ms while it runs
// makes optimistic-concurrency conflicts routine: no error-level log line,
// no sync counted as an error, and the task still finishes.
func TestConflictStormIsRoutine(t *testing.T) {
	const name = "e2e-conflict-storm"
	deleteTaskOnCleanup(t, name)
	from, errorsBefore := logSize(t), syncCount(t, framework.MetricsAddress, "error")
	conflictsBefore := syncCount(t, framework.MetricsAddress, "conflict")

	slow := map[string]string{"KWOK_DELAY": "6s"}
	applyYAML(t, psiTask(name, "", partyOpts{env: slow}, partyOpts{env: slow}))
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	updates := make(chan int)
	go func() {
		n := 0
		defer func() { updates <- n }()
		for i := 0; ctx.Err() == nil; i++ {
			patch := fmt.Sprintf(`{"metadata":{"labels":{"storm":"%d"}}}`, i)
			if _, err := env.kuscia.KusciaV1alpha1().KusciaTasks().Patch(ctx, name, types.MergePatchType, []byte(patch), metav1Patch); err == nil {
				n++
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	waitPhase(t, name, kusciav1alpha1.TaskSucceeded, 60*time.Second)
	stop()
	n := <-updates
	t.Logf("%d label updates during the task; %d syncs met a conflict", n, syncCount(t, framework.MetricsAddress, "conflict")-conflictsBefore)
	require.Greater(t, n, 30, "the storm ran")

	assert.Empty(t, errorLines(t, from), "no error-level log line")
	assert.Equal(t, errorsBefore, syncCount(t, framework.MetricsAddress, "error"), "no sync counted as an error")
}

// Two controllers with --leader-elect: only the leader syncs; when it is
// killed, the standby takes over and finishes a running task.
func TestStandbyTakesOverFromAKilledLeader(t *testing.T) {
	standby := env.plane.Controller(strings.TrimSuffix(env.controller.Log, ".log") + "-standby.log")
	standby.Metrics = "127.0.0.1:" + framework.EnvOr("E2E_STANDBY_METRICS_PORT", "28090")
	standby.Probes = "127.0.0.1:" + framework.EnvOr("E2E_STANDBY_PROBE_PORT", "28091")
	require.NoError(t, standby.Start())
	// Whatever happens, leave one controller running as the suite's: the
	// standby stops (releasing the Lease) once the suite's is back.
	t.Cleanup(func() {
		if !env.controller.Running() {
			require.NoError(t, env.controller.Start())
		}
		standby.Stop(syscall.SIGTERM)
	})
	eventually(t, 30*time.Second, "the standby to serve metrics", func() (bool, string) {
		code, body := httpGet(t, "http://"+standby.Metrics+"/metrics")
		return code == 200, body
	})

	const name = "e2e-failover"
	deleteTaskOnCleanup(t, name)
	slow := map[string]string{"KWOK_DELAY": "25s"}
	applyYAML(t, psiTask(name, "", partyOpts{env: slow}, partyOpts{env: slow}))
	waitPhase(t, name, kusciav1alpha1.TaskRunning, 30*time.Second)
	assert.Zero(t, syncCount(t, standby.Metrics, "success")+syncCount(t, standby.Metrics, "error"),
		"the standby does not sync (or write) while the leader holds the Lease")

	before := podUIDs(t, name)
	env.controller.Stop(syscall.SIGKILL)
	killed := time.Now()
	task := waitPhase(t, name, kusciav1alpha1.TaskSucceeded, 90*time.Second)
	t.Logf("the standby finished the task %s after the leader was killed", time.Since(killed).Round(time.Second))
	assert.Positive(t, syncCount(t, standby.Metrics, "success"), "the standby did the work")
	assert.Equal(t, before, podUIDs(t, name), "no pod was created twice")
	assert.EqualValues(t, 1, task.Status.Reservation.Round)
	require.NoError(t, env.controller.Start())
}

func podUIDs(t *testing.T, task string) map[string]types.UID {
	t.Helper()
	out := map[string]types.UID{}
	for _, p := range taskPods(t, getTask(t, task), "alice", "bob") {
		out[p.Namespace+"/"+p.Name] = p.UID
	}
	return out
}

var metav1Patch = metav1.PatchOptions{}
