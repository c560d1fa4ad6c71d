//go:build realnode

package realnode

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"kusciatask.io/controller/examples"
	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// withEnv gives the party of domain the test application's container with
// extra environment (laid over the AppImage's container of the same name).
func withEnv(task *kusciav1alpha1.KusciaTask, domain string, env ...corev1.EnvVar) {
	for i := range task.Spec.Parties {
		party := &task.Spec.Parties[i]
		if party.DomainID != domain {
			continue
		}
		if party.Template == nil {
			party.Template = &kusciav1alpha1.PartyTemplate{}
		}
		party.Template.Spec.Containers = append(party.Template.Spec.Containers, kusciav1alpha1.Container{Name: "testapp", Env: env})
	}
}

// TestFailingApplication: bob's application exits 3 with the termination
// message "boom"; the exit code and message reach bob's pod status, the
// task's podStatuses and its message, and the task fails.
func TestFailingApplication(t *testing.T) {
	p := taskPlane(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	task := testAppTask(t, examples.PSITaskFile, "fail-psi")
	withEnv(task, "bob",
		corev1.EnvVar{Name: "KWOK_OUTCOME", Value: "fail"},
		corev1.EnvVar{Name: "KWOK_EXIT_CODE", Value: "3"},
		corev1.EnvVar{Name: "KWOK_MESSAGE", Value: "boom"})
	p.createTask(t, task)
	done := p.waitTaskPhase(ctx, t, task.Name, kusciav1alpha1.TaskFailed, 5*time.Minute)

	pods := p.taskPods(ctx, t, task.Name, "bob")
	require.Len(t, pods, 1)
	pod := pods[0]
	assert.Equal(t, corev1.PodFailed, pod.Status.Phase)
	require.Len(t, pod.Status.ContainerStatuses, 1)
	term := pod.Status.ContainerStatuses[0].State.Terminated
	require.NotNil(t, term, "bob's container state %+v", pod.Status.ContainerStatuses[0].State)
	assert.EqualValues(t, 3, term.ExitCode)
	assert.Equal(t, "boom", term.Message)

	ps := done.Status.PodStatuses["bob/"+pod.Name]
	require.NotNil(t, ps, "podStatuses %+v", done.Status.PodStatuses)
	assert.Equal(t, corev1.PodFailed, ps.PodPhase)
	assert.EqualValues(t, 3, ps.ExitCode)
	assert.Equal(t, "boom", ps.TerminationLog)
	var bob *kusciav1alpha1.PartyTaskStatus
	for i := range done.Status.PartyTaskStatus {
		if done.Status.PartyTaskStatus[i].DomainID == "bob" {
			bob = &done.Status.PartyTaskStatus[i]
		}
	}
	require.NotNil(t, bob)
	assert.Equal(t, kusciav1alpha1.TaskFailed, bob.Phase)
	assert.Contains(t, bob.Message, "bob/"+pod.Name)
	assert.Contains(t, bob.Message, "boom")
	assert.Equal(t, kusciav1alpha1.ReasonPartiesFailed, done.Status.Reason)
	assert.Contains(t, done.Status.Message, "boom", "task message")
}
