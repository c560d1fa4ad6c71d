package controller

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestSyncCauses(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	s := newSyncCauses()
	assert.Empty(t, s.take("a", t0).names(), "nothing noted")

	s.note("a", causePod)
	s.note("a", causePod)
	s.note("a", causeService)
	s.note("b", causeTask)
	assert.Equal(t, []string{"pod", "service"}, s.take("a", t0).names(), "each cause once, however many adds")
	assert.Empty(t, s.take("a", t0).names(), "cleared by the sync")

	s.noteAt("a", causeTimer, t0.Add(time.Second))
	s.note("a", causePod)
	assert.Equal(t, []string{"pod"}, s.take("a", t0).names(), "a timer not due yet stays pending")
	assert.Equal(t, []string{"timer"}, s.take("a", t0.Add(time.Second)).names(), "and counts for the sync at its due time")

	s.noteAt("a", causeRetry, t0.Add(time.Second))
	assert.Equal(t, []string{"retry"}, s.take("a", t0).names(), "a sync with nothing due takes what is pending")
	assert.Equal(t, []string{"task"}, s.take("b", t0).names())
	assert.Empty(t, s.byTask, "nothing left behind")
}

func TestChildCause(t *testing.T) {
	for kind, want := range map[string]cause{kindPod: causePod, kindService: causeService, kindConfigMap: causeConfigMap, kindPodGroup: causePodGroup} {
		assert.Equal(t, want, childCause(kind), kind)
	}
}

func TestStaleTimer(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	timer := causeSet(0).with(causeTimer)

	s := newSyncCauses()
	s.noteAt("a", causeTimer, t0.Add(time.Second))
	s.wantTimer("a", true)
	s.note("a", causePod)
	assert.False(t, s.stale("a", s.take("a", t0)), "a pod's sync")
	s.wantTimer("a", false)
	got := s.take("a", t0.Add(time.Second))
	assert.Equal(t, timer, got)
	assert.True(t, s.stale("a", got), "the last sync wanted no timer: the old one is stale")
	assert.Empty(t, s.byTask)

	s.noteAt("b", causeTimer, t0.Add(time.Second))
	s.wantTimer("b", true)
	assert.False(t, s.stale("b", s.take("b", t0.Add(time.Second))), "the last sync wants it")

	s.noteAt("c", causeTimer, t0.Add(time.Second))
	s.noteAt("c", causeRetry, t0.Add(time.Minute))
	assert.False(t, s.stale("c", s.take("c", t0.Add(time.Second))), "a retry pending: the queue may have folded it into this timer")
	assert.False(t, s.stale("d", causeSet(0).with(causePod)), "not a timer")
}
