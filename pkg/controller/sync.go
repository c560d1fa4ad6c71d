// One sync of one task: read, decide (the phase handler), act (stops, gate
// patches, creates, one status write, Events), requeue.

package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
	"kusciatask.io/controller/pkg/controller/informers"
	"kusciatask.io/controller/pkg/podgroup"
	"kusciatask.io/controller/pkg/status"
)

// EventSyncFailed is the reason of the Warning recorded when a sync fails
// for a reason that a retry may fix (the API server unreachable, a quota).
const EventSyncFailed = "SyncFailed"

// syncFailed records the SyncFailed Warning of a sync that failed, but not
// when the API server gave no answer at all: an Event could not be written
// then either, and the recorder would log each one it fails to write.
func (c *Controller) syncFailed(task *kusciav1alpha1.KusciaTask, err error) {
	if !noResponse(err) {
		c.recorder.Event(task, corev1.EventTypeWarning, EventSyncFailed, err.Error())
	}
}

// taskContext is what one sync knows about one task.
type taskContext struct {
	// stored is the task as last read or written; task is the same task
	// with its held status, if any (see heldStatuses): what the sync
	// decides from.
	stored   *kusciav1alpha1.KusciaTask
	task     *kusciav1alpha1.KusciaTask
	children children
	now      time.Time
}

// input is what the status package computes a status from.
func (tc *taskContext) input(roster *builder.Roster) status.Input {
	return status.Input{Task: tc.task, Roster: roster, Pods: tc.children.pods, Services: tc.children.services, Now: tc.now,
		Start: startTime(tc), GroupMessages: podgroup.NotScheduledByParty(tc.children.podGroups)}
}

// syncHandler reconciles one task: the handler of its phase decides the
// next status and what to create and delete; the status is written first,
// then the decision is carried out. Input errors fail the task and are not
// retried; other errors are returned for a rate-limited retry.
func (c *Controller) syncHandler(ctx context.Context, key cache.ObjectName) (syncResult, error) {
	logger := klog.FromContext(ctx)
	task, err := c.getTask(key.Name)
	if apierrors.IsNotFound(err) {
		logger.V(4).Info("Task is gone")
		c.expectations.forget(key.Name)
		c.held.drop(key.Name)
		return syncResult{}, nil
	}
	if err != nil {
		return syncResult{}, fmt.Errorf("get task %s: %w", key.Name, err)
	}
	if wait := c.expectations.wait(key.Name, c.findChild); wait > 0 {
		logger.V(4).Info("Waiting for the informers to show this controller's own creates and deletes")
		return syncResult{requeueAfter: wait}, nil
	}
	tc := &taskContext{stored: task, task: c.held.view(task), children: c.childrenOf(task), now: c.clock.Now()}
	c.reportForeign(ctx, task, tc.children.foreign)
	st, err := c.handlerFor(task.Status.Phase)(ctx, tc)
	if ie, ok := builder.AsInputError(err); ok {
		logger.Info("Task failed on its input", "reason", ie.Reason, "message", ie.Message)
		st, err = failedStep(tc, st.roster, ie), nil
	}
	if err != nil {
		c.syncFailed(task, err)
		return syncResult{}, err
	}
	res, err := c.carryOut(ctx, tc, st)
	if errors.Is(err, errTaskGone) {
		// Deleted after the informer's last word (found by a status write,
		// or between creates): its delete event comes.
		logger.V(2).Info("Task deleted meanwhile; stopped", "err", err)
		c.held.drop(key.Name)
		return syncResult{}, nil
	}
	return res, err
}

// carryOut writes the step's status (or holds it, see commitStatus), then
// stops its pods and creates its children. A create the API server refuses
// for good fails the task in the same sync (and stops what was created);
// one that may heal is told in status and retried, at the latest at the
// step's deadline.
func (c *Controller) carryOut(ctx context.Context, tc *taskContext, st step) (syncResult, error) {
	hold, err := c.commitStatus(ctx, tc, st.next)
	if err != nil {
		return syncResult{}, err
	}
	if st.tampered != "" {
		return syncResult{}, c.reportTampered(ctx, tc, st)
	}
	task := tc.task
	res := syncResult{requeueAfter: requeueDelay(st.requeueAt, tc.now)}
	if hold > 0 && (res.requeueAfter == 0 || hold < res.requeueAfter) {
		res.requeueAfter = hold
	}
	if err := c.stopPods(ctx, task, st.next.Stop); err != nil {
		c.syncFailed(task, err)
		return res, err
	}
	if err := c.patchGates(ctx, task, st.next.Open); err != nil {
		c.syncFailed(task, err)
		return res, err
	}
	create := st.create
	if len(create) > c.createChunk {
		// The rest in the next sync: a large task never holds a worker
		// for long, and other tasks get their turn in between.
		create, res.requeue = create[:c.createChunk], true
	}
	err = c.createChildren(ctx, tc, create)
	if ie, ok := builder.AsInputError(err); ok {
		klog.FromContext(ctx).Info("The API server refused a child", "reason", ie.Reason, "message", ie.Message)
		return c.carryOut(ctx, tc, failedStep(tc, st.roster, ie))
	}
	var re *retryableError
	if !errors.As(err, &re) {
		return res, err
	}
	s := status.CreateFailed(task.Status, re.reason, re.Error(), tc.now)
	if werr := c.writeNow(ctx, tc, s); werr != nil {
		return res, errors.Join(err, werr)
	}
	if re.reason == kusciav1alpha1.ReasonResourceQuotaExceeded {
		// A quota frees up as other pods finish: look again at a steady
		// pace (status tells why the task waits), not with a backoff that
		// could outgrow the task's lifecycle.
		if res.requeueAfter == 0 || res.requeueAfter > quotaRetryInterval {
			res.requeueAfter = quotaRetryInterval
		}
		return res, nil
	}
	c.syncFailed(task, err)
	return res, err
}

// commitStatus writes the next status when it differs from the stored one,
// unless it may wait (status.MayWait): then it is held, and written by the
// first sync after statusBatchDelay, so the steps of a burst (a round's
// objects created, its pods scheduled and started) reach the API server as
// one write. It returns how long the status is held, or 0 once written.
func (c *Controller) commitStatus(ctx context.Context, tc *taskContext, n status.Next) (time.Duration, error) {
	stored := tc.stored
	if !status.Changed(&stored.Status, &n.Status) {
		c.held.drop(stored.Name)
		tc.task = stored
		return 0, nil
	}
	if c.statusBatchDelay > 0 && status.MayWait(&stored.Status, n) {
		since := c.held.hold(stored, n.Status, tc.now)
		if wait := since.Add(c.statusBatchDelay).Sub(tc.now); wait > 0 {
			klog.FromContext(ctx).V(5).Info("Holding the status", "for", wait)
			tc.task = c.held.view(stored)
			return wait, nil
		}
	}
	return 0, c.writeNow(ctx, tc, n.Status)
}

// writeNow writes s over the stored task and makes the written task the
// sync's view.
func (c *Controller) writeNow(ctx context.Context, tc *taskContext, s kusciav1alpha1.KusciaTaskStatus) error {
	written, err := c.writeStatus(ctx, tc.stored, s)
	if err != nil {
		return err
	}
	c.held.drop(written.Name)
	tc.stored, tc.task = written, written
	return nil
}

// quotaRetryInterval is how often a task held back by a ResourceQuota tries
// again.
const quotaRetryInterval = 10 * time.Second

// requeueDelay turns a deadline into a queue delay; deadlines within the
// second round up to a second so a timer never spins.
func requeueDelay(at, now time.Time) time.Duration {
	if at.IsZero() {
		return 0
	}
	return max(at.Sub(now), time.Second)
}

// getTask reads a task as the informer has it, or as this controller last
// wrote it when that is newer: a sync never acts on a status older than
// its own last write.
func (c *Controller) getTask(name string) (*kusciav1alpha1.KusciaTask, error) {
	obj, found, err := c.tasks.GetByKey(name)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, apierrors.NewNotFound(kusciav1alpha1.Resource("kusciatasks"), name)
	}
	task, ok := obj.(*kusciav1alpha1.KusciaTask)
	if !ok {
		return nil, fmt.Errorf("task cache holds a %T", obj)
	}
	return task, nil
}

// inputsFor collects the AppImages and namespaces the task refers to. What
// the informers lack is read from the API server before it counts as
// missing: a missing AppImage or domain fails the task for good, and an
// AppImage or namespace created just before the task may not have reached
// the informer yet.
func (c *Controller) inputsFor(ctx context.Context, tc *taskContext) (builder.Inputs, error) {
	task := tc.task
	in := builder.Inputs{
		AppImages:  map[string]*kusciav1alpha1.AppImage{},
		Namespaces: map[string]*corev1.Namespace{},
		Policy:     c.policy,
		Start:      startTime(tc),
	}
	for _, p := range task.Spec.Parties {
		img, err := c.appImageLister.Get(p.AppImageRef)
		if apierrors.IsNotFound(err) {
			img, err = c.kusciaClient.KusciaV1alpha1().AppImages().Get(ctx, p.AppImageRef, metav1.GetOptions{})
		}
		if err := notFoundOrNil(err); err != nil {
			return in, fmt.Errorf("get AppImage %s: %w", p.AppImageRef, err)
		}
		if img != nil && err == nil {
			in.AppImages[p.AppImageRef] = img
		}
		ns, err := c.namespaceLister.Get(p.DomainID)
		if apierrors.IsNotFound(err) {
			ns, err = c.kubeClient.CoreV1().Namespaces().Get(ctx, p.DomainID, metav1.GetOptions{})
		}
		if err := notFoundOrNil(err); err != nil {
			return in, fmt.Errorf("get namespace %s: %w", p.DomainID, err)
		}
		if ns != nil && err == nil {
			in.Namespaces[p.DomainID] = ns
		}
	}
	return in, nil
}

// notFoundOrNil is err unless it says NotFound (the input is missing: the
// plan says so with a reason).
func notFoundOrNil(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// writeStatus writes s through the status subresource when it differs from
// the stored status, records the Events of the transition and returns the
// task as written. The written task goes into the task cache, so the next
// sync sees it even before the informer does.
func (c *Controller) writeStatus(ctx context.Context, task *kusciav1alpha1.KusciaTask, s kusciav1alpha1.KusciaTaskStatus) (*kusciav1alpha1.KusciaTask, error) {
	if !status.Changed(&task.Status, &s) {
		return task, nil
	}
	if task.Status.Phase.IsTerminal() {
		// Final, and cached without its pods' and services' reports
		// (informers.TrimTask): a write from this copy would drop them.
		return nil, fmt.Errorf("update status of task %s: the status of a %s task is final", task.Name, task.Status.Phase)
	}
	updated := task.DeepCopy()
	updated.Status = s
	written, err := c.kusciaClient.KusciaV1alpha1().KusciaTasks().UpdateStatus(ctx, updated, metav1.UpdateOptions{FieldManager: ControllerName})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("update status of task %s: %w", task.Name, errTaskGone)
	}
	if err != nil {
		return nil, fmt.Errorf("update status of task %s: %w", task.Name, err)
	}
	// Cached as the informer would hold it (informers.Trimmer), not whole with
	// managed fields and, for a finished task, its input; and dropped at
	// once when the informer showed the write before this line (a read
	// drops a copy the informer has caught up with).
	written = informers.TrimTask(written)
	c.tasks.Mutation(written)
	_, _, _ = c.tasks.GetByKey(written.Name)
	logger := klog.FromContext(ctx)
	if task.Status.Phase != s.Phase {
		logger.Info("Task changed phase", "from", task.Status.Phase, "to", s.Phase, "reason", s.Reason)
	}
	for _, e := range status.Events(&task.Status, &s) {
		c.recorder.Event(task, e.Type, e.Reason, e.Message)
	}
	c.metrics.ObserveTransition(&task.Status, &s)
	return written, nil
}
