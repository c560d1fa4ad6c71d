//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/gate"
)

// Pulling the application's images during the reservation, as the kwok
// stages simulate it (KWOK_PULL_DELAY, KWOK_PULL_FAIL; hack/kwok/stages.yaml):
// the controller runs with its default --pull-during-reservation=true.
func TestPullDuringReservation(t *testing.T) {
	t.Run("a party pulling is not reserved", func(t *testing.T) { t.Parallel(); testPullDelaysTheGang(t) })
	t.Run("a pull backing off releases the round", func(t *testing.T) { t.Parallel(); testPullBackOffReleases(t) })
	t.Run("an image never pulled fails at once", func(t *testing.T) { t.Parallel(); testImageNeverPulledFails(t) })
}

// partyMessage is the message of a party in a task's status, or "".
func partyMessage(s kusciav1alpha1.KusciaTaskStatus, domain string) string {
	for _, p := range s.PartyTaskStatus {
		if p.DomainID == domain {
			return p.Message
		}
	}
	return ""
}

// appImage is the application image of bob's pod, once it exists; the gate
// runs from it.
func appImage(t *testing.T, name string) string {
	t.Helper()
	var image string
	eventually(t, 20*time.Second, "bob's pod", func() (bool, string) {
		pods := taskPods(t, getTask(t, name), "bob")
		if len(pods) == 0 {
			return false, "no pod yet"
		}
		p := pods[0]
		require.GreaterOrEqual(t, len(p.Spec.InitContainers), 2)
		assert.Equal(t, gate.InstallContainerName, p.Spec.InitContainers[0].Name)
		assert.Equal(t, gate.ContainerName, p.Spec.InitContainers[1].Name)
		image = p.Spec.Containers[0].Image
		assert.Equal(t, image, p.Spec.InitContainers[1].Image, "the gate runs from the application's image")
		return true, ""
	})
	return image
}

// bob's image takes 8 s to pull: bob stays unreserved, with the image
// named, and the gang forms only once his gate waits.
func testPullDelaysTheGang(t *testing.T) {
	const name = "e2e-pull-delay"
	deleteTaskOnCleanup(t, name)
	applyYAML(t, psiTask(name, "", partyOpts{}, partyOpts{env: map[string]string{"KWOK_PULL_DELAY": "8s"}}))
	image := appImage(t, name)

	eventually(t, 15*time.Second, "bob to be reported pulling", func() (bool, string) {
		s := getTask(t, name).Status
		bob, alice := partyMessage(s, "bob"), partyMessage(s, "alice")
		ok := strings.Contains(bob, "bound 1/1, pulling images 1/1") && strings.Contains(bob, "pulling "+image) &&
			strings.Contains(alice, "gate closed; waiting for [bob]")
		return ok, "alice: " + alice + " | bob: " + bob
	})
	assert.Equal(t, kusciav1alpha1.TaskPending, getTask(t, name).Status.Phase, "not reserved while bob pulls")

	task := waitPhase(t, name, kusciav1alpha1.TaskSucceeded, 60*time.Second)
	res := task.Status.Reservation
	require.NotNil(t, res)
	require.NotNil(t, res.GateOpenedTime)
	assert.GreaterOrEqual(t, res.GateOpenedTime.Sub(res.RoundStartTime.Time), 7*time.Second,
		"the gates opened only after bob's 8 s pull")
	assert.Equal(t, int32(1), res.Round, "one round: pulling within resourceReservedSeconds is no failure")
}

// bob's pull keeps failing (ImagePullBackOff): the task is not failed for
// it; his party says why, the round is released resourceReservedSeconds
// after alice reserved and retried, and the task expires at
// lifecycleSeconds with the image in its message.
func testPullBackOffReleases(t *testing.T) {
	const name = "e2e-pull-backoff"
	deleteTaskOnCleanup(t, name)
	schedule := "  scheduleConfig:\n    resourceReservedSeconds: 8\n    retryIntervalSeconds: 2\n    lifecycleSeconds: 25\n"
	applyYAML(t, psiTask(name, schedule, partyOpts{env: map[string]string{"KWOK_OUTCOME": "run"}},
		partyOpts{env: map[string]string{"KWOK_PULL_FAIL": "ImagePullBackOff"}}))
	image := appImage(t, name)

	eventually(t, 15*time.Second, "bob's pull failure to be reported while the round holds", func() (bool, string) {
		s := getTask(t, name).Status
		bob := partyMessage(s, "bob")
		return strings.Contains(bob, "pulling "+image+": ImagePullBackOff: "), bob
	})

	task := waitPhase(t, name, kusciav1alpha1.TaskFailed, 60*time.Second)
	assert.Equal(t, kusciav1alpha1.ReasonReservationExpired, task.Status.Reason, task.Status.Message)
	assert.Contains(t, task.Status.Message, image)
	require.NotNil(t, task.Status.Reservation)
	assert.GreaterOrEqual(t, task.Status.Reservation.Round, int32(2), "released and retried, not failed")
	assert.Contains(t, task.Status.Reservation.LastFailure, "ImagePullBackOff")
	assert.InDelta(t, 25, task.Status.CompletionTime.Sub(task.Status.StartTime.Time).Seconds(), 5, "fails at lifecycleSeconds, not before")
	assert.Regexp(t, `Warning\s+RoundReleased`, kubectl(t, "describe", "kt", name))
}

// bob's image is never pulled (pull policy Never, not on the node): no
// round can help, so the task fails at once, naming the image.
func testImageNeverPulledFails(t *testing.T) {
	const name = "e2e-pull-never"
	deleteTaskOnCleanup(t, name)
	schedule := "  scheduleConfig:\n    lifecycleSeconds: 120\n"
	applyYAML(t, psiTask(name, schedule, partyOpts{env: map[string]string{"KWOK_OUTCOME": "run"}},
		partyOpts{env: map[string]string{"KWOK_PULL_FAIL": "ErrImageNeverPull"}}))
	// The pods may be gone before they are seen: the task stops them at once.
	image := kubectl(t, "get", "appimage", "secretflow-image", "-o", "jsonpath={.spec.image.name}:{.spec.image.tag}")

	task := waitPhase(t, name, kusciav1alpha1.TaskFailed, 30*time.Second)
	assert.Equal(t, kusciav1alpha1.ReasonImageUnavailable, task.Status.Reason)
	assert.Contains(t, task.Status.Message, "ErrImageNeverPull")
	assert.Contains(t, task.Status.Message, image)
	assert.Less(t, task.Status.CompletionTime.Sub(task.Status.StartTime.Time), 30*time.Second, "long before lifecycleSeconds")
	assert.Regexp(t, `Warning\s+ImageUnavailable`, kubectl(t, "describe", "kt", name))
}
