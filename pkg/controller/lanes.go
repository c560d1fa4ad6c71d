// The two lanes under the workqueue: a task whose children changed goes
// before tasks waiting to be created.

package controller

import (
	"sync"

	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// lanes is the storage under the workqueue: two FIFOs of task names. A
// task queued because one of its children changed goes in the fast lane;
// everything else (a new or updated task, a retry, a timer, the next chunk
// of a large task) in the slow lane, and a worker takes from the slow lane
// only when the fast lane is empty.
//
// A child's change is what the controller reacts to: a pod that finished
// (the task's end to report), a gang that formed (gates to open while its
// nodes wait idle). Such a sync is short, while a new task's sync creates
// its objects, a round trip each; with one FIFO, a burst of new tasks made
// every reaction wait behind their creation. The workqueue still holds a
// name once and never gives it to two workers; lanes only orders it.
//
// The workqueue calls Push, Touch, Len and Pop under its own lock; mu
// guards only the marks, which the event handlers set.
type lanes struct {
	mu    sync.Mutex
	marks map[cache.ObjectName]struct{}

	fast, slow []cache.ObjectName
	// in is the lane each queued name is in; a name promoted from the slow
	// lane leaves a stale entry there, skipped by Pop.
	in map[cache.ObjectName]lane
}

type lane bool

const (
	slowLane lane = false
	fastLane lane = true
)

var _ workqueue.Queue[cache.ObjectName] = (*lanes)(nil)

func newLanes() *lanes {
	return &lanes{marks: map[cache.ObjectName]struct{}{}, in: map[cache.ObjectName]lane{}}
}

// addFast adds key to q (whose storage is l) in the fast lane, or moves it
// up there when q holds it already in the slow lane. The mark is set just
// before the Add, which takes it (Push or Touch).
func (l *lanes) addFast(q workqueue.TypedInterface[cache.ObjectName], key cache.ObjectName) {
	l.mu.Lock()
	l.marks[key] = struct{}{}
	l.mu.Unlock()
	q.Add(key)
}

// takeMark reports whether key was marked fast and clears the mark.
func (l *lanes) takeMark(key cache.ObjectName) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.marks[key]
	delete(l.marks, key)
	return ok
}

// Push queues a name the workqueue does not hold yet.
func (l *lanes) Push(key cache.ObjectName) {
	if l.takeMark(key) {
		l.in[key] = fastLane
		l.fast = append(l.fast, key)
		return
	}
	l.in[key] = slowLane
	l.slow = append(l.slow, key)
}

// Touch is called when a queued name is added again: a mark moves it to
// the end of the fast lane.
func (l *lanes) Touch(key cache.ObjectName) {
	if !l.takeMark(key) {
		return
	}
	if at, queued := l.in[key]; queued && at == slowLane {
		l.in[key] = fastLane
		l.fast = append(l.fast, key)
	}
}

// Len is the number of names queued.
func (l *lanes) Len() int { return len(l.in) }

// Pop takes the first name of the fast lane, else of the slow lane. The
// workqueue calls it only when Len is not 0.
func (l *lanes) Pop() cache.ObjectName {
	for len(l.fast) > 0 {
		key := pop(&l.fast)
		if at, ok := l.in[key]; ok && at == fastLane {
			delete(l.in, key)
			return key
		}
	}
	for len(l.slow) > 0 {
		key := pop(&l.slow)
		if at, ok := l.in[key]; ok && at == slowLane {
			delete(l.in, key)
			return key
		}
	}
	return cache.ObjectName{}
}

func pop(q *[]cache.ObjectName) cache.ObjectName {
	key := (*q)[0]
	(*q)[0] = cache.ObjectName{}
	*q = (*q)[1:]
	return key
}
