package reservation

// This file holds what the reservation reads of a pod, and which parties
// are not reserved (NotReserved, Dropped).

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

// podImageUnavailable reports whether a pod is stuck on an image no round
// can bring.
func podImageUnavailable(pod *corev1.Pod) bool {
	return podstate.Of(pod).ImageUnavailable()
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
	return NotReserved(state.ReservedParties, domainIDs)
}

// NotReserved returns the parties of domainIDs, in their order, that
// reserved does not name: the one answer to which parties are not
// reserved, for status, messages and kubectl-kuscia. Nil when every party
// is reserved.
func NotReserved(reserved, domainIDs []string) []string {
	var out []string
	for _, d := range domainIDs {
		if !slices.Contains(reserved, d) {
			out = append(out, d)
		}
	}
	return out
}

// podKey names a pod as "namespace/name".
func podKey(pod *corev1.Pod) string {
	return pod.Namespace + "/" + pod.Name
}

// domainIDs are the parties' domainIDs, in their order.
func domainIDs(parties []Party) []string {
	out := make([]string, 0, len(parties))
	for _, p := range parties {
		out = append(out, p.DomainID)
	}
	return out
}
