// The informer factory of the controller's children.

package informers

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	schedulingv1beta1 "k8s.io/api/scheduling/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kubeinformers "k8s.io/client-go/informers"
	corev1informers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/informers/internalinterfaces"
	schedulingv1beta1informers "k8s.io/client-go/informers/scheduling/v1beta1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// NewChildInformerFactory is the informer factory for the controller's
// children: pods, services, config maps and PodGroups. Its informers list
// and watch only objects carrying the task-UID label (the controller never
// needs the rest of the cluster's pods in memory), and they have no
// namespace index: the controller finds a task's children through its
// task-UID index (NewController adds it), never by namespace, and a
// namespace index holds one more entry per cached child.
func NewChildInformerFactory(client kubernetes.Interface, resync time.Duration) kubeinformers.SharedInformerFactory {
	var onlyChildren internalinterfaces.TweakListOptionsFunc = func(o *metav1.ListOptions) {
		o.LabelSelector = kusciav1alpha1.LabelTaskUID
	}
	f := kubeinformers.NewSharedInformerFactoryWithOptions(client, resync, kubeinformers.WithTweakListOptions(onlyChildren))
	for _, child := range []struct {
		obj   runtime.Object
		build func(kubernetes.Interface, string, time.Duration, cache.Indexers, internalinterfaces.TweakListOptionsFunc) cache.SharedIndexInformer
	}{
		{&corev1.Pod{}, corev1informers.NewFilteredPodInformer},
		{&corev1.Service{}, corev1informers.NewFilteredServiceInformer},
		{&corev1.ConfigMap{}, corev1informers.NewFilteredConfigMapInformer},
		{&schedulingv1beta1.PodGroup{}, schedulingv1beta1informers.NewFilteredPodGroupInformer},
	} {
		f.InformerFor(child.obj, func(c kubernetes.Interface, resync time.Duration) cache.SharedIndexInformer {
			return child.build(c, metav1.NamespaceAll, resync, cache.Indexers{}, onlyChildren)
		})
	}
	return f
}
