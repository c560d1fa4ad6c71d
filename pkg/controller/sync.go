// One sync of one task, in one straight line: read (the task, its
// children), decide (the phase handler: status, reservation, what to
// create, stop and open), act (the status written or held, stops, gate
// patches, creates, Events), requeue.

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

// taskContext is what one sync knows about one task. The acts that change
// what the sync knows (a status written or held, children created) return
// a new taskContext; none changes the one it is given.
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

// reading is tc reading the task as stored and viewed next.
func (tc *taskContext) reading(stored, view *kusciav1alpha1.KusciaTask) *taskContext {
	next := *tc
	next.stored, next.task = stored, view
	return &next
}

// withCreated is tc with the children the sync created (or adopted) added.
func (tc *taskContext) withCreated(objs []metav1.Object) *taskContext {
	next := *tc
	next.children = tc.children.with(objs)
	return &next
}

// syncHandler reconciles one task: it reads the task, the phase handler
// decides the step (an input error fails the task and is not retried),
// and carryOut acts on it; other errors are returned for a rate-limited
// retry.
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
	st, err := c.decide(ctx, tc)
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

// decide runs the handler of the stored task's phase; an input error
// decides to fail the task.
func (c *Controller) decide(ctx context.Context, tc *taskContext) (step, error) {
	st, err := c.handlerFor(tc.stored.Status.Phase)(ctx, tc)
	if ie, ok := builder.AsInputError(err); ok {
		klog.FromContext(ctx).Info("Task failed on its input", "reason", ie.Reason, "message", ie.Message)
		return failedStep(tc, st.roster, ie), nil
	}
	return st, err
}

// carryOut acts on the step, each act once and in this order: the status
// written (or held, see commitStatus), a tampered phase reported (and
// nothing else), the pods stopped, the gates opened, the children created.
// A create the API server refuses for good fails the task in the same
// sync (and stops what was created); one that may heal is told in status
// and retried, at the latest at the step's deadline.
func (c *Controller) carryOut(ctx context.Context, tc *taskContext, st step) (syncResult, error) {
	tc, hold, err := c.commitStatus(ctx, tc, st.next)
	if err != nil {
		return syncResult{}, err
	}
	if st.tampered != "" {
		return syncResult{}, c.reportTampered(ctx, tc, st)
	}
	res := nextSync(st.requeueAt, hold, tc.now)
	if err := c.stopPods(ctx, tc.task, st.next.Stop); err != nil {
		c.syncFailed(tc.task, err)
		return res, err
	}
	if err := c.patchGates(ctx, tc.task, st.next.Open); err != nil {
		c.syncFailed(tc.task, err)
		return res, err
	}
	create := st.create
	if len(create) > c.createChunk {
		// The rest in the next sync: a large task never holds a worker
		// for long, and other tasks get their turn in between.
		create, res.requeue = create[:c.createChunk], true
	}
	created, err := c.createChildren(ctx, tc.task, create)
	var re *retryableError
	switch ie, refused := builder.AsInputError(err); {
	case refused:
		klog.FromContext(ctx).Info("The API server refused a child", "reason", ie.Reason, "message", ie.Message)
		tc = tc.withCreated(created)
		return syncResult{}, c.failTask(ctx, tc, failedStep(tc, st.roster, ie))
	case errors.As(err, &re):
		return c.tellCreateFailed(ctx, tc, res, err, status.CreateFailed(tc.task.Status, re.reason, re.Error(), tc.now))
	}
	return res, err
}

// nextSync is when to sync again: at the step's deadline, or when the
// held status is due if that comes first.
func nextSync(requeueAt time.Time, hold time.Duration, now time.Time) syncResult {
	res := syncResult{requeueAfter: requeueDelay(requeueAt, now)}
	if hold > 0 && (res.requeueAfter == 0 || hold < res.requeueAfter) {
		res.requeueAfter = hold
	}
	return res
}

// commitStatus writes the next status when it differs from the stored one,
// unless it may wait (status.MayWait): then it is held, and written by the
// first sync after statusBatchDelay, so the steps of a burst (a round's
// objects created, its pods scheduled and started) reach the API server as
// one write. It returns the task as the sync reads it next, and how long
// the status is held (0 once written).
func (c *Controller) commitStatus(ctx context.Context, tc *taskContext, n status.Next) (*taskContext, time.Duration, error) {
	stored := tc.stored
	if !status.Changed(&stored.Status, &n.Status) {
		c.held.drop(stored.Name)
		return tc.reading(stored, stored), 0, nil
	}
	if c.statusBatchDelay > 0 && status.MayWait(&stored.Status, n) {
		since := c.held.hold(stored, n.Status, tc.now)
		if wait := since.Add(c.statusBatchDelay).Sub(tc.now); wait > 0 {
			klog.FromContext(ctx).V(5).Info("Holding the status", "for", wait)
			return tc.reading(stored, c.held.view(stored)), wait, nil
		}
	}
	written, err := c.writeNow(ctx, stored, n.Status)
	if err != nil {
		return nil, 0, err
	}
	return tc.reading(written, written), 0, nil
}

// failTask carries out a step that fails the task after a create the API
// server refused for good: its status written at once (a failed status
// never waits, see status.MayWait, and opens no gate), then its pods
// stopped.
func (c *Controller) failTask(ctx context.Context, tc *taskContext, failed step) error {
	written, err := c.writeNow(ctx, tc.stored, failed.next.Status)
	if err != nil {
		return err
	}
	if err := c.stopPods(ctx, written, failed.next.Stop); err != nil {
		c.syncFailed(written, err)
		return err
	}
	return nil
}

// tellCreateFailed writes s, the status that tells why a create that may
// heal failed (err), and says when to try again: a quota at a steady
// pace, anything else with the queue's backoff (err is returned).
func (c *Controller) tellCreateFailed(ctx context.Context, tc *taskContext, res syncResult, err error, s kusciav1alpha1.KusciaTaskStatus) (syncResult, error) {
	if _, werr := c.writeNow(ctx, tc.stored, s); werr != nil {
		return res, errors.Join(err, werr)
	}
	if s.Reason == kusciav1alpha1.ReasonResourceQuotaExceeded {
		// A quota frees up as other pods finish: look again at a steady
		// pace (status tells why the task waits), not with a backoff that
		// could outgrow the task's lifecycle.
		if res.requeueAfter == 0 || res.requeueAfter > quotaRetryInterval {
			res.requeueAfter = quotaRetryInterval
		}
		return res, nil
	}
	c.syncFailed(tc.task, err)
	return res, err
}

// writeNow writes s over the stored task, forgets what is held for it and
// returns the task as written.
func (c *Controller) writeNow(ctx context.Context, stored *kusciav1alpha1.KusciaTask, s kusciav1alpha1.KusciaTaskStatus) (*kusciav1alpha1.KusciaTask, error) {
	written, err := c.writeStatus(ctx, stored, s)
	if err != nil {
		return nil, err
	}
	c.held.drop(written.Name)
	return written, nil
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
	c.ownWrites.begin(task.Name)
	written, err := c.kusciaClient.KusciaV1alpha1().KusciaTasks().UpdateStatus(ctx, updated, metav1.UpdateOptions{FieldManager: ControllerName})
	if err != nil {
		c.endOwnWrite(task.Name, "")
	} else {
		c.endOwnWrite(task.Name, written.ResourceVersion)
	}
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
