//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/gate"
)

// The forged member of issue 19, without the admission policy: bob's real
// pod waits for a node label no node has; a pod made in bob's namespace
// with the task's labels and controller reference does not stand in for
// bob. Alice's gate never opens, the task stays Pending, the forged pod is
// not reported, and one ForeignPod Warning names it.
func TestTrustForgedMemberIsIgnored(t *testing.T) {
	const name = "e2e-trust-forged"
	const labelKey = "e2e.kuscia.secretflow/trust"
	deleteTaskOnCleanup(t, name)
	pods := followGates(t, name, "alice", "bob")
	applyBobWaitsForALabel(t, name, labelKey)
	eventually(t, 30*time.Second, "alice to be held", func() (bool, string) {
		alice := taskPods(t, getTask(t, name), "alice")
		return len(alice) == 1 && held(&alice[0]), fmt.Sprintf("alice's pods: %d", len(alice))
	})

	task := getTask(t, name)
	forged, err := env.kube.CoreV1().Pods("bob").Create(testContext(t), forgedMember(task, "kwok-node-0"), metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = env.kube.CoreV1().Pods("bob").Delete(testContext(t), forged.Name, metav1.DeleteOptions{}) })

	eventually(t, 30*time.Second, "a ForeignPod Warning", func() (bool, string) {
		events := taskEvents(t, name, "ForeignPod")
		return len(events) > 0 && strings.Contains(events[0].Message, "bob/"+forged.Name), fmt.Sprint(events)
	})
	// Some time for a wrong decision to show.
	time.Sleep(5 * time.Second)
	task = getTask(t, name)
	assert.Equal(t, kusciav1alpha1.TaskPending, task.Status.Phase)
	assert.Equal(t, []string{"alice"}, task.Status.Reservation.ReservedParties)
	assert.NotContains(t, task.Status.PodStatuses, "bob/"+forged.Name)
	alice := taskPods(t, task, "alice")
	require.Len(t, alice, 1)
	assert.False(t, gate.IsOpen(alice[0].Annotations[gate.Annotation]), "alice's gate stays closed")
	assert.True(t, held(&alice[0]), "alice's application has not started")
	violations, _, opened, party, _ := pods.snapshot()
	var real []string
	for _, v := range violations {
		// The forged pod has no gate and runs at once: not the task's.
		if !strings.HasPrefix(v, forged.Name+":") {
			real = append(real, v)
		}
	}
	assert.Empty(t, real, "an application container of the task ran behind a closed gate")
	for uid := range opened {
		assert.NotEqual(t, "alice", party[uid], "alice's gate was seen open")
	}
	assert.Equal(t, int32(1), eventCount(taskEvents(t, name, "ForeignPod")), "told once")
}

// taskEvents lists the Events of the task with the given reason.
func taskEvents(t *testing.T, name, reason string) []corev1.Event {
	t.Helper()
	list, err := env.kube.CoreV1().Events("").List(testContext(t), metav1.ListOptions{
		FieldSelector: fields.AndSelectors(fields.OneTermEqualSelector("involvedObject.name", name),
			fields.OneTermEqualSelector("involvedObject.kind", "KusciaTask"), fields.OneTermEqualSelector("reason", reason)).String(),
	})
	require.NoError(t, err)
	return list.Items
}

// eventCount is how many times the events were recorded.
func eventCount(events []corev1.Event) int32 {
	var n int32
	for _, e := range events {
		n += max(e.Count, 1)
	}
	return n
}

// A terminal phase written over a running task by someone other than the
// controller is not obeyed: the pods keep running, the task says
// StatusTampered, and a Warning says so.
func TestTrustForgedTerminalStatusIsNotObeyed(t *testing.T) {
	phases := []kusciav1alpha1.KusciaTaskPhase{kusciav1alpha1.TaskSucceeded, kusciav1alpha1.TaskFailed}
	run := map[string]string{"KWOK_OUTCOME": "run"}
	for _, phase := range phases {
		name := "e2e-trust-" + strings.ToLower(string(phase))
		deleteTaskOnCleanup(t, name)
		applyYAML(t, psiTask(name, "", partyOpts{env: run}, partyOpts{env: run}))
	}
	for _, phase := range phases {
		t.Run(string(phase), func(t *testing.T) {
			name := "e2e-trust-" + strings.ToLower(string(phase))
			task := waitPhase(t, name, kusciav1alpha1.TaskRunning, 60*time.Second)
			eventually(t, 30*time.Second, "both pods running", func() (bool, string) {
				n := 0
				for _, p := range taskPods(t, task, "alice", "bob") {
					if p.Status.Phase == corev1.PodRunning {
						n++
					}
				}
				return n == 2, fmt.Sprintf("%d running", n)
			})
			before := map[string]bool{}
			for _, p := range taskPods(t, task, "alice", "bob") {
				before[string(p.UID)] = true
			}

			now := time.Now().UTC().Format(time.RFC3339)
			kubectl(t, "patch", "kt", name, "--subresource=status", "--type=merge",
				"-p", fmt.Sprintf(`{"status":{"phase":%q,"completionTime":%q}}`, phase, now))

			eventually(t, 30*time.Second, "reason StatusTampered", func() (bool, string) {
				s := getTask(t, name).Status
				return s.Reason == kusciav1alpha1.ReasonStatusTampered, string(s.Reason)
			})
			time.Sleep(3 * time.Second)
			task = getTask(t, name)
			assert.Equal(t, phase, task.Status.Phase, "a finished phase cannot change")
			assert.Contains(t, task.Status.Message, "by someone other than the controller")
			for _, p := range task.Status.PartyTaskStatus {
				assert.Equal(t, kusciav1alpha1.TaskRunning, p.Phase, p.DomainID)
			}
			after := taskPods(t, task, "alice", "bob")
			require.Len(t, after, 2)
			for _, p := range after {
				assert.True(t, before[string(p.UID)], "the same pod %s", p.Name)
				assert.Nil(t, p.DeletionTimestamp, "pod %s not stopped", p.Name)
				assert.Equal(t, corev1.PodRunning, p.Status.Phase, p.Name)
			}
			events := taskEvents(t, name, string(kusciav1alpha1.ReasonStatusTampered))
			assert.Equal(t, int32(1), eventCount(events), "one Warning")
			if len(events) > 0 {
				assert.Equal(t, corev1.EventTypeWarning, events[0].Type)
				assert.Contains(t, events[0].Message, "status.phase was set to "+string(phase))
			}
		})
	}
}
