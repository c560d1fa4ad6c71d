// Package status computes a KusciaTask's status as a pure function of the
// task, its children, what this sync decided, and the time. There is one
// function per phase (Pending, Running, Failed, Finished), called by the
// controller's handler of that phase; each returns the next status and the
// pods that status reports as stopped, which the controller deletes once
// the status is written. The controller writes a status only when it
// differs from the stored one.
package status

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
	"kusciatask.io/controller/pkg/podstate"
	"kusciatask.io/controller/pkg/reservation"
)

// Input is what every status is computed from.
type Input struct {
	// Task as stored; its Status is the previous status.
	Task *kusciav1alpha1.KusciaTask
	// Roster is the task's parties and pods; nil when the task could not be
	// resolved (it then fails).
	Roster *builder.Roster
	// Pods and Services of the task, as the informers see them.
	Pods     []*corev1.Pod
	Services []*corev1.Service
	Now      time.Time
	// Start is when the task's lifecycle counts from, for a status that
	// has no startTime yet; zero means Now.
	Start time.Time
	// GroupMessages are, by domainID, why kube-scheduler cannot place a
	// party's PodGroup (PodGroupInitiallyScheduled=False).
	GroupMessages map[string]string
}

// Next is a task's next status and the pods it reports as stopped. The
// controller writes the status first, then deletes those pods: what status
// says is what happens, even when the controller stops in between.
type Next struct {
	Status kusciav1alpha1.KusciaTaskStatus
	Stop   []*corev1.Pod
	// Open are the pods whose reservation gate the controller opens once
	// the status is written: the closed gates of a Running task.
	Open []*corev1.Pod
}

// Resources is what a Pending task's sync found of its children.
type Resources struct {
	// Created: every config map, service and pod of the current round is
	// in the cache.
	Created bool
	// Stale are pods of another round than the current one.
	Stale []*corev1.Pod
}

// Pending is the status of a task that has not run yet, given this sync's
// reservation decision: reserving, released between rounds, running once
// reserved (the parties the gang goes without are stopped), or failed when
// the reservation expired.
func Pending(in Input, d reservation.Decision, res Resources) Next {
	n := begin(in)
	s := n.s
	s.Phase = kusciav1alpha1.TaskPending
	for _, pod := range res.Stale {
		// Finished or not: a pod of an earlier round holds the name a pod
		// of this round needs.
		n.remove(pod, "it is left over from an earlier reservation round")
	}
	if res.Created {
		n.condition(kusciav1alpha1.ConditionResourceCreated, corev1.ConditionTrue, kusciav1alpha1.ReasonResourcesCreated, "")
	}
	state := d.State
	s.Reservation = &state
	s.PartyTaskStatus = reservingParties(in.Roster, d, n.pods, in.GroupMessages)
	switch {
	case d.Action == reservation.ActionReserved:
		if anyGated(in.Pods) {
			s.Reservation.GateOpenedTime = wholeSecond(in.Now)
		}
		n.condition(kusciav1alpha1.ConditionReserved, corev1.ConditionTrue, kusciav1alpha1.ReasonReserved, fmt.Sprintf("parties %v reserved", d.ReservedParties))
		n.condition(kusciav1alpha1.ConditionRunning, corev1.ConditionTrue, kusciav1alpha1.ReasonRunning, "")
		s.Phase = kusciav1alpha1.TaskRunning
		n.running()
	case d.Action == reservation.ActionExpire:
		n.condition(kusciav1alpha1.ConditionReserved, corev1.ConditionFalse, kusciav1alpha1.ReasonReservationExpired, d.Message)
		n.finish(kusciav1alpha1.TaskFailed, kusciav1alpha1.ReasonReservationExpired, d.Message+n.createFailure())
	case d.Action == reservation.ActionFail:
		n.condition(kusciav1alpha1.ConditionReserved, corev1.ConditionFalse, kusciav1alpha1.ReasonImageUnavailable, d.Message)
		n.finish(kusciav1alpha1.TaskFailed, kusciav1alpha1.ReasonImageUnavailable, d.Message)
	case state.ReleasedTime != nil:
		// Released, until the next round starts: the same report while the
		// old pods go and while the retry interval runs, so nothing is
		// rewritten in between.
		// Every pod of the round goes, finished ones too: the next
		// round's pods need their names, and the round waits for them.
		for _, pod := range n.in.Pods {
			n.remove(pod, fmt.Sprintf("reservation round %d was released", state.Round))
		}
		n.condition(kusciav1alpha1.ConditionReserved, corev1.ConditionFalse, kusciav1alpha1.ReasonRoundReleased, state.LastFailure)
		s.Reason, s.Message = kusciav1alpha1.ReasonRoundReleased, state.LastFailure
	default:
		n.condition(kusciav1alpha1.ConditionReserved, corev1.ConditionFalse, kusciav1alpha1.ReasonReserving, d.Message)
		s.Reason, s.Message = kusciav1alpha1.ReasonReserving, d.Message
		if c := Condition(s, kusciav1alpha1.ConditionResourceCreated); c != nil && c.Status == corev1.ConditionFalse {
			// Creating the round's objects fails and is retried: that is
			// what the task waits for.
			s.Reason, s.Message = c.Reason, c.Message
		}
	}
	return n.done()
}

// CreateFailed is s (a Pending status just written) after creating the
// round's objects failed for a reason a retry may fix (a quota): condition
// ResourceCreated False, and the task says what it waits for. Pending keeps
// reporting it until the objects exist.
func CreateFailed(s kusciav1alpha1.KusciaTaskStatus, reason kusciav1alpha1.KusciaTaskReason, message string, now time.Time) kusciav1alpha1.KusciaTaskStatus {
	out := s.DeepCopy()
	t := metav1.NewTime(now)
	setCondition(out, kusciav1alpha1.ConditionResourceCreated, corev1.ConditionFalse, reason, message, t)
	out.Reason, out.Message = reason, message
	if !equality.Semantic.DeepEqual(withoutReconcileTime(out), withoutReconcileTime(&s)) {
		out.LastReconcileTime = &t
	}
	return *out
}

// Running is the status of a running task: each party's phase from its
// pods; Succeeded once minReservedMembers parties succeeded, Failed as soon
// as that can no longer happen. The pods of the parties the gang went
// without are stopped, and so is every live pod when the task ends.
func Running(in Input) Next {
	n := begin(in)
	n.running()
	return n.done()
}

// Failed fails the task at once (bad input, a foreign object in the way, a
// refused child): every live pod is stopped and every unfinished party
// fails with it.
func Failed(in Input, reason kusciav1alpha1.KusciaTaskReason, message string) Next {
	n := begin(in)
	n.s.PartyTaskStatus = failedParties(in, n.s.PartyTaskStatus)
	n.finish(kusciav1alpha1.TaskFailed, reason, message)
	return n.done()
}

// Finished is the status of a task that already ended: it never changes.
// The pods still live are stopped: their stop was reported when the task
// ended, so a delete that failed then is retried now.
func Finished(in Input) Next {
	out := Next{Status: *in.Task.Status.DeepCopy()}
	for _, pod := range in.Pods {
		if podstate.Of(pod).Live() {
			out.Stop = append(out.Stop, pod)
		}
	}
	return out
}

// Changed reports whether writing s over old changes anything.
func Changed(old, s *kusciav1alpha1.KusciaTaskStatus) bool {
	return !equality.Semantic.DeepEqual(old, s)
}

// next is a status being computed.
type next struct {
	in   Input
	s    *kusciav1alpha1.KusciaTaskStatus
	now  metav1.Time
	pods map[string]*corev1.Pod
	// stopped maps the key of each pod to stop to why; stopOrder keeps the
	// order they were stopped in.
	stopped   map[string]string
	stopOrder []*corev1.Pod
	// open are the pods whose gate to open.
	open []*corev1.Pod
}

// begin starts from the previous status; the first status gets startTime.
func begin(in Input) *next {
	n := &next{in: in, s: in.Task.Status.DeepCopy(), now: metav1.NewTime(in.Now), pods: podsByKey(in.Pods), stopped: map[string]string{}}
	if n.s.StartTime == nil {
		start := n.now
		if !in.Start.IsZero() {
			start = metav1.NewTime(in.Start)
		}
		n.s.StartTime = &start
	}
	return n
}

// stop reports a live pod as stopped, and why; the controller deletes it.
func (n *next) stop(pod *corev1.Pod, why string) {
	if podstate.Of(pod).Live() {
		n.remove(pod, why)
	}
}

// remove reports a pod as stopped, and why, whether it is still live or
// not (a finished pod keeps its own story); the controller deletes it.
func (n *next) remove(pod *corev1.Pod, why string) {
	key := podKey(pod)
	if _, done := n.stopped[key]; done || pod.DeletionTimestamp != nil {
		return
	}
	n.stopped[key] = why
	n.stopOrder = append(n.stopOrder, pod)
}

// stopAll stops every live pod of the task.
func (n *next) stopAll(why string) {
	for _, pod := range n.in.Pods {
		n.stop(pod, why)
	}
}

// done completes the status: pod and service statuses with the stops, and
// lastReconcileTime when anything changed.
func (n *next) done() Next {
	old := &n.in.Task.Status
	n.openGates()
	n.s.PodStatuses = podStatuses(old.PodStatuses, n.in.Pods, n.stopped)
	n.s.ServiceStatuses = serviceStatuses(old.ServiceStatuses, n.in.Services, n.s.PodStatuses)
	n.s.PartiesSummary = PartiesSummary(n.s, len(n.in.Task.Spec.Parties))
	if !equality.Semantic.DeepEqual(withoutReconcileTime(n.s), withoutReconcileTime(old)) {
		n.s.LastReconcileTime = &n.now
	}
	return Next{Status: *n.s, Stop: n.stopOrder, Open: n.open}
}

// finish moves the task to a terminal phase: completionTime, conditions
// Success and Finished, every live pod stopped and every party that had
// not finished failed with it.
func (n *next) finish(phase kusciav1alpha1.KusciaTaskPhase, reason kusciav1alpha1.KusciaTaskReason, msg string) {
	s := n.s
	s.Phase, s.Reason, s.Message = phase, reason, msg
	success := corev1.ConditionTrue
	if phase == kusciav1alpha1.TaskFailed {
		success = corev1.ConditionFalse
	}
	n.condition(kusciav1alpha1.ConditionSuccess, success, reason, msg)
	markFinished(s, reason, msg, n.now)
	s.CompletionTime = &n.now
	why := fmt.Sprintf("the task %s before this pod finished", strings.ToLower(string(phase)))
	n.stopAll(why)
	for i := range s.PartyTaskStatus {
		p := &s.PartyTaskStatus[i]
		if p.Phase == kusciav1alpha1.TaskSucceeded || p.Phase == kusciav1alpha1.TaskFailed {
			continue
		}
		p.Phase = kusciav1alpha1.TaskFailed
		if p.Message == "" && n.stopsParty(p.DomainID) {
			p.Message = fmt.Sprintf("stopped: the task %s before this party finished", strings.ToLower(string(phase)))
		}
	}
}

// stopsParty reports whether the party has pods stopped by this status.
func (n *next) stopsParty(domainID string) bool {
	for _, pod := range n.stopOrder {
		if pod.Labels[kusciav1alpha1.LabelParty] == domainID {
			return true
		}
	}
	return false
}

// createFailure is "; " and why creating the round's objects failed, when
// it did, for the message of an expired reservation.
func (n *next) createFailure() string {
	if c := Condition(n.s, kusciav1alpha1.ConditionResourceCreated); c != nil && c.Status == corev1.ConditionFalse {
		return "; creating its resources failed: " + c.Message
	}
	return ""
}

func (n *next) condition(t kusciav1alpha1.KusciaTaskConditionType, status corev1.ConditionStatus, reason kusciav1alpha1.KusciaTaskReason, msg string) {
	setCondition(n.s, t, status, reason, msg, n.now)
}

func withoutReconcileTime(s *kusciav1alpha1.KusciaTaskStatus) *kusciav1alpha1.KusciaTaskStatus {
	c := *s
	c.LastReconcileTime = nil
	return &c
}

// setCondition sets a condition, moving its LastTransitionTime only when its
// status changes.
func setCondition(s *kusciav1alpha1.KusciaTaskStatus, t kusciav1alpha1.KusciaTaskConditionType, status corev1.ConditionStatus, reason kusciav1alpha1.KusciaTaskReason, msg string, now metav1.Time) {
	for i := range s.Conditions {
		c := &s.Conditions[i]
		if c.Type != t {
			continue
		}
		if c.Status != status {
			c.LastTransitionTime = &now
		}
		c.Status, c.Reason, c.Message = status, reason, msg
		return
	}
	s.Conditions = append(s.Conditions, kusciav1alpha1.KusciaTaskCondition{
		Type: t, Status: status, Reason: reason, Message: msg, LastTransitionTime: &now,
	})
}

// Condition returns the condition of type t, or nil.
func Condition(s *kusciav1alpha1.KusciaTaskStatus, t kusciav1alpha1.KusciaTaskConditionType) *kusciav1alpha1.KusciaTaskCondition {
	for i := range s.Conditions {
		if s.Conditions[i].Type == t {
			return &s.Conditions[i]
		}
	}
	return nil
}
