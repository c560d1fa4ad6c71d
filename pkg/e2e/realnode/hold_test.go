//go:build realnode

package realnode

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	"kusciatask.io/controller/examples"
	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/gate"
)

// labelNode labels the real node and removes the label when the test ends.
func (p *plane) labelNode(t *testing.T, key, value string) {
	t.Helper()
	_, err := p.kubectl(nil, "label", "node", realNodeName, "--overwrite", key+"="+value)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = p.kubectl(nil, "label", "node", realNodeName, key+"-") })
}

// TestReservationHoldRealNode: bob's template selects a node label no node
// has; alice's pod is bound to the real node and held behind its gate: the
// gate container runs, the application container waits with no start time
// and has printed nothing. Once the node gets the label bob binds, both
// gates open and both applications run to Succeeded.
func TestReservationHoldRealNode(t *testing.T) {
	p := taskPlane(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	const name = "hold-psi"
	const labelKey = "e2e.kuscia.secretflow/hold"

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

	var alice corev1.Pod
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		pods := p.taskPods(ctx, t, name, "alice")
		if len(pods) != 1 {
			return false, nil
		}
		alice = pods[0]
		var gateRunning bool
		for _, s := range alice.Status.InitContainerStatuses {
			if s.Name == gate.ContainerName && s.State.Running != nil {
				gateRunning = true
			}
		}
		return alice.Spec.NodeName == realNodeName && gateRunning && len(alice.Status.ContainerStatuses) == 1, nil
	})
	require.NoError(t, err, "alice's pod bound to the real node with its gate running: %+v\n%s", alice.Status, p.podsDump(name))

	// Held: the application container waits, never started, printed nothing.
	app := alice.Status.ContainerStatuses[0]
	require.NotNil(t, app.State.Waiting, "alice's application state %+v", app.State)
	assert.Equal(t, "PodInitializing", app.State.Waiting.Reason)
	assert.Nil(t, app.State.Running)
	assert.Nil(t, app.State.Terminated)
	assert.False(t, ptr.Deref(app.Started, false))
	assert.Equal(t, corev1.PodPending, alice.Status.Phase)
	raw, _ := p.kube.CoreV1().Pods("alice").GetLogs(alice.Name, &corev1.PodLogOptions{Container: app.Name}).DoRaw(ctx)
	assert.NotContains(t, string(raw), "kuscia-testapp", "alice's application printed while held")
	var tk *kusciav1alpha1.KusciaTask
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		tk, err = p.kuscia.KusciaV1alpha1().KusciaTasks().Get(ctx, name, metav1.GetOptions{})
		return err == nil && tk.Status.Phase == kusciav1alpha1.TaskPending && tk.Status.Reservation != nil &&
			len(tk.Status.Reservation.ReservedParties) == 1, nil
	})
	require.NoError(t, err, "the task Pending with alice reserved: %+v", tk.Status)
	assert.Equal(t, []string{"alice"}, tk.Status.Reservation.ReservedParties)
	assert.Nil(t, tk.Status.Reservation.GateOpenedTime)
	bobPods := p.taskPods(ctx, t, name, "bob")
	for _, b := range bobPods {
		assert.Empty(t, b.Spec.NodeName, "bob's pod %s is bound", b.Name)
	}

	p.labelNode(t, labelKey, name)
	done := p.waitTaskPhase(ctx, t, name, kusciav1alpha1.TaskSucceeded, 5*time.Minute)
	require.NotNil(t, done.Status.Reservation)
	require.NotNil(t, done.Status.Reservation.GateOpenedTime)

	violations, events := gates.snapshot()
	assert.Empty(t, violations, "an application container started behind a closed gate")
	assert.Positive(t, events)
	pods := p.taskPods(ctx, t, name, "alice", "bob")
	require.Len(t, pods, 2)
	for _, pod := range pods {
		assert.Equal(t, corev1.PodSucceeded, pod.Status.Phase, pod.Name)
		assert.True(t, gate.IsOpen(pod.Annotations[gate.Annotation]), pod.Name)
		raw, err := p.kube.CoreV1().Pods(pod.Namespace).GetLogs(pod.Name, &corev1.PodLogOptions{Container: pod.Spec.Containers[0].Name}).DoRaw(ctx)
		require.NoError(t, err)
		assert.True(t, strings.Contains(string(raw), "kuscia-testapp: done"), "%s/%s printed %q", pod.Namespace, pod.Name, raw)
	}
}
