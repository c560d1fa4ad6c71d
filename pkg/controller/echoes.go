// The resourceVersions of this controller's own status writes, so the
// task handler knows their echo and does not queue it.

package controller

import (
	"slices"
	"sync"

	"k8s.io/client-go/tools/cache"

	"kusciatask.io/controller/pkg/controller/informers"
)

// ownWrites follows, by task name, this controller's status writes until
// the informer shows them. A status-only update of a task (statusOnly) is
// the echo of an own write when its resourceVersion is the one the write
// returned; resourceVersions name one state of one object, so a status
// written by anyone else never is. The echo can arrive before the write's
// response: an update seen while a write is in flight is parked, and
// settled when the response comes (end): one that is not the write's own
// is queued then.
type ownWrites struct {
	mu     sync.Mutex
	byTask map[string]*ownWrite
}

type ownWrite struct {
	// rv is what the last write returned, until its echo is seen.
	rv string
	// inFlight: a write is under way; parked are the resourceVersions of
	// the status-only updates seen meanwhile.
	inFlight bool
	parked   []string
}

func newOwnWrites() *ownWrites {
	return &ownWrites{byTask: map[string]*ownWrite{}}
}

// begin marks a status write of task as under way. The workqueue never
// gives a task to two workers, so a task has one write in flight at most.
func (w *ownWrites) begin(task string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.byTask[task] = &ownWrite{inFlight: true}
}

// end settles the write begun for task: rv is the resourceVersion it
// returned ("" when it failed). missed reports whether an update parked
// meanwhile was not the write's echo, and so must be queued.
func (w *ownWrites) end(task, rv string) (missed bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	e := w.byTask[task]
	if e == nil {
		return false
	}
	for _, p := range e.parked {
		if p != rv {
			missed = true
		}
	}
	if rv == "" || slices.Contains(e.parked, rv) {
		delete(w.byTask, task)
		return missed
	}
	w.byTask[task] = &ownWrite{rv: rv}
	return missed
}

// echo reports whether a status-only update of task to resourceVersion rv
// is (or may be, while a write is in flight) the echo of an own write.
func (w *ownWrites) echo(task, rv string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	e := w.byTask[task]
	switch {
	case e == nil:
		return false
	case e.inFlight:
		e.parked = append(e.parked, rv)
		return true
	case e.rv == rv:
		delete(w.byTask, task)
		return true
	}
	return false
}

// forget drops what is remembered of a task.
func (w *ownWrites) forget(task string) {
	w.mu.Lock()
	delete(w.byTask, task)
	w.mu.Unlock()
}

// forgetOwnWrite drops what is remembered of a deleted task (tombstones
// unwrapped).
func (c *Controller) forgetOwnWrite(obj any) {
	if m, err := informers.MetaOf(obj); err == nil {
		c.ownWrites.forget(m.GetName())
	}
}

// endOwnWrite settles a status write of task (rv "" when it failed) and
// queues the task for an update parked meanwhile that was someone else's.
func (c *Controller) endOwnWrite(task, rv string) {
	if c.ownWrites.end(task, rv) {
		c.causes.note(task, causeTask)
		c.queue.Add(cache.ObjectName{Name: task})
	}
}
