//go:build e2e

package e2e

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// The seed page, verbatim: create, look, clean up.
func TestSeedPagePSITask(t *testing.T) {
	const name = "secretflow-task-psi"
	deleteTaskOnCleanup(t, name)
	kubectl(t, "apply", "-f", example("secretflow-task-psi.yaml"))
	task := waitPhase(t, name, kusciav1alpha1.TaskSucceeded, 90*time.Second)

	// kubectl get kt: the seed's columns, times shown as ages.
	out := kubectl(t, "get", "kt", name)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 2, out)
	assert.Equal(t, []string{"NAME", "STARTTIME", "COMPLETIONTIME", "LASTRECONCILETIME", "PHASE"}, strings.Fields(lines[0]))
	assert.Regexp(t, regexp.MustCompile(`^secretflow-task-psi\s+\d+s\s+\d+s\s+\d+s\s+Succeeded$`), lines[1])

	// .status has every field of the seed's sample.
	raw := kubectl(t, "get", "kt", name, "-o", "jsonpath={.status}")
	var st map[string]any
	require.NoError(t, json.Unmarshal([]byte(raw), &st), raw)
	for _, field := range []string{"completionTime", "conditions", "lastReconcileTime", "partyTaskStatus", "phase", "podStatuses", "serviceStatuses", "startTime"} {
		assert.Contains(t, st, field)
	}
	conds := map[kusciav1alpha1.KusciaTaskConditionType]string{}
	for _, c := range task.Status.Conditions {
		conds[c.Type] = string(c.Status)
		assert.NotNil(t, c.LastTransitionTime, c.Type)
	}
	for _, c := range []kusciav1alpha1.KusciaTaskConditionType{"ResourceCreated", "Running", "Success"} {
		assert.Equal(t, "True", conds[c], c)
	}
	require.Len(t, task.Status.PartyTaskStatus, 2)
	for i, domain := range []string{"alice", "bob"} {
		assert.Equal(t, domain, task.Status.PartyTaskStatus[i].DomainID)
		assert.Equal(t, kusciav1alpha1.TaskSucceeded, task.Status.PartyTaskStatus[i].Phase)
		ps := task.Status.PodStatuses[domain+"/secretflow-task-psi-0"]
		require.NotNil(t, ps, domain)
		assert.Equal(t, "secretflow-task-psi-0", ps.PodName)
		assert.Equal(t, domain, ps.Namespace)
		assert.NotEmpty(t, ps.NodeName)
		assert.Equal(t, "Succeeded", string(ps.PodPhase))
		assert.Equal(t, "Completed", ps.Reason)
		assert.NotNil(t, ps.CreateTime)
		assert.NotNil(t, ps.StartTime)
		assert.NotNil(t, ps.ReadyTime)
		for _, port := range []string{"fed", "global", "spu"} {
			ss := task.Status.ServiceStatuses[domain+"/secretflow-task-psi-0-"+port]
			require.NotNil(t, ss, port)
			assert.Equal(t, "secretflow-task-psi-0-"+port, ss.ServiceName)
			assert.Equal(t, domain, ss.Namespace)
			assert.NotNil(t, ss.CreateTime)
			assert.NotNil(t, ss.ReadyTime)
		}
	}
	assert.Len(t, task.Status.ServiceStatuses, 6)

	// Clean up: NotFound, and the garbage collector takes every child.
	uid := string(task.UID)
	require.Positive(t, childCount(t, uid, "alice", "bob"))
	kubectl(t, "delete", "kt", name)
	out, err := kubectlOutput(nil, "get", "kt", name)
	require.Error(t, err)
	assert.Contains(t, out, `Error from server (NotFound): kusciatasks.kuscia.secretflow "secretflow-task-psi" not found`)
	eventually(t, 90*time.Second, "the garbage collector to delete the children", func() (bool, string) {
		n := childCount(t, uid, "alice", "bob")
		return n == 0, "children left: " + itoa(n)
	})
}

// The seed's full-field example: roles, template override, probes, mounts.
func TestSeedPageTaskTemplate(t *testing.T) {
	const name = "task-template"
	deleteTaskOnCleanup(t, name)
	out := kubectl(t, "apply", "-f", example("task-template.yaml"))
	assert.Contains(t, out, "kusciatask.kuscia.secretflow/task-template created")

	var task *kusciav1alpha1.KusciaTask
	eventually(t, 30*time.Second, "both pods", func() (bool, string) {
		task = getTask(t, name)
		n := len(taskPods(t, task, "alice", "bob"))
		return n == 2, "pods: " + itoa(n)
	})
	host, err := env.kube.CoreV1().Pods("alice").Get(testContext(t), "task-template-host-0", metav1GetOptions)
	require.NoError(t, err)
	c := host.Spec.Containers[0]
	assert.Equal(t, "app", c.Name)
	assert.Equal(t, []string{"sh"}, c.Command)
	assert.Equal(t, []string{"-c", "./app --role=client --task_config_path=/etc/kuscia/task-config.conf"}, c.Args)
	assert.Equal(t, "/work", c.WorkingDir)
	require.NotNil(t, c.ReadinessProbe)
	assert.Equal(t, []string{"cat", "/tmp/healthy"}, c.ReadinessProbe.Exec.Command)
	require.NotNil(t, c.LivenessProbe)
	assert.Equal(t, "/healthz", c.LivenessProbe.HTTPGet.Path)
	require.NotNil(t, c.StartupProbe)
	assert.EqualValues(t, 30, c.StartupProbe.FailureThreshold)
	require.Len(t, c.VolumeMounts, 1)
	assert.Equal(t, "/etc/kuscia/task-config.conf", c.VolumeMounts[0].MountPath)
	assert.Equal(t, "task-config.conf", c.VolumeMounts[0].SubPath)
	require.Len(t, c.EnvFrom, 1)
	assert.Equal(t, "config-template", c.EnvFrom[0].ConfigMapRef.Name)
	assert.Equal(t, "100m", c.Resources.Requests.Cpu().String())
	assert.Equal(t, "host", host.Labels[kusciav1alpha1.LabelRole])

	guest, err := env.kube.CoreV1().Pods("bob").Get(testContext(t), "task-template-guest-0", metav1GetOptions)
	require.NoError(t, err)
	assert.Contains(t, guest.Spec.Containers[0].Args[1], "--role=guest")

	cm, err := env.kube.CoreV1().ConfigMaps("alice").Get(testContext(t), "task-template-host-0-config", metav1GetOptions)
	require.NoError(t, err)
	assert.Equal(t, task.Spec.TaskInputConfig, cm.Data["task-config.conf"])

	task = waitPhase(t, name, kusciav1alpha1.TaskSucceeded, 90*time.Second)
	assert.Equal(t, "host", task.Status.PartyTaskStatus[0].Role)
	assert.Equal(t, "guest", task.Status.PartyTaskStatus[1].Role)
}
