// The informer event handlers: which task each event queues, and in which
// lane.

package controller

import (
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
	"kusciatask.io/controller/pkg/controller/informers"
)

// enqueueTask queues the task itself, for cause (task or resync).
func (c *Controller) enqueueTask(obj any, why cause) {
	m, err := informers.MetaOf(obj)
	if err != nil {
		return
	}
	c.causes.note(m.GetName(), why)
	c.queue.Add(cache.ObjectName{Name: m.GetName()})
}

// enqueueTaskUpdate queues an updated task; the informer's periodic
// resync (the same resourceVersion) is never skipped: it is the safety net
// that catches anything an event missed.
//
// The echo of this controller's own status write is not queued (see
// ownWrites): the sync that wrote it decided from everything it shows,
// and spec and metadata are unchanged (statusOnly).
func (c *Controller) enqueueTaskUpdate(logger logr.Logger, old, obj any) {
	if sameVersion(old, obj) {
		c.enqueueTask(obj, causeResync)
		return
	}
	o, ok1 := old.(*kusciav1alpha1.KusciaTask)
	n, ok2 := obj.(*kusciav1alpha1.KusciaTask)
	if ok1 && ok2 && statusOnly(o, n) && c.ownWrites.echo(n.Name, n.ResourceVersion) {
		logger.V(5).Info("Own status write seen; nothing new", "kusciatask", n.Name, "resourceVersion", n.ResourceVersion)
		return
	}
	c.enqueueTask(obj, causeTask)
}

// enqueueOwner maps a child (pod, service, config map, PodGroup; tombstones
// unwrapped) to the task that controls it, in the queue's fast lane: a
// child's change is a reaction to report (see lanes).
func (c *Controller) enqueueOwner(logger logr.Logger, obj any) {
	m, err := informers.MetaOf(obj)
	if err != nil {
		logger.V(4).Info("Ignoring object of unexpected type", "type", obj)
		return
	}
	ref := metav1.GetControllerOf(m)
	if ref == nil || ref.Kind != "KusciaTask" || ref.APIVersion != kusciav1alpha1.SchemeGroupVersion.String() {
		return
	}
	logger.V(5).Info("Child changed", "object", klog.KObj(m), "kusciatask", ref.Name)
	key := cache.ObjectName{Name: ref.Name}
	c.causes.note(ref.Name, childCause(builder.KindOf(m)))
	c.lanes.addFast(c.queue, key)
}

// observeDeleted meets the expectations on a child the informer saw
// deleted.
func (c *Controller) observeDeleted(obj any) {
	m, err := informers.MetaOf(obj)
	if err != nil {
		return
	}
	if ref := metav1.GetControllerOf(m); ref != nil && ref.Kind == "KusciaTask" {
		c.expectations.observeDeleted(ref.Name, builder.KindOf(m), m)
	}
}

// observeTask lets the task cache drop a written task once the informer
// has it.
func (c *Controller) observeTask(obj any) {
	if task, ok := obj.(*kusciav1alpha1.KusciaTask); ok {
		c.tasks.OnAddOrUpdate(task)
	}
}

// observeTaskDeleted lets the task cache drop a deleted task at once.
func (c *Controller) observeTaskDeleted(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	if task, ok := obj.(*kusciav1alpha1.KusciaTask); ok {
		c.tasks.OnDelete(task)
	}
}

// enqueueOwnerAdded is enqueueOwner for a child's add, but for the echo
// of this controller's own create that no sync waits for (ownEcho).
func (c *Controller) enqueueOwnerAdded(logger logr.Logger, obj any) {
	if m, err := informers.MetaOf(obj); err == nil && c.ownEcho(logger, m, builder.KindOf(m)) {
		return
	}
	c.enqueueOwner(logger, obj)
}

// enqueueOwnerIfChanged is enqueueOwner for an update that changed what a
// sync reads of the child (childChanged); a resync (the same
// resourceVersion) changes nothing, and neither does the echo of this
// controller's own gate patch that no sync waits for (ownEcho).
func (c *Controller) enqueueOwnerIfChanged(logger logr.Logger, old, obj any) {
	if sameVersion(old, obj) || !childChanged(old, obj) {
		return
	}
	o, ok1 := old.(*corev1.Pod)
	n, ok2 := obj.(*corev1.Pod)
	if ok1 && ok2 && onlyGateOpened(o, n) && c.ownEcho(logger, n, kindPodGate) {
		return
	}
	c.enqueueOwner(logger, obj)
}

// ownEcho reports whether a child's event shows exactly what this
// controller's own create or gate patch (kind) returned, with no sync
// waiting for it: the sync that wrote it decided with it already, and the
// informer cache now shows it to the next one. A sync that found the
// write missing from the cache waits for it: then the event passes.
func (c *Controller) ownEcho(logger logr.Logger, m metav1.Object, kind string) bool {
	ref := metav1.GetControllerOfNoCopy(m)
	if ref == nil || ref.Kind != "KusciaTask" {
		return false
	}
	isEcho, wake := c.expectations.echo(ref.Name, kind, m)
	if isEcho && !wake {
		logger.V(5).Info("Own write seen; nothing new", "object", klog.KObj(m), "kind", kind, "kusciatask", ref.Name)
	}
	return isEcho && !wake
}

// enqueueReferrers enqueues the unfinished tasks that refer to an AppImage or
// namespace, found through the named task index (which holds unfinished
// tasks only).
func (c *Controller) enqueueReferrers(index string, obj any) {
	m, err := informers.MetaOf(obj)
	if err != nil {
		return
	}
	keys, err := c.taskIndexer.IndexKeys(index, m.GetName())
	if err != nil {
		return
	}
	for _, key := range keys {
		c.causes.note(key, causeReferrer)
		c.queue.Add(cache.ObjectName{Name: key})
	}
}

// enqueueReferrersIfChanged is enqueueReferrers for an update: a periodic
// resync of AppImages and namespaces (same resourceVersion) brings nothing
// new; the tasks' own resync is the safety net.
func (c *Controller) enqueueReferrersIfChanged(index string, old, obj any) {
	if sameVersion(old, obj) {
		return
	}
	c.enqueueReferrers(index, obj)
}

func sameVersion(old, obj any) bool {
	o, err1 := apimeta.Accessor(old)
	n, err2 := apimeta.Accessor(obj)
	return err1 == nil && err2 == nil && o.GetResourceVersion() == n.GetResourceVersion()
}

// childCause is the cause of a sync queued by a child of kind.
func childCause(kind string) cause {
	switch kind {
	case kindService:
		return causeService
	case kindConfigMap:
		return causeConfigMap
	case kindPodGroup:
		return causePodGroup
	}
	return causePod
}
