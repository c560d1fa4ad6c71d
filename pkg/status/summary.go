package status

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// markFinished sets condition Finished True on a status that just reached
// a terminal phase, either way, with the terminal reason and message: what
// `kubectl wait --for=condition=Finished` waits for.
func markFinished(s *kusciav1alpha1.KusciaTaskStatus, reason kusciav1alpha1.KusciaTaskReason, msg string, now metav1.Time) {
	setCondition(s, kusciav1alpha1.ConditionFinished, corev1.ConditionTrue, reason, msg, now)
}

// PartiesSummary counts a task's parties for status.partiesSummary (the
// Parties column of `kubectl get kt -o wide`) and `kubectl kuscia get`:
// "R/N reserved" while the task has not run (R parties reserved in the
// current round), then the parties running, succeeded and failed, each
// when there is any ("1/2 succeeded, 1/2 failed"), or "0/N running" /
// "0/N succeeded" when there is none. N is the number of parties.
func PartiesSummary(s *kusciav1alpha1.KusciaTaskStatus, parties int) string {
	if s.Phase == "" || s.Phase == kusciav1alpha1.TaskPending {
		reserved := 0
		if s.Reservation != nil {
			reserved = len(s.Reservation.ReservedParties)
		}
		return fmt.Sprintf("%d/%d reserved", reserved, parties)
	}
	count := map[kusciav1alpha1.KusciaTaskPhase]int{}
	for _, p := range s.PartyTaskStatus {
		count[p.Phase]++
	}
	var parts []string
	for _, phase := range []kusciav1alpha1.KusciaTaskPhase{kusciav1alpha1.TaskRunning, kusciav1alpha1.TaskSucceeded, kusciav1alpha1.TaskFailed} {
		if count[phase] > 0 {
			parts = append(parts, fmt.Sprintf("%d/%d %s", count[phase], parties, strings.ToLower(string(phase))))
		}
	}
	if len(parts) > 0 {
		return strings.Join(parts, ", ")
	}
	if s.Phase == kusciav1alpha1.TaskRunning {
		return fmt.Sprintf("0/%d running", parties)
	}
	return fmt.Sprintf("0/%d succeeded", parties)
}
