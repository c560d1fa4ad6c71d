package builder

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every party's config maps, services and PodGroup come before any pod,
// and each object is named "kind namespace/name".
func TestCreationOrder(t *testing.T) {
	task, in := psiTask(t), exampleInputs(t)
	in.Policy.PodGroups = true
	plan, err := PlanTask(task, in)
	require.NoError(t, err)
	parties, err := BuildTask(context.Background(), task, plan, 1)
	require.NoError(t, err)
	var keys []string
	for _, obj := range CreationOrder(parties...) {
		keys = append(keys, KeyOf(obj))
	}
	assert.Equal(t, []string{
		"configmap alice/secretflow-task-psi-0-config",
		"service alice/secretflow-task-psi-0-spu",
		"service alice/secretflow-task-psi-0-fed",
		"service alice/secretflow-task-psi-0-global",
		"podgroup alice/" + PodGroupName(task.Name, ""),
		"configmap bob/secretflow-task-psi-0-config",
		"service bob/secretflow-task-psi-0-spu",
		"service bob/secretflow-task-psi-0-fed",
		"service bob/secretflow-task-psi-0-global",
		"podgroup bob/" + PodGroupName(task.Name, ""),
		"pod alice/secretflow-task-psi-0",
		"pod bob/secretflow-task-psi-0",
	}, keys)
}
