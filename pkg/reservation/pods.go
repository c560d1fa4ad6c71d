package reservation

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// notScheduledYet is the scheduler reason of a pod the scheduler has not
// reported on.
const notScheduledYet = "not scheduled yet"

// PodReserved reports whether a pod holds its node for the gang: it is bound
// to a node, not being deleted and not Failed. A Succeeded pod counts: it had
// its node and did its work.
func PodReserved(pod *corev1.Pod) bool {
	return pod.Spec.NodeName != "" && pod.DeletionTimestamp == nil && !PodFailed(pod)
}

// PodFailed reports whether a pod has failed for good (phase Failed).
func PodFailed(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodFailed
}

// SchedulerReason says why the scheduler has not bound a pod: the message of
// its PodScheduled=False condition (e.g. "0/2 nodes are available: 2
// Insufficient cpu."), else that condition's reason, else "not scheduled
// yet". The result is on one line.
func SchedulerReason(pod *corev1.Pod) string {
	for _, c := range pod.Status.Conditions {
		if c.Type != corev1.PodScheduled || c.Status != corev1.ConditionFalse {
			continue
		}
		if msg := oneLine(c.Message); msg != "" {
			return msg
		}
		if c.Reason != "" {
			return c.Reason
		}
	}
	return notScheduledYet
}

// notReservedReason says why a pod that is not PodReserved is not.
func notReservedReason(pod *corev1.Pod) string {
	switch {
	case pod.DeletionTimestamp != nil:
		return "being deleted"
	case PodFailed(pod):
		return "failed: " + failureReason(pod)
	default:
		return SchedulerReason(pod)
	}
}

// failureReason says why a Failed pod failed: its status reason and message
// (set by the kubelet on eviction or admission failure), else the first
// container that exited non-zero.
func failureReason(pod *corev1.Pod) string {
	reason, msg := pod.Status.Reason, oneLine(pod.Status.Message)
	switch {
	case reason != "" && msg != "":
		return reason + ": " + msg
	case reason != "" || msg != "":
		return reason + msg
	}
	statuses := append(append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...)
	for _, cs := range statuses {
		if t := cs.State.Terminated; t != nil && t.ExitCode != 0 {
			return fmt.Sprintf("container %s exited with code %d (%s)", cs.Name, t.ExitCode, t.Reason)
		}
	}
	return "no reason given"
}

// podKey names a pod as "namespace/name".
func podKey(pod *corev1.Pod) string {
	return pod.Namespace + "/" + pod.Name
}

// oneLine collapses every run of white space, line breaks included, into
// one space.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
