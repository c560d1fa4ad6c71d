// Package status computes a KusciaTask's status as a pure function of the
// task, its children, what this sync's phase handler found, and the time. The
// controller writes the result only when it differs from the stored status.
package status

import (
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
	"kusciatask.io/controller/pkg/reservation"
)

// Input is everything a status is computed from.
type Input struct {
	// Task as stored; its Status is the previous status.
	Task *kusciav1alpha1.KusciaTask
	// Plan is the resolved task; nil when Outcome.Failure is set because the
	// task could not be resolved.
	Plan *builder.TaskPlan
	// Pods and Services of the task, as the informers see them.
	Pods     []*corev1.Pod
	Services []*corev1.Service
	Now      time.Time
	Outcome  Outcome
}

// Outcome is what this sync's phase handler found and did.
type Outcome struct {
	// Failure fails the task at once: bad input, a foreign object in the way.
	Failure *builder.InputError
	// ResourcesCreated: every config map, service and pod of the current
	// round exists.
	ResourcesCreated bool
	// Reservation is the reservation decision of a Pending task.
	Reservation *reservation.Decision
}

// Compute returns the task's new status. Terminal statuses never change.
func Compute(in Input) kusciav1alpha1.KusciaTaskStatus {
	old := &in.Task.Status
	if old.Phase.IsTerminal() {
		return *old.DeepCopy()
	}
	now := metav1.NewTime(in.Now)
	s := old.DeepCopy()
	if s.StartTime == nil {
		s.StartTime = &now
	}
	pods := podsByKey(in.Pods)
	s.PodStatuses = podStatuses(old.PodStatuses, in.Pods)
	s.ServiceStatuses = serviceStatuses(old.ServiceStatuses, in.Services, pods)
	switch {
	case in.Outcome.Failure != nil:
		s.PartyTaskStatus = failedParties(in.Task)
		finish(s, kusciav1alpha1.TaskFailed, in.Outcome.Failure.Reason, in.Outcome.Failure.Message, now)
	case old.Phase == kusciav1alpha1.TaskRunning:
		running(s, in.Plan, pods, now)
	default:
		pending(s, in, pods, now)
	}
	if !equality.Semantic.DeepEqual(withoutReconcileTime(s), withoutReconcileTime(old)) {
		s.LastReconcileTime = &now
	}
	return *s
}

// Changed reports whether writing s over old changes anything.
func Changed(old, s *kusciav1alpha1.KusciaTaskStatus) bool {
	return !equality.Semantic.DeepEqual(old, s)
}

func withoutReconcileTime(s *kusciav1alpha1.KusciaTaskStatus) *kusciav1alpha1.KusciaTaskStatus {
	c := *s
	c.LastReconcileTime = nil
	return &c
}

// pending applies the reservation decision to a Pending task.
func pending(s *kusciav1alpha1.KusciaTaskStatus, in Input, pods map[string]*corev1.Pod, now metav1.Time) {
	s.Phase = kusciav1alpha1.TaskPending
	if in.Outcome.ResourcesCreated {
		setCondition(s, kusciav1alpha1.ConditionResourceCreated, corev1.ConditionTrue, kusciav1alpha1.ReasonResourcesCreated, "", now)
	}
	d := in.Outcome.Reservation
	if d == nil {
		return
	}
	state := d.State
	s.Reservation = &state
	s.PartyTaskStatus = reservingParties(in.Plan, d, pods)
	switch {
	case d.Action == reservation.ActionReserved:
		msg := fmt.Sprintf("parties %v reserved", d.ReservedParties)
		setCondition(s, kusciav1alpha1.ConditionReserved, corev1.ConditionTrue, kusciav1alpha1.ReasonReserved, msg, now)
		setCondition(s, kusciav1alpha1.ConditionRunning, corev1.ConditionTrue, kusciav1alpha1.ReasonRunning, "", now)
		s.Phase = kusciav1alpha1.TaskRunning
		running(s, in.Plan, pods, now)
	case d.Action == reservation.ActionExpire:
		setCondition(s, kusciav1alpha1.ConditionReserved, corev1.ConditionFalse, kusciav1alpha1.ReasonReservationExpired, d.Message, now)
		finish(s, kusciav1alpha1.TaskFailed, kusciav1alpha1.ReasonReservationExpired, d.Message, now)
	case state.ReleasedTime != nil:
		// Released, until the next round starts: the same report while the
		// old pods go and while the retry interval runs, so nothing is
		// rewritten in between.
		setCondition(s, kusciav1alpha1.ConditionReserved, corev1.ConditionFalse, kusciav1alpha1.ReasonRoundReleased, state.LastFailure, now)
		s.Reason, s.Message = kusciav1alpha1.ReasonRoundReleased, state.LastFailure
	default:
		setCondition(s, kusciav1alpha1.ConditionReserved, corev1.ConditionFalse, kusciav1alpha1.ReasonReserving, d.Message, now)
		s.Reason, s.Message = kusciav1alpha1.ReasonReserving, d.Message
	}
}

// reservingParties reports each party of a Pending task, with the reason of
// the parties that have not reserved yet.
func reservingParties(plan *builder.TaskPlan, d *reservation.Decision, pods map[string]*corev1.Pod) []kusciav1alpha1.PartyTaskStatus {
	out := make([]kusciav1alpha1.PartyTaskStatus, 0, len(plan.Parties))
	for _, party := range plan.Parties {
		ps := kusciav1alpha1.PartyTaskStatus{DomainID: party.DomainID, Role: party.Role, Phase: kusciav1alpha1.TaskPending}
		switch {
		case d.State.ReleasedTime != nil:
			ps.Message = fmt.Sprintf("round %d released; waiting for the next round", d.State.Round)
		case !slices.Contains(d.ReservedParties, party.DomainID):
			ps.Message = "not reserved: " + schedulingReasons(party, pods)
		}
		out = append(out, ps)
	}
	return out
}

// schedulingReasons says why the pods of a party are not reserved.
func schedulingReasons(party *builder.PartyPlan, pods map[string]*corev1.Pod) string {
	var reasons []string
	for _, pp := range party.Pods {
		pod := pods[pp.Namespace+"/"+pp.Name]
		if pod == nil || reservation.PodReserved(pod) {
			continue
		}
		reasons = append(reasons, fmt.Sprintf("%s/%s: %s", pp.Namespace, pp.Name, reservation.SchedulerReason(pod)))
	}
	if len(reasons) == 0 {
		return "pods not created yet"
	}
	return strings.Join(reasons, "; ")
}

// running derives the phase of a Running task from its parties.
func running(s *kusciav1alpha1.KusciaTaskStatus, plan *builder.TaskPlan, pods map[string]*corev1.Pod, now metav1.Time) {
	var succeeded, failed int
	var failures []string
	s.PartyTaskStatus = s.PartyTaskStatus[:0:0]
	for _, party := range plan.Parties {
		r := partyResult{phase: kusciav1alpha1.TaskFailed, message: "not reserved when the task started; its pods were deleted"}
		if s.Reservation == nil || slices.Contains(s.Reservation.ReservedParties, party.DomainID) {
			r = runningParty(party, pods)
		}
		s.PartyTaskStatus = append(s.PartyTaskStatus, kusciav1alpha1.PartyTaskStatus{
			DomainID: party.DomainID, Role: party.Role, Phase: r.phase, Message: r.message,
		})
		switch r.phase {
		case kusciav1alpha1.TaskSucceeded:
			succeeded++
		case kusciav1alpha1.TaskFailed:
			failed++
			failures = append(failures, fmt.Sprintf("party %s failed: %s", party.DomainID, r.message))
		}
	}
	need := plan.Schedule.MinReservedMembers
	switch {
	case succeeded >= need:
		msg := fmt.Sprintf("%d of %d parties succeeded", succeeded, len(plan.Parties))
		finish(s, kusciav1alpha1.TaskSucceeded, kusciav1alpha1.ReasonSucceeded, msg, now)
	case len(plan.Parties)-failed < need:
		finish(s, kusciav1alpha1.TaskFailed, kusciav1alpha1.ReasonPartiesFailed, strings.Join(failures, "; "), now)
	default:
		s.Reason, s.Message = kusciav1alpha1.ReasonRunning, ""
	}
}

// finish moves the task to a terminal phase.
func finish(s *kusciav1alpha1.KusciaTaskStatus, phase kusciav1alpha1.KusciaTaskPhase, reason kusciav1alpha1.KusciaTaskReason, msg string, now metav1.Time) {
	s.Phase, s.Reason, s.Message = phase, reason, msg
	success := corev1.ConditionTrue
	if phase == kusciav1alpha1.TaskFailed {
		success = corev1.ConditionFalse
	}
	setCondition(s, kusciav1alpha1.ConditionSuccess, success, reason, msg, now)
	s.CompletionTime = &now
}

// failedParties marks every party of a task that failed before it ran.
func failedParties(task *kusciav1alpha1.KusciaTask) []kusciav1alpha1.PartyTaskStatus {
	out := make([]kusciav1alpha1.PartyTaskStatus, 0, len(task.Spec.Parties))
	for _, p := range task.Spec.Parties {
		out = append(out, kusciav1alpha1.PartyTaskStatus{DomainID: p.DomainID, Role: p.Role, Phase: kusciav1alpha1.TaskFailed})
	}
	return out
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
