package builder

// This file holds the order a task's objects are created in, and the key
// that names each object in messages, expectations and caches.

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	schedulingv1beta1 "k8s.io/api/scheduling/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Kinds of a task's objects, as keys and messages name them.
const (
	KindPod       = "pod"
	KindService   = "service"
	KindConfigMap = "configmap"
	KindPodGroup  = "podgroup"
)

// ObjectKey names an object as "kind namespace/name", e.g.
// "pod alice/task-0".
func ObjectKey(kind, namespace, name string) string {
	return kind + " " + namespace + "/" + name
}

// KeyOf is obj's ObjectKey.
func KeyOf(obj metav1.Object) string {
	return ObjectKey(KindOf(obj), obj.GetNamespace(), obj.GetName())
}

// KindOf is obj's kind, as keys name it.
func KindOf(obj metav1.Object) string {
	switch obj.(type) {
	case *corev1.Pod:
		return KindPod
	case *corev1.Service:
		return KindService
	case *corev1.ConfigMap:
		return KindConfigMap
	case *schedulingv1beta1.PodGroup:
		return KindPodGroup
	}
	return fmt.Sprintf("%T", obj)
}

// CreationOrder is the order the objects of parties are created in: every
// party's config maps, services and PodGroup, then every party's pods. A
// pod mounts its config map, its peers dial its services, and the
// scheduler holds a party's pods until their PodGroup exists.
func CreationOrder(parties ...*PartyObjects) []metav1.Object {
	var first, pods []metav1.Object
	for _, objs := range parties {
		for _, cm := range objs.ConfigMaps {
			first = append(first, cm)
		}
		for _, svc := range objs.Services {
			first = append(first, svc)
		}
		if objs.PodGroup != nil {
			first = append(first, objs.PodGroup)
		}
		for _, pod := range objs.Pods {
			pods = append(pods, pod)
		}
	}
	return append(first, pods...)
}
