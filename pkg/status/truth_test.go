package status

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/podstate"
	"kusciatask.io/controller/pkg/reservation"
)

// assertEndTruth checks that a finished task's status describes the end:
// no party and no pod is still pending or running, every pod still live is
// stopped by next, and every stopped pod is reported as stopped.
func assertEndTruth(t *testing.T, next Next, pods []*corev1.Pod) {
	t.Helper()
	s := next.Status
	require.True(t, s.Phase.IsTerminal(), "phase %s", s.Phase)
	for _, p := range s.PartyTaskStatus {
		assert.Contains(t, []kusciav1alpha1.KusciaTaskPhase{kusciav1alpha1.TaskSucceeded, kusciav1alpha1.TaskFailed}, p.Phase, "party %s", p.DomainID)
	}
	for key, ps := range s.PodStatuses {
		assert.Contains(t, []corev1.PodPhase{corev1.PodSucceeded, corev1.PodFailed}, ps.PodPhase, "pod %s", key)
	}
	stopped := map[string]bool{}
	for _, p := range next.Stop {
		stopped[podKey(p)] = true
		assert.Equal(t, corev1.PodFailed, s.PodStatuses[podKey(p)].PodPhase, podKey(p))
	}
	for _, p := range pods {
		if podstate.Of(p).Live() {
			assert.True(t, stopped[podKey(p)], "live pod %s is not stopped", podKey(p))
		}
	}
}

// However a task ends, its last status says what is true at the end.
func TestTheEndIsTheTruth(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(task *kusciav1alpha1.KusciaTask)
		end    func(t *testing.T, f *fixture) Next
		want   kusciav1alpha1.KusciaTaskReason
	}{
		{name: "bob failed, alice runs", want: kusciav1alpha1.ReasonPartiesFailed, end: func(t *testing.T, f *fixture) Next {
			f.toRunning(t)
			fail(f.pod(t, bobPod), "boom")
			return Running(f.input(at(10)))
		}},
		{name: "alice succeeded, enough for the task; bob runs", want: kusciav1alpha1.ReasonSucceeded,
			mutate: func(task *kusciav1alpha1.KusciaTask) {
				task.Spec.ScheduleConfig = &kusciav1alpha1.ScheduleConfig{MinReservedMembers: ptr.To[int32](1)}
			},
			end: func(t *testing.T, f *fixture) Next {
				f.toRunning(t)
				succeed(f.pod(t, alicePod))
				return Running(f.input(at(10)))
			}},
		{name: "reservation expired with alice bound", want: kusciav1alpha1.ReasonReservationExpired, end: func(t *testing.T, f *fixture) Next {
			f.compute(t, at(0), pending(f.evaluate(nil, at(0)), true))
			bind(f.pod(t, alicePod))
			unschedulable(f.pod(t, bobPod), "0/2 nodes are available")
			d := f.evaluate(f.task.Status.Reservation, at(25))
			d.Action = reservation.ActionExpire
			return Pending(f.input(at(300)), *d, Resources{})
		}},
		{name: "bad input while running", want: kusciav1alpha1.ReasonSpecChanged, end: func(t *testing.T, f *fixture) Next {
			f.toRunning(t)
			return Failed(f.input(at(10)), kusciav1alpha1.ReasonSpecChanged, "m")
		}},
		{name: "a pod deleted by someone", want: kusciav1alpha1.ReasonPartiesFailed, end: func(t *testing.T, f *fixture) Next {
			f.toRunning(t)
			f.pods = f.without(bobPod)
			return Running(f.input(at(10)))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, "secretflow-task-psi.yaml", tc.mutate)
			next := tc.end(t, f)
			assert.Equal(t, tc.want, next.Status.Reason)
			assertEndTruth(t, next, f.pods)
		})
	}
}

// One failed pod tells one story: its podStatuses entry, its party's
// message and the reservation round it releases say the same, with the
// exit code.
func TestOneFailedPodOneStory(t *testing.T) {
	evict := func(p *corev1.Pod) {
		fail(p, "")
		p.Status.ContainerStatuses[0].State.Terminated.ExitCode = 137
		p.Status.Reason, p.Status.Message = "Evicted", "The node was low on resource: memory."
	}
	const story = "failed: Evicted: The node was low on resource: memory. (container secretflow exited with code 137)"

	t.Run("while running", func(t *testing.T) {
		f := psiFixture(t)
		f.toRunning(t)
		evict(f.pod(t, alicePod))
		s := f.compute(t, at(10), Running)
		ps := s.PodStatuses[alicePod]
		assert.Equal(t, "Evicted", ps.Reason)
		assert.Equal(t, "The node was low on resource: memory.", ps.Message)
		assert.EqualValues(t, 137, ps.ExitCode)
		assert.Equal(t, "pod "+alicePod+" "+story, partyStatus(t, s, "alice").Message)
		assert.Contains(t, s.Message, story)
	})
	t.Run("while reserving", func(t *testing.T) {
		f := psiFixture(t)
		f.compute(t, at(0), pending(f.evaluate(nil, at(0)), true))
		bind(f.pod(t, alicePod))
		evict(f.pod(t, alicePod))
		d := f.evaluate(f.task.Status.Reservation, at(2))
		require.Equal(t, reservation.ActionRelease, d.Action)
		s := f.compute(t, at(2), pending(d, false))
		assert.Contains(t, s.Reservation.LastFailure, alicePod+": "+story)
		assert.Equal(t, "Evicted", s.PodStatuses[alicePod].Reason)
		assert.EqualValues(t, 137, s.PodStatuses[alicePod].ExitCode)
	})
}

// A pod that is gone, and that the controller did not stop, is reported
// deleted; one that finished or was stopped keeps its report.
func TestPodStatusesOfGonePods(t *testing.T) {
	old := map[string]*kusciav1alpha1.PodStatus{
		"alice/running":   {PodName: "running", Namespace: "alice", PodPhase: corev1.PodRunning, NodeName: "n", ReadyTime: whole(3)},
		"alice/succeeded": {PodName: "succeeded", Namespace: "alice", PodPhase: corev1.PodSucceeded, Reason: "Completed"},
		"alice/stopped":   {PodName: "stopped", Namespace: "alice", PodPhase: corev1.PodFailed, Reason: kusciav1alpha1.PodReasonStopped, Message: "stopped by the controller: x"},
	}
	got := podStatuses(old, nil, nil)
	assert.Equal(t, &kusciav1alpha1.PodStatus{PodName: "running", Namespace: "alice", PodPhase: corev1.PodFailed, NodeName: "n", ReadyTime: whole(3),
		Reason: kusciav1alpha1.PodReasonDeleted, Message: "the pod was deleted before it finished"}, got["alice/running"])
	assert.Equal(t, old["alice/succeeded"], got["alice/succeeded"])
	assert.Equal(t, old["alice/stopped"], got["alice/stopped"])
}

// Pods of another round than the current one are stopped.
func TestStopsStalePods(t *testing.T) {
	f := psiFixture(t)
	d := f.evaluate(nil, at(0))
	next := Pending(f.input(at(0)), *d, Resources{Stale: f.pods[:1]})
	require.Len(t, next.Stop, 1)
	assert.Equal(t, f.pods[0], next.Stop[0])
	assert.Equal(t, "stopped by the controller: it is left over from an earlier reservation round", next.Status.PodStatuses[podKey(f.pods[0])].Message)
}

// A create that fails and is retried is reported once: the Pending status
// of the retries is the one CreateFailed wrote, so nothing is rewritten.
func TestCreateFailedIsStable(t *testing.T) {
	f := psiFixture(t)
	f.pods = nil
	d := f.evaluate(nil, at(0))
	s := Pending(f.input(at(0)), *d, Resources{}).Status
	s = CreateFailed(s, kusciav1alpha1.ReasonResourceQuotaExceeded, "exceeded quota: q", at(0))
	assert.Equal(t, kusciav1alpha1.ReasonResourceQuotaExceeded, s.Reason)
	f.task.Status = roundTrip(t, s)

	// The first retry waits in the round instead of starting it; from then
	// on retries rewrite nothing.
	f.task.Status = roundTrip(t, Pending(f.input(at(5)), *f.evaluate(f.task.Status.Reservation, at(5)), Resources{}).Status)
	again := Pending(f.input(at(10)), *f.evaluate(f.task.Status.Reservation, at(10)), Resources{}).Status
	assert.False(t, Changed(&f.task.Status, &again), "a retry rewrites nothing:\n%+v\n%+v", f.task.Status, again)
	assert.Equal(t, kusciav1alpha1.ReasonResourceQuotaExceeded, again.Reason)
	assert.Equal(t, "exceeded quota: q", again.Message)

	f.pods = psiFixture(t).pods
	healed := Pending(f.input(at(6)), *f.evaluate(f.task.Status.Reservation, at(6)), Resources{Created: true}).Status
	assert.Equal(t, kusciav1alpha1.ReasonReserving, healed.Reason)
	assert.Equal(t, corev1.ConditionTrue, Condition(&healed, kusciav1alpha1.ConditionResourceCreated).Status)
}

// A finished task's status never changes; its pods still live are stopped.
func TestFinishedStopsLivePodsOnly(t *testing.T) {
	f := psiFixture(t)
	f.toRunning(t)
	fail(f.pod(t, bobPod), "boom")
	f.compute(t, at(10), Running)
	require.Equal(t, kusciav1alpha1.TaskFailed, f.task.Status.Phase)
	next := Finished(f.input(at(20)))
	assert.Equal(t, f.task.Status, next.Status)
	assert.Equal(t, []*corev1.Pod{f.pod(t, alicePod)}, next.Stop, "alice's running pod, not bob's failed one")
}
