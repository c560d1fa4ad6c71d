//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// bob asks for more cpu than any node has: rounds are released and retried,
// then the task expires with the scheduler's own reason.
func TestReservationRoundsAndExpiry(t *testing.T) {
	const name = "e2e-reservation"
	deleteTaskOnCleanup(t, name)
	schedule := "  scheduleConfig:\n    resourceReservedSeconds: 3\n    retryIntervalSeconds: 2\n    lifecycleSeconds: 20\n"
	applyYAML(t, psiTask(name, schedule,
		partyOpts{env: map[string]string{"KWOK_OUTCOME": "run"}},
		partyOpts{cpu: "64"},
	))

	// While it waits, the task says why: rounds this short (3 s) are
	// released before their progress is written (--status-batch-delay), so
	// the reason shows in the released round's message rather than in
	// bob's party message.
	eventually(t, 15*time.Second, "bob to be reported unschedulable", func() (bool, string) {
		s := getTask(t, name).Status
		msg := s.Message
		if len(s.PartyTaskStatus) == 2 {
			msg += " | " + s.PartyTaskStatus[1].Message
		}
		return strings.Contains(msg, "bob") && strings.Contains(msg, "Insufficient cpu"), msg
	})

	task := waitPhase(t, name, kusciav1alpha1.TaskFailed, 60*time.Second)
	assert.Equal(t, kusciav1alpha1.ReasonReservationExpired, task.Status.Reason)
	assert.Contains(t, task.Status.Message, "[bob]")
	assert.Contains(t, task.Status.Message, "Insufficient cpu")
	require.NotNil(t, task.Status.Reservation)
	assert.GreaterOrEqual(t, task.Status.Reservation.Round, int32(2), "rounds were retried")
	assert.Contains(t, task.Status.Reservation.LastFailure, "bob")
	elapsed := task.Status.CompletionTime.Sub(task.Status.StartTime.Time)
	assert.InDelta(t, 20, elapsed.Seconds(), 5, "expires at lifecycleSeconds")

	out := kubectl(t, "describe", "kt", name)
	assert.Regexp(t, `Warning\s+RoundReleased`, out)
	assert.Regexp(t, `Normal\s+RoundStarted`, out)
	assert.Regexp(t, `Warning\s+ReservationExpired`, out)

	// Nothing keeps running after expiry.
	eventually(t, 30*time.Second, "the task's live pods to be deleted", func() (bool, string) {
		for _, p := range taskPods(t, task, "alice", "bob") {
			if p.Status.Phase == "Running" || p.Status.Phase == "Pending" {
				return false, p.Namespace + "/" + p.Name + " is " + string(p.Status.Phase)
			}
		}
		return true, ""
	})
}
