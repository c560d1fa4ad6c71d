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
