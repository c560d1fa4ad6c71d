//go:build e2e

package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"kusciatask.io/controller/examples"
	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/controller"
	"kusciatask.io/controller/pkg/controller/informers"
	"kusciatask.io/controller/pkg/e2e/framework"
)

// managers are the managed fields entries of an object, as
// "manager operation subresource".
func managers(m metav1.Object) []string {
	var out []string
	for _, e := range m.GetManagedFields() {
		out = append(out, strings.TrimSpace(e.Manager+" "+string(e.Operation)+" "+e.Subresource))
	}
	return out
}

// The controller caches tasks without managed fields and kubectl's
// last-applied copy, and writes status from that cached copy: the status
// subresource must keep what the copy lacks on the server. Finished tasks
// are cached without their taskInputConfig; a status write from such a
// copy must not clear it either.
func TestStatusWritesFromTrimmedCacheKeepMetadataAndSpec(t *testing.T) {
	const name = "e2e-trimmed-writes"
	deleteTaskOnCleanup(t, name)
	manifest := strings.Replace(psiTask(name, "", partyOpts{}, partyOpts{}),
		"metadata:\n  name: "+name+"\n", "metadata:\n  name: "+name+"\n  annotations:\n    e2e.kuscia.secretflow/note: keep-me\n", 1)
	applyYAML(t, manifest)
	_, err := env.kuscia.KusciaV1alpha1().KusciaTasks().Patch(testContext(t), name, types.MergePatchType,
		[]byte(`{"metadata":{"labels":{"e2e.kuscia.secretflow/team":"psi"}}}`), metav1.PatchOptions{FieldManager: "e2e-labeller"})
	require.NoError(t, err)
	task := waitPhase(t, name, kusciav1alpha1.TaskSucceeded, 90*time.Second)

	// The controller's writes (Pending, Running, Succeeded) came from its
	// trimmed cache; the server kept everything else.
	assertKept := func(task *kusciav1alpha1.KusciaTask) {
		t.Helper()
		assert.Equal(t, "keep-me", task.Annotations["e2e.kuscia.secretflow/note"])
		assert.Contains(t, task.Annotations, "kubectl.kubernetes.io/last-applied-configuration")
		assert.Equal(t, "psi", task.Labels["e2e.kuscia.secretflow/team"])
		assert.Equal(t, "{}", task.Spec.TaskInputConfig)
		got := managers(task)
		assert.Contains(t, got, "kubectl-client-side-apply Update")
		assert.Contains(t, got, "e2e-labeller Update")
		assert.Contains(t, got, controller.ControllerName+" Update status")
	}
	assertKept(task)

	// A status write from a finished task's cached copy.
	obj, err := informers.NewTrimmer().Trim(task.DeepCopy())
	require.NoError(t, err)
	cached := obj.(*kusciav1alpha1.KusciaTask)
	require.Empty(t, cached.ManagedFields)
	require.NotContains(t, cached.Annotations, "kubectl.kubernetes.io/last-applied-configuration")
	require.Empty(t, cached.Spec.TaskInputConfig, "a finished task is cached without its input")
	cached.Status.Message = "written from a trimmed copy"
	_, err = env.kuscia.KusciaV1alpha1().KusciaTasks().UpdateStatus(testContext(t), cached, metav1.UpdateOptions{FieldManager: "e2e-status"})
	require.NoError(t, err)
	after := getTask(t, name)
	assert.Equal(t, "written from a trimmed copy", after.Status.Message)
	assertKept(after)
	assert.Contains(t, managers(after), "e2e-status Update status")
}

// scrape reads the controller's /metrics into name{labels} → value.
func scrape(t *testing.T) map[string]float64 {
	t.Helper()
	code, body := httpGet(t, "http://"+framework.MetricsAddress+"/metrics")
	require.Equal(t, http.StatusOK, code)
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

// liveHeap is the controller's live heap: a heap profile with gc=1
// collects first, then /metrics reports the heap. E2E_HEAP_PROFILE names a
// file to keep the profile in.
func liveHeap(t *testing.T) (heap, rss float64) {
	t.Helper()
	resp, err := http.Get("http://" + framework.MetricsAddress + "/debug/pprof/heap?gc=1")
	require.NoError(t, err)
	profile, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	if path := framework.EnvOr("E2E_HEAP_PROFILE", ""); path != "" {
		// The last profile taken stays there, for go tool pprof.
		require.NoError(t, os.WriteFile(path, profile, 0o644))
	}
	require.Equal(t, http.StatusOK, resp.StatusCode, "the e2e controller runs with --profiling")
	m := scrape(t)
	return m["go_memstats_heap_alloc_bytes"], m["process_resident_memory_bytes"]
}

// The memory a finished task holds in the controller: E2E_MEMORY_TASKS
// (default 100) seed PSI tasks created as kubectl apply would (with its
// last-applied copy), run to Succeeded, and the controller's live heap and
// RSS compared before and after. kusciatask_tasks counts them as they end.
func TestMemoryPerFinishedTask(t *testing.T) {
	n := 100
	if v := framework.EnvOr("E2E_MEMORY_TASKS", ""); v != "" {
		var err error
		n, err = strconv.Atoi(v)
		require.NoError(t, err)
	}
	eventually(t, 60*time.Second, "the controller to be ready", func() (bool, string) {
		code, body := httpGet(t, "http://"+framework.ProbeAddress+"/readyz")
		return code == http.StatusOK, body
	})
	m := scrape(t)
	before, failedBefore := m[`kusciatask_tasks{phase="Succeeded"}`], m[`kusciatask_tasks{phase="Failed"}`]
	heap0, rss0 := liveHeap(t)
	seed, err := examples.Task(examples.PSITaskFile)
	require.NoError(t, err)
	names := make([]string, n)
	for i := range n {
		names[i] = fmt.Sprintf("e2e-mem-%04d", i)
	}
	t.Cleanup(func() {
		for _, name := range names {
			_ = env.kuscia.KusciaV1alpha1().KusciaTasks().Delete(testContext(t), name, metav1.DeleteOptions{})
		}
	})
	start := time.Now()
	create := make(chan string)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for name := range create {
				task := &kusciav1alpha1.KusciaTask{TypeMeta: metav1.TypeMeta{APIVersion: "kuscia.secretflow/v1alpha1", Kind: "KusciaTask"},
					ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: *seed.Spec.DeepCopy()}
				// A plane busy with a thousand tasks may take longer
				// than the default 300 s to reserve them all.
				task.Spec.ScheduleConfig = &kusciav1alpha1.ScheduleConfig{LifecycleSeconds: ptr.To[int32](3600)}
				applied, _ := json.Marshal(task)
				task.Annotations = map[string]string{"kubectl.kubernetes.io/last-applied-configuration": string(applied)}
				_, err := env.kuscia.KusciaV1alpha1().KusciaTasks().Create(testContext(t), task,
					metav1.CreateOptions{FieldManager: "kubectl-client-side-apply"})
				assert.NoError(t, err)
			}
		}()
	}
	for _, name := range names {
		create <- name
	}
	close(create)
	wg.Wait()
	var succeeded, failed int
	eventually(t, time.Duration(n)*time.Second+2*time.Minute, "every task finished", func() (bool, string) {
		m := scrape(t)
		succeeded = int(m[`kusciatask_tasks{phase="Succeeded"}`] - before)
		failed = int(m[`kusciatask_tasks{phase="Failed"}`] - failedBefore)
		return succeeded+failed >= n, fmt.Sprintf("%d succeeded, %d failed of %d", succeeded, failed, n)
	})
	took := time.Since(start)
	time.Sleep(2 * time.Second) // the last status writes leave the mutation cache
	heap1, rss1 := liveHeap(t)
	t.Logf("%d finished tasks (%d Succeeded, %d Failed, after %s): live heap %.1f → %.1f MB (%.1f KB per task), RSS %.1f → %.1f MB (%.1f KB per task)",
		n, succeeded, failed, took.Round(time.Second), heap0/1e6, heap1/1e6, (heap1-heap0)/float64(n)/1e3, rss0/1e6, rss1/1e6, (rss1-rss0)/float64(n)/1e3)
	require.Equal(t, n, succeeded, "every task succeeds (more than ~100 tasks need nodes sized for them: LOCAL_UP_NODE_CPU, LOCAL_UP_NODE_PODS)")
	if n >= 1000 {
		// Below that, fixed costs (the event recorder's caches, the
		// mutation cache) weigh on each task more than its objects do.
		assert.Less(t, (heap1-heap0)/float64(n), 20e3, "at most 20 KB of live heap per finished task")
	}
}
