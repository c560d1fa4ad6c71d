package builder

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	psapi "k8s.io/pod-security-admission/api"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/gate"
)

func TestGateDeadline(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, lifecycle := range []time.Duration{time.Second, 300 * time.Second, 24 * time.Hour} {
		got := GateDeadline(start, lifecycle)
		assert.Equal(t, start.Add(lifecycle).Add(GateDeadlineMargin), got)
		assert.True(t, got.After(start.Add(lifecycle)), "the gate must outlive the lifecycle")
	}
}

// With a gate image every pod of every party is gated, closed, with the
// deadline counted from the task's start; without one no pod is.
func TestBuildTaskAddsGate(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, file := range []string{"secretflow-task-psi.yaml", "task-template.yaml"} {
		t.Run(file, func(t *testing.T) {
			task, in := loadTask(t, file), exampleInputs(t)
			in.Policy.Gate = GatePolicy{Image: "registry.example/gate:v1"}
			in.Start = start
			plan, err := PlanTask(task, in)
			require.NoError(t, err)
			wantDeadline := "--deadline=" + gate.FormatDeadline(GateDeadline(start, plan.Schedule.Lifecycle))
			parties, err := BuildTask(context.Background(), task, plan, 1)
			require.NoError(t, err)
			pods := 0
			for _, objs := range parties {
				for _, pod := range objs.Pods {
					pods++
					require.NotEmpty(t, pod.Spec.InitContainers, pod.Name)
					g := pod.Spec.InitContainers[0]
					assert.Equal(t, gate.ContainerName, g.Name)
					assert.Equal(t, "registry.example/gate:v1", g.Image)
					assert.Contains(t, g.Args, wantDeadline)
					assert.Equal(t, gate.Closed, pod.Annotations[gate.Annotation])
					assert.Equal(t, pod.Spec.Containers[0].Name, pod.Annotations[gate.DefaultContainerAnnotation])
				}
			}
			assert.Positive(t, pods)

			in.Policy.Gate = GatePolicy{}
			plan, err = PlanTask(task, in)
			require.NoError(t, err)
			parties, err = BuildTask(context.Background(), task, plan, 1)
			require.NoError(t, err)
			for _, objs := range parties {
				for _, pod := range objs.Pods {
					assert.Empty(t, pod.Spec.InitContainers)
					assert.NotContains(t, pod.Annotations, gate.Annotation)
				}
			}
		})
	}
}

// The gate never is the reason a pod is refused: a restricted application
// stays within restricted with the gate added.
func TestBuildTaskGatePassesRestricted(t *testing.T) {
	task, in := psiTask(t), exampleInputs(t)
	in.Policy.Gate = GatePolicy{Image: gate.DefaultImage()}
	in.Policy.PodSecurityLevel = psapi.LevelRestricted
	secretflowContainer(in).SecurityContext = restrictedContext()
	plan, err := PlanTask(task, in)
	require.NoError(t, err)
	parties, err := BuildTask(context.Background(), task, plan, 1)
	require.NoError(t, err)
	assert.Equal(t, gate.ContainerName, parties[0].Pods[0].Spec.InitContainers[0].Name)
}

// A template whose container takes the gate's name fails the task on its
// input instead of building a pod with two gates.
func TestBuildTaskGateNameTaken(t *testing.T) {
	task, in := psiTask(t), exampleInputs(t)
	in.Policy.Gate = GatePolicy{Image: gate.DefaultImage()}
	secretflowContainer(in).Name = gate.ContainerName
	plan, err := PlanTask(task, in)
	require.NoError(t, err)
	objs, err := BuildTask(context.Background(), task, plan, 1)
	assert.Nil(t, objs)
	ie, ok := AsInputError(err)
	require.True(t, ok, "want an InputError, got %v", err)
	assert.Equal(t, kusciav1alpha1.ReasonInvalidTemplate, ie.Reason)
	assert.Contains(t, ie.Message, "party alice")
	assert.Contains(t, ie.Message, gate.ContainerName)
}
