// Package podstate is the one classifier of a task pod: whether it is
// pending, reserved, running, succeeded or failed, and why. Status, party
// phases and the gang reservation all read a pod through Of, so a pod tells
// the same story everywhere.
package podstate

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/gate"
)

// Phase is where a task pod is, as the controller counts it.
type Phase string

const (
	// Pending: not bound to a node yet.
	Pending Phase = "Pending"
	// Pulling: bound to a node, which holds its requests, but the kubelet
	// is still pulling the images its gate waits behind (a pod that pulls
	// during the reservation, see package gate); it does not count as
	// reserved yet.
	Pulling Phase = "Pulling"
	// Reserved: bound to a node, which holds its requests, and no container
	// of the application runs yet. A pod that pulls during the reservation
	// is reserved once its gate runs: every image it needs is on the node.
	Reserved Phase = "Reserved"
	// Running: bound and running.
	Running Phase = "Running"
	// Succeeded: every container finished and the pod succeeded.
	Succeeded Phase = "Succeeded"
	// Failed: the pod will not succeed: it failed, a container is stuck in
	// a fatal waiting reason, it is being deleted or it is gone.
	Failed Phase = "Failed"
)

// failure tells the kinds of Failed apart, for Summary.
type failure int

const (
	notFailed failure = iota
	exited            // pod phase Failed
	stuck             // a container in a fatal waiting reason
	deleting          // deletionTimestamp set
	gone              // no such pod any more
	stopped           // deleted by the controller
)

// State is a pod's state and why it is in it.
type State struct {
	Phase Phase
	// Reason is a CamelCase word (Unschedulable, Completed, Error, Evicted,
	// CrashLoopBackOff, ...); Message says the same for a human, on one
	// line.
	Reason  string
	Message string
	// Container is the container a failure or a pull is about, if any;
	// ExitCode is its last non-zero exit code, or 0.
	Container string
	ExitCode  int32
	// Image is the image being pulled (Pulling), or the one a reservation
	// init container could not pull (Failed); empty otherwise.
	Image string
	// TerminationLog is what a failed pod left behind: its failed
	// container's termination message, else the pod's own message.
	TerminationLog string
	failure        failure
}

// fatalWaitingReasons are container waiting reasons a pod does not recover
// from on its own. ErrImagePull alone is not fatal (a registry hiccup);
// ImagePullBackOff is the kubelet backing off after pulls kept failing.
// Both are retried, not fatal, for the init containers of a pod pulling
// during its reservation (retriedPull): the reservation's own timeout then
// decides.
var fatalWaitingReasons = map[string]bool{
	"CrashLoopBackOff":           true,
	reasonImagePullBackOff:       true,
	reasonInvalidImageName:       true,
	reasonErrImageNeverPull:      true,
	"CreateContainerConfigError": true,
	"CreateContainerError":       true,
	"RunContainerError":          true,
}

// Of classifies a pod. Init containers count like the others and come
// first: a gate or setup container that fails fails the pod.
func Of(pod *corev1.Pod) State {
	switch {
	case pod.Status.Phase == corev1.PodSucceeded:
		return withPodReason(pod, State{Phase: Succeeded, Reason: terminatedReason(pod)})
	case pod.Status.Phase == corev1.PodFailed:
		return failedPod(pod)
	case pod.DeletionTimestamp != nil:
		return State{Phase: Failed, Reason: kusciav1alpha1.PodReasonTerminating,
			Message: "the pod is being deleted", failure: deleting}
	}
	if cs, w := fatalWaiting(pod); w != nil {
		s := State{Phase: Failed, Reason: w.Reason, Message: oneLine(w.Message), Container: cs.Name, failure: stuck,
			Image: reservationImage(pod, cs.Name)}
		if last := cs.LastTerminationState.Terminated; last != nil {
			s.ExitCode = last.ExitCode
		}
		return s
	}
	s := State{Phase: Pending}
	switch {
	case pod.Status.Phase == corev1.PodRunning:
		s.Phase = Running
	case pod.Spec.NodeName != "":
		s.Phase = Reserved
	}
	if s.Phase == Reserved {
		if p, pulling := pullingState(pod); pulling {
			return withPodReason(pod, p)
		}
	}
	if s.Phase == Pending {
		s.Reason, s.Message = schedulerReason(pod)
	} else if w := firstWaiting(pod); w != nil {
		s.Reason, s.Message = w.Reason, oneLine(w.Message)
	}
	return withPodReason(pod, s)
}

// Gone is the state of a pod the task had and that no longer exists,
// without the controller having deleted it.
func Gone() State {
	return State{Phase: Failed, Reason: kusciav1alpha1.PodReasonDeleted,
		Message: "the pod was deleted before it finished", failure: gone}
}

// Stopped is the state of a pod the controller deletes, and why it does.
func Stopped(why string) State {
	return State{Phase: Failed, Reason: kusciav1alpha1.PodReasonStopped,
		Message: "stopped by the controller: " + why, failure: stopped}
}

// Reserved reports whether the pod holds its node for the gang: bound and
// not failed. A succeeded pod counts: it had its node and did its work.
func (s State) Reserved() bool {
	return s.Phase == Reserved || s.Phase == Running || s.Phase == Succeeded
}

// ImageUnavailable reports whether the pod is stuck on an image that no
// retry can bring: its name is invalid (InvalidImageName) or the pull
// policy Never forbids pulling it (ErrImageNeverPull).
func (s State) ImageUnavailable() bool {
	return s.failure == stuck && (s.Reason == reasonInvalidImageName || s.Reason == reasonErrImageNeverPull)
}

// Live reports whether the pod still holds or may take resources: it has
// not finished (a container stuck in a fatal waiting reason has not) and is
// not already being deleted. The controller stops live pods when a task
// ends.
func (s State) Live() bool {
	return s.Phase == Pending || s.Phase == Pulling || s.Phase == Reserved || s.Phase == Running || s.failure == stuck
}

// Summary is the state on one line, as the messages of parties, tasks and
// reservation rounds tell it after the pod's name: "failed: Evicted: The
// node was low on resource: memory. (container app exited with code 137)",
// "container app is stuck: CrashLoopBackOff: back-off 10s", "was deleted",
// or for a pod not bound yet the scheduler's reason.
func (s State) Summary() string {
	switch s.failure {
	case exited:
		head := join(": ", "failed", s.Reason, s.Message)
		if s.Reason == "" && s.Message == "" && s.ExitCode == 0 {
			head += ": no reason given"
		}
		return head + s.exitNote("container %s exited with code %d")
	case stuck:
		return join(": ", "container "+s.Container+" is stuck", s.Reason, s.Message) + s.imageNote() + s.exitNote("last exit code %[2]d")
	case deleting:
		return "is being deleted"
	case gone:
		return "was deleted"
	case stopped:
		return "was " + s.Message
	}
	if s.Phase == Pending {
		return firstOf(s.Message, s.Reason, "not scheduled yet")
	}
	if s.Phase == Pulling {
		return join(": ", "pulling "+s.Image, s.Reason, s.Message)
	}
	return strings.ToLower(string(s.Phase))
}

// imageNote is " (image …)" when the state names an image its message
// does not, or "".
func (s State) imageNote() string {
	if s.Image == "" || strings.Contains(s.Message, s.Image) {
		return ""
	}
	return " (image " + s.Image + ")"
}

// exitNote is " (…)" naming the exit code, or "" without one.
func (s State) exitNote(format string) string {
	if s.ExitCode == 0 {
		return ""
	}
	return " (" + fmt.Sprintf(format, s.Container, s.ExitCode) + ")"
}

// failedPod reads a Failed pod: the pod's own reason (Evicted, OutOfcpu,
// DeadlineExceeded...) explains it first, its first container that exited
// non-zero second.
func failedPod(pod *corev1.Pod) State {
	s := State{Phase: Failed, failure: exited}
	if cs, t := failedContainer(pod); t != nil {
		s.Container, s.ExitCode = cs.Name, t.ExitCode
		s.Reason, s.Message = firstOf(t.Reason, fmt.Sprintf("ExitCode %d", t.ExitCode)), oneLine(t.Message)
		s.TerminationLog = strings.TrimSpace(t.Message)
	}
	s = withPodReason(pod, s)
	if s.TerminationLog == "" {
		s.TerminationLog = strings.TrimSpace(pod.Status.Message)
	}
	return s
}

// withPodReason lets the pod's own reason and message, when it has them,
// win over its containers'.
func withPodReason(pod *corev1.Pod, s State) State {
	if pod.Status.Reason != "" {
		s.Reason, s.Message = pod.Status.Reason, oneLine(pod.Status.Message)
	}
	return s
}

// containers are the pod's container statuses, init containers first.
func containers(pod *corev1.Pod) []corev1.ContainerStatus {
	return append(append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...)
}

func failedContainer(pod *corev1.Pod) (corev1.ContainerStatus, *corev1.ContainerStateTerminated) {
	for _, cs := range containers(pod) {
		if t := cs.State.Terminated; t != nil && t.ExitCode != 0 {
			return cs, t
		}
	}
	return corev1.ContainerStatus{}, nil
}

func fatalWaiting(pod *corev1.Pod) (corev1.ContainerStatus, *corev1.ContainerStateWaiting) {
	for _, cs := range containers(pod) {
		if w := cs.State.Waiting; w != nil && fatalWaitingReasons[w.Reason] && !retriedPull(pod, cs.Name, w.Reason) {
			return cs, w
		}
	}
	return corev1.ContainerStatus{}, nil
}

func firstWaiting(pod *corev1.Pod) *corev1.ContainerStateWaiting {
	for _, cs := range containers(pod) {
		if w := cs.State.Waiting; w != nil && w.Reason != "" {
			return w
		}
	}
	return nil
}

func terminatedReason(pod *corev1.Pod) string {
	for _, cs := range pod.Status.ContainerStatuses {
		if t := cs.State.Terminated; t != nil {
			return t.Reason
		}
	}
	return ""
}

// schedulerReason is why the scheduler has not bound a pod: its
// PodScheduled=False condition.
func schedulerReason(pod *corev1.Pod) (reason, message string) {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			return c.Reason, oneLine(c.Message)
		}
	}
	return "", ""
}

// oneLine collapses every run of white space, line breaks included, into
// one space.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// join joins the non-empty parts with sep.
func join(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}

// firstOf is the first non-empty value.
func firstOf(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// The pull failures the kubelet retries by itself, and those it cannot.
const (
	reasonErrImagePull      = "ErrImagePull"
	reasonImagePullBackOff  = "ImagePullBackOff"
	reasonInvalidImageName  = "InvalidImageName"
	reasonErrImageNeverPull = "ErrImageNeverPull"
)

// ReservationContainers are the init containers of a pod that pulls during
// its reservation, from gate.InstallContainerName up to the gate, as the
// builder adds them (the informer's trimmed pod keeps just these, with
// their names and images); nil for any other pod.
func ReservationContainers(pod *corev1.Pod) []corev1.Container {
	init := pod.Spec.InitContainers
	if len(init) == 0 || init[0].Name != gate.InstallContainerName {
		return nil
	}
	for i, c := range init {
		if c.Name == gate.ContainerName {
			return init[:i+1]
		}
	}
	return nil
}

// reservationImage is the image of a pod's reservation init container of
// that name, or "".
func reservationImage(pod *corev1.Pod, name string) string {
	for _, c := range ReservationContainers(pod) {
		if c.Name == name {
			return c.Image
		}
	}
	return ""
}

// retriedPull reports whether a waiting reason of the named container is a
// pull failure that keeps the pod pulling, not failed: ErrImagePull or
// ImagePullBackOff of a reservation init container. A registry outage
// then costs the round, not the task.
func retriedPull(pod *corev1.Pod, name, reason string) bool {
	return IsPullFailure(reason) && reservationImage(pod, name) != ""
}

// pullingState reads a bound pod that pulls during its reservation: it
// is Pulling until its gate container runs, pulling the image of the first
// reservation init container that has not completed. ok is false for any
// other pod, and once the gate runs or ran.
func pullingState(pod *corev1.Pod) (s State, ok bool) {
	statuses := map[string]*corev1.ContainerStatus{}
	for i := range pod.Status.InitContainerStatuses {
		statuses[pod.Status.InitContainerStatuses[i].Name] = &pod.Status.InitContainerStatuses[i]
	}
	for _, c := range ReservationContainers(pod) {
		cs := statuses[c.Name]
		if c.Name == gate.ContainerName && cs != nil && (cs.State.Running != nil || cs.State.Terminated != nil) {
			return State{}, false
		}
		if cs != nil && cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0 {
			continue
		}
		s = State{Phase: Pulling, Container: c.Name, Image: c.Image}
		if cs != nil && cs.State.Waiting != nil && retriedPull(pod, c.Name, cs.State.Waiting.Reason) {
			s.Reason, s.Message = cs.State.Waiting.Reason, oneLine(cs.State.Waiting.Message)
		}
		return s, true
	}
	return State{}, false
}

// IsPullFailure reports whether a waiting reason is a failed pull the
// kubelet retries (ErrImagePull, ImagePullBackOff).
func IsPullFailure(reason string) bool {
	return reason == reasonErrImagePull || reason == reasonImagePullBackOff
}

// WithPullFailure returns pod as if the kubelet still reported a failed
// pull (reason, message) on the reservation container pulling the image:
// the kubelet reports a failed pull only between its attempts, and during
// each new attempt the container waits PodInitializing again, so a caller
// that saw the failure (in the status it wrote) keeps it until the pull
// succeeds or fails anew. pod itself is returned, unchanged, unless it is
// Pulling with no reason of its own and the message names the image it
// pulls. The copy shares all but its init container statuses with pod.
func WithPullFailure(pod *corev1.Pod, reason, message string) *corev1.Pod {
	st := Of(pod)
	if st.Phase != Pulling || st.Reason != "" || !IsPullFailure(reason) || !strings.Contains(message, st.Image) {
		return pod
	}
	out := *pod
	out.Status.InitContainerStatuses = nil
	found := false
	for _, cs := range pod.Status.InitContainerStatuses {
		if cs.Name == st.Container {
			cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: message}}
			found = true
		}
		out.Status.InitContainerStatuses = append(out.Status.InitContainerStatuses, cs)
	}
	if !found {
		out.Status.InitContainerStatuses = append(out.Status.InitContainerStatuses, corev1.ContainerStatus{Name: st.Container,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: message}}})
	}
	return &out
}
