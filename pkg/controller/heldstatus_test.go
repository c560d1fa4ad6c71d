package controller

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

const statusWrite = "update kusciatasks/status /secretflow-task-psi"

// newBatchingFixture is a gated fixture whose controller holds the
// statuses that may wait, as the binary does by default.
func newBatchingFixture(t *testing.T) *fixture {
	f := newGatedFixture(t, psiObjects(t)...)
	f.c.statusBatchDelay = DefaultStatusBatchDelay
	return f
}

// statusWrites counts the status writes among the writes of the last sync.
func (f *fixture) statusWrites() int {
	n := 0
	for _, w := range f.writes() {
		if w == statusWrite {
			n++
		}
	}
	return n
}

// A task whose gang forms at once is written twice: Running with
// everything created, and its end; with two Events, Running and
// Succeeded. Every other step is held and folded into those writes.
func TestStraightThroughTaskIsWrittenTwice(t *testing.T) {
	f := newBatchingFixture(t)
	writes, events := 0, []string{}
	step := func(what string) syncResult {
		t.Helper()
		res := f.mustSync(psi)
		writes += f.statusWrites()
		events = append(events, f.events()...)
		return res
	}

	res := step("created")
	assert.Len(t, f.pods(), 2, "the pods are created before any status is written")
	assert.Equal(t, 0, writes, "Pending is held")
	assert.Equal(t, DefaultStatusBatchDelay, res.requeueAfter, "the held status is looked at again when its delay ends")
	f.clock.Step(time.Second)
	step("seen in the caches")
	assert.Equal(t, 0, writes)

	f.updatePods(bind("node-0"))
	f.clock.Step(time.Second)
	step("reserved")
	assert.Equal(t, 1, writes, "Running, with everything created, opens the gates")
	task := f.task(psi)
	assert.Equal(t, kusciav1alpha1.TaskRunning, task.Status.Phase)
	assert.Equal(t, t0, task.Status.StartTime.Time, "startTime is the first sync's, held until written")
	assert.Equal(t, t0, task.Status.Reservation.RoundStartTime.Time)
	assert.Equal(t, corev1.ConditionTrue, conditionStatus(task, kusciav1alpha1.ConditionResourceCreated))
	assert.Len(t, task.Status.PodStatuses, 2)

	f.updatePods(runPod)
	step("running behind open gates")
	assert.Equal(t, 1, writes, "pods running is held")
	f.updatePods(succeedPod)
	f.clock.Step(time.Second)
	step("succeeded")
	assert.Equal(t, 2, writes)
	task = f.task(psi)
	assert.Equal(t, kusciav1alpha1.TaskSucceeded, task.Status.Phase)
	for _, ps := range task.Status.PodStatuses {
		assert.Equal(t, corev1.PodSucceeded, ps.PodPhase, "the end carries what was held: %s", ps.PodName)
	}
	require.Len(t, events, 2)
	assert.Contains(t, events[0], "Normal Running task reserved and running")
	assert.Contains(t, events[1], "Normal Succeeded")

	step("resync")
	assert.Equal(t, 2, writes, "nothing more")
	assert.Zero(t, f.c.held.len(), "nothing left held")
}

// A gang that does not form within the delay is written Pending once the
// delay ends, with the times of the first sync; a further change is held
// again.
func TestHeldStatusIsWrittenWhenItsDelayEnds(t *testing.T) {
	f := newBatchingFixture(t)
	f.mustSync(psi)
	f.updatePod(alicePod, bind("node-0"))
	f.updatePod(bobPod, unschedulable(insufficientCPU))
	f.clock.Step(2 * time.Second)
	res := f.mustSync(psi)
	assert.Zero(t, f.statusWrites())
	assert.Equal(t, time.Second, res.requeueAfter, "the rest of the delay")

	f.clock.Step(time.Second)
	f.mustSync(psi)
	assert.Equal(t, 1, f.statusWrites(), "the delay ended")
	task := f.task(psi)
	assert.Equal(t, kusciav1alpha1.TaskPending, task.Status.Phase)
	assert.Equal(t, t0, task.Status.StartTime.Time)
	assert.Contains(t, task.Status.PartyTaskStatus[1].Message, insufficientCPU)

	f.updatePod(bobPod, unschedulable("0/3 nodes are available"))
	f.clock.Step(time.Second)
	f.mustSync(psi)
	assert.Zero(t, f.statusWrites(), "a new message is held")
	f.clock.Step(DefaultStatusBatchDelay)
	f.mustSync(psi)
	assert.Equal(t, 1, f.statusWrites())
}

// A held status does not outlive a status someone else wrote, nor its
// task.
func TestHeldStatusIsDroppedWhenTheStoredStatusChanges(t *testing.T) {
	f := newBatchingFixture(t)
	f.mustSync(psi)
	require.Equal(t, 1, f.c.held.len())
	stored := f.task(psi)
	stored.Status.Phase = kusciav1alpha1.TaskPending
	stored.Status.StartTime = &metav1.Time{Time: t0.Add(-time.Hour)}
	_, err := f.kuscia.KusciaV1alpha1().KusciaTasks().UpdateStatus(f.ctx, stored, metav1.UpdateOptions{})
	require.NoError(t, err)
	f.clock.Step(time.Second)
	f.mustSync(psi)
	f.clock.Step(DefaultStatusBatchDelay)
	f.mustSync(psi)
	assert.Equal(t, t0.Add(-time.Hour), f.task(psi).Status.StartTime.Time, "computed over the stored status, not the held one")

	require.NoError(t, f.kuscia.KusciaV1alpha1().KusciaTasks().Delete(f.ctx, psi, metav1.DeleteOptions{}))
	f.mustSync(psi)
	assert.Zero(t, f.c.held.len())
}

// A controller that restarts before writing startTime counts the lifecycle
// from when the task's first pod was created, not from its own start.
func TestStartTimeAfterARestartIsTheFirstPodsCreation(t *testing.T) {
	f := newBatchingFixture(t)
	f.mustSync(psi)
	f.updatePods(func(p *corev1.Pod) { p.CreationTimestamp = metav1.NewTime(t0) })
	f.c.held = newHeldStatuses() // what a new process has
	f.clock.Step(time.Minute)
	f.updatePods(bind("node-0"))
	f.mustSync(psi) // round 1 again, its pods found
	f.mustSync(psi)
	task := f.task(psi)
	require.Equal(t, kusciav1alpha1.TaskRunning, task.Status.Phase)
	assert.Equal(t, t0, task.Status.StartTime.Time)
}

// A failure on input is written at once, with its Event.
func TestFailureIsNotHeld(t *testing.T) {
	f := newBatchingFixture(t)
	task := f.task(psi)
	task.Spec.Parties[1].AppImageRef = "missing"
	_, err := f.kuscia.KusciaV1alpha1().KusciaTasks().Update(f.ctx, task, metav1.UpdateOptions{})
	require.NoError(t, err)
	f.mustSync(psi)
	assert.Equal(t, 1, f.statusWrites())
	assert.Equal(t, kusciav1alpha1.TaskFailed, f.task(psi).Status.Phase)
	assert.Len(t, f.events(), 1)
}

func conditionStatus(task *kusciav1alpha1.KusciaTask, t kusciav1alpha1.KusciaTaskConditionType) corev1.ConditionStatus {
	for _, c := range task.Status.Conditions {
		if c.Type == t {
			return c.Status
		}
	}
	return ""
}

// len is the number of tasks with a held status.
func (h *heldStatuses) len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.byTask)
}
