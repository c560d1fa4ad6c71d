//go:build e2e

package e2e

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// What shapes a started task's pods cannot change, and kubectl says why;
// scheduleConfig can.
func TestAdmissionRefusesEditsOfWhatShapesThePods(t *testing.T) {
	const name = "e2e-immutable"
	deleteTaskOnCleanup(t, name)
	run := partyOpts{env: map[string]string{"KWOK_OUTCOME": "run"}}
	applyYAML(t, psiTask(name, "", run, run))
	waitPhase(t, name, kusciav1alpha1.TaskRunning, 30*time.Second)

	tests := []struct {
		name  string
		patch []string
		want  string
	}{
		{name: "a party's role", patch: []string{"--type=json", `-p=[{"op":"add","path":"/spec/parties/0/role","value":"host"}]`},
			want: "spec.parties: Invalid value: parties cannot change once the task exists"},
		{name: "a party added", patch: []string{"--type=json", `-p=[{"op":"add","path":"/spec/parties/-","value":{"domainID":"carol","appImageRef":"secretflow-image"}}]`},
			want: "spec.parties: Invalid value: parties cannot change once the task exists"},
		{name: "the initiator", patch: []string{"--type=merge", `-p={"spec":{"initiator":"bob"}}`},
			want: "spec.initiator: Invalid value: \"bob\": initiator cannot change once the task exists"},
		{name: "taskInputConfig", patch: []string{"--type=merge", `-p={"spec":{"taskInputConfig":"{\"x\":1}"}}`},
			want: "spec.taskInputConfig: Invalid value: taskInputConfig cannot change"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := kubectlOutput(nil, append([]string{"patch", "kt", name}, tc.patch...)...)
			require.Error(t, err, out)
			assert.Contains(t, out, tc.want)
		})
	}
	kubectl(t, "patch", "kt", name, "--type=merge", `-p={"spec":{"scheduleConfig":{"lifecycleSeconds":600}}}`)
	assert.Equal(t, kusciav1alpha1.TaskRunning, getTask(t, name).Status.Phase, "the task runs on")
}

// status.phase only moves forward, also for whoever else may write status.
func TestAdmissionRefusesPhasesWrittenBackwards(t *testing.T) {
	const name = "e2e-phases"
	deleteTaskOnCleanup(t, name)
	applyYAML(t, psiTask(name, "", partyOpts{env: map[string]string{"KWOK_OUTCOME": "run"}},
		partyOpts{env: map[string]string{"KWOK_OUTCOME": "fail", "KWOK_DELAY": "2s"}}))
	waitPhase(t, name, kusciav1alpha1.TaskRunning, 30*time.Second)
	out, err := kubectlOutput(nil, "patch", "kt", name, "--subresource=status", "--type=merge", `-p={"status":{"phase":"Succeeded"}}`)
	require.Error(t, err, out)
	assert.Contains(t, out, "status.completionTime: Invalid value: a Succeeded or Failed task has a completionTime")
	out, err = kubectlOutput(nil, "patch", "kt", name, "--subresource=status", "--type=merge", `-p={"status":{"phase":"Pending"}}`)
	require.Error(t, err, out)
	assert.Contains(t, out, "status.phase: Invalid value: status.phase only moves forward")

	task := waitPhase(t, name, kusciav1alpha1.TaskFailed, 60*time.Second)
	out, err = kubectlOutput(nil, "patch", "kt", name, "--subresource=status", "--type=merge", `-p={"status":{"phase":"Running"}}`)
	require.Error(t, err, out)
	assert.Contains(t, out, "a finished task's phase never changes")
	assert.Equal(t, task.Status.Phase, getTask(t, name).Status.Phase)
}
