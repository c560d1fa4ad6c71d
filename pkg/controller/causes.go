// Why a task was queued: each queue add notes its cause, and the sync that
// takes the task counts the causes gathered since its last sync
// (kusciatask_syncs_by_cause_total).

package controller

import (
	"sync"
	"time"
)

// cause is why a task was queued; its string is the cause label of
// kusciatask_syncs_by_cause_total.
type cause uint8

// The causes of a sync. Children are told apart by kind; an AppImage or a
// namespace queues the tasks that refer to it (referrer).
const (
	causeTask      cause = iota // the task was added, updated or deleted
	causeResync                 // the informer's periodic resync of the task
	causePod                    // one of its pods
	causeService                // one of its services
	causeConfigMap              // one of its config maps
	causePodGroup               // one of its PodGroups
	causeReferrer               // an AppImage or namespace it refers to
	causeTimer                  // a deadline, a held status, expectations or the next chunk the sync asked for
	causeRetry                  // a failed sync's rate-limited retry
	numCauses
)

var causeNames = [numCauses]string{"task", "resync", "pod", "service", "configmap", "podgroup", "referrer", "timer", "retry"}

func (c cause) String() string { return causeNames[c] }

// causeSet is a set of causes.
type causeSet uint16

func (s causeSet) with(c cause) causeSet { return s | 1<<c }

// names are the set's causes, in the order of the constants.
func (s causeSet) names() []string {
	var out []string
	for c := range numCauses {
		if s&(1<<c) != 0 {
			out = append(out, c.String())
		}
	}
	return out
}

// syncCauses gathers, per task name, the causes of the queue adds since
// the task's last sync. The rule the counter follows: a sync counts once
// for each cause it gathered, however many adds of that cause the queue
// folded into it (five pod events before one sync count pod once); so the
// sum over causes is at least the number of syncs. A delayed add (a timer,
// a retry) counts only for the first sync at or after its due time: a sync
// that comes earlier for another reason leaves it pending. A sync that
// finds nothing due takes what is pending (the queue's timers and this
// clock may disagree by a little).
type syncCauses struct {
	mu     sync.Mutex
	byTask map[string]*gathered
}

// gathered are one task's causes since its last sync.
type gathered struct {
	now causeSet
	// later are the delayed adds, by cause, with their earliest due time.
	later map[cause]time.Time
	// timerWanted: the task's last sync asked to be synced again (a
	// requeue or requeueAfter).
	timerWanted bool
}

func newSyncCauses() *syncCauses {
	return &syncCauses{byTask: map[string]*gathered{}}
}

// note records an add of task for c, due now.
func (s *syncCauses) note(task string, c cause) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entry(task).now = s.entry(task).now.with(c)
}

// noteAt records an add of task for c due at due (a timer, a retry).
func (s *syncCauses) noteAt(task string, c cause, due time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.entry(task)
	if g.later == nil {
		g.later = map[cause]time.Time{}
	}
	if at, ok := g.later[c]; !ok || due.Before(at) {
		g.later[c] = due
	}
}

func (s *syncCauses) entry(task string) *gathered {
	g := s.byTask[task]
	if g == nil {
		g = &gathered{}
		s.byTask[task] = g
	}
	return g
}

// wantTimer records whether the sync of task that just ended asked to be
// synced again.
func (s *syncCauses) wantTimer(task string, want bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if want {
		s.entry(task).timerWanted = true
		return
	}
	if g := s.byTask[task]; g != nil {
		g.timerWanted = false
		s.dropIfEmpty(task, g)
	}
}

// stale reports whether set, the causes of a sync (see take), is a timer
// alone that no one wants any more: the task's last sync, which decided
// from everything since the timer was set, asked for no timer, and no
// other delayed add is pending (the queue keeps one timer per task, the
// earliest, so skipping it loses no later one). Such a sync is skipped.
func (s *syncCauses) stale(task string, set causeSet) bool {
	if set != causeSet(0).with(causeTimer) {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.byTask[task]
	return g == nil || (!g.timerWanted && len(g.later) == 0)
}

func (s *syncCauses) dropIfEmpty(task string, g *gathered) {
	if g.now == 0 && len(g.later) == 0 && !g.timerWanted {
		delete(s.byTask, task)
	}
}

// take returns the causes of the sync of task starting at now, and forgets
// them (see syncCauses for the rule).
func (s *syncCauses) take(task string, now time.Time) causeSet {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.byTask[task]
	if g == nil {
		return 0
	}
	set := g.now
	g.now = 0
	for c, due := range g.later {
		if !now.Before(due) {
			set = set.with(c)
			delete(g.later, c)
		}
	}
	if set == 0 {
		for c := range g.later {
			set = set.with(c)
		}
		g.later = nil
	}
	s.dropIfEmpty(task, g)
	return set
}
