package status

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
	"kusciatask.io/controller/pkg/reservation"
)

func normalEvent(reason, msg string) Event {
	return Event{Type: corev1.EventTypeNormal, Reason: reason, Message: msg}
}

func warningEvent(reason, msg string) Event {
	return Event{Type: corev1.EventTypeWarning, Reason: reason, Message: msg}
}

// st builds a status for the event table.
type st struct {
	phase    kusciav1alpha1.KusciaTaskPhase
	reason   kusciav1alpha1.KusciaTaskReason
	message  string
	created  bool
	reserved string // message of a True Reserved condition (Running is True too)
	round    int32
	released bool
	lastFail string
}

func (b st) status() *kusciav1alpha1.KusciaTaskStatus {
	s := &kusciav1alpha1.KusciaTaskStatus{Phase: b.phase, Reason: b.reason, Message: b.message}
	if b.created {
		s.Conditions = append(s.Conditions, kusciav1alpha1.KusciaTaskCondition{Type: kusciav1alpha1.ConditionResourceCreated, Status: corev1.ConditionTrue, LastTransitionTime: mt(0)})
	}
	if b.reserved != "" {
		// Pending sets Reserved and Running True together, when the gang reserves.
		s.Conditions = append(s.Conditions,
			kusciav1alpha1.KusciaTaskCondition{Type: kusciav1alpha1.ConditionReserved, Status: corev1.ConditionTrue, Message: b.reserved, LastTransitionTime: mt(0)},
			kusciav1alpha1.KusciaTaskCondition{Type: kusciav1alpha1.ConditionRunning, Status: corev1.ConditionTrue, LastTransitionTime: mt(0)})
	}
	if b.round > 0 {
		s.Reservation = &kusciav1alpha1.ReservationStatus{Round: b.round, RoundStartTime: mt(0), LastFailure: b.lastFail}
		if b.released {
			s.Reservation.ReleasedTime = mt(31)
		}
	}
	return s
}

func TestEvents(t *testing.T) {
	const released = "round 1: parties [bob] did not reserve within 30s of the first reserved party"
	pendingSt := st{phase: kusciav1alpha1.TaskPending, created: true, round: 1}
	runningSt := st{phase: kusciav1alpha1.TaskRunning, created: true, round: 1, reserved: "parties [alice bob] reserved"}
	tests := []struct {
		name string
		old  st
		new  st
		want []Event
	}{
		// Being accepted and having its objects created are told by status
		// (phase, condition ResourceCreated), not by Events.
		{name: "accepted and created", old: st{}, new: pendingSt},
		{name: "accepted, resources not created yet", old: st{}, new: st{phase: kusciav1alpha1.TaskPending, round: 1}},
		{name: "resources created later", old: st{phase: kusciav1alpha1.TaskPending, round: 1}, new: pendingSt},
		{
			name: "accepted and running in one write",
			old:  st{},
			new:  runningSt,
			want: []Event{normalEvent(EventRunning, "task reserved and running: parties [alice bob] reserved")},
		},
		{
			name: "round released",
			old:  pendingSt,
			new:  st{phase: kusciav1alpha1.TaskPending, created: true, round: 1, released: true, lastFail: released, reason: kusciav1alpha1.ReasonRoundReleased, message: released},
			want: []Event{warningEvent(EventRoundReleased, released)},
		},
		{
			name: "still released",
			old:  st{phase: kusciav1alpha1.TaskPending, created: true, round: 1, released: true, lastFail: released},
			new:  st{phase: kusciav1alpha1.TaskPending, created: true, round: 1, released: true, lastFail: released, message: "other"},
		},
		{
			name: "next round started",
			old:  st{phase: kusciav1alpha1.TaskPending, created: true, round: 1, released: true, lastFail: released},
			new:  st{phase: kusciav1alpha1.TaskPending, created: true, round: 2, lastFail: released},
			want: []Event{normalEvent(EventRoundStarted, "reservation round 2 started")},
		},
		{
			name: "running",
			old:  pendingSt,
			new:  runningSt,
			want: []Event{normalEvent(EventRunning, "task reserved and running: parties [alice bob] reserved")},
		},
		{
			name: "reserved with every pod already done",
			old:  pendingSt,
			new:  st{phase: kusciav1alpha1.TaskSucceeded, created: true, round: 1, reserved: "parties [alice bob] reserved", reason: kusciav1alpha1.ReasonSucceeded, message: "2 of 2 parties succeeded"},
			want: []Event{
				normalEvent(EventRunning, "task reserved and running: parties [alice bob] reserved"),
				normalEvent(EventSucceeded, "2 of 2 parties succeeded"),
			},
		},
		{
			name: "succeeded",
			old:  runningSt,
			new:  st{phase: kusciav1alpha1.TaskSucceeded, created: true, round: 1, reserved: "x", reason: kusciav1alpha1.ReasonSucceeded, message: "2 of 2 parties succeeded"},
			want: []Event{normalEvent(EventSucceeded, "2 of 2 parties succeeded")},
		},
		{
			name: "parties failed",
			old:  runningSt,
			new:  st{phase: kusciav1alpha1.TaskFailed, created: true, round: 1, reserved: "x", reason: kusciav1alpha1.ReasonPartiesFailed, message: "party alice failed: boom"},
			want: []Event{warningEvent(string(kusciav1alpha1.ReasonPartiesFailed), "party alice failed: boom")},
		},
		{
			name: "reservation expired",
			old:  pendingSt,
			new:  st{phase: kusciav1alpha1.TaskFailed, created: true, round: 1, reason: kusciav1alpha1.ReasonReservationExpired, message: "parties [bob] did not reserve within 300s"},
			want: []Event{warningEvent(string(kusciav1alpha1.ReasonReservationExpired), "parties [bob] did not reserve within 300s")},
		},
		{
			name: "failed on the first sync",
			old:  st{},
			new:  st{phase: kusciav1alpha1.TaskFailed, reason: kusciav1alpha1.ReasonAppImageNotFound, message: `party bob: AppImage "nope" not found`},
			want: []Event{warningEvent(string(kusciav1alpha1.ReasonAppImageNotFound), `party bob: AppImage "nope" not found`)},
		},
		{name: "nothing changed while pending", old: pendingSt, new: pendingSt},
		{name: "nothing changed while running", old: runningSt, new: st{phase: kusciav1alpha1.TaskRunning, created: true, round: 1, reserved: "y", message: "m"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Events(tc.old.status(), tc.new.status())
			assert.Equal(t, tc.want, got)
		})
	}
}

// Events of a whole task life, from the statuses the phase functions make: round 1 is
// released because bob cannot be scheduled, round 2 runs and succeeds.
func TestEventsOfComputedStatuses(t *testing.T) {
	f := psiFixture(t)
	fresh := []*corev1.Pod{f.pods[0].DeepCopy(), f.pods[1].DeepCopy()}
	step := func(now float64, phase phase) []Event {
		t.Helper()
		old := f.task.Status.DeepCopy()
		s := f.compute(t, at(now), phase)
		if !Changed(old, &s) {
			return nil
		}
		return Events(old, &s)
	}
	reservationAt := func(now float64) phase {
		return pending(f.evaluate(f.task.Status.Reservation, at(now)), true)
	}

	assert.Empty(t, step(0, pending(f.evaluate(nil, at(0)), true)), "accepted and created: status tells")

	bind(f.pod(t, alicePod))
	unschedulable(f.pod(t, bobPod), "0/2 nodes are available: 2 Insufficient cpu.")
	assert.Empty(t, step(1, reservationAt(1)), "waiting is no event")
	assert.Empty(t, step(5, reservationAt(5)), "nothing changed")

	d := f.evaluate(f.task.Status.Reservation, at(31))
	require.Equal(t, reservation.ActionRelease, d.Action)
	events := step(31, pending(d, false))
	require.Len(t, events, 1)
	assert.Equal(t, corev1.EventTypeWarning, events[0].Type)
	assert.Equal(t, EventRoundReleased, events[0].Reason)
	assert.Contains(t, events[0].Message, "bob/secretflow-task-psi-0: 0/2 nodes are available: 2 Insufficient cpu.")

	f.pods = nil
	assert.Empty(t, step(40, pending(f.evaluate(f.task.Status.Reservation, at(40)), false)), "waiting for the next round")
	d = f.evaluate(f.task.Status.Reservation, at(61))
	require.Equal(t, reservation.ActionCreate, d.Action)
	assert.Equal(t, []Event{normalEvent(EventRoundStarted, "reservation round 2 started")}, step(61, pending(d, true)))

	f.pods = fresh
	for _, p := range f.pods {
		p.Annotations[builder.AnnotationRound] = "2"
		bind(p)
		run(p, at(62))
	}
	assert.Equal(t, []Event{normalEvent(EventRunning, "task reserved and running: parties [alice bob] reserved")}, step(62, reservationAt(62)))
	assert.Empty(t, step(63, Running))

	fail(f.pods[1], "bob ran out of memory")
	events = step(70, Running)
	require.Len(t, events, 1)
	assert.Equal(t, corev1.EventTypeWarning, events[0].Type)
	assert.Equal(t, string(kusciav1alpha1.ReasonPartiesFailed), events[0].Reason)
	assert.Contains(t, events[0].Message, "bob ran out of memory")
	assert.Empty(t, step(80, Finished), "terminal")
}
