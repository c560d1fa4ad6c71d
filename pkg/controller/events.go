// The informer event handlers: which task each event queues, and in which
// lane.

package controller

import (
	"github.com/go-logr/logr"
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
func (c *Controller) enqueueTaskUpdate(old, obj any) {
	why := causeTask
	if sameVersion(old, obj) {
		why = causeResync
	}
	c.enqueueTask(obj, why)
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

func (c *Controller) enqueueOwnerIfChanged(logger logr.Logger, old, obj any) {
	if sameVersion(old, obj) {
		return
	}
	c.enqueueOwner(logger, obj)
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
