package controller

import (
	"context"
	"errors"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	schedulingv1beta1 "k8s.io/api/scheduling/v1beta1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
	"kusciatask.io/controller/pkg/controller/informers"
)

// children are the objects a task controls, as the informers see them.
type children struct {
	pods       []*corev1.Pod
	services   []*corev1.Service
	configMaps []*corev1.ConfigMap
	podGroups  []*schedulingv1beta1.PodGroup
	// foreign are pods the task controls that this controller did not
	// make (no valid mark): never counted, opened, stopped or reported.
	foreign []*corev1.Pod
}

// childrenOf looks the task's children up by its UID; only objects the task
// controls count (a label alone is easy to copy), and of pods only those
// carrying this controller's mark (an owner reference is easy to copy
// too).
func (c *Controller) childrenOf(task *kusciav1alpha1.KusciaTask) children {
	ch := children{
		services:   controlledBy[*corev1.Service](c.serviceIndexer, task),
		configMaps: controlledBy[*corev1.ConfigMap](c.configMapIndexer, task),
	}
	ch.pods, ch.foreign = c.splitMarked(task, controlledBy[*corev1.Pod](c.podIndexer, task))
	if c.podGroupIndexer != nil {
		ch.podGroups = controlledBy[*schedulingv1beta1.PodGroup](c.podGroupIndexer, task)
	}
	return ch
}

func controlledBy[T metav1.Object](indexer cache.Indexer, task *kusciav1alpha1.KusciaTask) []T {
	objs, err := indexer.ByIndex(informers.IndexByTaskUID, string(task.UID))
	if err != nil {
		return nil
	}
	out := make([]T, 0, len(objs))
	for _, o := range objs {
		if t, ok := o.(T); ok && metav1.IsControlledBy(t, task) {
			out = append(out, t)
		}
	}
	return out
}

// findChild looks a child up in its informer cache by kind and
// "namespace/name"; it backs the expectations.
func (c *Controller) findChild(kind, key string) (metav1.Object, bool) {
	indexer := map[string]cache.Indexer{kindPod: c.podIndexer, kindPodGate: c.podIndexer, kindService: c.serviceIndexer,
		kindConfigMap: c.configMapIndexer, kindPodGroup: c.podGroupIndexer}[kind]
	if indexer == nil {
		return nil, false
	}
	obj, found, err := indexer.GetByKey(key)
	if err != nil || !found {
		return nil, false
	}
	m, ok := obj.(metav1.Object)
	return m, ok
}

// missingChildren builds the round's config maps, services, PodGroups and
// pods and returns those the cache does not hold, in two waves: every
// party's config maps, services and PodGroups, then every party's pods (a
// pod mounts its config map, its peers dial its services, and the scheduler
// holds a party's pods until their PodGroup exists). Every party is built,
// under one render budget, before anything is created: a party whose config
// does not render, or whose pods break the security policy, must not leave
// the others' pods running.
func missingChildren(ctx context.Context, tc *taskContext, plan *builder.TaskPlan, round int32) ([]metav1.Object, error) {
	parties, err := builder.BuildTask(ctx, tc.task, plan, round)
	if err != nil {
		return nil, err
	}
	have := tc.children.names()
	var first, pods []metav1.Object
	add := func(wave *[]metav1.Object, obj metav1.Object) {
		if !have.Has(childKey(obj)) {
			*wave = append(*wave, obj)
		}
	}
	for _, objs := range parties {
		for _, cm := range objs.ConfigMaps {
			add(&first, cm)
		}
		for _, svc := range objs.Services {
			add(&first, svc)
		}
		if objs.PodGroup != nil {
			add(&first, objs.PodGroup)
		}
		for _, pod := range objs.Pods {
			add(&pods, pod)
		}
	}
	return append(first, pods...), nil
}

// names are the "kind namespace/name" of every child.
func (ch children) names() sets.Set[string] {
	s := sets.New[string]()
	for _, p := range ch.pods {
		s.Insert(childKey(p))
	}
	for _, svc := range ch.services {
		s.Insert(childKey(svc))
	}
	for _, cm := range ch.configMaps {
		s.Insert(childKey(cm))
	}
	for _, pg := range ch.podGroups {
		s.Insert(childKey(pg))
	}
	return s
}

// complete reports whether the children hold every object the plan names,
// so the steady state costs no building and rendering.
func (ch children) complete(task string, plan *builder.TaskPlan) bool {
	have := ch.names()
	for _, party := range plan.Parties {
		if plan.Policy.PodGroups && len(party.Pods) > 0 &&
			!have.Has(objectKey(kindPodGroup, party.Pods[0].Namespace, builder.PodGroupName(task, party.Role))) {
			return false
		}
		for _, pod := range party.Pods {
			if !have.Has(objectKey(kindPod, pod.Namespace, pod.Name)) ||
				!have.Has(objectKey(kindConfigMap, pod.Namespace, pod.ConfigMapName)) {
				return false
			}
			for _, svc := range pod.Services {
				if !have.Has(objectKey(kindService, pod.Namespace, svc.Name)) {
					return false
				}
			}
		}
	}
	return true
}

// Kinds of children, as they appear in keys and messages.
const (
	kindPod       = "pod"
	kindService   = "service"
	kindConfigMap = "configmap"
	kindPodGroup  = "podgroup"
)

func objectKey(kind, namespace, name string) string {
	return kind + " " + namespace + "/" + name
}

func childKey(obj metav1.Object) string {
	return objectKey(kindOf(obj), obj.GetNamespace(), obj.GetName())
}

func kindOf(obj metav1.Object) string {
	switch obj.(type) {
	case *corev1.Pod:
		return kindPod
	case *corev1.Service:
		return kindService
	case *corev1.ConfigMap:
		return kindConfigMap
	case *schedulingv1beta1.PodGroup:
		return kindPodGroup
	}
	return fmt.Sprintf("%T", obj)
}

// errTaskGone stops a creation whose task was deleted (or replaced by a new
// task of the same name) meanwhile.
var errTaskGone = errors.New("the task was deleted while its children were being created")

// createChildren creates the objects and adds each to tc.children, so a
// status computed after a failure sees what exists. The objects come in
// creation order (see missingChildren): pods after everything else. Each
// wave is created in slow-start batches (createBatches) of concurrent
// creates, as the ReplicaSet controller creates pods: a task costs a few
// round trips instead of one per object, and a refusal every object would
// meet (a quota, an admission policy) is met by a small batch, not by all.
//
// It stops after the first batch with an error, and returns the error that
// says most (errorToReport): errTaskGone, an *builder.InputError for a
// refusal a retry cannot fix, a *retryableError for one it may, or the
// context's error. Before each batch it checks that the sync is still
// wanted: the context is live and the task still exists, with the same
// UID, and is not being deleted. So deleting a task stops its creation
// within one batch.
func (c *Controller) createChildren(ctx context.Context, tc *taskContext, objs []metav1.Object) error {
	split := len(objs)
	for i, obj := range objs {
		if _, ok := obj.(*corev1.Pod); ok {
			split = i
			break
		}
	}
	for _, wave := range [][]metav1.Object{objs[:split], objs[split:]} {
		for _, size := range createBatches(len(wave), c.maxCreateBatch) {
			if err := c.stillWanted(ctx, tc.task); err != nil {
				return err
			}
			if err := c.createBatch(ctx, tc, wave[:size]); err != nil {
				return err
			}
			wave = wave[size:]
		}
	}
	return nil
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

// createBatch creates objs concurrently, adds those created to tc.children
// and returns the error to report of those that failed.
func (c *Controller) createBatch(ctx context.Context, tc *taskContext, objs []metav1.Object) error {
	created := make([]metav1.Object, len(objs))
	errs := make([]error, len(objs))
	if len(objs) == 1 {
		created[0], errs[0] = c.createChild(ctx, tc.task, objs[0])
	} else {
		var wg sync.WaitGroup
		for i, obj := range objs {
			wg.Go(func() { created[i], errs[i] = c.createChild(ctx, tc.task, obj) })
		}
		wg.Wait()
	}
	for _, obj := range created {
		if obj != nil {
			tc.children.add(obj)
		}
	}
	return errorToReport(errs)
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

// add adds a child the sync created or adopted.
func (ch *children) add(obj metav1.Object) {
	switch o := obj.(type) {
	case *corev1.ConfigMap:
		ch.configMaps = append(ch.configMaps, o)
	case *corev1.Service:
		ch.services = append(ch.services, o)
	case *schedulingv1beta1.PodGroup:
		ch.podGroups = append(ch.podGroups, o)
	case *corev1.Pod:
		ch.pods = append(ch.pods, o)
	}
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
	created, err := client.Create(ctx, obj, metav1.CreateOptions{FieldManager: ControllerName})
	if err == nil {
		klog.FromContext(ctx).V(4).Info("Created", "object", klog.KObj(obj), "kind", kindOf(obj))
		c.expectations.created(task.Name, kindOf(obj), created)
		return created, nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return nil, createError(childKey(obj), err)
	}
	existing, getErr := client.Get(ctx, obj.GetName(), metav1.GetOptions{})
	if getErr != nil {
		return nil, &retryableError{reason: kusciav1alpha1.ReasonCreateFailed, err: fmt.Errorf("get existing %s: %w", childKey(obj), getErr)}
	}
	if !metav1.IsControlledBy(existing, task) {
		return nil, &builder.InputError{
			Reason:  kusciav1alpha1.ReasonResourceConflict,
			Message: childKey(obj) + " already exists and does not belong to this task; delete or rename it",
		}
	}
	if want, ok := any(obj).(*corev1.Pod); ok {
		if err := c.adoptable(task, want, any(existing).(*corev1.Pod)); err != nil {
			return nil, err
		}
	}
	c.expectations.created(task.Name, kindOf(obj), existing)
	return existing, nil
}

// stopPods deletes the pods a status reports as stopped: the one place the
// controller deletes pods. The UID precondition keeps a delete from hitting
// a newer pod of the same name.
func (c *Controller) stopPods(ctx context.Context, task *kusciav1alpha1.KusciaTask, pods []*corev1.Pod) error {
	var errs []error
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		uid := p.UID
		err := c.kubeClient.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{
			Preconditions: &metav1.Preconditions{UID: &uid},
		})
		switch {
		case err == nil:
			klog.FromContext(ctx).V(2).Info("Deleted pod", "pod", klog.KObj(p), "kusciatask", task.Name)
			c.expectations.deleted(task.Name, kindPod, p)
		case apierrors.IsNotFound(err), apierrors.IsConflict(err):
			// Gone already, or replaced by a pod this delete must not touch.
		default:
			errs = append(errs, fmt.Errorf("delete pod %s/%s: %w", p.Namespace, p.Name, err))
		}
	}
	return errors.Join(errs...)
}

func isInputError(err error) bool {
	_, ok := builder.AsInputError(err)
	return ok
}
