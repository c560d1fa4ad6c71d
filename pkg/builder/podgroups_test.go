package builder

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestPodGroupName(t *testing.T) {
	assert.Equal(t, "task-1", PodGroupName("task-1", ""))
	assert.Equal(t, "task-1-server", PodGroupName("task-1", "server"))
	long := PodGroupName("a123456789b123456789c123456789d123456789e123456789f123456789g123", "role")
	assert.LessOrEqual(t, len(long), 63, "a long name is cut to a DNS label")
}

// With PodGroups each party gets one group in its namespace, owned by the
// task, labelled like its other objects, minCount its minReservedPods, and
// every pod of the party joins it; without, none.
func TestBuildTaskPodGroups(t *testing.T) {
	task, in := psiTask(t), exampleInputs(t)
	task.Spec.Parties[0].MinReservedPods = ptr.To[int32](1)
	in.Policy.PodGroups = true
	plan, err := PlanTask(task, in)
	require.NoError(t, err)
	parties, err := BuildTask(context.Background(), task, plan, 1)
	require.NoError(t, err)
	for i, objs := range parties {
		party := plan.Parties[i]
		pg := objs.PodGroup
		require.NotNil(t, pg, party.DomainID)
		assert.Equal(t, party.DomainID, pg.Namespace)
		assert.Equal(t, PodGroupName(task.Name, party.Role), pg.Name)
		assert.Equal(t, Labels(task, party), pg.Labels)
		assert.True(t, metav1.IsControlledBy(pg, task))
		assert.EqualValues(t, party.MinReservedPods, pg.Spec.SchedulingPolicy.Gang.MinCount)
		for _, pod := range objs.Pods {
			require.NotNil(t, pod.Spec.SchedulingGroup, pod.Name)
			assert.Equal(t, pg.Name, *pod.Spec.SchedulingGroup.PodGroupName)
		}
	}

	in.Policy.PodGroups = false
	plan, err = PlanTask(task, in)
	require.NoError(t, err)
	parties, err = BuildTask(context.Background(), task, plan, 1)
	require.NoError(t, err)
	for _, objs := range parties {
		assert.Nil(t, objs.PodGroup)
		for _, pod := range objs.Pods {
			assert.Nil(t, pod.Spec.SchedulingGroup)
		}
	}
}
