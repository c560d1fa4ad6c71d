package status

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/gate"
	"kusciatask.io/controller/pkg/reservation"
)

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
	f.compute(t, at(0), Outcome{ResourcesCreated: true, Reservation: f.evaluate(nil, at(0))})
	bind(f.pod(t, alicePod))
	d := f.evaluate(f.task.Status.Reservation, at(1))
	require.Equal(t, reservation.ActionWait, d.Action)
	n := computeNext(f.input(at(1)), Outcome{Reservation: d})
	assert.Empty(t, n.Open, "no gate opens while a party is missing")
	f.task.Status = roundTrip(t, n.Status)

	bind(f.pod(t, bobPod))
	d = f.evaluate(f.task.Status.Reservation, at(2))
	require.Equal(t, reservation.ActionReserved, d.Action)
	n = computeNext(f.input(at(2)), Outcome{Reservation: d})
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
			n := computeNext(f.input(at(5)), Outcome{})
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
	f.compute(t, at(0), Outcome{ResourcesCreated: true, Reservation: f.evaluate(nil, at(0))})
	bind(f.pod(t, alicePod))
	unschedulable(f.pod(t, bobPod), "0/2 nodes are available")
	d := f.evaluate(f.task.Status.Reservation, at(2))
	require.Equal(t, reservation.ActionReserved, d.Action)
	n := computeNext(f.input(at(2)), Outcome{Reservation: d})
	assert.Equal(t, []string{alicePod}, podKeys(n.Open))
	assert.Equal(t, []string{bobPod}, podKeys(n.Stop))
}

// A finished task opens nothing: its live pods are stopped.
func TestOpenGatesNotWhenFinished(t *testing.T) {
	f := psiFixture(t)
	f.gateAll()
	f.toRunning(t)
	fail(f.pod(t, bobPod), "boom")
	n := computeNext(f.input(at(5)), Outcome{})
	require.Equal(t, kusciav1alpha1.TaskFailed, n.Status.Phase)
	assert.Empty(t, n.Open)
}
