package controller

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
)

// children are the objects a task controls, as the informers see them.
type children struct {
	pods       []*corev1.Pod
	services   []*corev1.Service
	configMaps []*corev1.ConfigMap
}

// childrenOf looks the task's children up by its UID; only objects the task
// controls count (a label alone is easy to copy).
func (c *Controller) childrenOf(task *kusciav1alpha1.KusciaTask) children {
	return children{
		pods:       controlledBy[*corev1.Pod](c.podIndexer, task),
		services:   controlledBy[*corev1.Service](c.serviceIndexer, task),
		configMaps: controlledBy[*corev1.ConfigMap](c.configMapIndexer, task),
	}
}

func controlledBy[T metav1.Object](indexer cache.Indexer, task *kusciav1alpha1.KusciaTask) []T {
	objs, err := indexer.ByIndex(indexByTaskUID, string(task.UID))
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

// ensureResources creates whatever of the round's config maps, services and
// pods does not exist yet, adds what it created to tc.children (so this
// sync's status already shows them) and reports whether all of them exist.
func (c *Controller) ensureResources(ctx context.Context, tc *taskContext, round int32) (bool, error) {
	if tc.children.complete(tc.plan) {
		return true, nil
	}
	// Build every party before creating anything: a party whose config
	// does not render, or whose pods break the security policy, must not
	// leave the others' pods running.
	parties, err := builder.BuildTask(ctx, tc.task, tc.plan, round)
	if err != nil {
		return false, err
	}
	have := tc.children.names()
	ch := &tc.children
	for _, objs := range parties {
		for _, cm := range objs.ConfigMaps {
			if ch.configMaps, err = ensure(ctx, tc.task, have, cm, c.kubeClient.CoreV1().ConfigMaps(cm.Namespace), ch.configMaps); err != nil {
				return false, err
			}
		}
		for _, svc := range objs.Services {
			if ch.services, err = ensure(ctx, tc.task, have, svc, c.kubeClient.CoreV1().Services(svc.Namespace), ch.services); err != nil {
				return false, err
			}
		}
		for _, pod := range objs.Pods {
			if ch.pods, err = ensure(ctx, tc.task, have, pod, c.kubeClient.CoreV1().Pods(pod.Namespace), ch.pods); err != nil {
				return false, err
			}
		}
	}
	return true, nil
}

// names are the "kind namespace/name" of every child, to skip creating what
// the cache already has.
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
	return s
}

// complete reports whether the cache holds every object the plan names, so
// the steady state costs no building and rendering.
func (ch children) complete(plan *builder.TaskPlan) bool {
	have := ch.names()
	for _, party := range plan.Parties {
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
)

func objectKey(kind, namespace, name string) string {
	return kind + " " + namespace + "/" + name
}

func childKey(obj metav1.Object) string {
	return objectKey(kindOf(obj), obj.GetNamespace(), obj.GetName())
}

// createGetter is the part of a typed client that ensure needs.
type createGetter[T metav1.Object] interface {
	Create(ctx context.Context, obj T, opts metav1.CreateOptions) (T, error)
	Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error)
}

// ensure creates obj unless the cache has it, and returns known with the
// object it created or adopted appended. An object of the same name that
// already exists is adopted only when the task controls it; anyone else's
// object in the way fails the task.
func ensure[T metav1.Object](ctx context.Context, task *kusciav1alpha1.KusciaTask, have sets.Set[string], obj T, client createGetter[T], known []T) ([]T, error) {
	if have.Has(childKey(obj)) {
		return known, nil
	}
	created, err := client.Create(ctx, obj, metav1.CreateOptions{FieldManager: ControllerName})
	if err == nil {
		klog.FromContext(ctx).V(4).Info("Created", "object", klog.KObj(obj), "type", fmt.Sprintf("%T", obj))
		return append(known, created), nil
	}
	if apierrors.IsInvalid(err) {
		// The template makes an object the API server refuses (an env name,
		// a port name, limits below requests...): retrying cannot help.
		return known, &builder.InputError{
			Reason:  kusciav1alpha1.ReasonInvalidTemplate,
			Message: fmt.Sprintf("the API server rejected %s: %v", childKey(obj), err),
		}
	}
	if !apierrors.IsAlreadyExists(err) {
		return known, fmt.Errorf("create %s: %w", childKey(obj), err)
	}
	existing, getErr := client.Get(ctx, obj.GetName(), metav1.GetOptions{})
	if getErr != nil {
		return known, fmt.Errorf("get existing %s: %w", childKey(obj), getErr)
	}
	if metav1.IsControlledBy(existing, task) {
		return append(known, existing), nil
	}
	return known, &builder.InputError{
		Reason:  kusciav1alpha1.ReasonResourceConflict,
		Message: childKey(obj) + " already exists and does not belong to this task; delete or rename it",
	}
}

func kindOf(obj metav1.Object) string {
	switch obj.(type) {
	case *corev1.Pod:
		return kindPod
	case *corev1.Service:
		return kindService
	case *corev1.ConfigMap:
		return kindConfigMap
	}
	return fmt.Sprintf("%T", obj)
}

// deletePods deletes the given pods unless they are already going. The UID
// precondition keeps a delete from hitting a newer pod of the same name.
func (c *Controller) deletePods(ctx context.Context, task *kusciav1alpha1.KusciaTask, pods []*corev1.Pod) error {
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
		case apierrors.IsNotFound(err), apierrors.IsConflict(err):
			// Gone already, or replaced by a pod this delete must not touch.
		default:
			errs = append(errs, fmt.Errorf("delete pod %s/%s: %w", p.Namespace, p.Name, err))
		}
	}
	return errors.Join(errs...)
}
