//go:build e2e

package e2e

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/types"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/gate"
)

// killController stops the controller (SIGKILL) and makes sure one runs
// again when the test ends, whatever happens in between.
func killController(t *testing.T) {
	t.Helper()
	env.controller.Stop(syscall.SIGKILL)
	t.Cleanup(func() {
		if !env.controller.Running() {
			require.NoError(t, env.controller.Start())
		}
	})
}

// Partial gang: minReservedMembers 1 and bob never fits. alice's gate opens,
// bob's pod is deleted without ever running, and the task succeeds with
// alice alone.
func TestReservationPartialGang(t *testing.T) {
	const name = "e2e-partial-gang"
	deleteTaskOnCleanup(t, name)
	pods := followGates(t, name, "alice", "bob")
	schedule := "  scheduleConfig:\n    minReservedMembers: 1\n"
	applyYAML(t, psiTask(name, schedule, partyOpts{env: map[string]string{"KWOK_DELAY": "1s"}}, partyOpts{cpu: "64"}))

	task := waitPhase(t, name, kusciav1alpha1.TaskSucceeded, 60*time.Second)
	assert.Equal(t, "1 of 2 parties succeeded", task.Status.Message)
	assert.Contains(t, task.Status.PartyTaskStatus[1].Message, "not reserved")
	require.NotNil(t, task.Status.Reservation.GateOpenedTime)
	eventually(t, 30*time.Second, "bob's pod to be deleted", func() (bool, string) {
		left := taskPods(t, task, "bob")
		return len(left) == 0, itoa(len(left)) + " pods left"
	})

	violations, _, opened, party, _ := pods.snapshot()
	assert.Empty(t, violations, "an application container ran behind a closed gate")
	var openedParties []string
	for uid := range opened {
		openedParties = append(openedParties, party[uid])
	}
	assert.Equal(t, []string{"alice"}, openedParties, "only the reserved party's gate opens")
}

// Restart while gated: the controller is killed while alice is held and bob
// cannot fit; bob then fits, but with no controller nothing opens. The new
// controller opens both gates once the gang has formed, and creates no pod
// twice.
func TestReservationRestartWhileGated(t *testing.T) {
	const name = "e2e-restart-gated"
	const labelKey = "e2e.kuscia.secretflow/restart-gated"
	deleteTaskOnCleanup(t, name)
	pods := followGates(t, name, "alice", "bob")
	applyBobWaitsForALabel(t, name, labelKey)
	eventually(t, 30*time.Second, "alice to be held", func() (bool, string) {
		task := getTask(t, name)
		alice := taskPods(t, task, "alice")
		// Reported, too: progress reaches status within --status-batch-delay.
		r := task.Status.Reservation
		return len(alice) == 1 && held(&alice[0]) && r != nil && len(r.ReservedParties) == 1, "alice not held yet"
	})
	before := map[string]types.UID{}
	for _, p := range taskPods(t, getTask(t, name), "alice", "bob") {
		before[p.Namespace+"/"+p.Name] = p.UID
	}
	require.Len(t, before, 2)

	killController(t)
	labelNode(t, "kwok-node-1", labelKey, name)
	eventually(t, 30*time.Second, "bob to be bound", func() (bool, string) {
		bob := taskPods(t, getTask(t, name), "bob")
		return len(bob) == 1 && bob[0].Spec.NodeName != "", "bob not bound"
	})
	time.Sleep(2 * time.Second)
	for _, p := range taskPods(t, getTask(t, name), "alice", "bob") {
		assert.Equal(t, gate.Closed, p.Annotations[gate.Annotation], "no controller, no open gate: %s", p.Name)
	}

	require.NoError(t, env.controller.Start())
	task := waitPhase(t, name, kusciav1alpha1.TaskSucceeded, 60*time.Second)
	after := map[string]types.UID{}
	for _, p := range taskPods(t, task, "alice", "bob") {
		after[p.Namespace+"/"+p.Name] = p.UID
	}
	assert.Equal(t, before, after, "no pod was created twice")
	violations, _, opened, _, _ := pods.snapshot()
	assert.Empty(t, violations, "an application container ran behind a closed gate")
	assert.Len(t, opened, 2)
}

// Gate deadline: the controller is gone while alice is held, and never
// comes back in time. Her gate gives up at startTime + lifecycleSeconds +
// 60s, failing her pod with the gate's message; the controller, back,
// reports the task expired with that pod's failure in its pod status.
func TestReservationGateDeadline(t *testing.T) {
	const name = "e2e-gate-deadline"
	deleteTaskOnCleanup(t, name)
	pods := followGates(t, name, "alice", "bob")
	schedule := "  scheduleConfig:\n    resourceReservedSeconds: 60\n    lifecycleSeconds: 8\n"
	applyYAML(t, psiTask(name, schedule, partyOpts{}, partyOpts{cpu: "64"}))
	eventually(t, 30*time.Second, "alice to be held, and the task to say so", func() (bool, string) {
		task := getTask(t, name)
		alice := taskPods(t, task, "alice")
		return len(alice) == 1 && held(&alice[0]) && task.Status.StartTime != nil, "alice not held yet"
	})
	killController(t)
	start := getTask(t, name).Status.StartTime.Time

	var message string
	eventually(t, 100*time.Second, "alice's gate to give up", func() (bool, string) {
		alice := taskPods(t, getTask(t, name), "alice")
		if len(alice) != 1 || alice[0].Status.Phase != "Failed" {
			return false, "alice's pod has not failed"
		}
		g := containerStatus(&alice[0], gate.ContainerName)
		if g == nil || g.State.Terminated == nil {
			return false, describePod(&alice[0])
		}
		message = g.State.Terminated.Message
		return true, ""
	})
	assert.True(t, strings.HasPrefix(message, "kuscia-gate: deadline "), message)
	assert.Contains(t, message, gate.FormatDeadline(start.Add(68*time.Second)), "startTime + lifecycleSeconds + 60s")

	require.NoError(t, env.controller.Start())
	task := waitPhase(t, name, kusciav1alpha1.TaskFailed, 60*time.Second)
	assert.Equal(t, kusciav1alpha1.ReasonReservationExpired, task.Status.Reason)
	var reported bool
	for _, ps := range task.Status.PodStatuses {
		if ps.Namespace == "alice" {
			reported = strings.Contains(ps.TerminationLog+ps.Message, "kuscia-gate: deadline")
			t.Logf("alice's pod status: %+v", ps)
		}
	}
	assert.True(t, reported, "the task reports the gate's message for alice's pod")
	violations, _, opened, _, _ := pods.snapshot()
	assert.Empty(t, violations)
	assert.Empty(t, opened)
}
