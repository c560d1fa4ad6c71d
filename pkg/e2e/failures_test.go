//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// bob's pod exits 1: the task fails, bob's message carries the termination
// message, alice's still-running pod is deleted, describe shows the Events.
func TestFailingPartyFailsTheTask(t *testing.T) {
	const name = "e2e-failing-party"
	deleteTaskOnCleanup(t, name)
	applyYAML(t, psiTask(name, "",
		partyOpts{env: map[string]string{"KWOK_OUTCOME": "run"}},
		partyOpts{env: map[string]string{"KWOK_OUTCOME": "fail", "KWOK_EXIT_CODE": "1", "KWOK_MESSAGE": "psi: bob-table has no column id2", "KWOK_DELAY": "3s"}},
	))
	task := waitPhase(t, name, kusciav1alpha1.TaskFailed, 90*time.Second)
	assert.Equal(t, kusciav1alpha1.ReasonPartiesFailed, task.Status.Reason)
	bob := task.Status.PartyTaskStatus[1]
	assert.Equal(t, kusciav1alpha1.TaskFailed, bob.Phase)
	assert.Contains(t, bob.Message, "bob/"+name+"-0")
	assert.Contains(t, bob.Message, "psi: bob-table has no column id2")
	assert.Equal(t, "psi: bob-table has no column id2", task.Status.PodStatuses["bob/"+name+"-0"].TerminationLog)

	// alice's pod was running; the finish step deletes it. bob's failed pod
	// stays for its logs.
	eventually(t, 30*time.Second, "alice's running pod to be deleted", func() (bool, string) {
		_, err := env.kube.CoreV1().Pods("alice").Get(testContext(t), name+"-0", metav1GetOptions)
		return isNotFound(err), "alice's pod still there"
	})
	_, err := env.kube.CoreV1().Pods("bob").Get(testContext(t), name+"-0", metav1GetOptions)
	assert.NoError(t, err, "a failed pod stays for its logs")

	out := kubectl(t, "describe", "kt", name)
	assert.Contains(t, out, "Events:")
	assert.Regexp(t, `Warning\s+PartiesFailed`, out)
	assert.Regexp(t, `Normal\s+Running`, out)
}

// A party in a namespace that is not a Kuscia domain fails the task; nothing
// is created there.
func TestNamespaceThatIsNotADomain(t *testing.T) {
	const name = "e2e-not-a-domain"
	deleteTaskOnCleanup(t, name)
	kubectl(t, "create", "namespace", "plain-ns")
	t.Cleanup(func() { _, _ = kubectlOutput(nil, "delete", "namespace", "plain-ns", "--wait=false") })
	applyYAML(t, psiTask(name, "", partyOpts{}, partyOpts{domainID: "plain-ns"}))
	task := waitPhase(t, name, kusciav1alpha1.TaskFailed, 30*time.Second)
	assert.Equal(t, kusciav1alpha1.ReasonDomainNotFound, task.Status.Reason)
	assert.Contains(t, task.Status.Message, `namespace "plain-ns" is not a Kuscia domain`)
	assert.Zero(t, childCount(t, string(task.UID), "plain-ns", "alice"), "nothing may be created for a task that fails its input")
	out := kubectl(t, "get", "events", "-A", "--field-selector", "involvedObject.name="+name, "-o", "custom-columns=TYPE:.type,REASON:.reason")
	assert.True(t, strings.Contains(out, "DomainNotFound"), out)
}

// A template the CRD accepts but Pod validation refuses (a negative
// request) fails the task with the API server's reason, instead of
// retrying. A request above its limit, which the API server refuses too,
// is the controller's own check: the task fails before anything is created.
func TestPodTheAPIServerRejects(t *testing.T) {
	const name = "e2e-rejected-pod"
	deleteTaskOnCleanup(t, name)
	manifest := psiTask(name, "", partyOpts{}, partyOpts{}) + `    template:
      spec:
        containers:
        - name: secretflow
          resources:
            requests: {memory: "-1Mi"}
`
	applyYAML(t, manifest)
	task := waitPhase(t, name, kusciav1alpha1.TaskFailed, 30*time.Second)
	assert.Equal(t, kusciav1alpha1.ReasonInvalidTemplate, task.Status.Reason)
	assert.Contains(t, task.Status.Message, "the API server rejected pod bob/"+name+"-0")
	assert.Contains(t, task.Status.Message, "must be greater than or equal to 0")

	const above = "e2e-request-above-limit"
	deleteTaskOnCleanup(t, above)
	applyYAML(t, psiTask(above, "", partyOpts{}, partyOpts{})+`    template:
      spec:
        containers:
        - name: secretflow
          resources:
            requests: {cpu: "2"}
            limits: {cpu: "1"}
`)
	task = waitPhase(t, above, kusciav1alpha1.TaskFailed, 30*time.Second)
	assert.Equal(t, kusciav1alpha1.ReasonInvalidTemplate, task.Status.Reason)
	assert.Contains(t, task.Status.Message, `party bob: container "secretflow": the cpu request 2 is above its limit 1`)
	assert.Zero(t, childCount(t, string(task.UID), "alice", "bob"), "nothing is created for a task the controller refuses")
}
