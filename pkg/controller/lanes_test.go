package controller

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// drain takes every queued name, in the order workers would get them.
func drain(t *testing.T, q workqueue.TypedRateLimitingInterface[cache.ObjectName]) []string {
	t.Helper()
	var out []string
	for q.Len() > 0 {
		key, shutdown := q.Get()
		require.False(t, shutdown)
		out = append(out, key.Name)
		q.Done(key)
	}
	return out
}

func newLanesQueue(t *testing.T) (*lanes, workqueue.TypedRateLimitingInterface[cache.ObjectName]) {
	l := newLanes()
	q := newQueue(workqueue.DefaultTypedControllerRateLimiter[cache.ObjectName](), l)
	t.Cleanup(q.ShutDown)
	return l, q
}

func addFast(l *lanes, q workqueue.TypedRateLimitingInterface[cache.ObjectName], key string) {
	l.addFast(q, keyOf(key))
}

// Names marked fast are taken before the others, each lane in order.
func TestFastLaneGoesFirst(t *testing.T) {
	l, q := newLanesQueue(t)
	q.Add(keyOf("new-1"))
	q.Add(keyOf("new-2"))
	addFast(l, q, "reacting-1")
	q.Add(keyOf("new-3"))
	addFast(l, q, "reacting-2")
	assert.Equal(t, []string{"reacting-1", "reacting-2", "new-1", "new-2", "new-3"}, drain(t, q))
}

// A name queued in the slow lane moves to the fast one when it is added
// again as a reaction, and is still taken once.
func TestQueuedNameMovesUp(t *testing.T) {
	l, q := newLanesQueue(t)
	q.Add(keyOf("a"))
	q.Add(keyOf("b"))
	q.Add(keyOf("c"))
	addFast(l, q, "c")
	addFast(l, q, "c")
	q.Add(keyOf("c"))
	assert.Equal(t, 3, q.Len())
	assert.Equal(t, []string{"c", "a", "b"}, drain(t, q))
	assert.Empty(t, l.marks, "every mark is taken")
}

// A reaction to a task being synced is queued fast once the sync is done:
// the workqueue re-pushes it, and the mark still holds.
func TestReactionDuringSyncIsQueuedFast(t *testing.T) {
	l, q := newLanesQueue(t)
	q.Add(keyOf("busy"))
	q.Add(keyOf("other"))
	key, _ := q.Get()
	require.Equal(t, "busy", key.Name)
	addFast(l, q, "busy")
	q.Add(keyOf("later"))
	q.Done(key)
	assert.Equal(t, []string{"busy", "other", "later"}, drain(t, q))
}

// A promoted name leaves a stale entry in the slow lane; when the name
// comes back to the slow lane later, it is still taken once per Add.
func TestPromotedNameIsTakenOncePerAdd(t *testing.T) {
	l, q := newLanesQueue(t)
	q.Add(keyOf("a"))
	q.Add(keyOf("b"))
	addFast(l, q, "a")
	assert.Equal(t, []string{"a", "b"}, drain(t, q))
	q.Add(keyOf("a"))
	q.Add(keyOf("c"))
	got := drain(t, q)
	assert.ElementsMatch(t, []string{"a", "c"}, got)
	assert.Zero(t, q.Len())
	assert.Empty(t, l.slow, "no stale entry is left behind")
}

// A delayed add (a timer) and a rate-limited retry go in the slow lane.
func TestTimersAndRetriesAreSlow(t *testing.T) {
	l, q := newLanesQueue(t)
	q.AddRateLimited(keyOf("retry"))
	q.AddAfter(keyOf("timer"), 0)
	addFast(l, q, "reacting")
	// The rate limiter's first delay is a few milliseconds.
	require.Eventually(t, func() bool { return q.Len() == 3 }, 5e9, 1e6)
	got := drain(t, q)
	assert.Equal(t, "reacting", got[0])
	assert.ElementsMatch(t, []string{"retry", "timer"}, got[1:])
}

// The controller's handlers put a child's change in the fast lane and a
// task's own change in the slow one.
func TestChildEventsAreFast(t *testing.T) {
	f := newFixture(t, psiObjects(t)...)
	for f.c.queue.Len() > 0 {
		key, _ := f.c.queue.Get()
		f.c.queue.Done(key)
	}
	task := f.task(psi)
	other := task.DeepCopy()
	other.Name = "another-task"
	f.c.enqueueTask(other, causeTask)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "alice", Name: "p",
		OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(task, kusciav1alpha1.SchemeGroupVersion.WithKind("KusciaTask"))}}}
	f.c.enqueueOwner(klog.Background(), pod)
	assert.Equal(t, []string{psi, "another-task"}, drain(t, f.c.queue))
}
