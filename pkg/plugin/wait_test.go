package plugin

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// result is what a command run in the background returned.
type result struct {
	out, errOut string
	err         error
}

func (e *env) runAsync(ctx context.Context, args ...string) <-chan result {
	ch := make(chan result, 1)
	go func() {
		out, errOut, err := e.run(ctx, args...)
		ch <- result{out, errOut, err}
	}()
	return ch
}

// watching waits until the plugin watches KusciaTasks, so that a change
// made next is seen as an event.
func (e *env) watching(t *testing.T, resource string, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		count := 0
		actions := append(e.kuscia.Actions(), e.kube.Actions()...)
		for _, a := range actions {
			if a.GetVerb() == "watch" && a.GetResource().Resource == resource {
				count++
			}
		}
		return count >= n
	}, 5*time.Second, 5*time.Millisecond, "no watch of %s", resource)
}

func (e *env) setStatus(t *testing.T, task *kusciav1alpha1.KusciaTask, s kusciav1alpha1.KusciaTaskStatus) {
	t.Helper()
	c := task.DeepCopy()
	c.Status = s
	_, err := e.kuscia.KusciaV1alpha1().KusciaTasks().UpdateStatus(context.Background(), c, metav1.UpdateOptions{})
	require.NoError(t, err)
}

func receive(t *testing.T, ch <-chan result) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("the command did not return")
		return result{}
	}
}

func TestWaitFinishedAlready(t *testing.T) {
	e := newEnv(nil, failedTask(t), succeededTask(t))
	out, _, err := e.run(context.Background(), "wait", "psi-done")
	require.NoError(t, err)
	assert.Equal(t, "kusciatask/psi-done Succeeded\n", out)

	out, _, err = e.run(context.Background(), "wait", "psi-done", "psi-failed")
	assert.Equal(t, ExitFailed, ExitCode(err))
	assert.False(t, ShouldPrint(err), "wait printed the failure itself")
	assert.Contains(t, out, "kusciatask/psi-failed Failed: PartiesFailed: party bob failed: pod bob/psi-failed-0: Error (exit code 1): psi: input file missing\n")
}

// A running task that fails ends the wait with exit 1 and its reason and
// message, seen through the watch.
func TestWaitSeesFailure(t *testing.T) {
	running := waitingTask(t)
	e := newEnv(nil, running)
	done := e.runAsync(context.Background(), "wait", running.Name)
	e.watching(t, "kusciatasks", 1)
	s := failedTask(t).Status
	e.setStatus(t, running, s)
	r := receive(t, done)
	assert.Equal(t, ExitFailed, ExitCode(r.err))
	assert.Equal(t, "kusciatask/psi-waiting Failed: PartiesFailed: "+s.Message+"\n", r.out)
}

// With several tasks, exit 0 comes only once every one succeeded.
func TestWaitAllSucceed(t *testing.T) {
	a, b := waitingTask(t), psiTask(t, "psi-b")
	e := newEnv(nil, a, b)
	done := e.runAsync(context.Background(), "wait", a.Name, b.Name)
	e.watching(t, "kusciatasks", 1)
	e.setStatus(t, a, succeededTask(t).Status)
	select {
	case r := <-done:
		t.Fatalf("returned before psi-b finished: %+v", r)
	case <-time.After(200 * time.Millisecond):
	}
	e.setStatus(t, b, succeededTask(t).Status)
	r := receive(t, done)
	require.NoError(t, r.err)
	assert.Equal(t, "kusciatask/psi-waiting Succeeded\nkusciatask/psi-b Succeeded\n", r.out)
}

func TestWaitTimeout(t *testing.T) {
	e := newEnv(nil, waitingTask(t))
	start := time.Now()
	_, _, err := e.run(context.Background(), "wait", "psi-waiting", "--timeout", "300ms")
	assert.Equal(t, ExitTimeout, ExitCode(err))
	assert.Contains(t, err.Error(), "timed out after 300ms waiting for psi-waiting")
	assert.Less(t, time.Since(start), 5*time.Second)
}

func TestWaitErrors(t *testing.T) {
	e := newEnv(nil, waitingTask(t))
	_, _, err := e.run(context.Background(), "wait", "nope")
	assert.Equal(t, ExitError, ExitCode(err))
	assert.Contains(t, err.Error(), `KusciaTask "nope" not found`)

	_, _, err = e.run(context.Background(), "wait")
	assert.Equal(t, ExitError, ExitCode(err), "no task named")

	e = newEnv(nil, waitingTask(t))
	done := e.runAsync(context.Background(), "wait", "psi-waiting")
	e.watching(t, "kusciatasks", 1)
	// The wait checks that its tasks exist once its cache synced, which
	// it polls for every 100ms; deleted before that, it says not found.
	time.Sleep(300 * time.Millisecond)
	require.NoError(t, e.kuscia.KusciaV1alpha1().KusciaTasks().Delete(context.Background(), "psi-waiting", metav1.DeleteOptions{}))
	r := receive(t, done)
	assert.Equal(t, ExitError, ExitCode(r.err))
	assert.Contains(t, r.err.Error(), "was deleted before it finished")
}
