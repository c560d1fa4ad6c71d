//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// domainNamespace creates a Kuscia domain namespace for one test.
func domainNamespace(t *testing.T, name string) {
	t.Helper()
	applyYAML(t, fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n  labels: {kuscia.secretflow/domain: %s}\n", name, name))
	t.Cleanup(func() { _, _ = kubectlOutput(nil, "delete", "namespace", name, "--wait=false") })
}

// probePod tries to create a pod in a namespace (server-side dry run).
func probePod(ns string) (string, error) {
	return kubectlOutput([]byte(fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: probe, namespace: %s}
spec: {containers: [{name: c, image: busybox}]}
`, ns)), "create", "--dry-run=server", "-f", "-")
}

// An admission policy forbids pods in carol's namespace: the task fails at
// once with the server's message and a reason of its own, and it had a
// phase and a startTime all along.
func TestAChildForbiddenByAdmissionFailsTheTask(t *testing.T) {
	const name, ns = "e2e-forbidden", "e2e-no-pods"
	deleteTaskOnCleanup(t, name)
	domainNamespace(t, ns)
	applyYAML(t, `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: e2e-no-pods}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}
  validations:
  - {expression: "false", message: "no pods in this domain", reason: Forbidden}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: e2e-no-pods}
spec:
  policyName: e2e-no-pods
  validationActions: [Deny]
  matchResources:
    namespaceSelector:
      matchLabels: {kubernetes.io/metadata.name: e2e-no-pods}
`)
	t.Cleanup(func() {
		_, _ = kubectlOutput(nil, "delete", "validatingadmissionpolicybinding,validatingadmissionpolicy", "e2e-no-pods")
	})
	eventually(t, 30*time.Second, "the policy to be in force", func() (bool, string) {
		out, err := probePod(ns)
		return err != nil && strings.Contains(out, "no pods in this domain"), out
	})

	applyYAML(t, psiTask(name, "", partyOpts{env: map[string]string{"KWOK_OUTCOME": "run"}}, partyOpts{domainID: ns}))
	task := waitPhase(t, name, kusciav1alpha1.TaskFailed, 30*time.Second)
	assert.Equal(t, kusciav1alpha1.ReasonResourceRejected, task.Status.Reason)
	assert.Contains(t, task.Status.Message, "the API server refused pod "+ns+"/"+name+"-0")
	assert.Contains(t, task.Status.Message, "no pods in this domain")
	require.NotNil(t, task.Status.StartTime)
	assert.Equal(t, kusciav1alpha1.PodReasonStopped, task.Status.PodStatuses["alice/"+name+"-0"].Reason, "alice's pod is stopped with the task")
	out := kubectl(t, "describe", "kt", name)
	assert.Regexp(t, `Warning\s+ResourceRejected`, out)
}

// A ResourceQuota holds carol's pod back: the task stays Pending and says
// why; once the quota is gone the pod is created and the task runs to the
// end.
func TestAQuotaHoldsTheTaskUntilItHeals(t *testing.T) {
	const name, ns = "e2e-quota", "e2e-quota"
	deleteTaskOnCleanup(t, name)
	domainNamespace(t, ns)
	applyYAML(t, "apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: no-pods, namespace: "+ns+"}\nspec: {hard: {pods: \"0\"}}\n")
	eventually(t, 30*time.Second, "the quota to be in force", func() (bool, string) {
		out, err := probePod(ns)
		return err != nil && strings.Contains(out, "exceeded quota"), out
	})

	applyYAML(t, psiTask(name, "  scheduleConfig: {lifecycleSeconds: 120}\n", partyOpts{}, partyOpts{domainID: ns}))
	eventually(t, 30*time.Second, "the task to say the quota holds it", func() (bool, string) {
		s := getTask(t, name).Status
		held := s.Phase == kusciav1alpha1.TaskPending && s.StartTime != nil &&
			s.Reason == kusciav1alpha1.ReasonResourceQuotaExceeded && strings.Contains(s.Message, "exceeded quota")
		return held, fmt.Sprintf("phase %q reason %q message %q", s.Phase, s.Reason, s.Message)
	})

	kubectl(t, "-n", ns, "delete", "resourcequota", "no-pods")
	task := waitPhase(t, name, kusciav1alpha1.TaskSucceeded, 120*time.Second)
	assert.Equal(t, "2 of 2 parties succeeded", task.Status.Message)
}
