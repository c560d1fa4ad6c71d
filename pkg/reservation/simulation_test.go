package reservation

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clocktesting "k8s.io/utils/clock/testing"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// simulatedCluster plays the scheduler for a 2-party task: alice's pod is
// bound aliceBindsAfter after its creation, bob's is never bound. Deleted
// pods disappear at once.
type simulatedCluster struct {
	podsCreated     *time.Time
	aliceBindsAfter time.Duration
}

func (c *simulatedCluster) parties(now time.Time) []Party {
	if c.podsCreated == nil {
		return noPods()
	}
	alice := unschedulablePod("alice", "task-0", "")
	if !now.Before(c.aliceBound()) {
		alice = boundPod("alice", "task-0")
	}
	return []Party{party("alice", 1, alice), party("bob", 1, unschedulablePod("bob", "task-0", insufficientCPU))}
}

func (c *simulatedCluster) aliceBound() time.Time {
	return c.podsCreated.Add(c.aliceBindsAfter)
}

// nextEvent is when the controller syncs next: at once after it changed
// the pods (their events), else at the requeue time or the pod event that
// comes first.
func (c *simulatedCluster) nextEvent(d Decision, now time.Time) time.Time {
	switch d.Action {
	case ActionCreate:
		c.podsCreated = &now
		return now
	case ActionRelease:
		if c.podsCreated != nil {
			c.podsCreated = nil
			return now
		}
	}
	next := d.RequeueAt
	if c.podsCreated != nil && c.aliceBound().After(now) && c.aliceBound().Before(next) {
		next = c.aliceBound()
	}
	return next
}

// TestSimulateBobNeverSchedules drives a 2-party task with default
// scheduleConfig through its rounds with a fake clock: alice binds 1.4s
// after her pod is created, bob never. It is the timeline of the package
// documentation.
func TestSimulateBobNeverSchedules(t *testing.T) {
	clock := clocktesting.NewFakeClock(t0)
	cluster := &simulatedCluster{aliceBindsAfter: 1400 * time.Millisecond}
	cfg := defaults(t)
	var state *kusciav1alpha1.ReservationStatus
	var timeline []string
	var last Decision
	for i := 0; i < 100 && last.Action != ActionExpire; i++ {
		now := clock.Now()
		last = Evaluate(cfg, state, t0, cluster.parties(now), now)
		line := fmt.Sprintf("%gs %s round %d", now.Sub(t0).Seconds(), last.Action, last.State.Round)
		if !last.RequeueAt.IsZero() {
			line += fmt.Sprintf(" until %gs", last.RequeueAt.Sub(t0).Seconds())
		}
		timeline = append(timeline, line)
		require.NotEqual(t, ActionReserved, last.Action, "bob can never reserve")
		state = roundTrip(t, last.State)
		clock.SetTime(cluster.nextEvent(last, now))
	}
	assert.Equal(t, []string{
		"0s Create round 1 until 300s",
		"0s Wait round 1 until 300s",
		"1.4s Wait round 1 until 31s",
		"31s Release round 1 until 61s",
		"31s Wait round 1 until 61s",
		"61s Create round 2 until 300s",
		"61s Wait round 2 until 300s",
		"62.4s Wait round 2 until 92s",
		"92s Release round 2 until 122s",
		"92s Wait round 2 until 122s",
		"122s Create round 3 until 300s",
		"122s Wait round 3 until 300s",
		"123.4s Wait round 3 until 153s",
		"153s Release round 3 until 183s",
		"153s Wait round 3 until 183s",
		"183s Create round 4 until 300s",
		"183s Wait round 4 until 300s",
		"184.4s Wait round 4 until 214s",
		"214s Release round 4 until 244s",
		"214s Wait round 4 until 244s",
		"244s Create round 5 until 300s",
		"244s Wait round 5 until 300s",
		"245.4s Wait round 5 until 275s",
		"275s Release round 5 until 300s",
		"275s Wait round 5 until 300s",
		"300s Expire round 5",
	}, timeline)
	assert.Equal(t, "parties [bob] did not reserve within 300s; last failure: round 5: parties [bob] did not reserve "+
		"within 30s of the first reserved party: bob/task-0: "+insufficientCPU, last.Message)
	assert.Equal(t, kusciav1alpha1.ReservationStatus{
		Round: 5, RoundStartTime: mtime(244), FirstReservedTime: mtime(245), ReleasedTime: mtime(275),
		ReservedParties: []string{"alice"},
		LastFailure:     "round 5: parties [bob] did not reserve within 30s of the first reserved party: bob/task-0: " + insufficientCPU,
	}, last.State)
}
