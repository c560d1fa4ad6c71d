package reservation

import (
	"slices"

	corev1 "k8s.io/api/core/v1"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/podstate"
)

// podReserved reports whether a pod holds its node for the gang (see
// podstate.State.Reserved).
func podReserved(pod *corev1.Pod) bool {
	return podstate.Of(pod).Reserved()
}

// podFailed reports whether a pod will not succeed in this round.
func podFailed(pod *corev1.Pod) bool {
	return podstate.Of(pod).Phase == podstate.Failed
}

// podSummary says on one line where a pod is and why.
func podSummary(pod *corev1.Pod) string {
	return podstate.Of(pod).Summary()
}

// Dropped returns the parties, of domainIDs in spec order, that the gang
// went ahead without: those not reserved in the round that let the task
// run. Before the task is reserved (no state) it drops nobody.
func Dropped(state *kusciav1alpha1.ReservationStatus, domainIDs []string) []string {
	if state == nil {
		return nil
	}
	var out []string
	for _, d := range domainIDs {
		if !slices.Contains(state.ReservedParties, d) {
			out = append(out, d)
		}
	}
	return out
}

// podKey names a pod as "namespace/name".
func podKey(pod *corev1.Pod) string {
	return pod.Namespace + "/" + pod.Name
}
