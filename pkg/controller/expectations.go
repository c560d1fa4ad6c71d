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
// arrives, or when it expires. The cache shows an object before its
// informer's handlers run, so a create or gate patch met by the cache
// leaves an echo record behind: its event, when it comes, is still known
// as this controller's own (see echo), until the expectations' ttl.
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
	// waiting: a sync found expectations unmet and waits for an event to
	// bring it back (see echo).
	waiting bool
	// echoes are the creates and gate patches the cache showed before
	// their events came (see wait): the object each event must show.
	// They hold no sync, and go with their event or at expires.
	echoes map[childRef]seen
}

// empty reports whether nothing is expected or awaited for the task.
func (te *taskExpectations) empty() bool {
	return len(te.items) == 0 && len(te.echoes) == 0
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
	// rv is the resourceVersion the API server returned for the create or
	// the gate's patch: an event showing the object at rv is its echo.
	rv string
	// inFlight: the create is under way; parked are the objects its
	// child's events showed meanwhile (see creating).
	inFlight bool
	parked   []seen
}

// seen is an object as an event showed it.
type seen struct {
	uid types.UID
	rv  string
}

func newExpectations(clk clock.PassiveClock, ttl time.Duration) *expectations {
	return &expectations{clock: clk, ttl: ttl, byTask: map[string]*taskExpectations{}}
}

// creating records that obj is being created: its add event can come
// before the create's response, and is parked until created or
// createFailed settles it. It is met meanwhile: a create in flight never
// holds a sync (the sync that creates is the task's only one).
func (e *expectations) creating(task, kind string, obj metav1.Object) {
	e.put(task, kind, obj, expectation{inFlight: true})
}

// created records that obj (as the API server returned it) was created,
// settling a create in flight: an add event parked meanwhile that showed
// obj itself met it already; missed reports one that showed something
// else, which must be queued.
func (e *expectations) created(task, kind string, obj metav1.Object) (missed bool) {
	parked := e.settle(task, kind, obj)
	echoed := false
	for _, p := range parked {
		if p.uid == obj.GetUID() && p.rv == obj.GetResourceVersion() {
			echoed = true
		} else {
			missed = true
		}
	}
	if !echoed {
		e.record(task, kind, obj, false)
	}
	return missed
}

// createFailed settles a create in flight that failed; missed reports an
// event parked meanwhile, which must be queued.
func (e *expectations) createFailed(task, kind string, obj metav1.Object) (missed bool) {
	return len(e.settle(task, kind, obj)) > 0
}

// settle drops the expectation of a create in flight and returns what was
// parked on it.
func (e *expectations) settle(task, kind string, obj metav1.Object) []seen {
	e.mu.Lock()
	defer e.mu.Unlock()
	te := e.byTask[task]
	if te == nil {
		return nil
	}
	ref := childRef{kind, namespacedKey(obj)}
	exp, ok := te.items[ref]
	if !ok || !exp.inFlight {
		return nil
	}
	delete(te.items, ref)
	if te.empty() {
		delete(e.byTask, task)
	}
	return exp.parked
}

// deleted records that obj was deleted.
func (e *expectations) deleted(task, kind string, obj metav1.Object) {
	e.record(task, kind, obj, true)
}

// gateOpened records that the gate of pod obj was opened; obj is the pod
// as the patch returned it.
func (e *expectations) gateOpened(task string, obj metav1.Object) {
	e.put(task, kindPodGate, obj, expectation{uid: obj.GetUID(), gateOpen: true, rv: obj.GetResourceVersion()})
}

func (e *expectations) record(task, kind string, obj metav1.Object, deleted bool) {
	exp := expectation{uid: obj.GetUID(), deleted: deleted}
	if !deleted {
		exp.rv = obj.GetResourceVersion()
	}
	e.put(task, kind, obj, exp)
}

// echo meets the expectation (kind: a child kind or kindPodGate) that obj,
// as an informer event shows it, is the echo of: the very object this
// controller's create or gate patch returned (its UID and resourceVersion).
// An event of a child whose create is in flight is parked on it (see
// creating) and counts as an echo until the create settles it.
// isEcho says whether it was one; wake whether a sync of the task is
// waiting for it (the task's last expectation, after a sync found it
// unmet): only then must the event bring the task back.
func (e *expectations) echo(task, kind string, obj metav1.Object) (isEcho, wake bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	te := e.byTask[task]
	if te == nil {
		return false, false
	}
	ref := childRef{kind, namespacedKey(obj)}
	exp, ok := te.items[ref]
	if ok && exp.inFlight {
		exp.parked = append(exp.parked, seen{obj.GetUID(), obj.GetResourceVersion()})
		te.items[ref] = exp
		return true, false
	}
	if !ok {
		return e.lateEcho(task, te, ref, obj), false
	}
	if exp.deleted || exp.rv == "" || exp.uid != obj.GetUID() || exp.rv != obj.GetResourceVersion() {
		return false, false
	}
	delete(te.items, ref)
	if len(te.items) > 0 {
		return true, false
	}
	wake = te.waiting
	te.waiting = false
	if te.empty() {
		delete(e.byTask, task)
	}
	return true, wake
}

// lateEcho reports whether obj is the echo of a create or gate patch the
// cache showed before this event (an echo record of wait), and forgets
// the record. Records past the task's expiry are dropped unused.
func (e *expectations) lateEcho(task string, te *taskExpectations, ref childRef, obj metav1.Object) bool {
	if !e.clock.Now().Before(te.expires) {
		te.echoes = nil
	} else if s, ok := te.echoes[ref]; ok && s.uid == obj.GetUID() && s.rv == obj.GetResourceVersion() {
		delete(te.echoes, ref)
		if te.empty() {
			delete(e.byTask, task)
		}
		return true
	}
	if te.empty() {
		delete(e.byTask, task)
	}
	return false
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
	if s, ok := te.echoes[ref]; ok && s.uid == obj.GetUID() {
		delete(te.echoes, ref)
	}
	if te.empty() {
		delete(e.byTask, task)
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
	left := te.expires.Sub(e.clock.Now())
	if left <= 0 {
		delete(e.byTask, task)
		return 0
	}
	for ref, exp := range te.items {
		if !exp.metBy(find(ref.kind, ref.key)) {
			continue
		}
		delete(te.items, ref)
		if exp.rv != "" && !exp.deleted {
			// Its event may not have reached the handlers yet.
			if te.echoes == nil {
				te.echoes = map[childRef]seen{}
			}
			te.echoes[ref] = seen{exp.uid, exp.rv}
		}
	}
	if len(te.items) == 0 {
		te.waiting = false
		if te.empty() {
			delete(e.byTask, task)
		}
		return 0
	}
	te.waiting = true
	return left
}

// metBy reports whether the cache's object (if any) shows the expectation.
func (exp expectation) metBy(obj metav1.Object, found bool) bool {
	if exp.inFlight {
		return true
	}
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
