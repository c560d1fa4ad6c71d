// A task's children as the informer caches show them: found by task UID,
// named by kind and key, and checked against the plan.

package controller

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	schedulingv1beta1 "k8s.io/api/scheduling/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/tools/cache"

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

// names are the "kind namespace/name" of every child.
func (ch children) names() sets.Set[string] {
	s := sets.New[string]()
	for _, p := range ch.pods {
		s.Insert(builder.KeyOf(p))
	}
	for _, svc := range ch.services {
		s.Insert(builder.KeyOf(svc))
	}
	for _, cm := range ch.configMaps {
		s.Insert(builder.KeyOf(cm))
	}
	for _, pg := range ch.podGroups {
		s.Insert(builder.KeyOf(pg))
	}
	return s
}

// complete reports whether the children hold every object the plan names,
// so the steady state costs no building and rendering.
func (ch children) complete(task string, plan *builder.TaskPlan) bool {
	have := ch.names()
	for _, party := range plan.Parties {
		if plan.Policy.PodGroups && len(party.Pods) > 0 &&
			!have.Has(builder.ObjectKey(kindPodGroup, party.Pods[0].Namespace, builder.PodGroupName(task, party.Role))) {
			return false
		}
		for _, pod := range party.Pods {
			if !have.Has(builder.ObjectKey(kindPod, pod.Namespace, pod.Name)) ||
				!have.Has(builder.ObjectKey(kindConfigMap, pod.Namespace, pod.ConfigMapName)) {
				return false
			}
			for _, svc := range pod.Services {
				if !have.Has(builder.ObjectKey(kindService, pod.Namespace, svc.Name)) {
					return false
				}
			}
		}
	}
	return true
}

// Kinds of children, as builder.ObjectKey names them.
const (
	kindPod       = builder.KindPod
	kindService   = builder.KindService
	kindConfigMap = builder.KindConfigMap
	kindPodGroup  = builder.KindPodGroup
)

// with is ch with objs added: children the sync created or adopted.
func (ch children) with(objs []metav1.Object) children {
	ch.pods, ch.services = slices.Clip(ch.pods), slices.Clip(ch.services)
	ch.configMaps, ch.podGroups = slices.Clip(ch.configMaps), slices.Clip(ch.podGroups)
	for _, obj := range objs {
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
	return ch
}
