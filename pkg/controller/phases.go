// The phase handlers: per phase, what one sync decides (the step).

package controller

import (
	"context"
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
	"kusciatask.io/controller/pkg/podgroup"
	"kusciatask.io/controller/pkg/reservation"
	"kusciatask.io/controller/pkg/status"
)

// step is what one sync decided for a task. The controller writes
// next.Status first, then deletes next.Stop and creates create, in that
// order: a controller stopped in between finds its decision in status and
// carries it out.
type step struct {
	next status.Next
	// roster is the task's roster, when it could be resolved.
	roster *builder.Roster
	// create are the children to create, in order (a round's missing
	// config maps, services and pods).
	create []metav1.Object
	// requeueAt is the next deadline (a reservation timer), or zero.
	requeueAt time.Time
	// tampered, when set, says why the finished task's phase is not what
	// its own pods show: carryOut reports it (reportTampered).
	tampered string
}

// phaseHandler decides one sync of a task in one phase. An *InputError
// fails the task (see sync); any other error is retried.
type phaseHandler func(ctx context.Context, tc *taskContext) (step, error)

// handlerFor is the one place that says what happens in each phase.
func (c *Controller) handlerFor(phase kusciav1alpha1.KusciaTaskPhase) phaseHandler {
	switch phase {
	case "", kusciav1alpha1.TaskPending:
		return c.handlePending
	case kusciav1alpha1.TaskRunning:
		return handleRunning
	case kusciav1alpha1.TaskSucceeded, kusciav1alpha1.TaskFailed:
		return handleFinished
	}
	return handleUnknownPhase
}

// handlePending resolves the task against its AppImages and namespaces (a
// new round uses the current ones) and drives the reservation rounds. One
// job per action: Create and Wait (in a round) make sure the round's
// objects exist; the status of Reserved, Release and Expire says which pods
// to stop (the parties the gang goes without, the released round, all).
func (c *Controller) handlePending(ctx context.Context, tc *taskContext) (step, error) {
	in, err := c.inputsFor(ctx, tc)
	if err != nil {
		return step{}, err
	}
	plan, err := builder.PlanTask(tc.task, in)
	if err != nil {
		return step{}, err
	}
	roster := plan.Roster()
	tc.children.pods = inRoster(roster, tc.children.pods)
	if err := builder.CheckSpecUnchanged(plan.SpecHash, tc.children.pods); err != nil {
		return step{}, err
	}
	tc.children.pods = status.WithLastPullFailures(tc.children.pods, tc.task.Status.PodStatuses)
	prev := tc.task.Status.Reservation
	current, stale := splitByRound(tc.children.pods, currentRound(prev))
	parties := roster.ReservationParties(current)
	groups := podgroup.NotScheduledByParty(tc.children.podGroups)
	for i := range parties {
		parties[i].GroupMessage = groups[parties[i].DomainID]
	}
	d := reservation.Evaluate(roster.Schedule, prev, startTime(tc), parties, tc.now)
	round := children{pods: current, services: tc.children.services, configMaps: tc.children.configMaps, podGroups: tc.children.podGroups}
	created := round.complete(tc.task.Name, plan)
	st := step{roster: roster, requeueAt: d.RequeueAt}
	// Pods of another round have the names of this round's: they must be
	// gone before this round's are created.
	if roundUnderWay(d) && !created && len(stale) == 0 {
		if st.create, err = missingChildren(ctx, tc, plan, d.State.Round); err != nil {
			return step{}, err
		}
	}
	st.next = status.Pending(tc.input(roster), d, status.Resources{Created: created, Stale: stale})
	return st, nil
}

// handleRunning follows a running task with the shape it was created with
// (its spec and the party sizes on its pods): editing or deleting its
// AppImages meanwhile changes nothing for it.
func handleRunning(_ context.Context, tc *taskContext) (step, error) {
	roster, err := builder.StartedRoster(tc.task, tc.children.pods)
	if err != nil {
		return step{}, err
	}
	tc.children.pods = inRoster(roster, tc.children.pods)
	return step{roster: roster, next: status.Running(tc.input(roster))}, nil
}

// handleFinished is the shared step of Succeeded and Failed: the status
// never changes; pods still pending or running are deleted (a failed peer
// must not leave the others burning CPU); terminated pods stay for their
// logs until the task is deleted.
//
// Before it deletes any pod it checks that the task's own pods explain
// the phase (status.Explains): anyone allowed to write kusciatasks/status
// could write Succeeded or Failed over a running task. A phase they do not
// explain is not obeyed: no pod is stopped (they run to their own end),
// and the task is reported once with reason StatusTampered and an Event.
// The phase itself cannot be restored: the CRD makes a finished task's
// phase final, for the controller too. The admission policy of crds/
// keeps anyone but the controller from writing status in the first place.
// A task already reported as tampered stops nothing.
func handleFinished(_ context.Context, tc *taskContext) (step, error) {
	next := status.Finished(tc.input(nil))
	if tc.task.Status.Reason == kusciav1alpha1.ReasonStatusTampered {
		return step{next: status.Next{Status: next.Status}}, nil
	}
	if len(next.Stop) == 0 {
		return step{next: next}, nil
	}
	roster, err := builder.FinishedRoster(tc.task, tc.children.pods)
	if err != nil {
		roster = nil // a spec that does not resolve: Explains tells
	} else {
		tc.children.pods = inRoster(roster, tc.children.pods)
	}
	if ok, why := status.Explains(tc.input(roster)); !ok {
		return step{roster: roster, next: status.Next{Status: next.Status}, tampered: why}, nil
	}
	return step{next: next}, nil
}

// handleUnknownPhase fails a task whose status.phase no handler knows
// (status written by hand) rather than the worker.
func handleUnknownPhase(_ context.Context, tc *taskContext) (step, error) {
	return step{}, &builder.InputError{
		Reason:  kusciav1alpha1.ReasonUnknownPhase,
		Message: fmt.Sprintf("status.phase %q is not a phase of a KusciaTask", tc.task.Status.Phase),
	}
}

// failedStep fails the task at once with the reason of an input error.
func failedStep(tc *taskContext, roster *builder.Roster, ie *builder.InputError) step {
	return step{roster: roster, next: status.Failed(tc.input(roster), ie.Reason, ie.Message)}
}

// roundUnderWay reports whether the decision is to have the current round's
// objects: a new round (Create), or a round not decided yet (Wait, not
// between rounds).
func roundUnderWay(d reservation.Decision) bool {
	return d.Action == reservation.ActionCreate || (d.Action == reservation.ActionWait && d.State.ReleasedTime == nil)
}

func currentRound(res *kusciav1alpha1.ReservationStatus) int32 {
	if res == nil || res.Round == 0 {
		return 1
	}
	return res.Round
}

// startTime is when the lifecycle deadline counts from: status.startTime
// (stored or held); before it is set, now, or when the task's children
// already exist (a controller restarted before writing it), the time the
// first of them was created.
func startTime(tc *taskContext) time.Time {
	if tc.task.Status.StartTime != nil {
		return tc.task.Status.StartTime.Time
	}
	start := tc.now
	for _, p := range tc.children.pods {
		if t := p.CreationTimestamp.Time; !t.IsZero() && t.Before(start) {
			start = t
		}
	}
	return start
}

// splitByRound separates the pods of the given round from stale pods of
// other rounds.
func splitByRound(pods []*corev1.Pod, round int32) (current, stale []*corev1.Pod) {
	want := strconv.Itoa(int(round))
	for _, p := range pods {
		if p.Annotations[builder.AnnotationRound] == want {
			current = append(current, p)
		} else {
			stale = append(stale, p)
		}
	}
	return current, stale
}
