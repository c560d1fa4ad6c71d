package status

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/reservation"
)

// whole is at(seconds) as the apiserver stores a pod's times.
func whole(seconds float64) *metav1.Time {
	t := metav1.NewTime(at(seconds).Truncate(time.Second))
	return &t
}

func assertPodStatus(t *testing.T, want, got *kusciav1alpha1.PodStatus) {
	t.Helper()
	require.NotNil(t, got)
	assert.Equal(t, want.PodName, got.PodName, "podName")
	assert.Equal(t, want.Namespace, got.Namespace, "namespace")
	assert.Equal(t, want.NodeName, got.NodeName, "nodeName")
	assert.Equal(t, want.PodPhase, got.PodPhase, "podPhase")
	assert.Equal(t, want.Reason, got.Reason, "reason")
	assert.Equal(t, want.Message, got.Message, "message")
	assert.Equal(t, want.TerminationLog, got.TerminationLog, "terminationLog")
	assert.True(t, sameTime(want.CreateTime, got.CreateTime), "createTime %v, want %v", got.CreateTime, want.CreateTime)
	assert.True(t, sameTime(want.StartTime, got.StartTime), "startTime %v, want %v", got.StartTime, want.StartTime)
	assert.True(t, sameTime(want.ReadyTime, got.ReadyTime), "readyTime %v, want %v", got.ReadyTime, want.ReadyTime)
}

func TestPodStatuses(t *testing.T) {
	tests := []struct {
		name   string
		change func(p *corev1.Pod)
		want   kusciav1alpha1.PodStatus
	}{
		{
			name:   "running and ready",
			change: func(p *corev1.Pod) { ready(p, corev1.ConditionTrue, at(4)) },
			want: kusciav1alpha1.PodStatus{PodPhase: corev1.PodRunning, NodeName: "node-alice",
				CreateTime: whole(1), StartTime: whole(3), ReadyTime: whole(4)},
		},
		{
			name:   "running, not ready",
			change: func(p *corev1.Pod) { ready(p, corev1.ConditionFalse, at(4)) },
			want: kusciav1alpha1.PodStatus{PodPhase: corev1.PodRunning, NodeName: "node-alice",
				CreateTime: whole(1), StartTime: whole(3)},
		},
		{
			name:   "succeeded",
			change: func(p *corev1.Pod) { succeed(p) },
			want: kusciav1alpha1.PodStatus{PodPhase: corev1.PodSucceeded, NodeName: "node-alice", Reason: "Completed",
				CreateTime: whole(1), StartTime: whole(3)},
		},
		{
			name:   "failed with a termination message",
			change: func(p *corev1.Pod) { fail(p, "psi failed: no such table\n") },
			want: kusciav1alpha1.PodStatus{PodPhase: corev1.PodFailed, NodeName: "node-alice", Reason: "Error",
				Message: "psi failed: no such table", TerminationLog: "psi failed: no such table",
				CreateTime: whole(1), StartTime: whole(3)},
		},
		{
			name: "failed without a reason",
			change: func(p *corev1.Pod) {
				fail(p, "")
				p.Status.ContainerStatuses[0].State.Terminated.Reason = ""
				p.Status.ContainerStatuses[0].State.Terminated.ExitCode = 137
			},
			want: kusciav1alpha1.PodStatus{PodPhase: corev1.PodFailed, NodeName: "node-alice", Reason: "ExitCode 137",
				CreateTime: whole(1), StartTime: whole(3)},
		},
		{
			name: "evicted",
			change: func(p *corev1.Pod) {
				p.Status.Phase = corev1.PodFailed
				p.Status.Reason = "Evicted"
				p.Status.Message = "The node was low on resource: memory."
			},
			want: kusciav1alpha1.PodStatus{PodPhase: corev1.PodFailed, NodeName: "node-alice", Reason: "Evicted",
				Message: "The node was low on resource: memory.", TerminationLog: "The node was low on resource: memory.",
				CreateTime: whole(1), StartTime: whole(3)},
		},
		{
			// The stuck pod fails the task, whose end stops it: it is
			// reported Failed with its own reason.
			name:   "stuck waiting",
			change: func(p *corev1.Pod) { waiting(p, "CrashLoopBackOff", "back-off 10s") },
			want: kusciav1alpha1.PodStatus{PodPhase: corev1.PodFailed, NodeName: "node-alice",
				Reason: "CrashLoopBackOff", Message: "back-off 10s", CreateTime: whole(1), StartTime: whole(3)},
		},
		{
			name:   "unschedulable",
			change: func(p *corev1.Pod) { p.Status.StartTime = nil; unschedulable(p, "0/2 nodes are available") },
			want: kusciav1alpha1.PodStatus{PodPhase: corev1.PodPending, Reason: corev1.PodReasonUnschedulable,
				Message: "0/2 nodes are available", CreateTime: whole(1)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := psiFixture(t)
			f.toRunning(t)
			tc.change(f.pod(t, alicePod))
			s := Running(Input{Task: f.task, Roster: f.plan.Roster(), Pods: f.pods, Services: f.services, Now: at(10)}).Status
			want := tc.want
			want.PodName, want.Namespace = "secretflow-task-psi-0", "alice"
			assertPodStatus(t, &want, s.PodStatuses[alicePod])
			require.Len(t, s.PodStatuses, 2)
			assert.Equal(t, "bob", s.PodStatuses[bobPod].Namespace)
		})
	}
}

// readyTime stays once the pod is no longer ready, and the entry of a pod
// that is gone stays with its last state.
func TestPodStatusesKeepHistory(t *testing.T) {
	f := psiFixture(t)
	f.toRunning(t)
	alice := f.pod(t, alicePod)
	ready(alice, corev1.ConditionTrue, at(4))
	s := f.compute(t, at(5), Running)
	assert.True(t, sameTime(whole(4), s.PodStatuses[alicePod].ReadyTime))

	ready(alice, corev1.ConditionFalse, at(7))
	s = f.compute(t, at(8), Running)
	assert.True(t, sameTime(whole(4), s.PodStatuses[alicePod].ReadyTime), "readyTime %v", s.PodStatuses[alicePod].ReadyTime)

	succeed(alice)
	s = f.compute(t, at(9), Running)
	assert.True(t, sameTime(whole(4), s.PodStatuses[alicePod].ReadyTime))
	assert.Equal(t, "Completed", s.PodStatuses[alicePod].Reason)
}

func TestPodStatusesKeepGonePods(t *testing.T) {
	f := psiFixture(t)
	s := f.releaseRoundOne(t)
	before := roundTrip(t, s).PodStatuses

	// The controller deleted the round's pods.
	f.pods = nil
	d := f.evaluate(f.task.Status.Reservation, at(45))
	s = f.compute(t, at(45), pending(d, false))
	require.Len(t, s.PodStatuses, 2)
	assert.Equal(t, before, roundTrip(t, s).PodStatuses)
	// The release stopped both pods, and says so.
	const released = "stopped by the controller: reservation round 1 was released"
	assertPodStatus(t, &kusciav1alpha1.PodStatus{
		PodName: "secretflow-task-psi-0", Namespace: "alice", NodeName: "node-alice", PodPhase: corev1.PodFailed,
		Reason: kusciav1alpha1.PodReasonStopped, Message: released,
		CreateTime: whole(1), StartTime: whole(1), ReadyTime: whole(2),
	}, s.PodStatuses[alicePod])
	assertPodStatus(t, &kusciav1alpha1.PodStatus{
		PodName: "secretflow-task-psi-0", Namespace: "bob", PodPhase: corev1.PodFailed,
		Reason: kusciav1alpha1.PodReasonStopped, Message: released, CreateTime: whole(1),
	}, s.PodStatuses[bobPod])
	require.Len(t, s.ServiceStatuses, 6, "services outlive the released pods")
}

// The pod of a new reservation round has the name of the released one; it
// must not inherit the old pod's readyTime, and neither must the services
// in front of it.
func TestPodStatusesRecreatedPodDoesNotInheritReadyTime(t *testing.T) {
	f := psiFixture(t)
	round1 := []*corev1.Pod{f.pods[0].DeepCopy(), f.pods[1].DeepCopy()}
	s := f.releaseRoundOne(t)
	require.True(t, sameTime(whole(2), s.ServiceStatuses["alice/secretflow-task-psi-0-fed"].ReadyTime))
	f.pods = nil
	d := f.evaluate(f.task.Status.Reservation, at(71))
	require.Equal(t, reservation.ActionCreate, d.Action)
	require.Equal(t, int32(2), d.State.Round)
	f.compute(t, at(71), pending(d, true))

	// Round 2's pods show up, not scheduled yet.
	f.pods = round1
	for _, p := range f.pods {
		p.UID = "round-2-" + types.UID(p.Namespace)
		p.CreationTimestamp = *whole(71)
	}
	s = f.compute(t, at(72), pending(f.evaluate(f.task.Status.Reservation, at(72)), false))
	ps := s.PodStatuses[alicePod]
	require.NotNil(t, ps)
	assert.True(t, sameTime(whole(71), ps.CreateTime))
	assert.Empty(t, ps.NodeName)
	assert.Nil(t, ps.ReadyTime, "a pod created at 71s that was never ready reports readyTime %v", ps.ReadyTime)
	for key, ss := range s.ServiceStatuses {
		assert.Nil(t, ss.ReadyTime, "%s reports the released pod's readiness", key)
	}
}

func TestServiceStatuses(t *testing.T) {
	f := psiFixture(t)
	f.toRunning(t)
	s := f.task.Status
	require.Len(t, s.ServiceStatuses, 6)
	for _, ns := range []string{"alice", "bob"} {
		for _, p := range []struct {
			name  string
			port  int32
			scope kusciav1alpha1.PortScope
		}{
			{"spu", 32000, kusciav1alpha1.ScopeCluster},
			{"fed", 32001, kusciav1alpha1.ScopeCluster},
			{"global", 32002, kusciav1alpha1.ScopeDomain},
		} {
			key := ns + "/secretflow-task-psi-0-" + p.name
			ss := s.ServiceStatuses[key]
			require.NotNil(t, ss, key)
			assert.Equal(t, "secretflow-task-psi-0-"+p.name, ss.ServiceName)
			assert.Equal(t, ns, ss.Namespace)
			assert.Equal(t, p.name, ss.PortName)
			assert.Equal(t, p.port, ss.PortNumber)
			assert.Equal(t, p.scope, ss.Scope)
			assert.True(t, sameTime(whole(1), ss.CreateTime), "%s createTime %v", key, ss.CreateTime)
			assert.Nil(t, ss.ReadyTime, "%s is not ready", key)
		}
	}
	assert.NotContains(t, s.ServiceStatuses, "alice/secretflow-task-psi-0-node-manager")

	// alice's pod gets ready: her services with it, not bob's.
	ready(f.pod(t, alicePod), corev1.ConditionTrue, at(4))
	s = f.compute(t, at(5), Running)
	for key, ss := range s.ServiceStatuses {
		if ss.Namespace == "alice" {
			assert.True(t, sameTime(whole(4), ss.ReadyTime), "%s readyTime %v", key, ss.ReadyTime)
		} else {
			assert.Nil(t, ss.ReadyTime, key)
		}
	}

	// Not ready any more, then gone: readyTime and the entries stay.
	ready(f.pod(t, alicePod), corev1.ConditionFalse, at(6))
	s = f.compute(t, at(7), Running)
	assert.True(t, sameTime(whole(4), s.ServiceStatuses["alice/secretflow-task-psi-0-fed"].ReadyTime))
	f.services = f.services[:0]
	f.pods = f.without(alicePod)
	s = Running(Input{Task: f.task, Roster: f.plan.Roster(), Pods: f.pods, Now: at(8)}).Status
	require.Len(t, s.ServiceStatuses, 6)
	assert.True(t, sameTime(whole(4), s.ServiceStatuses["alice/secretflow-task-psi-0-fed"].ReadyTime))
	assert.Equal(t, int32(32001), s.ServiceStatuses["alice/secretflow-task-psi-0-fed"].PortNumber)
}

// ServiceStatus.ReadyTime is documented as when the pod behind the service
// first became ready: a readiness flap must not move it.
func TestServiceStatusesReadyTimeIsTheFirst(t *testing.T) {
	f := psiFixture(t)
	f.toRunning(t)
	alice := f.pod(t, alicePod)
	ready(alice, corev1.ConditionTrue, at(4))
	f.compute(t, at(5), Running)
	ready(alice, corev1.ConditionFalse, at(6))
	f.compute(t, at(7), Running)
	ready(alice, corev1.ConditionTrue, at(20))
	s := f.compute(t, at(21), Running)
	ss := s.ServiceStatuses["alice/secretflow-task-psi-0-fed"]
	require.NotNil(t, ss)
	assert.True(t, sameTime(whole(4), ss.ReadyTime), "readyTime moved to %v after a readiness flap", ss.ReadyTime)
}
