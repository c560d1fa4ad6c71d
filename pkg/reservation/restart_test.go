package reservation

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// TestEvaluateIsIdempotent evaluates each situation twice, the second time
// with the state the first returned read back from status JSON, as a
// restarted controller does: the decision must not change.
func TestEvaluateIsIdempotent(t *testing.T) {
	failed := []Party{party("alice", 1, boundPod("alice", "task-0")), party("bob", 1, failedPod("bob", "task-0"))}
	reserved := []Party{party("alice", 1, boundPod("alice", "task-0")), party("bob", 1, boundPod("bob", "task-0"))}
	firstReserved := round1()
	firstReserved.FirstReservedTime = mtime(1)
	tests := []struct {
		name       string
		state      *kusciav1alpha1.ReservationStatus
		parties    []Party
		now        float64
		wantAction Action
	}{
		{name: "waiting, nobody reserved", state: round1(), parties: noPods(), now: 0.4, wantAction: ActionWait},
		{name: "first party reserves", state: round1(), parties: aliceReservedBobNot(), now: 1.6, wantAction: ActionWait},
		{name: "holding", state: firstReserved, parties: aliceReservedBobNot(), now: 17.9, wantAction: ActionWait},
		{name: "released by the timer", state: firstReserved, parties: aliceReservedBobNot(), now: 31.5, wantAction: ActionRelease},
		{name: "released by a failed pod", state: firstReserved, parties: failed, now: 12.3, wantAction: ActionRelease},
		{name: "reserved", state: firstReserved, parties: reserved, now: 9.9, wantAction: ActionReserved},
		{name: "expired in a round", state: firstReserved, parties: aliceReservedBobNot(), now: 300.5, wantAction: ActionExpire},
		{name: "releasing between rounds", state: releasedAt(31), parties: aliceReservedBobNot(), now: 40.1, wantAction: ActionRelease},
		{name: "waiting between rounds", state: releasedAt(31), parties: noPods(), now: 40.1, wantAction: ActionWait},
		{name: "expired between rounds", state: releasedAt(280), parties: noPods(), now: 300.7, wantAction: ActionExpire},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := clocktesting.NewFakeClock(at(tt.now))
			first := Evaluate(defaults(t), tt.state, t0, tt.parties, clock.Now())
			require.Equal(t, tt.wantAction, first.Action)
			again := Evaluate(defaults(t), roundTrip(t, first.State), t0, tt.parties, clock.Now())
			assert.Equal(t, first, again)
			assertSurvivesRoundTrip(t, first.State)
		})
	}
}

// TestEvaluateContinuesAfterRestart checks that a restarted controller
// neither restarts the reserved-party timer nor releases a round twice.
func TestEvaluateContinuesAfterRestart(t *testing.T) {
	clock := clocktesting.NewFakeClock(at(1.6))
	cfg := defaults(t)
	waiting := Evaluate(cfg, round1(), t0, aliceReservedBobNot(), clock.Now())
	require.Equal(t, ActionWait, waiting.Action)

	clock.SetTime(at(20.3))
	restarted := Evaluate(cfg, roundTrip(t, waiting.State), t0, aliceReservedBobNot(), clock.Now())
	assert.Equal(t, ActionWait, restarted.Action)
	assert.Equal(t, at(31), restarted.RequeueAt, "the timer runs from the first reserved time in status")

	clock.SetTime(at(31.2))
	released := Evaluate(cfg, roundTrip(t, restarted.State), t0, aliceReservedBobNot(), clock.Now())
	require.Equal(t, ActionRelease, released.Action)

	// The pods are gone when the controller comes back.
	afterRestart := Evaluate(cfg, roundTrip(t, released.State), t0, noPods(), clock.Now())
	assert.Equal(t, ActionWait, afterRestart.Action, "no second release")
	assert.Equal(t, released.State, afterRestart.State)
	assert.Equal(t, at(61), afterRestart.RequeueAt)

	clock.SetTime(at(61))
	next := Evaluate(cfg, roundTrip(t, afterRestart.State), t0, noPods(), clock.Now())
	assert.Equal(t, ActionCreate, next.Action)
	assert.Equal(t, int32(2), next.State.Round)
}

// TestEvaluateStoresWholeSeconds checks that the times Evaluate stores are
// those a status round trip gives back, whatever now's fraction and zone.
func TestEvaluateStoresWholeSeconds(t *testing.T) {
	zone := time.FixedZone("UTC+8", 8*3600)
	clock := clocktesting.NewFakeClock(at(1.999).In(zone))
	got := Evaluate(defaults(t), round1(), t0.In(zone), aliceReservedBobNot(), clock.Now())
	require.Equal(t, ActionWait, got.Action)
	assert.Equal(t, &metav1.Time{Time: time.Date(2025, 6, 1, 10, 0, 1, 0, time.UTC)}, got.State.FirstReservedTime)
	assert.Equal(t, time.Date(2025, 6, 1, 10, 0, 31, 0, time.UTC), got.RequeueAt)
	assertSurvivesRoundTrip(t, got.State)
}
