//go:build e2e

package e2e

import (
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/types"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// The controller is killed (SIGKILL) while a task runs: a new controller
// finishes it without creating any pod twice.
func TestControllerKilledMidTask(t *testing.T) {
	const name = "e2e-restart"
	deleteTaskOnCleanup(t, name)
	slow := map[string]string{"KWOK_DELAY": "8s"}
	applyYAML(t, psiTask(name, "", partyOpts{env: slow}, partyOpts{env: slow}))
	task := waitPhase(t, name, kusciav1alpha1.TaskRunning, 30*time.Second)
	before := map[string]types.UID{}
	for _, p := range taskPods(t, task, "alice", "bob") {
		before[p.Namespace+"/"+p.Name] = p.UID
	}
	require.Len(t, before, 2)

	env.controller.Stop(syscall.SIGKILL)
	require.NoError(t, env.controller.Start())

	task = waitPhase(t, name, kusciav1alpha1.TaskSucceeded, 60*time.Second)
	after := map[string]types.UID{}
	for _, p := range taskPods(t, task, "alice", "bob") {
		after[p.Namespace+"/"+p.Name] = p.UID
	}
	assert.Equal(t, before, after, "no pod was created twice")
	assert.EqualValues(t, 1, task.Status.Reservation.Round)
}
