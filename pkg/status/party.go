package status

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
)

// fatalWaitingReasons are container waiting reasons a pod does not recover
// from on its own: the pod counts as failed while it is stuck in one.
// ErrImagePull alone is not fatal (a registry hiccup); ImagePullBackOff is the
// kubelet backing off after pulls kept failing.
var fatalWaitingReasons = map[string]bool{
	"CrashLoopBackOff":           true,
	"ImagePullBackOff":           true,
	"InvalidImageName":           true,
	"ErrImageNeverPull":          true,
	"CreateContainerConfigError": true,
	"CreateContainerError":       true,
	"RunContainerError":          true,
}

// PodFailure says why a pod counts as failed, or "" when it does not: it
// Failed, or a container is stuck in a fatal waiting reason. A pod that does
// not exist is the caller's business.
func PodFailure(pod *corev1.Pod) string {
	if pod.Status.Phase == corev1.PodFailed {
		reason, msg := terminationOf(pod)
		return joinNonEmpty(": ", "failed", reason, msg)
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil && fatalWaitingReasons[w.Reason] {
			return joinNonEmpty(": ", "container "+cs.Name+" is stuck", w.Reason, w.Message)
		}
	}
	return ""
}

// terminationOf returns the reason and termination message of a failed pod:
// its first container that exited non-zero, else the pod's own reason.
func terminationOf(pod *corev1.Pod) (reason, message string) {
	for _, cs := range pod.Status.ContainerStatuses {
		if t := cs.State.Terminated; t != nil && t.ExitCode != 0 {
			reason = t.Reason
			if reason == "" {
				reason = fmt.Sprintf("ExitCode %d", t.ExitCode)
			}
			return reason, strings.TrimSpace(t.Message)
		}
	}
	return pod.Status.Reason, pod.Status.Message
}

// partyResult is the phase of one party and why.
type partyResult struct {
	phase   kusciav1alpha1.KusciaTaskPhase
	message string
}

// runningParty derives a running party's phase from its pods: Succeeded once
// minReservedPods pods succeeded, Failed once fewer than that can still
// succeed (a pod failed, is stuck or was deleted), Running while any pod
// runs, else Pending.
func runningParty(party *builder.PartyPlan, pods map[string]*corev1.Pod) partyResult {
	var succeeded, running int
	var failures []string
	for _, pp := range party.Pods {
		pod := pods[pp.Namespace+"/"+pp.Name]
		switch {
		case pod == nil:
			failures = append(failures, fmt.Sprintf("pod %s/%s was deleted", pp.Namespace, pp.Name))
		case PodFailure(pod) != "":
			failures = append(failures, fmt.Sprintf("pod %s/%s %s", pp.Namespace, pp.Name, PodFailure(pod)))
		case pod.Status.Phase == corev1.PodSucceeded:
			succeeded++
		case pod.Status.Phase == corev1.PodRunning:
			running++
		}
	}
	switch {
	case succeeded >= party.MinReservedPods:
		return partyResult{phase: kusciav1alpha1.TaskSucceeded}
	case party.Replicas-len(failures) < party.MinReservedPods:
		return partyResult{phase: kusciav1alpha1.TaskFailed, message: strings.Join(failures, "; ")}
	case running > 0:
		return partyResult{phase: kusciav1alpha1.TaskRunning}
	default:
		return partyResult{phase: kusciav1alpha1.TaskPending}
	}
}

func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}
