package reservation

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	clocktesting "k8s.io/utils/clock/testing"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// bobTimedOut is LastFailure of round 1 when alice reserved and bob could
// not.
const bobTimedOut = "round 1: parties [bob] did not reserve within 30s of the first reserved party: bob/task-0: " + insufficientCPU

// round1 is the state of round 1, started at t0.
func round1() *kusciav1alpha1.ReservationStatus {
	return &kusciav1alpha1.ReservationStatus{Round: 1, RoundStartTime: mtime(0)}
}

// releasedAt is round 1 released at the given second after alice
// reserved at 1s.
func releasedAt(seconds float64) *kusciav1alpha1.ReservationStatus {
	st := round1()
	st.FirstReservedTime = mtime(1)
	st.ReleasedTime = mtime(seconds)
	st.ReservedParties = []string{"alice"}
	st.LastFailure = bobTimedOut
	return st
}

func TestEvaluateStartsFirstRound(t *testing.T) {
	clock := clocktesting.NewFakeClock(at(0.6))
	for name, state := range map[string]*kusciav1alpha1.ReservationStatus{
		"no reservation status": nil,
		"round 0":               {},
	} {
		t.Run(name, func(t *testing.T) {
			got := Evaluate(defaults(t), state, t0, noPods(), clock.Now())
			assert.Equal(t, Decision{
				Action:            ActionCreate,
				State:             kusciav1alpha1.ReservationStatus{Round: 1, RoundStartTime: mtime(0)},
				RequeueAt:         at(300),
				UnreservedParties: []string{"alice", "bob"},
				Message:           "round 1: creating the pods",
			}, got)
		})
	}
}

func TestEvaluateAllReservedAtOnce(t *testing.T) {
	clock := clocktesting.NewFakeClock(at(2))
	parties := []Party{party("alice", 1, boundPod("alice", "task-0")), party("bob", 1, boundPod("bob", "task-0"))}
	got := Evaluate(defaults(t), round1(), t0, parties, clock.Now())
	assert.Equal(t, Decision{
		Action: ActionReserved,
		State: kusciav1alpha1.ReservationStatus{
			Round: 1, RoundStartTime: mtime(0), FirstReservedTime: mtime(2),
			ReservedParties: []string{"alice", "bob"},
		},
		ReservedParties: []string{"alice", "bob"},
		Message:         "round 1: parties [alice bob] reserved",
	}, got)
}

// step is one evaluation at a time (seconds after t0), with the state the
// previous step returned.
type step struct {
	at            float64
	parties       []Party
	wantAction    Action
	wantRequeueAt float64
}

// runSteps drives Evaluate through steps with a fake clock, feeding each
// returned state (through a status round trip) to the next step, and
// returns the last decision.
func runSteps(t *testing.T, state *kusciav1alpha1.ReservationStatus, steps []step) Decision {
	t.Helper()
	clock := clocktesting.NewFakeClock(t0)
	var d Decision
	for _, s := range steps {
		clock.SetTime(at(s.at))
		d = Evaluate(defaults(t), state, t0, s.parties, clock.Now())
		assert.Equal(t, s.wantAction, d.Action, "action at %vs", s.at)
		if s.wantRequeueAt < 0 {
			assert.True(t, d.RequeueAt.IsZero(), "requeue at %vs: %v", s.at, d.RequeueAt)
		} else {
			assert.Equal(t, at(s.wantRequeueAt), d.RequeueAt, "requeue at %vs", s.at)
		}
		state = roundTrip(t, d.State)
	}
	return d
}

func TestEvaluateReleasesResourceReservedSecondsAfterFirstReservedParty(t *testing.T) {
	bobOnly := []Party{party("alice", 1, unschedulablePod("alice", "task-0", "")), party("bob", 1, unschedulablePod("bob", "task-0", insufficientCPU))}
	last := runSteps(t, round1(), []step{
		{at: 0.5, parties: bobOnly, wantAction: ActionWait, wantRequeueAt: 300},
		{at: 1.7, parties: aliceReservedBobNot(), wantAction: ActionWait, wantRequeueAt: 31},
		{at: 20, parties: aliceReservedBobNot(), wantAction: ActionWait, wantRequeueAt: 31},
		{at: 30, parties: aliceReservedBobNot(), wantAction: ActionWait, wantRequeueAt: 31},
		{at: 30.999, parties: aliceReservedBobNot(), wantAction: ActionWait, wantRequeueAt: 31},
		{at: 31, parties: aliceReservedBobNot(), wantAction: ActionRelease, wantRequeueAt: 61},
	})
	assert.Equal(t, Decision{
		Action: ActionRelease,
		State: kusciav1alpha1.ReservationStatus{
			Round: 1, RoundStartTime: mtime(0), FirstReservedTime: mtime(1), ReleasedTime: mtime(31),
			ReservedParties: []string{"alice"}, LastFailure: bobTimedOut,
		},
		RequeueAt:         at(61),
		ReservedParties:   []string{"alice"},
		UnreservedParties: []string{"bob"},
		Message:           bobTimedOut,
	}, last)
}

func TestEvaluateRetriesRetryIntervalSecondsAfterRelease(t *testing.T) {
	last := runSteps(t, releasedAt(31), []step{
		{at: 31, parties: aliceReservedBobNot(), wantAction: ActionRelease, wantRequeueAt: 61},
		{at: 45, parties: []Party{party("alice", 1), party("bob", 1, unschedulablePod("bob", "task-0", ""))}, wantAction: ActionRelease, wantRequeueAt: 61},
		{at: 45, parties: noPods(), wantAction: ActionWait, wantRequeueAt: 61},
		{at: 60, parties: noPods(), wantAction: ActionWait, wantRequeueAt: 61},
		{at: 60.999, parties: noPods(), wantAction: ActionWait, wantRequeueAt: 61},
		{at: 61, parties: noPods(), wantAction: ActionCreate, wantRequeueAt: 300},
	})
	assert.Equal(t, kusciav1alpha1.ReservationStatus{Round: 2, RoundStartTime: mtime(61), LastFailure: bobTimedOut}, last.State)
}

func TestEvaluateMessagesBetweenRounds(t *testing.T) {
	clock := clocktesting.NewFakeClock(at(45))
	release := Evaluate(defaults(t), releasedAt(31), t0, aliceReservedBobNot(), clock.Now())
	assert.Equal(t, Decision{
		Action: ActionRelease, State: *releasedAt(31), RequeueAt: at(61),
		ReservedParties: []string{"alice"}, UnreservedParties: []string{"bob"}, Message: bobTimedOut,
	}, release)

	wait := Evaluate(defaults(t), releasedAt(31), t0, noPods(), clock.Now())
	assert.Equal(t, Decision{
		Action: ActionWait, State: *releasedAt(31), RequeueAt: at(61),
		UnreservedParties: []string{"alice", "bob"},
		Message:           "round 1 released, round 2 starts at 2025-06-01T10:01:01Z; last failure: " + bobTimedOut,
	}, wait)
}

func TestEvaluateExpires(t *testing.T) {
	lastRound := releasedAt(275)
	lastRound.Round = 5
	bobPods := func(n int) []*corev1.Pod {
		var pods []*corev1.Pod
		for _, name := range []string{"task-4", "task-3", "task-2", "task-1", "task-0"}[5-n:] {
			pods = append(pods, unschedulablePod("bob", name, insufficientCPU))
		}
		return pods
	}
	tests := []struct {
		name        string
		state       *kusciav1alpha1.ReservationStatus
		parties     []Party
		now         float64
		wantAction  Action
		wantMessage string
	}{
		{
			name: "a second before the deadline", state: round1(), parties: aliceReservedBobNot(), now: 299.999,
			wantAction: ActionWait, wantMessage: "round 1: parties [alice] reserved, waiting for parties [bob] until 2025-06-01T10:05:00Z: bob/task-0: " + insufficientCPU,
		},
		{
			name: "in a round", state: round1(), parties: aliceReservedBobNot(), now: 300,
			wantAction: ActionExpire, wantMessage: "parties [bob] did not reserve within 300s: bob/task-0: " + insufficientCPU,
		},
		{
			name: "in a round, nobody reserved", state: round1(), now: 300,
			parties:    []Party{party("alice", 1, newPod("alice", "task-0")), party("bob", 1, unschedulablePod("bob", "task-0", insufficientCPU))},
			wantAction: ActionExpire, wantMessage: "parties [alice bob] did not reserve within 300s: alice/task-0: not scheduled yet; bob/task-0: " + insufficientCPU,
		},
		{
			name: "in a round, pods missing", state: round1(), now: 301,
			parties:    []Party{party("alice", 1, boundPod("alice", "task-0")), party("bob", 2, unschedulablePod("bob", "task-0", insufficientCPU))},
			wantAction: ActionExpire, wantMessage: "parties [bob] did not reserve within 300s: bob/task-0: " + insufficientCPU + "; bob: 1 of 2 pods missing",
		},
		{
			name: "in a round, many pods", state: round1(), now: 300,
			parties:    []Party{party("alice", 1, boundPod("alice", "task-0")), party("bob", 5, bobPods(5)...)},
			wantAction: ActionExpire,
			wantMessage: "parties [bob] did not reserve within 300s: bob/task-0: " + insufficientCPU +
				"; bob/task-1: " + insufficientCPU + "; bob/task-2: " + insufficientCPU + "; and 2 more pods",
		},
		{
			name: "between rounds, pods remaining", state: lastRound, parties: aliceReservedBobNot(), now: 300,
			wantAction: ActionExpire, wantMessage: "parties [bob] did not reserve within 300s; last failure: " + bobTimedOut,
		},
		{
			name: "between rounds, pods gone", state: lastRound, parties: noPods(), now: 300,
			wantAction: ActionExpire, wantMessage: "parties [bob] did not reserve within 300s; last failure: " + bobTimedOut,
		},
		{
			name: "reserved wins at the deadline", state: round1(), now: 300,
			parties:    []Party{party("alice", 1, boundPod("alice", "task-0")), party("bob", 1, boundPod("bob", "task-0"))},
			wantAction: ActionReserved, wantMessage: "round 1: parties [alice bob] reserved",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := clocktesting.NewFakeClock(at(tt.now))
			got := Evaluate(defaults(t), tt.state, t0, tt.parties, clock.Now())
			assert.Equal(t, tt.wantAction, got.Action)
			assert.Equal(t, tt.wantMessage, got.Message)
			if got.Action == ActionExpire {
				assert.True(t, got.RequeueAt.IsZero(), "no timer after expiry")
			}
		})
	}
}

func TestEvaluateMinReservedPods(t *testing.T) {
	alice := func(pods ...*corev1.Pod) Party {
		return Party{DomainID: "alice", Replicas: 3, MinReservedPods: 2, Pods: pods}
	}
	bob := party("bob", 1, boundPod("bob", "task-0"))
	tests := []struct {
		name         string
		parties      []Party
		wantAction   Action
		wantReserved []string
	}{
		{
			name:       "2 of 3 bound",
			parties:    []Party{alice(boundPod("alice", "task-0"), unschedulablePod("alice", "task-1", insufficientCPU), boundPod("alice", "task-2")), bob},
			wantAction: ActionReserved, wantReserved: []string{"alice", "bob"},
		},
		{
			name:       "1 of 3 bound",
			parties:    []Party{alice(boundPod("alice", "task-0"), unschedulablePod("alice", "task-1", insufficientCPU), newPod("alice", "task-2")), bob},
			wantAction: ActionWait, wantReserved: []string{"bob"},
		},
		{
			name:       "2 of 3 bound, 1 failed",
			parties:    []Party{alice(boundPod("alice", "task-0"), failedPod("alice", "task-1"), boundPod("alice", "task-2")), bob},
			wantAction: ActionReserved, wantReserved: []string{"alice", "bob"},
		},
		{
			name:       "a party of no replicas is reserved",
			parties:    []Party{party("alice", 0), bob},
			wantAction: ActionReserved, wantReserved: []string{"alice", "bob"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := clocktesting.NewFakeClock(at(5))
			got := Evaluate(defaults(t), round1(), t0, tt.parties, clock.Now())
			assert.Equal(t, tt.wantAction, got.Action)
			assert.Equal(t, tt.wantReserved, got.ReservedParties)
			assert.Equal(t, tt.wantReserved, got.State.ReservedParties)
		})
	}
}

func TestEvaluateMinReservedMembers(t *testing.T) {
	cfg := defaults(t)
	cfg.MinReservedMembers = 2
	carol := party("carol", 1, unschedulablePod("carol", "task-0", insufficientCPU))
	clock := clocktesting.NewFakeClock(at(5))

	got := Evaluate(cfg, round1(), t0, append(aliceReservedBobNot(), carol), clock.Now())
	assert.Equal(t, ActionWait, got.Action, "one of three parties is not enough")
	assert.Equal(t, []string{"bob", "carol"}, got.UnreservedParties)

	parties := []Party{party("alice", 1, boundPod("alice", "task-0")), party("bob", 1, boundPod("bob", "task-0")), carol}
	got = Evaluate(cfg, round1(), t0, parties, clock.Now())
	assert.Equal(t, Decision{
		Action: ActionReserved,
		State: kusciav1alpha1.ReservationStatus{
			Round: 1, RoundStartTime: mtime(0), FirstReservedTime: mtime(5), ReservedParties: []string{"alice", "bob"},
		},
		ReservedParties:   []string{"alice", "bob"},
		UnreservedParties: []string{"carol"},
		Message:           "round 1: parties [alice bob] reserved; going ahead without parties [carol]",
	}, got)
}

func TestEvaluateReleasesAtOnceWhenPodsFail(t *testing.T) {
	const bobFailed = "round 1: parties [bob] can no longer reserve, too many pods failed: bob/task-0: failed: OutOfcpu: Pod Node didn't have enough resource: cpu"
	reservedAt1 := round1()
	reservedAt1.FirstReservedTime = mtime(1)
	reservedAt1.ReservedParties = []string{"alice"}
	alice := party("alice", 1, boundPod("alice", "task-0"))
	tests := []struct {
		name          string
		bob           Party
		now           float64
		wantAction    Action
		wantRequeueAt time.Time
		wantMessage   string
	}{
		{
			name: "the only pod failed", bob: party("bob", 1, failedPod("bob", "task-0")), now: 5,
			wantAction: ActionRelease, wantRequeueAt: at(35), wantMessage: bobFailed,
		},
		{
			name: "1 of 2 failed, both needed", bob: party("bob", 2, failedPod("bob", "task-0"), unschedulablePod("bob", "task-1", insufficientCPU)), now: 5,
			wantAction: ActionRelease, wantRequeueAt: at(35), wantMessage: bobFailed,
		},
		{
			name: "1 of 2 failed, 1 needed",
			bob: Party{DomainID: "bob", Replicas: 2, MinReservedPods: 1,
				Pods: []*corev1.Pod{failedPod("bob", "task-0"), unschedulablePod("bob", "task-1", insufficientCPU)}},
			now: 5, wantAction: ActionWait, wantRequeueAt: at(31),
			wantMessage: "round 1: parties [alice] reserved, waiting for parties [bob] until 2025-06-01T10:00:31Z: " +
				"bob/task-0: failed: OutOfcpu: Pod Node didn't have enough resource: cpu; bob/task-1: " + insufficientCPU,
		},
		{
			name: "failed near the deadline", bob: party("bob", 1, failedPod("bob", "task-0")), now: 280,
			wantAction: ActionRelease, wantRequeueAt: at(300), wantMessage: bobFailed,
		},
		{
			name: "failed at the deadline", bob: party("bob", 1, failedPod("bob", "task-0")), now: 300,
			wantAction:  ActionExpire,
			wantMessage: "parties [bob] did not reserve within 300s: bob/task-0: failed: OutOfcpu: Pod Node didn't have enough resource: cpu",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := clocktesting.NewFakeClock(at(tt.now))
			got := Evaluate(defaults(t), reservedAt1, t0, []Party{alice, tt.bob}, clock.Now())
			assert.Equal(t, tt.wantAction, got.Action)
			assert.Equal(t, tt.wantRequeueAt, got.RequeueAt)
			assert.Equal(t, tt.wantMessage, got.Message)
			if tt.wantAction == ActionRelease {
				assert.Equal(t, mtime(tt.now), got.State.ReleasedTime)
				assert.Equal(t, tt.wantMessage, got.State.LastFailure)
			}
		})
	}
}

func TestEvaluateRequeueAt(t *testing.T) {
	reservedAt := func(seconds float64) *kusciav1alpha1.ReservationStatus {
		st := round1()
		st.FirstReservedTime = mtime(seconds)
		return st
	}
	custom := Config{ResourceReserved: 5 * time.Second, Lifecycle: 60 * time.Second, RetryInterval: 7 * time.Second, MinReservedMembers: 2}
	tests := []struct {
		name       string
		cfg        *Config
		state      *kusciav1alpha1.ReservationStatus
		parties    []Party
		now        float64
		wantAction Action
		want       float64
	}{
		{name: "nobody reserved: the deadline", state: round1(), parties: noPods(), now: 3, wantAction: ActionWait, want: 300},
		{name: "first reserved now", state: round1(), parties: aliceReservedBobNot(), now: 10.2, wantAction: ActionWait, want: 40},
		{name: "first reserved earlier", state: reservedAt(10), parties: aliceReservedBobNot(), now: 25, wantAction: ActionWait, want: 40},
		{name: "reserved window past the deadline", state: reservedAt(280), parties: aliceReservedBobNot(), now: 285, wantAction: ActionWait, want: 300},
		{name: "released: the retry time", state: releasedAt(100), parties: noPods(), now: 110, wantAction: ActionWait, want: 130},
		{name: "released: retry past the deadline", state: releasedAt(280), parties: noPods(), now: 290, wantAction: ActionWait, want: 300},
		{name: "releasing: the retry time", state: releasedAt(100), parties: aliceReservedBobNot(), now: 110, wantAction: ActionRelease, want: 130},
		{name: "release now", state: reservedAt(10), parties: aliceReservedBobNot(), now: 40, wantAction: ActionRelease, want: 70},
		{name: "release now, retry past the deadline", state: reservedAt(260), parties: aliceReservedBobNot(), now: 290, wantAction: ActionRelease, want: 300},
		{name: "custom: nobody reserved", cfg: &custom, state: round1(), parties: noPods(), now: 3, wantAction: ActionWait, want: 60},
		{name: "custom: first reserved", cfg: &custom, state: round1(), parties: aliceReservedBobNot(), now: 3, wantAction: ActionWait, want: 8},
		{name: "custom: released", cfg: &custom, state: releasedAt(20), parties: noPods(), now: 21, wantAction: ActionWait, want: 27},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := defaults(t)
			if tt.cfg != nil {
				cfg = *tt.cfg
			}
			clock := clocktesting.NewFakeClock(at(tt.now))
			got := Evaluate(cfg, tt.state, t0, tt.parties, clock.Now())
			require.Equal(t, tt.wantAction, got.Action)
			assert.Equal(t, at(tt.want), got.RequeueAt)
		})
	}
}

// TestEvaluateClearsFirstReservedTime checks that the reserved-party timer
// stops when no party is reserved any more, and starts again from the next
// party that reserves.
func TestEvaluateClearsFirstReservedTime(t *testing.T) {
	alice := func(pods ...*corev1.Pod) Party {
		return Party{DomainID: "alice", Replicas: 2, MinReservedPods: 1, Pods: pods}
	}
	bob := party("bob", 1, unschedulablePod("bob", "task-0", insufficientCPU))
	reservedAt1 := round1()
	reservedAt1.FirstReservedTime = mtime(1)
	reservedAt1.ReservedParties = []string{"alice"}
	clock := clocktesting.NewFakeClock(at(10))

	lost := Evaluate(defaults(t), reservedAt1, t0, []Party{alice(failedPod("alice", "task-0"), newPod("alice", "task-1")), bob}, clock.Now())
	assert.Equal(t, ActionWait, lost.Action)
	assert.Nil(t, lost.State.FirstReservedTime)
	assert.Nil(t, lost.State.ReservedParties)
	assert.Equal(t, at(300), lost.RequeueAt)

	clock.SetTime(at(20))
	again := Evaluate(defaults(t), roundTrip(t, lost.State), t0, []Party{alice(failedPod("alice", "task-0"), boundPod("alice", "task-1")), bob}, clock.Now())
	assert.Equal(t, ActionWait, again.Action)
	assert.Equal(t, mtime(20), again.State.FirstReservedTime)
	assert.Equal(t, at(50), again.RequeueAt)
}

// A party whose PodGroup kube-scheduler cannot place says so after its
// pods, in the waiting message and in lastFailure when the round is released.
func TestEvaluateGroupMessage(t *testing.T) {
	const groupMsg = "0/2 nodes are available: 2 Insufficient cpu (the group needs 3 pods)"
	parties := aliceReservedBobNot()
	parties[1].GroupMessage = groupMsg
	cfg := defaults(t)
	start := round1()
	d := Evaluate(cfg, start, at(0), parties, at(2))
	require.Equal(t, ActionWait, d.Action)
	assert.Contains(t, d.Message, "bob/task-0: "+insufficientCPU+"; bob: pod group: "+groupMsg)
	d = Evaluate(cfg, &d.State, at(0), parties, at(40))
	require.Equal(t, ActionRelease, d.Action)
	assert.Contains(t, d.State.LastFailure, "bob: pod group: "+groupMsg)
}

// stuckPod is a bound pod whose container waits for a reason.
func stuckPod(party, name, container, reason, msg string) *corev1.Pod {
	pod := boundPod(party, name)
	pod.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: container,
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}}}
	return pod
}

// TestEvaluateFailsAtOnceOnAnImageNoRoundCanBring: a pod stuck on an
// invalid image name or an image its pull policy never pulls fails the task
// at once (no retry helps), naming the image; a pod whose pull backs off
// only fails its round, as any failed pod.
func TestEvaluateFailsAtOnceOnAnImageNoRoundCanBring(t *testing.T) {
	reservedAt1 := round1()
	reservedAt1.FirstReservedTime = mtime(1)
	reservedAt1.ReservedParties = []string{"alice"}
	alice := party("alice", 1, boundPod("alice", "task-0"))
	never := `Container image "bob-app:1" is not present with pull policy of Never`

	got := Evaluate(defaults(t), reservedAt1, t0, []Party{alice, party("bob", 1, stuckPod("bob", "task-0", "kuscia-gate", "ErrImageNeverPull", never))}, at(5))
	assert.Equal(t, ActionFail, got.Action)
	assert.Equal(t, "round 1: an image can never reach its node: bob/task-0: container kuscia-gate is stuck: ErrImageNeverPull: "+never, got.Message)
	assert.Zero(t, got.RequeueAt)
	assert.Nil(t, got.State.ReleasedTime, "nothing to retry")

	got = Evaluate(defaults(t), reservedAt1, t0, []Party{alice, party("bob", 1, stuckPod("bob", "task-0", "app", "InvalidImageName", "invalid reference format"))}, at(5))
	assert.Equal(t, ActionFail, got.Action)
	assert.Contains(t, got.Message, "InvalidImageName")

	got = Evaluate(defaults(t), reservedAt1, t0, []Party{alice, party("bob", 1, stuckPod("bob", "task-0", "app", "ImagePullBackOff", `Back-off pulling image "bob-app:1"`))}, at(5))
	assert.Equal(t, ActionRelease, got.Action, "a pull backing off fails the round only")
}
