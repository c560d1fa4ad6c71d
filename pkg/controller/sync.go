package controller

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
	"kusciatask.io/controller/pkg/status"
)

// EventSyncFailed is the reason of the Warning recorded when a sync fails
// for a reason that a retry may fix (the API server unreachable, a quota).
const EventSyncFailed = "SyncFailed"

// taskContext is what one sync knows about one task.
type taskContext struct {
	task     *kusciav1alpha1.KusciaTask
	plan     *builder.TaskPlan
	children children
	now      time.Time
}

// syncHandler reconciles one task: resolve it, run its phase handler, write
// the status computed from the outcome. Input errors fail the task and are
// not retried; other errors are returned for a rate-limited retry.
func (c *Controller) syncHandler(ctx context.Context, key cache.ObjectName) (syncResult, error) {
	logger := klog.FromContext(ctx)
	task, err := c.taskLister.Get(key.Name)
	if apierrors.IsNotFound(err) {
		logger.V(4).Info("Task is gone")
		return syncResult{}, nil
	}
	if err != nil {
		return syncResult{}, fmt.Errorf("get task %s: %w", key.Name, err)
	}
	if task.Status.Phase.IsTerminal() {
		return syncResult{}, c.finish(ctx, task, c.childrenOf(task))
	}

	tc := &taskContext{task: task, children: c.childrenOf(task), now: c.clock.Now()}
	var out phaseResult
	tc.plan, err = c.plan(tc)
	if err == nil {
		out, err = c.handle(ctx, tc)
	}
	if ie, ok := builder.AsInputError(err); ok {
		logger.Info("Task failed on its input", "reason", ie.Reason, "message", ie.Message)
		out, err = phaseResult{outcome: status.Outcome{Failure: ie}}, nil
	}
	if err != nil {
		// Retried with backoff; the Event says why on the task itself.
		// (A status write's routine conflict returns below, untold.)
		c.recorder.Event(task, corev1.EventTypeWarning, EventSyncFailed, err.Error())
		return syncResult{}, err
	}

	s := status.Compute(status.Input{
		Task:     task,
		Plan:     tc.plan,
		Pods:     tc.children.pods,
		Services: tc.children.services,
		Now:      tc.now,
		Outcome:  out.outcome,
	})
	if err := c.writeStatus(ctx, task, s); err != nil {
		return syncResult{}, err
	}
	return syncResult{requeueAfter: requeueDelay(out.requeueAt, tc.now)}, nil
}

// handle runs the handler of the task's phase. A phase no handler knows
// (someone wrote status by hand) fails the task rather than the worker.
func (c *Controller) handle(ctx context.Context, tc *taskContext) (phaseResult, error) {
	handler, ok := c.handlers[phaseOf(tc.task)]
	if !ok {
		return phaseResult{}, &builder.InputError{
			Reason:  kusciav1alpha1.ReasonUnknownPhase,
			Message: fmt.Sprintf("status.phase %q is not a phase of a KusciaTask", tc.task.Status.Phase),
		}
	}
	return handler(ctx, tc)
}

// requeueDelay turns a deadline into a queue delay; deadlines within the
// second round up to a second so a timer never spins.
func requeueDelay(at, now time.Time) time.Duration {
	if at.IsZero() {
		return 0
	}
	return max(at.Sub(now), time.Second)
}

func phaseOf(task *kusciav1alpha1.KusciaTask) kusciav1alpha1.KusciaTaskPhase {
	if task.Status.Phase == "" {
		return kusciav1alpha1.TaskPending
	}
	return task.Status.Phase
}

// plan resolves the task. A Pending task follows its AppImages (a new round
// uses the current templates); a Running one keeps the shape its pods were
// created with.
func (c *Controller) plan(tc *taskContext) (*builder.TaskPlan, error) {
	if phaseOf(tc.task) == kusciav1alpha1.TaskRunning {
		return builder.PlanStarted(tc.task, builder.PartyReplicas(tc.task, tc.children.pods))
	}
	return builder.PlanTask(tc.task, c.inputsFor(tc.task))
}

// inputsFor collects the AppImages and namespaces the task refers to.
func (c *Controller) inputsFor(task *kusciav1alpha1.KusciaTask) builder.Inputs {
	in := builder.Inputs{
		AppImages:  map[string]*kusciav1alpha1.AppImage{},
		Namespaces: map[string]*corev1.Namespace{},
		Policy:     c.policy,
	}
	for _, p := range task.Spec.Parties {
		if img, err := c.appImageLister.Get(p.AppImageRef); err == nil {
			in.AppImages[p.AppImageRef] = img
		}
		if ns, err := c.namespaceLister.Get(p.DomainID); err == nil {
			in.Namespaces[p.DomainID] = ns
		}
	}
	return in
}

// writeStatus writes s through the status subresource when it differs from
// the stored status, then records the Events of the transition.
func (c *Controller) writeStatus(ctx context.Context, task *kusciav1alpha1.KusciaTask, s kusciav1alpha1.KusciaTaskStatus) error {
	if !status.Changed(&task.Status, &s) {
		return nil
	}
	updated := task.DeepCopy()
	updated.Status = s
	_, err := c.kusciaClient.KusciaV1alpha1().KusciaTasks().UpdateStatus(ctx, updated, metav1.UpdateOptions{FieldManager: ControllerName})
	if err != nil {
		return fmt.Errorf("update status of task %s: %w", task.Name, err)
	}
	logger := klog.FromContext(ctx)
	if task.Status.Phase != s.Phase {
		logger.Info("Task changed phase", "from", task.Status.Phase, "to", s.Phase, "reason", s.Reason)
	}
	for _, e := range status.Events(&task.Status, &s, len(task.Spec.Parties)) {
		c.recorder.Event(task, e.Type, e.Reason, e.Message)
	}
	return nil
}
