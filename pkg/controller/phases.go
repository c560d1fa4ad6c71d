package controller

import (
	"context"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
	"kusciatask.io/controller/pkg/reservation"
	"kusciatask.io/controller/pkg/status"
)

// phaseHandler does the side effects of one phase (create, delete) and says
// what it found; the status package turns that into the next status.
type phaseHandler func(ctx context.Context, tc *taskContext) (phaseResult, error)

// phaseResult is what a phase handler hands to the status computation and
// to the queue.
type phaseResult struct {
	outcome status.Outcome
	// requeueAt is the next deadline (a reservation timer), or zero.
	requeueAt time.Time
}

// phaseHandlers maps each non-terminal phase to its handler. Terminal phases
// share finish, called directly by the sync.
func (c *Controller) phaseHandlers() map[kusciav1alpha1.KusciaTaskPhase]phaseHandler {
	return map[kusciav1alpha1.KusciaTaskPhase]phaseHandler{
		kusciav1alpha1.TaskPending: c.handlePending,
		kusciav1alpha1.TaskRunning: c.handleRunning,
	}
}

// handlePending creates the task's resources and drives the reservation
// rounds: it creates a round's pods, waits, releases a failed round, or lets
// a reserved gang run (dropping the parties it goes without).
func (c *Controller) handlePending(ctx context.Context, tc *taskContext) (phaseResult, error) {
	task, plan := tc.task, tc.plan
	prev := task.Status.Reservation
	round := currentRound(prev)
	roundPods, stale := splitByRound(tc.children.pods, round)
	if err := c.deletePods(ctx, task, stale); err != nil {
		return phaseResult{}, err
	}
	start := tc.now
	if task.Status.StartTime != nil {
		start = task.Status.StartTime.Time
	}
	d := reservation.Evaluate(plan.Schedule, prev, start, reservationParties(plan, roundPods), tc.now)
	if d.Action == reservation.ActionCreate && len(tc.children.pods) > 0 && round != d.State.Round {
		// Pods of the last round are still going away; their delete events
		// bring the task back.
		klog.FromContext(ctx).V(4).Info("Waiting for the pods of the last round to go", "round", round)
		return phaseResult{}, nil
	}

	created := false
	var err error
	switch d.Action {
	case reservation.ActionCreate:
		if created, err = c.ensureResources(ctx, tc, d.State.Round); err == nil {
			// Report the new round as the next sync will see it.
			d = reservation.Evaluate(plan.Schedule, &d.State, start, reservationParties(plan, tc.children.pods), tc.now)
		}
	case reservation.ActionWait:
		if d.State.ReleasedTime == nil {
			created, err = c.ensureResources(ctx, tc, d.State.Round)
		}
	case reservation.ActionReserved:
		err = c.deletePods(ctx, task, podsOfParties(roundPods, d.UnreservedParties))
	case reservation.ActionRelease:
		err = c.deletePods(ctx, task, roundPods)
	}
	if err != nil {
		return phaseResult{}, err
	}
	return phaseResult{
		outcome:   status.Outcome{ResourcesCreated: created, Reservation: &d},
		requeueAt: d.RequeueAt,
	}, nil
}

// handleRunning keeps a running task tidy: the parties a partial gang went
// without keep no pods. Party and task phases come from the pods, in status.
func (c *Controller) handleRunning(ctx context.Context, tc *taskContext) (phaseResult, error) {
	res := tc.task.Status.Reservation
	if res == nil {
		return phaseResult{}, nil
	}
	var dropped []string
	for _, p := range tc.plan.Parties {
		if !slices.Contains(res.ReservedParties, p.DomainID) {
			dropped = append(dropped, p.DomainID)
		}
	}
	return phaseResult{}, c.deletePods(ctx, tc.task, podsOfParties(tc.children.pods, dropped))
}

// finish is the shared step of Succeeded and Failed: pods still pending or
// running are deleted (a failed peer must not leave the others burning
// CPU); terminated pods stay for their logs until the task is deleted.
func (c *Controller) finish(ctx context.Context, task *kusciav1alpha1.KusciaTask, ch children) error {
	var live []*corev1.Pod
	for _, p := range ch.pods {
		if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			live = append(live, p)
		}
	}
	return c.deletePods(ctx, task, live)
}

func currentRound(res *kusciav1alpha1.ReservationStatus) int32 {
	if res == nil || res.Round == 0 {
		return 1
	}
	return res.Round
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

func reservationParties(plan *builder.TaskPlan, pods []*corev1.Pod) []reservation.Party {
	parties := make([]reservation.Party, 0, len(plan.Parties))
	for _, p := range plan.Parties {
		parties = append(parties, reservation.Party{
			DomainID:        p.DomainID,
			MinReservedPods: p.MinReservedPods,
			Replicas:        p.Replicas,
			Pods:            podsOfParties(pods, []string{p.DomainID}),
		})
	}
	return parties
}

func podsOfParties(pods []*corev1.Pod, domains []string) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range pods {
		if slices.Contains(domains, p.Labels[kusciav1alpha1.LabelParty]) {
			out = append(out, p)
		}
	}
	return out
}
