package reservation

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// Evaluate decides the next step of a task's gang reservation.
//
// cfg comes from ConfigFor, state from status.reservation (nil before the
// first round), startTime from status.startTime (it must be set: the
// lifecycle deadline is startTime + cfg.Lifecycle), parties in spec order
// with the pods of the current round, now from the controller's clock.
//
// Evaluate works in whole seconds, as status stores times: it truncates now
// and startTime to the second, so a decision never depends on precision
// that a status round trip loses. It is idempotent: given the State it
// returned, the same pods and the same now, it returns the same Decision, so
// a restarted controller continues from status. The one exception is
// Create, whose effect (the new round's pods) is what the next evaluation
// sees.
func Evaluate(cfg Config, state *kusciav1alpha1.ReservationStatus, startTime time.Time, parties []Party, now time.Time) Decision {
	now = wholeSecond(now)
	deadline := wholeSecond(startTime).Add(cfg.Lifecycle)
	t := countParties(cfg, parties)
	var d Decision
	switch {
	case state == nil || state.Round == 0:
		d = startRound(1, "", deadline, now)
	case state.ReleasedTime != nil:
		d = betweenRounds(cfg, normalized(state), t, deadline, now)
	default:
		d = inRound(cfg, normalized(state), t, deadline, now)
	}
	d.ReservedParties = t.reserved
	d.UnreservedParties = t.unreserved
	return d
}

// tally is the count of a round: which parties reserved, which can no
// longer, and whether the task as a whole reserved.
type tally struct {
	parties []Party
	// reserved and unreserved split the parties, in spec order; nil when
	// empty, as they come back from status.
	reserved, unreserved []string
	// broken are the parties with too many failed pods to reserve this
	// round.
	broken []string
	// unavailable describes the pods stuck on an image no round can bring,
	// "namespace/name: why".
	unavailable []string
	// taskReserved: at least minReservedMembers parties reserved.
	taskReserved bool
	// havePods: some party still has pods.
	havePods bool
}

// countParties counts the reserved parties of a round.
func countParties(cfg Config, parties []Party) tally {
	t := tally{parties: parties}
	for _, p := range parties {
		if p.reserved() {
			t.reserved = append(t.reserved, p.DomainID)
		}
		if p.broken() {
			t.broken = append(t.broken, p.DomainID)
		}
		t.unavailable = append(t.unavailable, describePods(p.Pods, podImageUnavailable, podSummary)...)
		t.havePods = t.havePods || len(p.Pods) > 0
	}
	t.unreserved = NotReserved(t.reserved, domainIDs(parties))
	members := cfg.MinReservedMembers
	if members < 1 || members > len(parties) {
		members = len(parties)
	}
	t.taskReserved = len(t.reserved) >= members
	return t
}

// required is how many of the party's pods must be reserved.
func (p Party) required() int {
	if p.MinReservedPods < 1 || p.MinReservedPods > p.Replicas {
		return p.Replicas
	}
	return p.MinReservedPods
}

// reserved reports whether enough of the party's pods are reserved.
func (p Party) reserved() bool {
	n := 0
	for _, pod := range p.Pods {
		if podReserved(pod) {
			n++
		}
	}
	return n >= p.required()
}

// broken reports whether so many of the party's pods failed that it cannot
// reserve in this round.
func (p Party) broken() bool {
	failed := 0
	for _, pod := range p.Pods {
		if podFailed(pod) {
			failed++
		}
	}
	return p.Replicas-failed < p.required()
}

// startRound creates round number round, keeping the previous round's
// failure for status. Its timer is the lifecycle deadline: the new pods'
// events bring the task back sooner.
func startRound(round int32, lastFailure string, deadline, now time.Time) Decision {
	return Decision{
		Action:    ActionCreate,
		RequeueAt: deadline,
		State: kusciav1alpha1.ReservationStatus{
			Round:          round,
			RoundStartTime: stamp(now),
			LastFailure:    lastFailure,
		},
		Message: createdMessage(round),
	}
}

// inRound decides a round that is under way.
func inRound(cfg Config, st kusciav1alpha1.ReservationStatus, t tally, deadline, now time.Time) Decision {
	st.ReservedParties = t.reserved
	if len(t.reserved) == 0 {
		st.FirstReservedTime = nil
	} else if st.FirstReservedTime == nil {
		st.FirstReservedTime = stamp(now)
	}
	switch {
	case t.taskReserved:
		return Decision{Action: ActionReserved, State: st, Message: reservedMessage(st.Round, t)}
	case !now.Before(deadline):
		return Decision{Action: ActionExpire, State: st, Message: expiredInRoundMessage(cfg, t)}
	case len(t.unavailable) > 0:
		return Decision{Action: ActionFail, State: st, Message: imageUnavailableMessage(st.Round, t)}
	case len(t.broken) > 0:
		return release(cfg, st, podsFailedMessage(st.Round, t), deadline, now)
	case st.FirstReservedTime == nil:
		return Decision{Action: ActionWait, State: st, RequeueAt: deadline, Message: waitingMessage(st.Round, t)}
	}
	releaseAt := st.FirstReservedTime.Time.Add(cfg.ResourceReserved)
	if !now.Before(releaseAt) {
		return release(cfg, st, timedOutMessage(cfg, st.Round, t), deadline, now)
	}
	wakeAt := earliest(releaseAt, deadline)
	return Decision{Action: ActionWait, State: st, RequeueAt: wakeAt, Message: holdingMessage(st.Round, t, wakeAt)}
}

// release ends the round under way: its pods are to be deleted and the next
// round starts cfg.RetryInterval later.
func release(cfg Config, st kusciav1alpha1.ReservationStatus, why string, deadline, now time.Time) Decision {
	st.ReleasedTime = stamp(now)
	st.LastFailure = why
	return Decision{
		Action:    ActionRelease,
		State:     st,
		RequeueAt: earliest(now.Add(cfg.RetryInterval), deadline),
		Message:   why,
	}
}

// betweenRounds decides while the task waits for its next round: the last
// round's pods are deleted, then the retry interval passes.
func betweenRounds(cfg Config, st kusciav1alpha1.ReservationStatus, t tally, deadline, now time.Time) Decision {
	retryAt := st.ReleasedTime.Time.Add(cfg.RetryInterval)
	switch {
	case !now.Before(deadline):
		return Decision{Action: ActionExpire, State: st, Message: expiredBetweenRoundsMessage(cfg, st, t.parties)}
	case t.havePods:
		return Decision{Action: ActionRelease, State: st, RequeueAt: earliest(retryAt, deadline), Message: st.LastFailure}
	case !now.Before(retryAt):
		return startRound(st.Round+1, st.LastFailure, deadline, now)
	}
	return Decision{
		Action:    ActionWait,
		State:     st,
		RequeueAt: earliest(retryAt, deadline),
		Message:   retryMessage(st, retryAt),
	}
}

// normalized copies a reservation state with its times as they come back
// from status: whole seconds, in UTC.
func normalized(state *kusciav1alpha1.ReservationStatus) kusciav1alpha1.ReservationStatus {
	st := *state.DeepCopy()
	for _, t := range []**metav1.Time{&st.RoundStartTime, &st.FirstReservedTime, &st.ReleasedTime} {
		if *t != nil {
			*t = stamp((*t).Time)
		}
	}
	return st
}

// stamp is t as status stores it.
func stamp(t time.Time) *metav1.Time {
	mt := metav1.NewTime(wholeSecond(t))
	return &mt
}

// wholeSecond truncates t to the second, in UTC and without a monotonic
// clock reading, as a status round trip does.
func wholeSecond(t time.Time) time.Time {
	return t.Truncate(time.Second).UTC()
}

// earliest is the earlier of two times.
func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
