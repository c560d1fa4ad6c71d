package builder

// This file holds what kubectl-kuscia validate reads of a task: its
// partial plan and every problem, where the controller's PlanTask and
// BuildTask stop at the first.

import (
	"context"
	"fmt"
	"slices"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// Check is a task resolved and built as far as its input allows: what
// `kubectl kuscia validate` reports.
type Check struct {
	// Plan is nil when the spec cannot be planned at all (no parties, too
	// many, a bad scheduleConfig).
	Plan *PartialPlan
	// Parties are the objects of each party of Plan, in spec order; nil
	// for a blocked party. With problems, they are what the controller
	// would build, not what it would create: it creates nothing of a task
	// with a problem.
	Parties []*PartyObjects
	// Problems are every problem of the input, in the order PlanTask and
	// BuildTask meet them.
	Problems []*InputError
}

// PartialPlan is a task planned as far as its input allows, for Check
// alone: a party that cannot be planned (no AppImage, no deploy template,
// a size out of bounds) is blocked and has no pods, so the other parties
// are still planned and built. The controller's plan comes from PlanTask,
// which returns one only when the input has no problem: no party of it is
// blocked.
type PartialPlan struct {
	// TaskPlan has every party in spec order; a blocked one holds what
	// was resolved before its problem (at least its DomainID and Role).
	TaskPlan
	// Blocked says, by party index, which parties could not be planned
	// (a problem says why).
	Blocked []bool
}

// complete is the plan when no party is blocked, the one way a PartialPlan
// becomes the controller's TaskPlan. Every blocked party comes with a
// problem, so PlanTask, which stops on problems first, never meets one.
func (p *PartialPlan) complete() (*TaskPlan, error) {
	if i := slices.Index(p.Blocked, true); i >= 0 {
		return nil, fmt.Errorf("party %s of the plan is blocked without a problem", p.Parties[i].DomainID)
	}
	return &p.TaskPlan, nil
}

// CheckTask resolves and builds a task with the controller's own code
// (PlanTask, then BuildTask for the given round), but does not stop at the
// first problem: every party is planned and built as far as it can be, and
// every problem is returned. The error is for anything but the input (the
// context ending).
func CheckTask(ctx context.Context, task *kusciav1alpha1.KusciaTask, in Inputs, round int32) (*Check, error) {
	plan, probs, err := planTask(task, in)
	if err != nil {
		return nil, err
	}
	c := &Check{Plan: plan}
	if plan != nil {
		parties, built, err := buildTask(ctx, task, &plan.TaskPlan, plan.Blocked, round)
		if err != nil {
			return nil, err
		}
		c.Parties = parties
		for _, ie := range built {
			_ = probs.add(ie)
		}
	}
	c.Problems = probs
	return c, nil
}
