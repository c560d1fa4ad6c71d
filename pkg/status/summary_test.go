package status

import (
	"testing"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
)

// Finished is True on both terminal phases, with the terminal reason, and
// absent before: `kubectl wait --for=condition=Finished` returns on either.
func TestFinishedCondition(t *testing.T) {
	t.Run("succeeded", func(t *testing.T) {
		f := psiFixture(t)
		f.toRunning(t)
		assert.Nil(t, Condition(&f.task.Status, kusciav1alpha1.ConditionFinished), "not finished while running")
		for _, p := range f.pods {
			succeed(p)
		}
		s := f.compute(t, at(10), Running)
		assertCondition(t, &s, kusciav1alpha1.ConditionFinished, corev1.ConditionTrue, kusciav1alpha1.ReasonSucceeded, 10)
		assert.Equal(t, s.Message, Condition(&s, kusciav1alpha1.ConditionFinished).Message)
	})
	t.Run("failed", func(t *testing.T) {
		f := psiFixture(t)
		f.toRunning(t)
		fail(f.pods[1], "boom")
		s := f.compute(t, at(10), Running)
		assert.Equal(t, kusciav1alpha1.TaskFailed, s.Phase)
		assertCondition(t, &s, kusciav1alpha1.ConditionFinished, corev1.ConditionTrue, kusciav1alpha1.ReasonPartiesFailed, 10)
		assert.Equal(t, s.Message, Condition(&s, kusciav1alpha1.ConditionFinished).Message)
	})
	t.Run("failed input", func(t *testing.T) {
		f := psiFixture(t)
		failure := &builder.InputError{Reason: kusciav1alpha1.ReasonAppImageNotFound, Message: "no such AppImage"}
		s := Failed(Input{Task: f.task, Now: at(3)}, failure.Reason, failure.Message).Status
		assertCondition(t, &s, kusciav1alpha1.ConditionFinished, corev1.ConditionTrue, kusciav1alpha1.ReasonAppImageNotFound, 3)
		assert.Equal(t, "2/2 failed", s.PartiesSummary)
	})
}

func TestPartiesSummary(t *testing.T) {
	party := func(phases ...kusciav1alpha1.KusciaTaskPhase) []kusciav1alpha1.PartyTaskStatus {
		var out []kusciav1alpha1.PartyTaskStatus
		for _, p := range phases {
			out = append(out, kusciav1alpha1.PartyTaskStatus{Phase: p})
		}
		return out
	}
	const (
		pending   = kusciav1alpha1.TaskPending
		running   = kusciav1alpha1.TaskRunning
		succeeded = kusciav1alpha1.TaskSucceeded
		failed    = kusciav1alpha1.TaskFailed
	)
	tests := []struct {
		name string
		s    kusciav1alpha1.KusciaTaskStatus
		want string
	}{
		{"new", kusciav1alpha1.KusciaTaskStatus{}, "0/2 reserved"},
		{"reserving", kusciav1alpha1.KusciaTaskStatus{Phase: pending, PartyTaskStatus: party(pending, pending),
			Reservation: &kusciav1alpha1.ReservationStatus{Round: 1, ReservedParties: []string{"alice"}}}, "1/2 reserved"},
		{"running", kusciav1alpha1.KusciaTaskStatus{Phase: running, PartyTaskStatus: party(running, running)}, "2/2 running"},
		{"running, one done", kusciav1alpha1.KusciaTaskStatus{Phase: running, PartyTaskStatus: party(running, succeeded)}, "1/2 running, 1/2 succeeded"},
		{"running, none started", kusciav1alpha1.KusciaTaskStatus{Phase: running, PartyTaskStatus: party(pending, pending)}, "0/2 running"},
		{"succeeded", kusciav1alpha1.KusciaTaskStatus{Phase: succeeded, PartyTaskStatus: party(succeeded, succeeded)}, "2/2 succeeded"},
		{"failed", kusciav1alpha1.KusciaTaskStatus{Phase: failed, PartyTaskStatus: party(succeeded, failed)}, "1/2 succeeded, 1/2 failed"},
		{"failed, no parties", kusciav1alpha1.KusciaTaskStatus{Phase: failed}, "0/2 succeeded"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, PartiesSummary(&tc.s, 2))
		})
	}
}

// The summary is written with the status it describes.
func TestStatusCarriesPartiesSummary(t *testing.T) {
	f := psiFixture(t)
	s := f.compute(t, at(0), pending(f.evaluate(nil, at(0)), true))
	assert.Equal(t, "0/2 reserved", s.PartiesSummary)
	f.toRunning(t)
	assert.Equal(t, "2/2 running", f.task.Status.PartiesSummary)
}
