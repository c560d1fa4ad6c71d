// Held statuses: statuses computed but not written yet, so the steps of a
// burst reach the API server as one write.

package controller

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// DefaultStatusBatchDelay is how long a status change that may wait (see
// status.MayWait) is held before it is written: a gang that forms within it
// is written once, Running with everything created, instead of once per
// step. Transitions the controller acts on, and the end of a task, are
// written at once.
const DefaultStatusBatchDelay = 3 * time.Second

// heldStatuses are statuses computed but not written yet, by task name. A
// sync reads the task through them (so what it decides builds on what it
// decided before, startTime and round times included) and writes the held
// status once it may wait no longer. They live in memory only: a
// controller that restarts computes them again from the task's children.
type heldStatuses struct {
	mu     sync.Mutex
	byTask map[string]heldStatus
}

type heldStatus struct {
	// over is the stored task the status was computed over; the held
	// status applies only while the stored status is still that one.
	over   *kusciav1alpha1.KusciaTask
	uid    types.UID
	status kusciav1alpha1.KusciaTaskStatus
	// since is when the oldest change held was computed.
	since time.Time
}

func newHeldStatuses() *heldStatuses {
	return &heldStatuses{byTask: map[string]heldStatus{}}
}

// view is the task as the controller sees it: stored, with the held status
// in place of the stored one when there is one for it. The stored task is
// never modified.
func (h *heldStatuses) view(stored *kusciav1alpha1.KusciaTask) *kusciav1alpha1.KusciaTask {
	held, ok := h.get(stored)
	if !ok {
		return stored
	}
	v := *stored
	v.Status = held.status
	return &v
}

// get returns the status held for the stored task, if it still applies.
func (h *heldStatuses) get(stored *kusciav1alpha1.KusciaTask) (heldStatus, bool) {
	h.mu.Lock()
	held, ok := h.byTask[stored.Name]
	h.mu.Unlock()
	if !ok || held.uid != stored.UID {
		return heldStatus{}, false
	}
	// Another update of the task (labels, annotations) keeps the held
	// status; another status does not.
	if held.over != stored && !equality.Semantic.DeepEqual(&held.over.Status, &stored.Status) {
		return heldStatus{}, false
	}
	return held, true
}

// hold keeps s for the stored task and returns since when changes have
// been held for it.
func (h *heldStatuses) hold(stored *kusciav1alpha1.KusciaTask, s kusciav1alpha1.KusciaTaskStatus, now time.Time) time.Time {
	since := now
	if prev, ok := h.get(stored); ok {
		since = prev.since
	}
	h.mu.Lock()
	h.byTask[stored.Name] = heldStatus{over: stored, uid: stored.UID, status: s, since: since}
	h.mu.Unlock()
	return since
}

// drop forgets what is held for the task.
func (h *heldStatuses) drop(name string) {
	h.mu.Lock()
	delete(h.byTask, name)
	h.mu.Unlock()
}
