package status

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
	"kusciatask.io/controller/pkg/gate"
	"kusciatask.io/controller/pkg/reservation"
)

const (
	alicePod = "alice/secretflow-task-psi-0"
	bobPod   = "bob/secretflow-task-psi-0"
)

func assertCondition(t *testing.T, s *kusciav1alpha1.KusciaTaskStatus, typ kusciav1alpha1.KusciaTaskConditionType,
	status corev1.ConditionStatus, reason kusciav1alpha1.KusciaTaskReason, transition float64) {
	t.Helper()
	c := Condition(s, typ)
	require.NotNil(t, c, "condition %s missing in %+v", typ, s.Conditions)
	assert.Equal(t, status, c.Status, "condition %s status", typ)
	assert.Equal(t, reason, c.Reason, "condition %s reason", typ)
	assert.True(t, sameTime(mt(transition), c.LastTransitionTime), "condition %s lastTransitionTime %v, want %v", typ, c.LastTransitionTime, at(transition))
}

func TestPendingFirstSync(t *testing.T) {
	tests := []struct {
		name             string
		resourcesCreated bool
		decide           bool
		wantReason       kusciav1alpha1.KusciaTaskReason
		wantConditions   []kusciav1alpha1.KusciaTaskConditionType
	}{
		{name: "resources created, round 1 started", resourcesCreated: true, decide: true,
			wantReason:     kusciav1alpha1.ReasonReserving,
			wantConditions: []kusciav1alpha1.KusciaTaskConditionType{kusciav1alpha1.ConditionResourceCreated, kusciav1alpha1.ConditionReserved}},
		{name: "resources not all created yet", resourcesCreated: false, decide: true,
			wantReason:     kusciav1alpha1.ReasonReserving,
			wantConditions: []kusciav1alpha1.KusciaTaskConditionType{kusciav1alpha1.ConditionReserved}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := psiFixture(t)
			var d *reservation.Decision
			if tc.decide {
				d = f.evaluate(nil, at(0))
				require.Equal(t, reservation.ActionCreate, d.Action)
			}
			// The informers do not see the pods just created.
			s := Pending(Input{Task: f.task, Roster: f.plan.Roster(), Now: at(0)}, *d, Resources{Created: tc.resourcesCreated}).Status

			assert.Equal(t, kusciav1alpha1.TaskPending, s.Phase)
			require.NotNil(t, s.StartTime)
			assert.True(t, s.StartTime.Time.Equal(at(0)), "startTime %v", s.StartTime)
			require.NotNil(t, s.LastReconcileTime)
			assert.True(t, s.LastReconcileTime.Time.Equal(at(0)))
			assert.Nil(t, s.CompletionTime)
			assert.Equal(t, tc.wantReason, s.Reason)
			var types []kusciav1alpha1.KusciaTaskConditionType
			for _, c := range s.Conditions {
				types = append(types, c.Type)
			}
			assert.ElementsMatch(t, tc.wantConditions, types)
			assert.Empty(t, s.PodStatuses)
			assert.True(t, Changed(&f.task.Status, &s))
			if !tc.decide {
				assert.Nil(t, s.Reservation)
				return
			}
			assert.Equal(t, "round 1: creating the pods", s.Message)
			require.NotNil(t, s.Reservation)
			assert.Equal(t, int32(1), s.Reservation.Round)
			assertCondition(t, &s, kusciav1alpha1.ConditionReserved, corev1.ConditionFalse, kusciav1alpha1.ReasonReserving, 0)
			if tc.resourcesCreated {
				assertCondition(t, &s, kusciav1alpha1.ConditionResourceCreated, corev1.ConditionTrue, kusciav1alpha1.ReasonResourcesCreated, 0)
			}
			require.Len(t, s.PartyTaskStatus, 2)
			for i, domain := range []string{"alice", "bob"} {
				assert.Equal(t, domain, s.PartyTaskStatus[i].DomainID)
				assert.Equal(t, kusciav1alpha1.TaskPending, s.PartyTaskStatus[i].Phase)
				assert.Contains(t, s.PartyTaskStatus[i].Message, "not reserved")
			}
		})
	}
}

func TestPendingPartyMessages(t *testing.T) {
	f := psiFixture(t)
	f.compute(t, at(0), pending(f.evaluate(nil, at(0)), true))
	bind(f.pod(t, alicePod))
	unschedulable(f.pod(t, bobPod), "0/2 nodes are available: 2 Insufficient cpu.")
	d := f.evaluate(f.task.Status.Reservation, at(2))
	require.Equal(t, reservation.ActionWait, d.Action)
	s := f.compute(t, at(2), pending(d, false))

	assert.Equal(t, kusciav1alpha1.TaskPending, s.Phase)
	assert.Equal(t, kusciav1alpha1.ReasonReserving, s.Reason)
	assert.Equal(t, d.Message, s.Message)
	assert.Equal(t, kusciav1alpha1.PartyTaskStatus{DomainID: "alice", Phase: kusciav1alpha1.TaskPending,
		Message: "reserved 1/1 pods; waiting for [bob]: " + bobPod + ": 0/2 nodes are available: 2 Insufficient cpu."}, partyStatus(t, s, "alice"))
	bob := partyStatus(t, s, "bob")
	assert.Equal(t, "not reserved (reserved 0/1 pods, needs 1): "+bobPod+": 0/2 nodes are available: 2 Insufficient cpu.", bob.Message)
	assert.Equal(t, kusciav1alpha1.TaskPending, bob.Phase)
	assert.Contains(t, bob.Message, bobPod)
	assert.Contains(t, bob.Message, "Insufficient cpu")
	assert.Equal(t, []string{"alice"}, s.Reservation.ReservedParties)
}

func TestPendingReservedRuns(t *testing.T) {
	f := psiFixture(t)
	f.toRunning(t)
	s := f.task.Status

	assert.Equal(t, kusciav1alpha1.TaskRunning, s.Phase)
	assert.Equal(t, kusciav1alpha1.ReasonRunning, s.Reason)
	assert.Empty(t, s.Message)
	assert.Nil(t, s.CompletionTime)
	assert.True(t, sameTime(mt(0), s.StartTime), "startTime stays: %v", s.StartTime)
	assertCondition(t, &s, kusciav1alpha1.ConditionResourceCreated, corev1.ConditionTrue, kusciav1alpha1.ReasonResourcesCreated, 0)
	assertCondition(t, &s, kusciav1alpha1.ConditionReserved, corev1.ConditionTrue, kusciav1alpha1.ReasonReserved, 3)
	assertCondition(t, &s, kusciav1alpha1.ConditionRunning, corev1.ConditionTrue, kusciav1alpha1.ReasonRunning, 3)
	assert.Nil(t, Condition(&s, kusciav1alpha1.ConditionSuccess))
	assert.Equal(t, "parties [alice bob] reserved", Condition(&s, kusciav1alpha1.ConditionReserved).Message)
	assert.Equal(t, []kusciav1alpha1.PartyTaskStatus{
		{DomainID: "alice", Phase: kusciav1alpha1.TaskRunning},
		{DomainID: "bob", Phase: kusciav1alpha1.TaskRunning},
	}, s.PartyTaskStatus)
	assert.Equal(t, []string{"alice", "bob"}, s.Reservation.ReservedParties)
}

func TestRunningSucceeds(t *testing.T) {
	tests := []struct {
		file      string
		wantParty []kusciav1alpha1.PartyTaskStatus
	}{
		{file: "secretflow-task-psi.yaml", wantParty: []kusciav1alpha1.PartyTaskStatus{
			{DomainID: "alice", Phase: kusciav1alpha1.TaskSucceeded},
			{DomainID: "bob", Phase: kusciav1alpha1.TaskSucceeded},
		}},
		{file: "task-template.yaml", wantParty: []kusciav1alpha1.PartyTaskStatus{
			{DomainID: "alice", Role: "host", Phase: kusciav1alpha1.TaskSucceeded},
			{DomainID: "bob", Role: "guest", Phase: kusciav1alpha1.TaskSucceeded},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			f := newFixture(t, tc.file, nil)
			f.toRunning(t)

			// One party done is not enough.
			succeed(f.pods[0])
			s := f.compute(t, at(8), Running)
			assert.Equal(t, kusciav1alpha1.TaskRunning, s.Phase)
			assert.Equal(t, kusciav1alpha1.TaskSucceeded, s.PartyTaskStatus[0].Phase)
			assert.Equal(t, kusciav1alpha1.TaskRunning, s.PartyTaskStatus[1].Phase)

			for _, p := range f.pods {
				succeed(p)
			}
			s = f.compute(t, at(10), Running)
			assert.Equal(t, kusciav1alpha1.TaskSucceeded, s.Phase)
			assert.Equal(t, kusciav1alpha1.ReasonSucceeded, s.Reason)
			assert.Equal(t, "2 of 2 parties succeeded", s.Message)
			require.NotNil(t, s.CompletionTime)
			assert.True(t, s.CompletionTime.Time.Equal(at(10)))
			assert.True(t, s.LastReconcileTime.Time.Equal(at(10)))
			assertCondition(t, &s, kusciav1alpha1.ConditionSuccess, corev1.ConditionTrue, kusciav1alpha1.ReasonSucceeded, 10)
			assertCondition(t, &s, kusciav1alpha1.ConditionRunning, corev1.ConditionTrue, kusciav1alpha1.ReasonRunning, 3)
			assert.Equal(t, tc.wantParty, s.PartyTaskStatus)
			for _, ps := range s.PodStatuses {
				assert.Equal(t, corev1.PodSucceeded, ps.PodPhase)
				assert.Equal(t, "Completed", ps.Reason)
			}
			assert.Len(t, s.PodStatuses, 2)
		})
	}
}

func TestRunningPartyFails(t *testing.T) {
	tests := []struct {
		name      string
		change    func(f *fixture) []*corev1.Pod
		wantPhase kusciav1alpha1.KusciaTaskPhase
		wantAlice kusciav1alpha1.KusciaTaskPhase
		wantBob   kusciav1alpha1.KusciaTaskPhase
		// failed is the party that failed on its own; the other one is
		// stopped with the task.
		failed       string
		wantMessages []string
	}{
		{
			name: "container exited with a termination message",
			change: func(f *fixture) []*corev1.Pod {
				fail(f.pods[0], "psi failed: input table alice-table not found\n")
				return f.pods
			},
			wantPhase: kusciav1alpha1.TaskFailed, wantAlice: kusciav1alpha1.TaskFailed, wantBob: kusciav1alpha1.TaskFailed, failed: "alice",
			wantMessages: []string{alicePod, "psi failed: input table alice-table not found"},
		},
		{
			name: "CrashLoopBackOff",
			change: func(f *fixture) []*corev1.Pod {
				waiting(f.pods[0], "CrashLoopBackOff", "back-off 5m0s restarting failed container")
				return f.pods
			},
			wantPhase: kusciav1alpha1.TaskFailed, wantAlice: kusciav1alpha1.TaskFailed, wantBob: kusciav1alpha1.TaskFailed, failed: "alice",
			wantMessages: []string{alicePod, "CrashLoopBackOff", "back-off 5m0s"},
		},
		{
			name: "InvalidImageName",
			change: func(f *fixture) []*corev1.Pod {
				waiting(f.pods[1], "InvalidImageName", `couldn't parse image name "secretflow/x:"`)
				return f.pods
			},
			wantPhase: kusciav1alpha1.TaskFailed, wantAlice: kusciav1alpha1.TaskFailed, wantBob: kusciav1alpha1.TaskFailed, failed: "bob",
			wantMessages: []string{bobPod, "InvalidImageName"},
		},
		{
			name: "CreateContainerConfigError",
			change: func(f *fixture) []*corev1.Pod {
				waiting(f.pods[0], "CreateContainerConfigError", `configmap "config-template" not found`)
				return f.pods
			},
			wantPhase: kusciav1alpha1.TaskFailed, wantAlice: kusciav1alpha1.TaskFailed, wantBob: kusciav1alpha1.TaskFailed, failed: "alice",
			wantMessages: []string{alicePod, "CreateContainerConfigError", `configmap "config-template" not found`},
		},
		{
			name:      "pod deleted",
			change:    func(f *fixture) []*corev1.Pod { return f.without(alicePod) },
			wantPhase: kusciav1alpha1.TaskFailed, wantAlice: kusciav1alpha1.TaskFailed, wantBob: kusciav1alpha1.TaskFailed, failed: "alice",
			wantMessages: []string{alicePod, "deleted"},
		},
		{
			name: "a container still being created is not a failure",
			change: func(f *fixture) []*corev1.Pod {
				waiting(f.pods[0], "ContainerCreating", "")
				return f.pods
			},
			wantPhase: kusciav1alpha1.TaskRunning, wantAlice: kusciav1alpha1.TaskPending, wantBob: kusciav1alpha1.TaskRunning,
		},
		{
			name: "one party succeeded, the other runs",
			change: func(f *fixture) []*corev1.Pod {
				succeed(f.pods[1])
				return f.pods
			},
			wantPhase: kusciav1alpha1.TaskRunning, wantAlice: kusciav1alpha1.TaskRunning, wantBob: kusciav1alpha1.TaskSucceeded,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := psiFixture(t)
			f.toRunning(t)
			f.pods = tc.change(f)
			s := f.compute(t, at(10), Running)

			assert.Equal(t, tc.wantPhase, s.Phase)
			assert.Equal(t, map[string]kusciav1alpha1.KusciaTaskPhase{"alice": tc.wantAlice, "bob": tc.wantBob}, partyPhases(s))
			if tc.wantPhase != kusciav1alpha1.TaskFailed {
				assert.Equal(t, kusciav1alpha1.ReasonRunning, s.Reason)
				assert.Nil(t, s.CompletionTime)
				assert.Nil(t, Condition(&s, kusciav1alpha1.ConditionSuccess))
				return
			}
			failed, stopped := tc.failed, "bob"
			if failed == "bob" {
				stopped = "alice"
			}
			// The party still running when the task failed is stopped
			// with it, and says so.
			assert.Equal(t, "stopped: the task failed before this party finished", partyStatus(t, s, stopped).Message)
			assert.Equal(t, kusciav1alpha1.PodReasonStopped, s.PodStatuses[stopped+"/secretflow-task-psi-0"].Reason)
			assert.Equal(t, corev1.PodFailed, s.PodStatuses[stopped+"/secretflow-task-psi-0"].PodPhase)
			party := partyStatus(t, s, failed)
			for _, want := range tc.wantMessages {
				assert.Contains(t, party.Message, want, "party message")
				assert.Contains(t, s.Message, want, "task message")
			}
			assert.Contains(t, s.Message, "party "+failed)
			assert.Equal(t, kusciav1alpha1.ReasonPartiesFailed, s.Reason)
			require.NotNil(t, s.CompletionTime)
			assert.True(t, s.CompletionTime.Time.Equal(at(10)))
			assertCondition(t, &s, kusciav1alpha1.ConditionSuccess, corev1.ConditionFalse, kusciav1alpha1.ReasonPartiesFailed, 10)
			assert.Equal(t, s.Message, Condition(&s, kusciav1alpha1.ConditionSuccess).Message)
		})
	}
}

// With minReservedMembers 1 of 2 parties, one party's success is enough and
// one party's failure is not fatal.
func TestMinReservedMembers(t *testing.T) {
	tests := []struct {
		name        string
		change      func(f *fixture)
		wantPhase   kusciav1alpha1.KusciaTaskPhase
		wantReason  kusciav1alpha1.KusciaTaskReason
		wantMessage string
	}{
		{
			name:      "alice failed, bob runs",
			change:    func(f *fixture) { fail(f.pods[0], "boom") },
			wantPhase: kusciav1alpha1.TaskRunning, wantReason: kusciav1alpha1.ReasonRunning,
		},
		{
			name:      "alice failed, bob succeeded",
			change:    func(f *fixture) { fail(f.pods[0], "boom"); succeed(f.pods[1]) },
			wantPhase: kusciav1alpha1.TaskSucceeded, wantReason: kusciav1alpha1.ReasonSucceeded, wantMessage: "1 of 2 parties succeeded",
		},
		{
			name:      "both failed",
			change:    func(f *fixture) { fail(f.pods[0], "boom"); fail(f.pods[1], "bang") },
			wantPhase: kusciav1alpha1.TaskFailed, wantReason: kusciav1alpha1.ReasonPartiesFailed,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, "secretflow-task-psi.yaml", func(task *kusciav1alpha1.KusciaTask) {
				task.Spec.ScheduleConfig = &kusciav1alpha1.ScheduleConfig{MinReservedMembers: ptr.To[int32](1)}
			})
			f.toRunning(t)
			tc.change(f)
			s := f.compute(t, at(10), Running)
			assert.Equal(t, tc.wantPhase, s.Phase)
			assert.Equal(t, tc.wantReason, s.Reason)
			if tc.wantMessage != "" {
				assert.Equal(t, tc.wantMessage, s.Message)
			}
			alice := partyStatus(t, s, "alice")
			assert.Equal(t, kusciav1alpha1.TaskFailed, alice.Phase)
			assert.Contains(t, alice.Message, "boom")
		})
	}
}

// A party of 2 replicas with minReservedPods 1 succeeds with one failed pod.
func TestMinReservedPods(t *testing.T) {
	const alice1 = "alice/secretflow-task-psi-1"
	tests := []struct {
		name      string
		change    func(t *testing.T, f *fixture)
		wantTask  kusciav1alpha1.KusciaTaskPhase
		wantAlice kusciav1alpha1.KusciaTaskPhase
		wantInMsg []string
	}{
		{
			name: "one failed, one succeeded",
			change: func(t *testing.T, f *fixture) {
				fail(f.pod(t, alicePod), "boom")
				succeed(f.pod(t, alice1))
				succeed(f.pod(t, bobPod))
			},
			wantTask: kusciav1alpha1.TaskSucceeded, wantAlice: kusciav1alpha1.TaskSucceeded,
		},
		{
			name:      "one failed, one runs",
			change:    func(t *testing.T, f *fixture) { fail(f.pod(t, alicePod), "boom") },
			wantTask:  kusciav1alpha1.TaskRunning,
			wantAlice: kusciav1alpha1.TaskRunning,
		},
		{
			name:      "both failed",
			change:    func(t *testing.T, f *fixture) { fail(f.pod(t, alicePod), "boom"); fail(f.pod(t, alice1), "bang") },
			wantTask:  kusciav1alpha1.TaskFailed,
			wantAlice: kusciav1alpha1.TaskFailed,
			wantInMsg: []string{alicePod, "boom", alice1, "bang"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, "secretflow-task-psi.yaml", func(task *kusciav1alpha1.KusciaTask) {
				task.Spec.Parties[0].Template = &kusciav1alpha1.PartyTemplate{Replicas: ptr.To[int32](2)}
				task.Spec.Parties[0].MinReservedPods = ptr.To[int32](1)
			})
			require.Len(t, f.pods, 3)
			f.toRunning(t)
			tc.change(t, f)
			s := f.compute(t, at(10), Running)
			assert.Equal(t, tc.wantTask, s.Phase)
			alice := partyStatus(t, s, "alice")
			assert.Equal(t, tc.wantAlice, alice.Phase)
			for _, want := range tc.wantInMsg {
				assert.Contains(t, alice.Message, want)
			}
		})
	}
}

// A party the gang went without (minReservedMembers < parties) is Failed
// and does not count.
func TestPartialGang(t *testing.T) {
	f := newFixture(t, "secretflow-task-psi.yaml", func(task *kusciav1alpha1.KusciaTask) {
		task.Spec.ScheduleConfig = &kusciav1alpha1.ScheduleConfig{MinReservedMembers: ptr.To[int32](1)}
	})
	f.compute(t, at(0), pending(f.evaluate(nil, at(0)), true))
	bind(f.pod(t, alicePod))
	run(f.pod(t, alicePod), at(2))
	unschedulable(f.pod(t, bobPod), "0/2 nodes are available")
	d := f.evaluate(f.task.Status.Reservation, at(2))
	require.Equal(t, reservation.ActionReserved, d.Action)
	s := f.compute(t, at(2), pending(d, false))
	assert.Equal(t, kusciav1alpha1.TaskRunning, s.Phase)
	assert.Equal(t, kusciav1alpha1.TaskRunning, partyStatus(t, s, "alice").Phase)
	assert.Equal(t, kusciav1alpha1.TaskFailed, partyStatus(t, s, "bob").Phase)

	// The controller deletes bob's pods; alice goes on and succeeds.
	f.pods = f.without(bobPod)
	succeed(f.pod(t, alicePod))
	s = f.compute(t, at(9), Running)
	assert.Equal(t, kusciav1alpha1.TaskSucceeded, s.Phase)
	assert.Equal(t, "1 of 2 parties succeeded", s.Message)
	assert.Equal(t, kusciav1alpha1.TaskFailed, partyStatus(t, s, "bob").Phase)
	assert.Contains(t, partyStatus(t, s, "bob").Message, "not reserved")
}

func TestReservationOutcomes(t *testing.T) {
	f := psiFixture(t)
	f.compute(t, at(0), pending(f.evaluate(nil, at(0)), true))
	bind(f.pod(t, alicePod))
	unschedulable(f.pod(t, bobPod), "0/2 nodes are available: 2 Insufficient cpu.")
	f.compute(t, at(1), pending(f.evaluate(f.task.Status.Reservation, at(1)), false))

	d := f.evaluate(f.task.Status.Reservation, at(31))
	require.Equal(t, reservation.ActionRelease, d.Action)
	s := f.compute(t, at(31), pending(d, false))
	assert.Equal(t, kusciav1alpha1.TaskPending, s.Phase)
	assert.Equal(t, kusciav1alpha1.ReasonRoundReleased, s.Reason)
	assert.Equal(t, d.State.LastFailure, s.Message)
	assert.Contains(t, s.Message, "bob")
	assertCondition(t, &s, kusciav1alpha1.ConditionReserved, corev1.ConditionFalse, kusciav1alpha1.ReasonRoundReleased, 0)
	require.NotNil(t, s.Reservation.ReleasedTime)

	expire := &reservation.Decision{Action: reservation.ActionExpire, State: *s.Reservation.DeepCopy(),
		Message: "parties [bob] did not reserve within 300s"}
	s = f.compute(t, at(300), pending(expire, false))
	assert.Equal(t, kusciav1alpha1.TaskFailed, s.Phase)
	assert.Equal(t, kusciav1alpha1.ReasonReservationExpired, s.Reason)
	assert.Equal(t, expire.Message, s.Message)
	assert.True(t, s.CompletionTime.Time.Equal(at(300)))
	assertCondition(t, &s, kusciav1alpha1.ConditionSuccess, corev1.ConditionFalse, kusciav1alpha1.ReasonReservationExpired, 300)
	assertCondition(t, &s, kusciav1alpha1.ConditionReserved, corev1.ConditionFalse, kusciav1alpha1.ReasonReservationExpired, 0)
}

func TestFailed(t *testing.T) {
	failure := &builder.InputError{Reason: kusciav1alpha1.ReasonAppImageNotFound, Message: `party bob: AppImage "nope" not found`}
	tests := []struct {
		name      string
		before    func(t *testing.T, f *fixture)
		wantStart float64
		// wantPartyMessage: the parties' pods are stopped once they exist.
		wantPartyMessage string
	}{
		{name: "on the first sync", before: func(_ *testing.T, f *fixture) { f.pods = nil }, wantStart: 10},
		{name: "while pending", before: func(t *testing.T, f *fixture) {
			f.compute(t, at(0), pending(f.evaluate(nil, at(0)), true))
		}, wantPartyMessage: "stopped: the task failed before this party finished"},
		{name: "while running", before: func(t *testing.T, f *fixture) { f.toRunning(t) },
			wantPartyMessage: "stopped: the task failed before this party finished"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, "task-template.yaml", nil)
			tc.before(t, f)
			s := Failed(Input{Task: f.task, Pods: f.pods, Services: f.services, Now: at(10)}, failure.Reason, failure.Message).Status
			assert.Equal(t, kusciav1alpha1.TaskFailed, s.Phase)
			assert.Equal(t, kusciav1alpha1.ReasonAppImageNotFound, s.Reason)
			assert.Equal(t, failure.Message, s.Message)
			require.NotNil(t, s.CompletionTime)
			assert.True(t, s.CompletionTime.Time.Equal(at(10)))
			assert.True(t, sameTime(mt(tc.wantStart), s.StartTime), "startTime %v", s.StartTime)
			assertCondition(t, &s, kusciav1alpha1.ConditionSuccess, corev1.ConditionFalse, kusciav1alpha1.ReasonAppImageNotFound, 10)
			assert.Equal(t, failure.Message, Condition(&s, kusciav1alpha1.ConditionSuccess).Message)
			assert.Equal(t, []kusciav1alpha1.PartyTaskStatus{
				{DomainID: "alice", Role: "host", Phase: kusciav1alpha1.TaskFailed, Message: tc.wantPartyMessage},
				{DomainID: "bob", Role: "guest", Phase: kusciav1alpha1.TaskFailed, Message: tc.wantPartyMessage},
			}, s.PartyTaskStatus)
			next := Failed(Input{Task: f.task, Pods: f.pods, Now: at(10)}, failure.Reason, failure.Message)
			assert.Len(t, next.Stop, len(f.pods), "every live pod is stopped")
		})
	}
}

// A terminal task's status never changes, whatever happens to its pods
// afterwards.
func TestFinishedNeverChanges(t *testing.T) {
	for _, end := range []kusciav1alpha1.KusciaTaskPhase{kusciav1alpha1.TaskSucceeded, kusciav1alpha1.TaskFailed} {
		t.Run(string(end), func(t *testing.T) {
			f := psiFixture(t)
			f.toRunning(t)
			if end == kusciav1alpha1.TaskSucceeded {
				succeed(f.pods[0])
				succeed(f.pods[1])
			} else {
				fail(f.pods[0], "boom")
			}
			f.compute(t, at(10), Running)
			require.Equal(t, end, f.task.Status.Phase)
			old := *f.task.Status.DeepCopy()

			// Anything may happen afterwards: pods fail, go away.
			fail(f.pods[1], "late")
			s := Finished(Input{Task: f.task, Roster: f.plan.Roster(), Pods: f.pods[1:], Now: at(50)}).Status
			assert.Equal(t, old, s)
			assert.False(t, Changed(&old, &s))
			assert.Equal(t, old, f.task.Status, "the stored task is not mutated")
		})
	}
}

// A phase function run twice over the same input: the second result
// changes nothing, so the controller writes nothing and lastReconcileTime
// does not move. That holds whether or not the status went through a JSON
// round trip. The second run is the phase function of the status the first
// made (then: Finished, once the first ended the task).
func TestStatusIdempotent(t *testing.T) {
	stages := []struct {
		name  string
		setup func(t *testing.T, f *fixture) phase
		then  phase
	}{
		{name: "first sync", setup: func(_ *testing.T, f *fixture) phase {
			return pending(f.evaluate(nil, at(0)), true)
		}},
		{name: "waiting", setup: func(t *testing.T, f *fixture) phase {
			f.compute(t, at(0), pending(f.evaluate(nil, at(0)), true))
			bind(f.pod(t, alicePod))
			unschedulable(f.pod(t, bobPod), "0/2 nodes are available")
			return pending(f.evaluate(f.task.Status.Reservation, at(2)), false)
		}},
		{name: "reserved", setup: func(t *testing.T, f *fixture) phase {
			f.compute(t, at(0), pending(f.evaluate(nil, at(0)), true))
			bind(f.pods[0])
			bind(f.pods[1])
			return pending(f.evaluate(f.task.Status.Reservation, at(2)), false)
		}},
		{name: "running", setup: func(t *testing.T, f *fixture) phase {
			f.toRunning(t)
			ready(f.pods[0], corev1.ConditionTrue, at(4))
			return Running
		}},
		{name: "released", setup: func(t *testing.T, f *fixture) phase {
			f.compute(t, at(0), pending(f.evaluate(nil, at(0)), true))
			bind(f.pod(t, alicePod))
			unschedulable(f.pod(t, bobPod), "0/2 nodes are available")
			f.compute(t, at(2), pending(f.evaluate(f.task.Status.Reservation, at(2)), false))
			return pending(f.evaluate(f.task.Status.Reservation, at(40)), false)
		}},
		{name: "between rounds", setup: func(t *testing.T, f *fixture) phase {
			f.compute(t, at(0), pending(f.evaluate(nil, at(0)), true))
			bind(f.pod(t, alicePod))
			unschedulable(f.pod(t, bobPod), "0/2 nodes are available")
			f.compute(t, at(2), pending(f.evaluate(f.task.Status.Reservation, at(2)), false))
			f.compute(t, at(40), pending(f.evaluate(f.task.Status.Reservation, at(40)), false))
			f.pods = nil
			return pending(f.evaluate(f.task.Status.Reservation, at(45)), false)
		}},
		{name: "failed party", setup: func(t *testing.T, f *fixture) phase {
			f.toRunning(t)
			fail(f.pods[0], "boom")
			return Running
		}, then: Finished},
	}
	for _, st := range stages {
		for _, trip := range []bool{false, true} {
			name := st.name
			if trip {
				name += "/through JSON"
			}
			t.Run(name, func(t *testing.T) {
				f := psiFixture(t)
				step := st.setup(t, f)
				in := Input{Task: f.task, Roster: f.plan.Roster(), Pods: f.pods, Services: f.services, Now: at(20)}
				first := step(in).Status
				require.NotNil(t, first.LastReconcileTime)
				if Changed(&f.task.Status, &first) {
					assert.True(t, first.LastReconcileTime.Time.Equal(at(20)))
				} else {
					assert.True(t, sameTime(f.task.Status.LastReconcileTime, first.LastReconcileTime))
				}

				stored := first
				if trip {
					stored = roundTrip(t, first)
				}
				task := f.task.DeepCopy()
				task.Status = stored
				in.Task = task
				in.Now = at(25)
				if st.then != nil {
					step = st.then
				}
				second := step(in).Status
				assert.False(t, Changed(&stored, &second), "second compute changed the status:\nbefore %+v\nafter  %+v", stored, second)
				assert.True(t, sameTime(stored.LastReconcileTime, second.LastReconcileTime), "lastReconcileTime moved to %v", second.LastReconcileTime)
			})
		}
	}
}

func TestLastReconcileTimeMovesWithChanges(t *testing.T) {
	f := psiFixture(t)
	f.toRunning(t)
	s := f.compute(t, at(5), Running)
	assert.True(t, sameTime(mt(3), s.LastReconcileTime), "nothing changed since 3s: %v", s.LastReconcileTime)
	assert.False(t, Changed(&f.task.Status, &s))

	ready(f.pods[0], corev1.ConditionTrue, at(6))
	s = f.compute(t, at(7), Running)
	assert.True(t, s.LastReconcileTime.Time.Equal(at(7)), "readyTime changed: %v", s.LastReconcileTime)

	s = f.compute(t, at(9), Running)
	assert.True(t, sameTime(mt(7), s.LastReconcileTime))
}

// A condition's lastTransitionTime moves only when its status does.
func TestConditionTransitionTime(t *testing.T) {
	f := psiFixture(t)
	f.compute(t, at(0), pending(f.evaluate(nil, at(0)), true))
	unschedulable(f.pods[0], "0/2 nodes are available")
	unschedulable(f.pods[1], "0/2 nodes are available")
	first := f.compute(t, at(2), pending(f.evaluate(f.task.Status.Reservation, at(2)), true))

	bind(f.pods[0])
	s := f.compute(t, at(5), pending(f.evaluate(f.task.Status.Reservation, at(5)), true))
	assert.NotEqual(t, Condition(&first, kusciav1alpha1.ConditionReserved).Message, Condition(&s, kusciav1alpha1.ConditionReserved).Message,
		"the message follows the reservation")
	assertCondition(t, &s, kusciav1alpha1.ConditionReserved, corev1.ConditionFalse, kusciav1alpha1.ReasonReserving, 0)
	assertCondition(t, &s, kusciav1alpha1.ConditionResourceCreated, corev1.ConditionTrue, kusciav1alpha1.ReasonResourcesCreated, 0)

	bind(f.pods[1])
	s = f.compute(t, at(8), pending(f.evaluate(f.task.Status.Reservation, at(8)), false))
	assertCondition(t, &s, kusciav1alpha1.ConditionReserved, corev1.ConditionTrue, kusciav1alpha1.ReasonReserved, 8)
	assertCondition(t, &s, kusciav1alpha1.ConditionResourceCreated, corev1.ConditionTrue, kusciav1alpha1.ReasonResourcesCreated, 0)
	assertCondition(t, &s, kusciav1alpha1.ConditionRunning, corev1.ConditionTrue, kusciav1alpha1.ReasonRunning, 8)

	s = f.compute(t, at(12), Running)
	assertCondition(t, &s, kusciav1alpha1.ConditionReserved, corev1.ConditionTrue, kusciav1alpha1.ReasonReserved, 8)
	assertCondition(t, &s, kusciav1alpha1.ConditionRunning, corev1.ConditionTrue, kusciav1alpha1.ReasonRunning, 8)
}

func TestPhasesDoNotMutateInput(t *testing.T) {
	f := psiFixture(t)
	f.toRunning(t)
	fail(f.pods[0], "boom")
	before := f.task.DeepCopy()
	pods := make([]*corev1.Pod, len(f.pods))
	for i, p := range f.pods {
		pods[i] = p.DeepCopy()
	}
	Running(Input{Task: f.task, Roster: f.plan.Roster(), Pods: f.pods, Services: f.services, Now: at(10)})
	assert.Equal(t, before, f.task)
	for i := range pods {
		assert.Equal(t, pods[i], f.pods[i])
	}
}

// TestPendingPartyPullingImages: with the images pulled during the
// reservation, a bound pod whose gate does not run yet leaves its party
// unreserved, and the messages say which image it pulls; a pull the
// kubelet keeps retrying shows the kubelet's message and releases the round
// after resourceReservedSeconds, as an unschedulable party does.
func TestPendingPartyPullingImages(t *testing.T) {
	in := exampleInputs(t)
	in.Policy.Gate = builder.GatePolicy{Image: "gate:v1", PullImages: true}
	f := newFixtureIn(t, "secretflow-task-psi.yaml", in, nil)
	f.compute(t, at(0), pending(f.evaluate(nil, at(0)), true))
	alice, bob := f.pod(t, alicePod), f.pod(t, bobPod)
	image := bob.Spec.Containers[0].Image
	require.Equal(t, gate.ContainerName, bob.Spec.InitContainers[1].Name)
	bind(alice)
	bind(bob)
	gateStatus := func(p *corev1.Pod, gateState corev1.ContainerState) {
		p.Status.InitContainerStatuses = []corev1.ContainerStatus{
			{Name: gate.InstallContainerName, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed"}}},
			{Name: gate.ContainerName, State: gateState},
		}
	}
	gateStatus(alice, corev1.ContainerState{Running: &corev1.ContainerStateRunning{}})
	gateStatus(bob, corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "PodInitializing"}})

	d := f.evaluate(f.task.Status.Reservation, at(2))
	require.Equal(t, reservation.ActionWait, d.Action)
	s := f.compute(t, at(2), pending(d, false))
	assert.Equal(t, []string{"alice"}, s.Reservation.ReservedParties, "alice's gate waits: every image is on her node")
	assert.Equal(t, "not reserved (bound 1/1, pulling images 1/1, needs 1): "+bobPod+": pulling "+image, partyStatus(t, s, "bob").Message)
	assert.Equal(t, "reserved 1/1 pods, gate closed; waiting for [bob]: "+bobPod+": pulling "+image, partyStatus(t, s, "alice").Message)

	backOff := fmt.Sprintf("Back-off pulling image %q: 403 Forbidden", image)
	gateStatus(bob, corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: backOff}})
	d = f.evaluate(f.task.Status.Reservation, at(10))
	require.Equal(t, reservation.ActionWait, d.Action, "a pull the kubelet retries fails nothing yet")
	s = f.compute(t, at(10), pending(d, false))
	assert.Equal(t, kusciav1alpha1.TaskPending, s.Phase)
	assert.Contains(t, partyStatus(t, s, "bob").Message, bobPod+": pulling "+image+": ImagePullBackOff: "+backOff)
	assert.Equal(t, "ImagePullBackOff", s.PodStatuses[bobPod].Reason)

	// The kubelet tries again: during the attempt the gate waits
	// PodInitializing, and the failure it reported is carried over.
	gateStatus(bob, corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "PodInitializing"}})
	f.pods = WithLastPullFailures(f.pods, s.PodStatuses)
	assert.Equal(t, "PodInitializing", bob.Status.InitContainerStatuses[1].State.Waiting.Reason, "the pods given are not changed")
	d = f.evaluate(f.task.Status.Reservation, at(20))
	s = f.compute(t, at(20), pending(d, false))
	assert.Contains(t, partyStatus(t, s, "bob").Message, bobPod+": pulling "+image+": ImagePullBackOff: "+backOff, "carried over the retry")

	d = f.evaluate(f.task.Status.Reservation, at(40))
	require.Equal(t, reservation.ActionRelease, d.Action, "released resourceReservedSeconds after alice reserved")
	s = f.compute(t, at(40), pending(d, false))
	assert.Equal(t, kusciav1alpha1.TaskPending, s.Phase)
	assert.Contains(t, s.Reservation.LastFailure, "parties [bob] did not reserve")
	assert.Contains(t, s.Reservation.LastFailure, image)
	assert.Contains(t, s.Reservation.LastFailure, "ImagePullBackOff")
}

// TestPendingImageUnavailableFailsAtOnce: during the reservation, a gate
// whose image is never pulled (pull policy Never, not on the node) fails
// the task at once with reason ImageUnavailable, naming the image, and
// stops the live pods.
func TestPendingImageUnavailableFailsAtOnce(t *testing.T) {
	in := exampleInputs(t)
	in.Policy.Gate = builder.GatePolicy{Image: "gate:v1", PullImages: true}
	f := newFixtureIn(t, "secretflow-task-psi.yaml", in, nil)
	f.compute(t, at(0), pending(f.evaluate(nil, at(0)), true))
	bob := f.pod(t, bobPod)
	image := bob.Spec.Containers[0].Image
	bind(f.pod(t, alicePod))
	bind(bob)
	never := fmt.Sprintf("Container image %q is not present with pull policy of Never", image)
	bob.Status.InitContainerStatuses = []corev1.ContainerStatus{
		{Name: gate.InstallContainerName, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed"}}},
		{Name: gate.ContainerName, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImageNeverPull", Message: never}}},
	}

	d := f.evaluate(f.task.Status.Reservation, at(3))
	require.Equal(t, reservation.ActionFail, d.Action)
	next := Pending(f.input(at(3)), *d, Resources{})
	s := next.Status
	assert.Equal(t, kusciav1alpha1.TaskFailed, s.Phase)
	assert.Equal(t, kusciav1alpha1.ReasonImageUnavailable, s.Reason)
	assert.Contains(t, s.Message, bobPod)
	assert.Contains(t, s.Message, never)
	assertCondition(t, &s, kusciav1alpha1.ConditionReserved, corev1.ConditionFalse, kusciav1alpha1.ReasonImageUnavailable, 0)
	var stopped []string
	for _, p := range next.Stop {
		stopped = append(stopped, podKey(p))
	}
	assert.ElementsMatch(t, []string{alicePod, bobPod}, stopped, "a failed task keeps nothing running")
}
