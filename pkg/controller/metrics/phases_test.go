package metrics

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"k8s.io/client-go/tools/cache"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

func taskIn(phase kusciav1alpha1.KusciaTaskPhase) *kusciav1alpha1.KusciaTask {
	t := &kusciav1alpha1.KusciaTask{}
	t.Name = "t-" + string(phase)
	t.Status.Phase = phase
	return t
}

func TestPhaseCountsFollowTaskEvents(t *testing.T) {
	p := NewPhaseCounts()
	fresh, running, done := taskIn(""), taskIn(kusciav1alpha1.TaskRunning), taskIn(kusciav1alpha1.TaskSucceeded)
	p.Move(nil, fresh)
	p.Move(nil, running)
	p.Move(nil, "not a task")
	p.Move(running, running) // a resync
	assert.Equal(t, map[kusciav1alpha1.KusciaTaskPhase]int{
		kusciav1alpha1.TaskPending: 1, kusciav1alpha1.TaskRunning: 1, kusciav1alpha1.TaskSucceeded: 0, kusciav1alpha1.TaskFailed: 0,
	}, p.snapshot(), "a task not synced yet counts as Pending")

	p.Move(running, done)
	p.Move(fresh, nil)
	p.Move(cache.DeletedFinalStateUnknown{Key: done.Name, Obj: done}, nil)
	assert.Equal(t, map[kusciav1alpha1.KusciaTaskPhase]int{
		kusciav1alpha1.TaskPending: 0, kusciav1alpha1.TaskRunning: 0, kusciav1alpha1.TaskSucceeded: 0, kusciav1alpha1.TaskFailed: 0,
	}, p.snapshot(), "a deleted task (tombstone or not) leaves its phase")
}
