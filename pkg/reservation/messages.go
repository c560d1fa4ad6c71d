package reservation

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// maxPodsPerParty bounds how many pods of one party a message describes, so
// that a wide party does not make an unreadable status.
const maxPodsPerParty = 3

// The messages below are one line each and depend only on their inputs:
// parties in spec order, pods sorted by namespace/name.

func createdMessage(round int32) string {
	return fmt.Sprintf("round %d: creating the pods", round)
}

func reservedMessage(round int32, t tally) string {
	msg := fmt.Sprintf("round %d: parties %s reserved", round, names(t.reserved))
	if len(t.unreserved) > 0 {
		msg += fmt.Sprintf("; going ahead without parties %s", names(t.unreserved))
	}
	return msg
}

func waitingMessage(round int32, t tally) string {
	head := fmt.Sprintf("round %d: waiting for parties %s to reserve", round, names(t.unreserved))
	return withDetail(head, unreservedDetail(t))
}

func holdingMessage(round int32, t tally, until time.Time) string {
	head := fmt.Sprintf("round %d: parties %s reserved, waiting for parties %s until %s",
		round, names(t.reserved), names(t.unreserved), until.Format(time.RFC3339))
	return withDetail(head, unreservedDetail(t))
}

func timedOutMessage(cfg Config, round int32, t tally) string {
	head := fmt.Sprintf("round %d: parties %s did not reserve within %ds of the first reserved party",
		round, names(t.unreserved), wholeSeconds(cfg.ResourceReserved))
	return withDetail(head, unreservedDetail(t))
}

func podsFailedMessage(round int32, t tally) string {
	head := fmt.Sprintf("round %d: parties %s can no longer reserve, too many pods failed", round, names(t.broken))
	var details []string
	for _, p := range partiesNamed(t.parties, t.broken) {
		details = append(details, describePods(p.Pods, podFailed, podSummary)...)
	}
	return withDetail(head, strings.Join(details, "; "))
}

func imageUnavailableMessage(round int32, t tally) string {
	return withDetail(fmt.Sprintf("round %d: an image can never reach its node", round), strings.Join(t.unavailable, "; "))
}

func expiredInRoundMessage(cfg Config, t tally) string {
	head := fmt.Sprintf("parties %s did not reserve within %ds", names(t.unreserved), wholeSeconds(cfg.Lifecycle))
	return withDetail(head, unreservedDetail(t))
}

// expiredBetweenRoundsMessage names the parties that did not reserve in the
// last round, which was released.
func expiredBetweenRoundsMessage(cfg Config, st kusciav1alpha1.ReservationStatus, parties []Party) string {
	missing := NotReserved(st.ReservedParties, domainIDs(parties))
	msg := fmt.Sprintf("parties %s did not reserve within %ds", names(missing), wholeSeconds(cfg.Lifecycle))
	if st.LastFailure != "" {
		msg += "; last failure: " + st.LastFailure
	}
	return msg
}

func retryMessage(st kusciav1alpha1.ReservationStatus, retryAt time.Time) string {
	msg := fmt.Sprintf("round %d released, round %d starts at %s", st.Round, st.Round+1, retryAt.Format(time.RFC3339))
	if st.LastFailure != "" {
		msg += "; last failure: " + st.LastFailure
	}
	return msg
}

// unreservedDetail says, for each unreserved party, why each of its pods
// that is not reserved is not, and how many of its pods are missing.
func unreservedDetail(t tally) string {
	var details []string
	for _, p := range partiesNamed(t.parties, t.unreserved) {
		notReserved := func(pod *corev1.Pod) bool { return !podReserved(pod) }
		details = append(details, describePods(p.Pods, notReserved, podSummary)...)
		if p.GroupMessage != "" {
			details = append(details, fmt.Sprintf("%s: pod group: %s", p.DomainID, p.GroupMessage))
		}
		if missing := p.Replicas - len(p.Pods); missing > 0 {
			details = append(details, fmt.Sprintf("%s: %d of %d pods missing", p.DomainID, missing, p.Replicas))
		}
	}
	return strings.Join(details, "; ")
}

// describePods returns "namespace/name: reason" for the pods that match,
// sorted, at most maxPodsPerParty of them and a count of the others.
func describePods(pods []*corev1.Pod, match func(*corev1.Pod) bool, reason func(*corev1.Pod) string) []string {
	var matched []*corev1.Pod
	for _, pod := range pods {
		if match(pod) {
			matched = append(matched, pod)
		}
	}
	slices.SortFunc(matched, func(a, b *corev1.Pod) int { return cmp.Compare(podKey(a), podKey(b)) })
	var out []string
	for i, pod := range matched {
		if i == maxPodsPerParty {
			out = append(out, fmt.Sprintf("and %d more pods", len(matched)-i))
			break
		}
		out = append(out, podKey(pod)+": "+reason(pod))
	}
	return out
}

// partiesNamed returns the parties whose domainID is in names, in spec
// order.
func partiesNamed(parties []Party, names []string) []Party {
	var out []Party
	for _, p := range parties {
		if slices.Contains(names, p.DomainID) {
			out = append(out, p)
		}
	}
	return out
}

// names formats a list of domainIDs as "[alice bob]".
func names(list []string) string {
	return "[" + strings.Join(list, " ") + "]"
}

// withDetail appends ": detail" to head when there is a detail.
func withDetail(head, detail string) string {
	if detail == "" {
		return head
	}
	return head + ": " + detail
}

func wholeSeconds(d time.Duration) int64 {
	return int64(d / time.Second)
}
