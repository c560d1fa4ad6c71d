// Creating a task's children: which of a round's objects are missing, in
// creation order, and creating them in slow-start batches of concurrent
// creates, adopting what this controller made before.

package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	schedulingv1beta1 "k8s.io/api/scheduling/v1beta1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
)

// missingChildren builds the round's config maps, services, PodGroups and
// pods and returns those the cache does not hold, in builder.CreationOrder:
// pods after everything else. Every party is built, under one render
// budget, before anything is created: a party whose config does not
// render, or whose pods break the security policy, must not leave the
// others' pods running.
func missingChildren(ctx context.Context, tc *taskContext, plan *builder.TaskPlan, round int32) ([]metav1.Object, error) {
	parties, err := builder.BuildTask(ctx, tc.task, plan, round)
	if err != nil {
		return nil, err
	}
	have := tc.children.names()
	var missing []metav1.Object
	for _, obj := range builder.CreationOrder(parties...) {
		if !have.Has(builder.KeyOf(obj)) {
			missing = append(missing, obj)
		}
	}
	return missing, nil
}

// errTaskGone stops a creation whose task was deleted (or replaced by a new
// task of the same name) meanwhile.
var errTaskGone = errors.New("the task was deleted while its children were being created")

// createChildren creates the objects of the task and returns those it
// created (or adopted), so a status computed after a failure sees what
// exists. The objects come in creation order (see missingChildren): pods
// after everything else. Each wave is created in slow-start batches
// (createBatches) of concurrent creates, as the ReplicaSet controller
// creates pods: a task costs a few round trips instead of one per object,
// and a refusal every object would meet (a quota, an admission policy) is
// met by a small batch, not by all.
//
// It stops after the first batch with an error, and returns the error that
// says most (errorToReport): errTaskGone, an *builder.InputError for a
// refusal a retry cannot fix, a *retryableError for one it may, or the
// context's error. Before each batch it checks that the sync is still
// wanted: the context is live and the task still exists, with the same
// UID, and is not being deleted. So deleting a task stops its creation
// within one batch.
func (c *Controller) createChildren(ctx context.Context, task *kusciav1alpha1.KusciaTask, objs []metav1.Object) ([]metav1.Object, error) {
	split := len(objs)
	for i, obj := range objs {
		if _, ok := obj.(*corev1.Pod); ok {
			split = i
			break
		}
	}
	var created []metav1.Object
	for _, wave := range [][]metav1.Object{objs[:split], objs[split:]} {
		for _, size := range createBatches(len(wave), c.maxCreateBatch) {
			if err := c.stillWanted(ctx, task); err != nil {
				return created, err
			}
			batch, err := c.createBatch(ctx, task, wave[:size])
			created = append(created, batch...)
			if err != nil {
				return created, err
			}
			wave = wave[size:]
		}
	}
	return created, nil
}

// firstCreateBatch is the size of the first batch of each wave.
const firstCreateBatch = 2

// DefaultMaxCreateBatch bounds the creates one sync has in flight.
const DefaultMaxCreateBatch = 16

// createBatches splits n creates into batches that double from
// firstCreateBatch up to limit: 10 objects in batches of 2, 4 and 4.
func createBatches(n, limit int) []int {
	var sizes []int
	for size := min(firstCreateBatch, limit); n > 0; size = min(2*size, limit) {
		sizes = append(sizes, min(size, n))
		n -= size
	}
	return sizes
}

// createBatch creates objs concurrently and returns those created, and the
// error to report of those that failed.
func (c *Controller) createBatch(ctx context.Context, task *kusciav1alpha1.KusciaTask, objs []metav1.Object) ([]metav1.Object, error) {
	created := make([]metav1.Object, len(objs))
	errs := make([]error, len(objs))
	if len(objs) == 1 {
		created[0], errs[0] = c.createChild(ctx, task, objs[0])
	} else {
		var wg sync.WaitGroup
		for i, obj := range objs {
			wg.Go(func() { created[i], errs[i] = c.createChild(ctx, task, obj) })
		}
		wg.Wait()
	}
	return slices.DeleteFunc(created, func(obj metav1.Object) bool { return obj == nil }), errorToReport(errs)
}

// errorToReport picks, of a batch's errors, the one that decides most: the
// task gone ends the sync, a refusal for good fails the task, one that may
// heal is retried. Nil when the batch had none.
func errorToReport(errs []error) error {
	rank := func(err error) int {
		var re *retryableError
		switch {
		case errors.Is(err, errTaskGone):
			return 0
		case isInputError(err):
			return 1
		case errors.As(err, &re):
			return 2
		}
		return 3
	}
	var worst error
	for _, err := range errs {
		if err != nil && (worst == nil || rank(err) < rank(worst)) {
			worst = err
		}
	}
	return worst
}

// createChild creates one child of task and returns it as the API server
// has it.
func (c *Controller) createChild(ctx context.Context, task *kusciav1alpha1.KusciaTask, obj metav1.Object) (metav1.Object, error) {
	switch o := obj.(type) {
	case *corev1.ConfigMap:
		return create(ctx, c, task, o, c.kubeClient.CoreV1().ConfigMaps(o.Namespace))
	case *corev1.Service:
		return create(ctx, c, task, o, c.kubeClient.CoreV1().Services(o.Namespace))
	case *schedulingv1beta1.PodGroup:
		return create(ctx, c, task, o, c.kubeClient.SchedulingV1beta1().PodGroups(o.Namespace))
	case *corev1.Pod:
		c.marker.Stamp(o, task.UID)
		return create(ctx, c, task, o, c.kubeClient.CoreV1().Pods(o.Namespace))
	}
	return nil, fmt.Errorf("cannot create a %T", obj)
}

// stillWanted reports errTaskGone when the task went from the cache (or
// came back with another UID, or is being deleted), and the context's error
// when the sync is cancelled.
func (c *Controller) stillWanted(ctx context.Context, task *kusciav1alpha1.KusciaTask) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	current, err := c.getTask(task.Name)
	if apierrors.IsNotFound(err) || (err == nil && (current.UID != task.UID || current.DeletionTimestamp != nil)) {
		return errTaskGone
	}
	return err
}

// createGetter is the part of a typed client that create needs.
type createGetter[T metav1.Object] interface {
	Create(ctx context.Context, obj T, opts metav1.CreateOptions) (T, error)
	Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error)
}

// create creates obj and returns what the API server returned. An object
// of the same name that already exists is adopted only when the task
// controls it, and a pod only when it carries this controller's mark for
// the same round (adoptable); anyone else's object in the way fails the
// task. It returns a nil interface, not a typed nil, on error.
func create[T metav1.Object](ctx context.Context, c *Controller, task *kusciav1alpha1.KusciaTask, obj T, client createGetter[T]) (metav1.Object, error) {
	kind := builder.KindOf(obj)
	c.expectations.creating(task.Name, kind, obj)
	created, err := client.Create(ctx, obj, metav1.CreateOptions{FieldManager: ControllerName})
	if err == nil {
		klog.FromContext(ctx).V(4).Info("Created", "object", klog.KObj(obj), "kind", kind)
		c.requeueIfMissed(task.Name, kind, c.expectations.created(task.Name, kind, created))
		return created, nil
	}
	c.requeueIfMissed(task.Name, kind, c.expectations.createFailed(task.Name, kind, obj))
	if !apierrors.IsAlreadyExists(err) {
		return nil, createError(builder.KeyOf(obj), err)
	}
	existing, getErr := client.Get(ctx, obj.GetName(), metav1.GetOptions{})
	if getErr != nil {
		return nil, &retryableError{reason: kusciav1alpha1.ReasonCreateFailed, err: fmt.Errorf("get existing %s: %w", builder.KeyOf(obj), getErr)}
	}
	if !metav1.IsControlledBy(existing, task) {
		return nil, &builder.InputError{
			Reason:  kusciav1alpha1.ReasonResourceConflict,
			Message: builder.KeyOf(obj) + " already exists and does not belong to this task; delete or rename it",
		}
	}
	if want, ok := any(obj).(*corev1.Pod); ok {
		if err := c.adoptable(task, want, any(existing).(*corev1.Pod)); err != nil {
			return nil, err
		}
	}
	c.requeueIfMissed(task.Name, kind, c.expectations.created(task.Name, kind, existing))
	return existing, nil
}

// requeueIfMissed queues the task for an event of a child of kind that
// was parked while the child was being created and was not the create's
// own echo (see expectations.creating).
func (c *Controller) requeueIfMissed(task, kind string, missed bool) {
	if missed {
		c.causes.note(task, childCause(kind))
		c.lanes.addFast(c.queue, cache.ObjectName{Name: task})
	}
}

func isInputError(err error) bool {
	_, ok := builder.AsInputError(err)
	return ok
}
