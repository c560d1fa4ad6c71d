package status

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/gate"
	"kusciatask.io/controller/pkg/reservation"
)

const insufficient = "0/2 nodes are available: 2 Insufficient cpu."

// gateAll gives every pod of the fixture a closed gate, as the builder does
// with --reservation-gate.
func (f *fixture) gateAll() {
	for _, p := range f.pods {
		p.Annotations[gate.Annotation] = gate.Closed
	}
}

func podKeys(pods []*corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, podKey(p))
	}
	return out
}

// A bound pod behind a closed gate is reserved; no gate opens while the
// task is Pending, and every closed gate opens in the sync that makes it
// Running.
func TestOpenGatesWhenReserved(t *testing.T) {
	f := psiFixture(t)
	f.gateAll()
	f.compute(t, at(0), pending(f.evaluate(nil, at(0)), true))
	bind(f.pod(t, alicePod))
	d := f.evaluate(f.task.Status.Reservation, at(1))
	require.Equal(t, reservation.ActionWait, d.Action)
	n := Pending(f.input(at(1)), *d, Resources{})
	assert.Empty(t, n.Open, "no gate opens while a party is missing")
	f.task.Status = roundTrip(t, n.Status)

	bind(f.pod(t, bobPod))
	d = f.evaluate(f.task.Status.Reservation, at(2))
	require.Equal(t, reservation.ActionReserved, d.Action)
	n = Pending(f.input(at(2)), *d, Resources{})
	assert.Equal(t, kusciav1alpha1.TaskRunning, n.Status.Phase)
	assert.ElementsMatch(t, []string{alicePod, bobPod}, podKeys(n.Open))
}

// Which pods of a Running task get their gate opened, by the class of pod.
func TestOpenGatesRunning(t *testing.T) {
	tests := []struct {
		name     string
		set      func(p *corev1.Pod)
		wantOpen bool
	}{
		{name: "closed", set: func(p *corev1.Pod) { p.Annotations[gate.Annotation] = gate.Closed }, wantOpen: true},
		{name: "unreadable value is closed", set: func(p *corev1.Pod) { p.Annotations[gate.Annotation] = "OPEN" }, wantOpen: true},
		{name: "closed, not bound yet", set: func(p *corev1.Pod) {
			p.Annotations[gate.Annotation] = gate.Closed
			p.Spec.NodeName = ""
		}, wantOpen: true},
		{name: "already open", set: func(p *corev1.Pod) { p.Annotations[gate.Annotation] = gate.Open }},
		{name: "open with white space", set: func(p *corev1.Pod) { p.Annotations[gate.Annotation] = " open\n" }},
		{name: "no gate", set: func(p *corev1.Pod) { delete(p.Annotations, gate.Annotation) }},
		{name: "being deleted", set: func(p *corev1.Pod) {
			p.Annotations[gate.Annotation] = gate.Closed
			p.DeletionTimestamp = mt(4)
		}},
		{name: "failed", set: func(p *corev1.Pod) {
			p.Annotations[gate.Annotation] = gate.Closed
			fail(p, "gate deadline passed")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := psiFixture(t)
			f.gateAll()
			f.toRunning(t)
			for _, p := range f.pods {
				p.Status = corev1.PodStatus{Phase: corev1.PodPending}
				p.Spec.NodeName = "node-" + p.Namespace
				p.Annotations[gate.Annotation] = gate.Open
			}
			tc.set(f.pod(t, alicePod))
			n := Running(f.input(at(5)))
			if tc.wantOpen {
				assert.Equal(t, []string{alicePod}, podKeys(n.Open))
			} else {
				assert.Empty(t, n.Open)
			}
		})
	}
}

// The pods of a party the gang went without are stopped, never opened.
func TestOpenGatesPartialGang(t *testing.T) {
	f := newFixture(t, "secretflow-task-psi.yaml", func(task *kusciav1alpha1.KusciaTask) {
		task.Spec.ScheduleConfig = &kusciav1alpha1.ScheduleConfig{MinReservedMembers: ptr.To[int32](1)}
	})
	f.gateAll()
	f.compute(t, at(0), pending(f.evaluate(nil, at(0)), true))
	bind(f.pod(t, alicePod))
	unschedulable(f.pod(t, bobPod), "0/2 nodes are available")
	d := f.evaluate(f.task.Status.Reservation, at(2))
	require.Equal(t, reservation.ActionReserved, d.Action)
	n := Pending(f.input(at(2)), *d, Resources{})
	assert.Equal(t, []string{alicePod}, podKeys(n.Open))
	assert.Equal(t, []string{bobPod}, podKeys(n.Stop))
}

// A finished task opens nothing: its live pods are stopped.
func TestOpenGatesNotWhenFinished(t *testing.T) {
	f := psiFixture(t)
	f.gateAll()
	f.toRunning(t)
	fail(f.pod(t, bobPod), "boom")
	n := Running(f.input(at(5)))
	require.Equal(t, kusciav1alpha1.TaskFailed, n.Status.Phase)
	assert.Empty(t, n.Open)
}

// While a gated task waits, a reserved party says what it holds behind its
// gate and whom it waits for; the sync that reserves it stamps
// gateOpenedTime (whole seconds) and its Running event tells, once, the
// time the gang took from the round's start.
func TestGatedReservationStatus(t *testing.T) {
	f := psiFixture(t)
	f.gateAll()
	f.compute(t, at(0), pending(f.evaluate(nil, at(0)), true))
	bind(f.pod(t, alicePod))
	unschedulable(f.pod(t, bobPod), insufficient)
	s := f.compute(t, at(2), pending(f.evaluate(f.task.Status.Reservation, at(2)), false))
	assert.Equal(t, "reserved 1/1 pods, gate closed; waiting for [bob]: "+bobPod+": "+insufficient, partyStatus(t, s, "alice").Message)
	assert.Nil(t, s.Reservation.GateOpenedTime, "no gate opens while bob waits")

	old := f.task.Status
	bind(f.pod(t, bobPod))
	s = f.compute(t, at(6.7), pending(f.evaluate(f.task.Status.Reservation, at(6.7)), false))
	require.Equal(t, kusciav1alpha1.TaskRunning, s.Phase)
	require.NotNil(t, s.Reservation.GateOpenedTime)
	assert.True(t, s.Reservation.GateOpenedTime.Equal(ptr.To(metav1.NewTime(at(6.7).Truncate(time.Second)))), "whole seconds: %v", s.Reservation.GateOpenedTime)
	assert.Equal(t, []Event{{corev1.EventTypeNormal, EventRunning,
		"task reserved and running: parties [alice bob] reserved; opened the gates of the pods of parties [alice bob]: the gang formed in 7s (round 1)"}},
		Events(&old, &s))

	// Running on: the time stays, the event is not told again.
	old = f.task.Status
	s = f.compute(t, at(9), Running)
	assert.True(t, s.Reservation.GateOpenedTime.Equal(old.Reservation.GateOpenedTime))
	assert.Empty(t, Events(&old, &s))
}

// Without gates (--reservation-gate=false) no gate is reported.
func TestUngatedReservationStatus(t *testing.T) {
	f := psiFixture(t)
	f.toRunning(t)
	assert.Nil(t, f.task.Status.Reservation.GateOpenedTime)
}

func TestFirstReason(t *testing.T) {
	for in, want := range map[string]string{
		"a: x":             "a: x",
		"a: x; b: y":       "a: x (and 1 more)",
		"a: x; b: y; c: z": "a: x (and 2 more)",
	} {
		assert.Equal(t, want, firstReason(in), in)
	}
}

// A party whose PodGroup cannot be placed says the scheduler's reason for
// the group after its pods' reasons.
func TestPartyMessagesWithPodGroup(t *testing.T) {
	const groupMsg = "0/2 nodes are available: 2 Insufficient cpu."
	f := psiFixture(t)
	f.compute(t, at(0), pending(f.evaluate(nil, at(0)), true))
	bind(f.pod(t, alicePod))
	in := f.input(at(2))
	in.GroupMessages = map[string]string{"bob": groupMsg}
	n := Pending(in, *f.evaluate(f.task.Status.Reservation, at(2)), Resources{Created: true})
	assert.Equal(t, "reserved 1/1 pods; waiting for [bob]: "+bobPod+": not scheduled yet (and 1 more)", partyStatus(t, n.Status, "alice").Message)
	assert.Equal(t, "not reserved (reserved 0/1 pods, needs 1): "+bobPod+": not scheduled yet; bob: pod group: "+groupMsg,
		partyStatus(t, n.Status, "bob").Message)
}
