// Expectations: the creates, deletes and opened gates of this controller
// that its informer caches may not show yet.

package controller

import (
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	"kusciatask.io/controller/pkg/gate"
)

// DefaultExpectationsTimeout bounds how long a sync waits for the informers
// to show the controller's own creates and deletes (as the ReplicaSet
// controller's expectations do): an event that never comes must not stall
// a task.
const DefaultExpectationsTimeout = 5 * time.Minute

// expectations records, per task, the children this controller created or
// deleted that its informer caches may not show yet. A sync of a task with
// unmet expectations does nothing: acting on a cache older than its own
// writes is how a controller deletes the pods it just created, or creates
// again the pods it just deleted. The next informer event of the task
// brings it back.
//
// An expectation is met when the cache shows it (checked at each sync, so
// the order of events does not matter), when the object's delete event
// arrives, or when it expires.
type expectations struct {
	mu    sync.Mutex
	clock clock.PassiveClock
	ttl   time.Duration
	// byTask holds each task's expectations, by task name.
	byTask map[string]*taskExpectations
}

// taskExpectations are the open expectations of one task.
type taskExpectations struct {
	items map[childRef]expectation
	// expires is ttl after the last expectation was recorded.
	expires time.Time
}

// childRef names a child in an informer cache.
type childRef struct {
	kind string
	key  string // namespace/name
}

// expectation is what the cache must show of one child.
type expectation struct {
	uid types.UID
	// deleted: the child must be gone or going; else it must be there.
	deleted bool
	// gateOpen: the pod's gate must read open (or the pod be gone or
	// replaced).
	gateOpen bool
}

func newExpectations(clk clock.PassiveClock, ttl time.Duration) *expectations {
	return &expectations{clock: clk, ttl: ttl, byTask: map[string]*taskExpectations{}}
}

// created records that obj (as the API server returned it) was created.
func (e *expectations) created(task, kind string, obj metav1.Object) {
	e.record(task, kind, obj, false)
}

// deleted records that obj was deleted.
func (e *expectations) deleted(task, kind string, obj metav1.Object) {
	e.record(task, kind, obj, true)
}

// gateOpened records that the gate of pod obj was opened.
func (e *expectations) gateOpened(task string, obj metav1.Object) {
	e.put(task, kindPodGate, obj, expectation{uid: obj.GetUID(), gateOpen: true})
}

func (e *expectations) record(task, kind string, obj metav1.Object, deleted bool) {
	e.put(task, kind, obj, expectation{uid: obj.GetUID(), deleted: deleted})
}

func (e *expectations) put(task, kind string, obj metav1.Object, exp expectation) {
	e.mu.Lock()
	defer e.mu.Unlock()
	te := e.byTask[task]
	if te == nil {
		te = &taskExpectations{items: map[childRef]expectation{}}
		e.byTask[task] = te
	}
	te.items[childRef{kind, namespacedKey(obj)}] = exp
	te.expires = e.clock.Now().Add(e.ttl)
}

// observeDeleted meets the expectations on an object the informer saw
// deleted: a child created and deleted again before a sync looked.
func (e *expectations) observeDeleted(task, kind string, obj metav1.Object) {
	e.mu.Lock()
	defer e.mu.Unlock()
	te := e.byTask[task]
	if te == nil {
		return
	}
	ref := childRef{kind, namespacedKey(obj)}
	if exp, ok := te.items[ref]; ok && exp.uid == obj.GetUID() {
		delete(te.items, ref)
	}
}

// lookup finds a child in the informer caches.
type lookup func(kind, key string) (metav1.Object, bool)

// wait drops the task's expectations the caches now show and returns how
// long it must still wait for the others, or 0 when none is left.
func (e *expectations) wait(task string, find lookup) time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	te := e.byTask[task]
	if te == nil {
		return 0
	}
	for ref, exp := range te.items {
		if exp.metBy(find(ref.kind, ref.key)) {
			delete(te.items, ref)
		}
	}
	left := te.expires.Sub(e.clock.Now())
	if len(te.items) == 0 || left <= 0 {
		delete(e.byTask, task)
		return 0
	}
	return left
}

// metBy reports whether the cache's object (if any) shows the expectation.
func (exp expectation) metBy(obj metav1.Object, found bool) bool {
	if exp.gateOpen {
		return !found || obj.GetUID() != exp.uid || gate.IsOpen(obj.GetAnnotations()[gate.Annotation])
	}
	if exp.deleted {
		return !found || obj.GetUID() != exp.uid || obj.GetDeletionTimestamp() != nil
	}
	return found && obj.GetUID() == exp.uid
}

// forget drops the expectations of a task that is gone.
func (e *expectations) forget(task string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.byTask, task)
}

func namespacedKey(obj metav1.Object) string {
	return obj.GetNamespace() + "/" + obj.GetName()
}
