package controller

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"

	"kusciatask.io/controller/pkg/gate"
)

func podWithUID(name string, uid types.UID) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "alice", Name: name, UID: uid}}
}

// cacheOf is a lookup over the given pods, as an informer cache holds them.
func cacheOf(pods ...*corev1.Pod) lookup {
	return func(kind, key string) (metav1.Object, bool) {
		for _, p := range pods {
			if kind == kindPod && namespacedKey(p) == key {
				return p, true
			}
		}
		return nil, false
	}
}

func TestExpectationMetBy(t *testing.T) {
	mine := podWithUID("task-0", "uid-1")
	older := podWithUID("task-0", "uid-0")
	going := podWithUID("task-0", "uid-1")
	going.DeletionTimestamp = &metav1.Time{Time: t0}
	tests := []struct {
		name    string
		exp     expectation
		cache   lookup
		wantMet bool
	}{
		{name: "created, cache has it", exp: expectation{uid: "uid-1"}, cache: cacheOf(mine), wantMet: true},
		{name: "created, cache has nothing yet", exp: expectation{uid: "uid-1"}, cache: cacheOf()},
		{name: "created, cache has an older pod of the name", exp: expectation{uid: "uid-1"}, cache: cacheOf(older)},
		{name: "deleted, cache still has it", exp: expectation{uid: "uid-1", deleted: true}, cache: cacheOf(mine)},
		{name: "deleted, cache shows it going", exp: expectation{uid: "uid-1", deleted: true}, cache: cacheOf(going), wantMet: true},
		{name: "deleted, cache has none", exp: expectation{uid: "uid-1", deleted: true}, cache: cacheOf(), wantMet: true},
		{name: "deleted, cache has another pod of the name", exp: expectation{uid: "uid-0", deleted: true}, cache: cacheOf(mine), wantMet: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.wantMet, tc.exp.metBy(tc.cache(kindPod, "alice/task-0")))
		})
	}
}

func TestExpectationsWait(t *testing.T) {
	clock := clocktesting.NewFakeClock(t0)
	e := newExpectations(clock, time.Minute)
	a, b := podWithUID("task-0", "a"), podWithUID("task-1", "b")
	assert.Zero(t, e.wait("t", cacheOf()), "no expectations: no wait")

	e.created("t", kindPod, a)
	e.deleted("t", kindPod, b)
	assert.Equal(t, time.Minute, e.wait("t", cacheOf(b)), "neither shown yet")
	assert.Equal(t, time.Minute, e.wait("t", cacheOf(a, b)), "the delete is not shown yet")
	assert.Zero(t, e.wait("other", cacheOf()), "expectations are per task")
	clock.Step(10 * time.Second)
	assert.Zero(t, e.wait("t", cacheOf(a)), "both shown")
	assert.Zero(t, e.wait("t", cacheOf()), "met expectations are gone for good")

	t.Run("a create deleted before the cache showed it", func(t *testing.T) {
		e.created("t", kindPod, a)
		e.observeDeleted("t", kindPod, podWithUID("task-0", "someone-else"))
		assert.Positive(t, e.wait("t", cacheOf()))
		e.observeDeleted("t", kindPod, a)
		assert.Zero(t, e.wait("t", cacheOf()))
	})
	t.Run("expiry", func(t *testing.T) {
		e.created("t", kindPod, a)
		clock.Step(59 * time.Second)
		assert.Equal(t, time.Second, e.wait("t", cacheOf()))
		clock.Step(time.Second)
		assert.Zero(t, e.wait("t", cacheOf()), "an event that never comes does not stall the task")
	})
	t.Run("forget", func(t *testing.T) {
		e.created("t", kindPod, a)
		e.forget("t")
		assert.Zero(t, e.wait("t", cacheOf()))
	})
}

// An opened gate is expected until the cache shows it open, or the pod gone
// or replaced.
func TestGateExpectationMetBy(t *testing.T) {
	withGate := func(uid types.UID, value string) *corev1.Pod {
		p := podWithUID("task-0", uid)
		p.Annotations = map[string]string{gate.Annotation: value}
		return p
	}
	exp := expectation{uid: "uid-1", gateOpen: true}
	tests := []struct {
		name    string
		cache   lookup
		wantMet bool
	}{
		{name: "cache shows it closed", cache: cacheOf(withGate("uid-1", gate.Closed))},
		{name: "cache shows no annotation", cache: cacheOf(podWithUID("task-0", "uid-1"))},
		{name: "cache shows it open", cache: cacheOf(withGate("uid-1", gate.Open)), wantMet: true},
		{name: "pod gone", cache: cacheOf(), wantMet: true},
		{name: "replaced by a newer pod", cache: cacheOf(withGate("uid-2", gate.Closed)), wantMet: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.wantMet, exp.metBy(tc.cache(kindPod, "alice/task-0")))
		})
	}
}

func TestExpectationsEcho(t *testing.T) {
	clock := clocktesting.NewFakeClock(t0)
	created := podWithUID("task-0", "uid-1")
	created.ResourceVersion = "7"
	later := created.DeepCopy()
	later.ResourceVersion = "8"
	other := podWithUID("task-1", "uid-2")
	other.ResourceVersion = "3"

	t.Run("the echo of a create no sync waits for", func(t *testing.T) {
		e := newExpectations(clock, time.Minute)
		assert.False(t, e.created("t", kindPod, created))
		isEcho, wake := e.echo("t", kindPod, later)
		assert.False(t, isEcho, "another state of the pod is no echo")
		isEcho, wake = e.echo("t", kindPod, created)
		assert.True(t, isEcho)
		assert.False(t, wake)
		assert.Zero(t, e.wait("t", cacheOf()), "met")
	})
	t.Run("the echo a sync waits for", func(t *testing.T) {
		e := newExpectations(clock, time.Minute)
		e.created("t", kindPod, created)
		e.created("t", kindPod, other)
		assert.Positive(t, e.wait("t", cacheOf()))
		isEcho, wake := e.echo("t", kindPod, created)
		assert.True(t, isEcho)
		assert.False(t, wake, "another is still awaited")
		isEcho, wake = e.echo("t", kindPod, other)
		assert.True(t, isEcho)
		assert.True(t, wake, "the last one: the waiting sync must come back")
	})
	t.Run("an add before the create's response", func(t *testing.T) {
		e := newExpectations(clock, time.Minute)
		e.creating("t", kindPod, created)
		assert.Zero(t, e.wait("t", cacheOf()), "a create in flight holds no sync")
		e.creating("t", kindPod, created)
		isEcho, _ := e.echo("t", kindPod, created)
		assert.True(t, isEcho, "parked")
		assert.False(t, e.created("t", kindPod, created), "it was the create's own")
		assert.Zero(t, e.wait("t", cacheOf()), "and met")
	})
	t.Run("another object's add before the create's response", func(t *testing.T) {
		e := newExpectations(clock, time.Minute)
		e.creating("t", kindPod, created)
		e.echo("t", kindPod, later)
		assert.True(t, e.created("t", kindPod, created), "not the create's own: to be queued")
		assert.Equal(t, time.Minute, e.wait("t", cacheOf()), "the create is still expected")
	})
	t.Run("a create that failed", func(t *testing.T) {
		e := newExpectations(clock, time.Minute)
		e.creating("t", kindPod, created)
		assert.False(t, e.createFailed("t", kindPod, created))
		e.creating("t", kindPod, created)
		e.echo("t", kindPod, later)
		assert.True(t, e.createFailed("t", kindPod, created), "what was parked is queued")
		assert.Zero(t, e.wait("t", cacheOf()))
	})
	t.Run("an opened gate's echo", func(t *testing.T) {
		e := newExpectations(clock, time.Minute)
		e.gateOpened("t", created)
		isEcho, _ := e.echo("t", kindPod, created)
		assert.False(t, isEcho, "a gate is its own kind")
		isEcho, wake := e.echo("t", kindPodGate, created)
		assert.True(t, isEcho)
		assert.False(t, wake)
	})
	t.Run("the echo of a create the cache showed before its event", func(t *testing.T) {
		// An informer updates its cache before its handlers run: a sync
		// can find the create met before the add event is handled.
		e := newExpectations(clock, time.Minute)
		e.created("t", kindPod, created)
		e.gateOpened("t", other)
		opened := other.DeepCopy()
		opened.Annotations = map[string]string{gate.Annotation: gate.Open}
		assert.Zero(t, e.wait("t", cacheOf(created, opened)), "met: the sync goes ahead")
		isEcho, wake := e.echo("t", kindPod, later)
		assert.False(t, isEcho, "another state of the pod is no echo")
		isEcho, wake = e.echo("t", kindPod, created)
		assert.True(t, isEcho, "still known as the create's own")
		assert.False(t, wake, "no sync waits for it")
		isEcho, _ = e.echo("t", kindPod, created)
		assert.False(t, isEcho, "once")
		isEcho, _ = e.echo("t", kindPodGate, other)
		assert.True(t, isEcho, "the gate patch's too")
		assert.Empty(t, e.byTask, "nothing left for the task")
	})
	t.Run("an echo record expires", func(t *testing.T) {
		e := newExpectations(clock, time.Minute)
		e.created("t", kindPod, created)
		assert.Zero(t, e.wait("t", cacheOf(created)))
		clock.Step(time.Minute)
		isEcho, _ := e.echo("t", kindPod, created)
		assert.False(t, isEcho, "past the ttl an event is handled as any other")
		assert.Empty(t, e.byTask)
	})
	t.Run("an echo record goes with the object's delete", func(t *testing.T) {
		e := newExpectations(clock, time.Minute)
		e.created("t", kindPod, created)
		assert.Zero(t, e.wait("t", cacheOf(created)))
		e.observeDeleted("t", kindPod, created)
		assert.Empty(t, e.byTask)
	})
	t.Run("a delete has no echo", func(t *testing.T) {
		e := newExpectations(clock, time.Minute)
		e.deleted("t", kindPod, created)
		isEcho, _ := e.echo("t", kindPod, created)
		assert.False(t, isEcho)
	})
}
