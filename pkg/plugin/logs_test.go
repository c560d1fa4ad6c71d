package plugin

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// fakeLogs gives each pod its own lines and records what was asked.
type fakeLogs struct {
	mu    sync.Mutex
	lines map[string][]string // "namespace/pod" → lines
	asked []logRequest
}

type logRequest struct {
	key  string
	opts corev1.PodLogOptions
}

func (f *fakeLogs) StreamLogs(_ context.Context, namespace, pod string, opts *corev1.PodLogOptions) (io.ReadCloser, error) {
	key := namespace + "/" + pod
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, logRequest{key, *opts})
	lines, ok := f.lines[key]
	if !ok {
		return nil, fmt.Errorf("no logs for %s", key)
	}
	return io.NopCloser(strings.NewReader(strings.Join(lines, "\n") + "\n")), nil
}

func (f *fakeLogs) requests() []logRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]logRequest(nil), f.asked...)
}

// numbered is n lines "<who> line i".
func numbered(who string, n int) []string {
	var out []string
	for i := 1; i <= n; i++ {
		out = append(out, fmt.Sprintf("%s line %d", who, i))
	}
	return out
}

// linesOf are the lines of out with the given prefix, prefix removed.
func linesOf(out, prefix string) []string {
	var got []string
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if rest, ok := strings.CutPrefix(l, prefix); ok {
			got = append(got, rest)
		}
	}
	return got
}

// Every party's pods' lines come out whole, prefixed [party/pod], each
// pod's in order; the default-container annotation picks the container.
func TestLogsFanOut(t *testing.T) {
	task := waitingTask(t)
	alice := taskPod(task, "alice", "node-0", 0)
	bob := taskPod(task, "bob", "node-1", 0)
	bob.Spec.Containers = []corev1.Container{{Name: "sidecar"}, {Name: "app"}}
	bob.Annotations = map[string]string{defaultContainerAnnotation: "app"}
	bob.Status.ContainerStatuses = []corev1.ContainerStatus{
		{Name: "sidecar", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
		{Name: "app", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}},
	}
	other := taskPod(psiTask(t, "other"), "alice", "node-0", 0) // another task's pod
	other.Name = "other-0"
	logs := &fakeLogs{lines: map[string][]string{
		"alice/psi-waiting-0": numbered("alice", 200),
		"bob/psi-waiting-0":   numbered("bob", 200),
		"alice/other-0":       {"must not appear"},
	}}
	e := newEnv([]runtime.Object{alice, bob, other}, task)
	e.logs = logs
	out, errOut, err := e.run(context.Background(), "logs", task.Name, "--tail", "200", "--since", "5m", "--timestamps")
	require.NoError(t, err, errOut)
	assert.Equal(t, numbered("alice", 200), linesOf(out, "[alice/psi-waiting-0] "))
	assert.Equal(t, numbered("bob", 200), linesOf(out, "[bob/psi-waiting-0] "))
	assert.Len(t, strings.Split(strings.TrimSuffix(out, "\n"), "\n"), 400, "nothing else")

	asked := map[string]corev1.PodLogOptions{}
	for _, r := range logs.requests() {
		asked[r.key] = r.opts
	}
	require.Len(t, asked, 2)
	assert.Equal(t, "secretflow", asked["alice/psi-waiting-0"].Container)
	assert.Equal(t, "app", asked["bob/psi-waiting-0"].Container, "the default-container annotation chooses")
	opts := asked["alice/psi-waiting-0"]
	assert.Equal(t, int64(200), *opts.TailLines)
	assert.Equal(t, int64(300), *opts.SinceSeconds)
	assert.True(t, opts.Timestamps)
	assert.False(t, opts.Follow)
}

func TestLogsParty(t *testing.T) {
	task := waitingTask(t)
	logs := &fakeLogs{lines: map[string][]string{"alice/psi-waiting-0": {"a"}, "bob/psi-waiting-0": {"b"}}}
	e := newEnv([]runtime.Object{taskPod(task, "alice", "n", 0), taskPod(task, "bob", "n", 0)}, task)
	e.logs = logs
	out, _, err := e.run(context.Background(), "logs", task.Name, "--party", "bob")
	require.NoError(t, err)
	assert.Equal(t, "[bob/psi-waiting-0] b\n", out)

	_, _, err = e.run(context.Background(), "logs", task.Name, "--party", "carol")
	assert.Equal(t, ExitError, ExitCode(err))
	assert.Contains(t, err.Error(), `no party "carol" (parties: alice, bob)`)
}

// A pod whose container has not started is named on stderr, not read; a
// stream that fails is reported and makes the exit code 3.
func TestLogsNotStartedAndFailing(t *testing.T) {
	task := waitingTask(t)
	gated := taskPod(task, "alice", "n", 0)
	gated.Status.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "PodInitializing"}}
	e := newEnv([]runtime.Object{gated, taskPod(task, "bob", "n", 0)}, task)
	e.logs = &fakeLogs{lines: map[string][]string{}}
	out, errOut, err := e.run(context.Background(), "logs", task.Name)
	assert.Empty(t, out)
	assert.Contains(t, errOut, `[alice/psi-waiting-0] container "secretflow" has not started: no logs yet`)
	assert.Contains(t, errOut, "[bob/psi-waiting-0] reading the logs of container secretflow: no logs for bob/psi-waiting-0")
	assert.Equal(t, ExitError, ExitCode(err))
}

// Through the fake clientset's own GetLogs (it answers "fake logs").
func TestLogsThroughClient(t *testing.T) {
	task := waitingTask(t)
	e := newEnv([]runtime.Object{taskPod(task, "alice", "n", 0), taskPod(task, "bob", "n", 0)}, task)
	out, _, err := e.run(context.Background(), "logs", task.Name)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"[alice/psi-waiting-0] fake logs", "[bob/psi-waiting-0] fake logs"}, strings.Split(strings.TrimSpace(out), "\n"))
}

// With -f the pods of a new round are read as they start, and the command
// returns once the task ended and every stream closed.
func TestLogsFollowNewRound(t *testing.T) {
	task := waitingTask(t)
	task.Status.Phase = kusciav1alpha1.TaskRunning
	alice := taskPod(task, "alice", "n", 0)
	logs := &fakeLogs{lines: map[string][]string{"alice/psi-waiting-0": {"round 1"}, "bob/psi-waiting-0": {"round 2"}}}
	e := newEnv([]runtime.Object{alice}, task)
	e.logs = logs
	done := e.runAsync(context.Background(), "logs", task.Name, "-f")
	e.watching(t, "pods", 2)
	e.watching(t, "kusciatasks", 1)

	// A new pod whose container starts later.
	bob := taskPod(task, "bob", "n", 0)
	bob.UID = types.UID("bob-round-2")
	running := bob.Status.ContainerStatuses[0].State
	bob.Status.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "PodInitializing"}}
	_, err := e.kube.CoreV1().Pods("bob").Create(context.Background(), bob, metav1.CreateOptions{})
	require.NoError(t, err)
	time.Sleep(100 * time.Millisecond)
	for _, r := range logs.requests() {
		assert.NotEqual(t, "bob/psi-waiting-0", r.key, "read before its container started")
	}
	bob.Status.ContainerStatuses[0].State = running
	_, err = e.kube.CoreV1().Pods("bob").UpdateStatus(context.Background(), bob, metav1.UpdateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(logs.requests()) == 2 }, 5*time.Second, 10*time.Millisecond)

	select {
	case r := <-done:
		t.Fatalf("returned while the task runs: %+v", r)
	case <-time.After(100 * time.Millisecond):
	}
	e.setStatus(t, task, succeededTask(t).Status)
	r := receive(t, done)
	require.NoError(t, r.err, r.errOut)
	assert.ElementsMatch(t, []string{"[alice/psi-waiting-0] round 1", "[bob/psi-waiting-0] round 2"}, strings.Split(strings.TrimSpace(r.out), "\n"))
	for _, req := range logs.requests() {
		assert.True(t, req.opts.Follow, req.key)
	}
}
