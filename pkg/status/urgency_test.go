package status

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
	"kusciatask.io/controller/pkg/gate"
	"kusciatask.io/controller/pkg/reservation"
)

// mayWaitAt runs step over the fixture at now and reports whether its next
// status may wait; the status is stored as if written either way.
func (f *fixture) mayWaitAt(t *testing.T, now float64, step phase) (Next, bool) {
	t.Helper()
	old := f.task.Status.DeepCopy()
	n := step(f.input(at(now)))
	f.task.Status = roundTrip(t, n.Status)
	return n, MayWait(old, n)
}

// The progress of a task that runs straight through may wait; the steps the
// controller acts on, or that end the task, may not.
func TestMayWaitStraightThrough(t *testing.T) {
	f := psiFixture(t)
	f.gateAll()
	_, wait := f.mayWaitAt(t, 0, pending(f.evaluate(nil, at(0)), false))
	assert.True(t, wait, "accepted: Pending may wait")
	_, wait = f.mayWaitAt(t, 1, pending(f.evaluate(f.task.Status.Reservation, at(1)), true))
	assert.True(t, wait, "its objects created")
	bind(f.pod(t, alicePod))
	_, wait = f.mayWaitAt(t, 2, pending(f.evaluate(f.task.Status.Reservation, at(2)), false))
	assert.True(t, wait, "one party reserved, the other on its way")

	bind(f.pod(t, bobPod))
	n, wait := f.mayWaitAt(t, 3, pending(f.evaluate(f.task.Status.Reservation, at(3)), false))
	require.Equal(t, kusciav1alpha1.TaskRunning, n.Status.Phase)
	assert.NotEmpty(t, n.Open)
	assert.False(t, wait, "Running opens the gates: written first")

	for _, p := range n.Open {
		p.Annotations[gate.Annotation] = gate.Open // the controller's patch
		run(p, at(4))
	}
	_, wait = f.mayWaitAt(t, 4, Running)
	assert.True(t, wait, "pods running behind open gates")
	succeed(f.pod(t, alicePod))
	_, wait = f.mayWaitAt(t, 5, Running)
	assert.True(t, wait, "one party done")
	succeed(f.pod(t, bobPod))
	n, wait = f.mayWaitAt(t, 6, Running)
	require.Equal(t, kusciav1alpha1.TaskSucceeded, n.Status.Phase)
	assert.False(t, wait, "the end is written at once")
}

// A failure that stops pods, a released round, a new round and a failing
// create are written at once.
func TestMayWaitNotForStopsReleasesAndCreateFailures(t *testing.T) {
	t.Run("failed on input", func(t *testing.T) {
		f := psiFixture(t)
		_, wait := f.mayWaitAt(t, 0, failed(&builder.InputError{Reason: kusciav1alpha1.ReasonAppImageNotFound, Message: "x"}))
		assert.False(t, wait)
	})
	t.Run("a peer fails while running", func(t *testing.T) {
		f := psiFixture(t)
		f.toRunning(t)
		fail(f.pod(t, bobPod), "boom")
		n, wait := f.mayWaitAt(t, 5, Running)
		assert.NotEmpty(t, n.Stop, "alice's pod is stopped")
		assert.False(t, wait)
	})
	t.Run("round released, next round", func(t *testing.T) {
		f := psiFixture(t)
		f.compute(t, at(0), pending(f.evaluate(nil, at(0)), true))
		bind(f.pod(t, alicePod))
		unschedulable(f.pod(t, bobPod), insufficient)
		f.compute(t, at(2), pending(f.evaluate(f.task.Status.Reservation, at(2)), false))
		d := f.evaluate(f.task.Status.Reservation, at(40))
		require.Equal(t, reservation.ActionRelease, d.Action)
		_, wait := f.mayWaitAt(t, 40, pending(d, false))
		assert.False(t, wait, "a release is written before its pods go")

		f.pods = nil
		f.compute(t, at(41), pending(f.evaluate(f.task.Status.Reservation, at(41)), false))
		d = f.evaluate(f.task.Status.Reservation, at(71))
		require.Equal(t, reservation.ActionCreate, d.Action)
		n, wait := f.mayWaitAt(t, 71, pending(d, false))
		require.EqualValues(t, 2, n.Status.Reservation.Round)
		assert.False(t, wait, "a new round's number is written before its pods are created: "+
			"a restart reading the old round would take them for stale and delete them")
	})
	t.Run("create failing", func(t *testing.T) {
		f := psiFixture(t)
		f.compute(t, at(0), pending(f.evaluate(nil, at(0)), false))
		old := f.task.Status.DeepCopy()
		s := CreateFailed(f.task.Status, kusciav1alpha1.ReasonResourceQuotaExceeded, "quota", at(1))
		assert.False(t, MayWait(old, Next{Status: s}))
		assert.Equal(t, corev1.ConditionFalse, Condition(&s, kusciav1alpha1.ConditionResourceCreated).Status)
	})
}
