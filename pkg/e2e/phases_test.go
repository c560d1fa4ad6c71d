//go:build e2e

package e2e

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// bob never fits: round after round is created and released, the
// controller is killed once on the way, and a pod watch sees each pod of
// each round created exactly once.
func TestEachPodOfEachRoundIsCreatedOnce(t *testing.T) {
	const name = "e2e-rounds-once"
	deleteTaskOnCleanup(t, name)
	pods := watchTaskPods(t, name, "alice", "bob")
	schedule := "  scheduleConfig:\n    resourceReservedSeconds: 2\n    retryIntervalSeconds: 1\n    lifecycleSeconds: 40\n"
	applyYAML(t, psiTask(name, schedule,
		partyOpts{env: map[string]string{"KWOK_OUTCOME": "run"}},
		partyOpts{cpu: "64"},
	))

	eventually(t, 30*time.Second, "round 2", func() (bool, string) {
		task := getTask(t, name)
		if task.Status.Reservation == nil {
			return false, "no reservation yet"
		}
		return task.Status.Reservation.Round >= 2, "round " + itoa(int(task.Status.Reservation.Round))
	})
	env.controller.Stop(syscall.SIGKILL)
	require.NoError(t, env.controller.Start())

	task := waitPhase(t, name, kusciav1alpha1.TaskFailed, 90*time.Second)
	assert.Equal(t, kusciav1alpha1.ReasonReservationExpired, task.Status.Reason)
	rounds := int(task.Status.Reservation.Round)
	require.GreaterOrEqual(t, rounds, 3, "several rounds ran")
	time.Sleep(time.Second) // the watch's last events
	adds := pods.adds()
	for round := 1; round <= rounds; round++ {
		for _, ns := range []string{"alice", "bob"} {
			key := ns + "/" + name + "-0 round " + itoa(round)
			assert.Equal(t, 1, adds[key], "%s created %d times", key, adds[key])
		}
	}
	assert.Len(t, adds, 2*rounds, "no pod of any other round: %v", adds)

	// No status write of this task ran into a conflict with the
	// controller's own previous write.
	log, err := os.ReadFile(env.controller.Log)
	require.NoError(t, err)
	for _, line := range strings.Split(string(log), "\n") {
		if strings.Contains(line, `kusciatask="`+name+`"`) && strings.Contains(line, "the object has been modified") {
			t.Errorf("a status write conflicted: %s", line)
		}
	}
}

// bob fails while alice runs: the status that fails the task says what is
// true at the end (alice stopped, her pod stopped), in every version the
// task watch saw, and alice's pod is deleted right after it is written.
func TestTheEndIsReportedAsItIs(t *testing.T) {
	const name = "e2e-end-truth"
	deleteTaskOnCleanup(t, name)
	versions := watchTask(t, name)
	pods := watchTaskPods(t, name, "alice", "bob")
	applyYAML(t, psiTask(name, "",
		partyOpts{env: map[string]string{"KWOK_OUTCOME": "run"}},
		partyOpts{env: map[string]string{"KWOK_OUTCOME": "fail", "KWOK_EXIT_CODE": "3", "KWOK_MESSAGE": "psi: bob-table not found", "KWOK_DELAY": "3s"}},
	))
	task := waitPhase(t, name, kusciav1alpha1.TaskFailed, 90*time.Second)
	failedAt := time.Now()

	alicePod, bobPod := "alice/"+name+"-0", "bob/"+name+"-0"
	alice, bob := task.Status.PartyTaskStatus[0], task.Status.PartyTaskStatus[1]
	assert.Equal(t, kusciav1alpha1.TaskFailed, alice.Phase)
	assert.Equal(t, "stopped: the task failed before this party finished", alice.Message)
	assert.Equal(t, kusciav1alpha1.TaskFailed, bob.Phase)
	assert.Contains(t, bob.Message, "psi: bob-table not found (container secretflow exited with code 3)")
	require.NotNil(t, task.Status.PodStatuses[alicePod])
	assert.Equal(t, corev1.PodFailed, task.Status.PodStatuses[alicePod].PodPhase)
	assert.Equal(t, kusciav1alpha1.PodReasonStopped, task.Status.PodStatuses[alicePod].Reason)
	assert.EqualValues(t, 3, task.Status.PodStatuses[bobPod].ExitCode)

	eventually(t, 10*time.Second, "alice's pod to be deleted", func() (bool, string) {
		_, ok := pods.deletedAt(alicePod)
		return ok, "not deleted yet"
	})
	deleted, _ := pods.deletedAt(alicePod)
	assert.WithinDuration(t, failedAt, deleted, 5*time.Second, "deleted with the transition, not long after")
	_, bobDeleted := pods.deletedAt(bobPod)
	assert.False(t, bobDeleted, "a failed pod stays for its logs")

	for _, s := range versions.seen() {
		if !s.Phase.IsTerminal() {
			continue
		}
		for _, p := range s.PartyTaskStatus {
			assert.Contains(t, []kusciav1alpha1.KusciaTaskPhase{kusciav1alpha1.TaskSucceeded, kusciav1alpha1.TaskFailed}, p.Phase,
				"a %s status reports party %s %s", s.Phase, p.DomainID, p.Phase)
		}
		for key, ps := range s.PodStatuses {
			assert.Contains(t, []corev1.PodPhase{corev1.PodSucceeded, corev1.PodFailed}, ps.PodPhase,
				"a %s status reports pod %s %s", s.Phase, key, ps.PodPhase)
		}
	}
	out := kubectl(t, "describe", "kt", name)
	assert.True(t, strings.Contains(out, "Stopped"), out)
}
