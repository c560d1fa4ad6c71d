package status

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// Event reasons recorded on a task besides the failure reasons of its status.
// A task that runs straight through records two Events, Running and its
// terminal one: an Event is recorded where a user learns something status
// alone does not say as plainly (a transition, a retry's cause), not for
// every step (being accepted, its objects created: status conditions tell
// those).
const (
	EventRoundStarted  = "RoundStarted"
	EventRoundReleased = "RoundReleased"
	EventRunning       = "Running"
	EventSucceeded     = "Succeeded"
)

// Event messages.
const (
	msgRoundStarted = "reservation round %d started"
	msgRunning      = "task reserved and running: %s"
	msgGatesOpened  = "; opened the gates of the pods of parties %v: the gang formed in %s (round %d)"
)

// Event is one event to record on the task.
type Event struct {
	Type    string
	Reason  string
	Message string
}

// Events lists the events of the transition from old to s, in order. The
// transition may span several steps when the controller batched them into
// one status write.
func Events(old, s *kusciav1alpha1.KusciaTaskStatus) []Event {
	var out []Event
	normal := func(reason, msg string) { out = append(out, Event{corev1.EventTypeNormal, reason, msg}) }
	if c := Condition(s, kusciav1alpha1.ConditionResourceCreated); c != nil && c.Status == corev1.ConditionFalse {
		// Creating the round's objects fails and is retried: said once per
		// reason, not on every retry.
		if prev := Condition(old, kusciav1alpha1.ConditionResourceCreated); prev == nil || prev.Status != c.Status || prev.Reason != c.Reason {
			out = append(out, Event{corev1.EventTypeWarning, string(c.Reason), c.Message})
		}
	}
	if oldR, newR := roundOf(old), roundOf(s); newR > oldR && newR > 1 {
		normal(EventRoundStarted, fmt.Sprintf(msgRoundStarted, newR))
	}
	if s.Reservation != nil && s.Reservation.ReleasedTime != nil && (old.Reservation == nil || old.Reservation.ReleasedTime == nil) {
		out = append(out, Event{corev1.EventTypeWarning, EventRoundReleased, s.Reservation.LastFailure})
	}
	// Running is told by its condition: a gang whose pods all finished
	// before it was seen reserved goes from Pending straight to Succeeded.
	if conditionTrue(s, kusciav1alpha1.ConditionRunning) && !conditionTrue(old, kusciav1alpha1.ConditionRunning) {
		reserved := ""
		if c := Condition(s, kusciav1alpha1.ConditionReserved); c != nil {
			reserved = c.Message
		}
		normal(EventRunning, fmt.Sprintf(msgRunning, reserved)+gatesOpened(old, s))
	}
	if old.Phase == s.Phase {
		return out
	}
	switch s.Phase {
	case kusciav1alpha1.TaskSucceeded:
		normal(EventSucceeded, s.Message)
	case kusciav1alpha1.TaskFailed:
		out = append(out, Event{corev1.EventTypeWarning, string(s.Reason), s.Message})
	}
	return out
}

func conditionTrue(s *kusciav1alpha1.KusciaTaskStatus, t kusciav1alpha1.KusciaTaskConditionType) bool {
	c := Condition(s, t)
	return c != nil && c.Status == corev1.ConditionTrue
}

func roundOf(s *kusciav1alpha1.KusciaTaskStatus) int32 {
	if s.Reservation == nil {
		return 0
	}
	return s.Reservation.Round
}

// gatesOpened completes the Running event of the transition that opened the
// gates: how long the gang took to form, from the round's start.
func gatesOpened(old, s *kusciav1alpha1.KusciaTaskStatus) string {
	r := s.Reservation
	if r == nil || r.GateOpenedTime == nil || (old.Reservation != nil && old.Reservation.GateOpenedTime != nil) {
		return ""
	}
	took := "an unknown time"
	if r.RoundStartTime != nil {
		took = r.GateOpenedTime.Sub(r.RoundStartTime.Time).String()
	}
	return fmt.Sprintf(msgGatesOpened, r.ReservedParties, took, r.Round)
}
