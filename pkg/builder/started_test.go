package builder

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

func TestPartyReplicasAndPlanStarted(t *testing.T) {
	task := loadTask(t, "task-template.yaml")
	_, objs := buildAll(t, task, exampleInputs(t))
	hostPod := objs[0].Pods[0]
	assert.Equal(t, "1", hostPod.Annotations[AnnotationPartyReplicas])

	// alice's pod is there; bob never had one (no status entry).
	got := PartyReplicas(task, []*corev1.Pod{hostPod})
	assert.Equal(t, map[string]int{"alice": 1, "bob": 0}, got)

	// bob had pods that are all gone: his size is unknown, so he is left out.
	task.Status.PodStatuses = map[string]*kusciav1alpha1.PodStatus{
		"bob/task-template-guest-0": {PodName: "task-template-guest-0", Namespace: "bob"},
	}
	got = PartyReplicas(task, []*corev1.Pod{hostPod})
	assert.Equal(t, map[string]int{"alice": 1}, got)

	plan, err := PlanStarted(task, got)
	require.NoError(t, err)
	require.Len(t, plan.Parties, 2)
	assert.Equal(t, "task-template-host-0", plan.Parties[0].Pods[0].Name)
	assert.Equal(t, 1, plan.Parties[0].MinReservedPods)
	assert.Equal(t, []string{"task-template-guest-0"}, []string{plan.Parties[1].Pods[0].Name},
		"a party whose pods are gone still expects them, so they count as deleted")
	assert.Equal(t, 2, plan.Schedule.MinReservedMembers)

	task.Spec.Initiator = "carol"
	_, err = PlanStarted(task, got)
	ie, ok := AsInputError(err)
	require.True(t, ok)
	assert.Equal(t, kusciav1alpha1.ReasonInvalidSpec, ie.Reason)
}
