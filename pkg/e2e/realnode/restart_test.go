//go:build realnode

package realnode

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	"kusciatask.io/controller/examples"
	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/gate"
)

// TestControllerRestartWhileGated: alice's pod is bound to the real node
// and held behind its gate (bob cannot be placed) when the controller is
// killed and started again. The new controller keeps alice's pod (same
// UID, still held, its application never started); once bob fits the gates
// open and the task succeeds on that very pod.
func TestControllerRestartWhileGated(t *testing.T) {
	p := taskPlane(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	const name = "restart-psi"
	const labelKey = "e2e.kuscia.secretflow/restart"

	task := testAppTask(t, examples.PSITaskFile, name)
	task.Spec.ScheduleConfig = &kusciav1alpha1.ScheduleConfig{ResourceReservedSeconds: ptr.To[int32](240), LifecycleSeconds: ptr.To[int32](480)}
	for i := range task.Spec.Parties {
		if task.Spec.Parties[i].DomainID == "bob" {
			task.Spec.Parties[i].Template = &kusciav1alpha1.PartyTemplate{
				Spec: kusciav1alpha1.PodSpec{NodeSelector: map[string]string{"type": "real", labelKey: name}},
			}
		}
	}
	gates := p.followGates(t, name, "alice", "bob")
	p.createTask(t, task)

	heldAlice := func(ctx context.Context) (*corev1.Pod, bool) {
		pods := p.taskPods(ctx, t, name, "alice")
		if len(pods) != 1 {
			return nil, false
		}
		a := &pods[0]
		return a, a.Spec.NodeName == realNodeName && gateState(a).Running != nil && len(a.Status.ContainerStatuses) == 1 &&
			a.Status.ContainerStatuses[0].State.Waiting != nil
	}
	var before *corev1.Pod
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		var ok bool
		before, ok = heldAlice(ctx)
		return ok, nil
	})
	require.NoError(t, err, "alice held on the real node\n%s", p.podsDump(name))

	// Kill the controller (no clean shutdown) and start a new one.
	require.NoError(t, p.controller.Process.Kill())
	_ = p.controller.Wait()
	p.controller = nil
	require.NoError(t, p.startController())

	// The new controller's first syncs leave alice's held pod alone.
	err = wait.PollUntilContextTimeout(ctx, time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		return controllerSyncs(ctx) > 0, nil
	})
	require.NoError(t, err, "the new controller syncs the task")
	after, ok := heldAlice(ctx)
	require.True(t, ok, "alice still held after the restart: %+v", after)
	assert.Equal(t, before.UID, after.UID, "alice's pod was recreated")
	assert.NoError(t, appNeverStarted(after))
	assert.False(t, gate.IsOpen(after.Annotations[gate.Annotation]))

	p.labelNode(t, labelKey, name)
	p.waitTaskPhase(ctx, t, name, kusciav1alpha1.TaskSucceeded, 5*time.Minute)
	final := p.taskPods(ctx, t, name, "alice")
	require.Len(t, final, 1)
	assert.Equal(t, before.UID, final[0].UID, "alice's held pod is the one that ran")
	assert.Equal(t, corev1.PodSucceeded, final[0].Status.Phase)
	violations, events := gates.snapshot()
	assert.Empty(t, violations, "an application container started behind a closed gate")
	assert.Positive(t, events)
}

// controllerSyncs is how many syncs the lane's controller finished
// successfully (its /metrics), -1 when it does not answer.
func controllerSyncs(ctx context.Context) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+envOr("E2E_REALNODE_METRICS_PORT", "29080")+"/metrics", nil)
	if err != nil {
		return -1
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return -1
	}
	m := regexp.MustCompile(`(?m)^kusciatask_sync_duration_seconds_count\{result="success"\} (\d+)$`).FindSubmatch(body)
	if m == nil {
		return 0
	}
	n, err := strconv.Atoi(string(m[1]))
	if err != nil {
		return -1
	}
	return n
}
