package status

import (
	corev1 "k8s.io/api/core/v1"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// MayWait reports whether writing the next status over old may wait a
// little, so that the changes of a burst (a round's pods being created,
// scheduled and started one after the other) reach the API server as one
// write. It may not wait when the controller is about to act on it, or when
// it tells a user something they need at once:
//
//   - it stops or opens pods: status is written before the controller acts
//     on it, so a controller stopped in between finds the decision;
//   - the phase moves (Pending to Running, or to the end): Running is the
//     decision to open the gates, and an ending is what `kubectl wait`
//     and every watcher of the task wait for. Becoming Pending may wait: it
//     is where every task starts;
//   - a reservation round is released, or a new one starts: the new
//     round's number must be in status before its pods exist, or a
//     controller restarted in between reads the old round and takes the
//     new pods for stale ones (splitByRound). The first round may wait:
//     a task without a round is in round 1;
//   - creating the round's objects fails (the task says why it waits).
//
// What may wait is the progress in between: pods created, scheduled,
// running; party messages while the gang forms.
func MayWait(old *kusciav1alpha1.KusciaTaskStatus, n Next) bool {
	s := &n.Status
	switch {
	case len(n.Stop) > 0 || len(n.Open) > 0:
		return false
	case s.Phase != old.Phase && !(old.Phase == "" && s.Phase == kusciav1alpha1.TaskPending):
		return false
	case released(s) && !released(old):
		return false
	case roundOf(old) > 0 && roundOf(s) != roundOf(old):
		return false
	case createFailing(s):
		return false
	}
	return true
}

func released(s *kusciav1alpha1.KusciaTaskStatus) bool {
	return s.Reservation != nil && s.Reservation.ReleasedTime != nil
}

func createFailing(s *kusciav1alpha1.KusciaTaskStatus) bool {
	c := Condition(s, kusciav1alpha1.ConditionResourceCreated)
	return c != nil && c.Status == corev1.ConditionFalse
}
