package builder

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// builtPods plans and builds a task, returning its plan and pods.
func builtPods(t *testing.T, task *kusciav1alpha1.KusciaTask) (*TaskPlan, []*corev1.Pod) {
	t.Helper()
	plan, objs := buildAll(t, task, exampleInputs(t))
	var pods []*corev1.Pod
	for _, o := range objs {
		pods = append(pods, o.Pods...)
	}
	return plan, pods
}

// A Pending task's roster comes from its plan, a started task's from its
// spec and pods: both must name the same parties, sizes and pods.
func TestStartedRosterIsThePlansRoster(t *testing.T) {
	tests := map[string]func(t *testing.T) *kusciav1alpha1.KusciaTask{
		"psi":           psiTask,
		"task-template": templateTask,
		"replicas and minReservedPods": func(t *testing.T) *kusciav1alpha1.KusciaTask {
			task := templateTask(t)
			task.Spec.Parties[0].Template.Replicas = ptr.To[int32](3)
			task.Spec.Parties[0].MinReservedPods = ptr.To[int32](2)
			task.Spec.ScheduleConfig = &kusciav1alpha1.ScheduleConfig{MinReservedMembers: ptr.To[int32](1)}
			return task
		},
	}
	for name, load := range tests {
		t.Run(name, func(t *testing.T) {
			task := load(t)
			plan, pods := builtPods(t, task)
			want := plan.Roster()
			got, err := StartedRoster(task, pods)
			require.NoError(t, err)
			assert.Equal(t, want, got)
			assert.Len(t, want.Parties, len(task.Spec.Parties))
			for i, p := range want.Parties {
				assert.Len(t, p.Pods, plan.Parties[i].Replicas)
			}
		})
	}
}

func TestStartedRosterOfAPartyWithoutPods(t *testing.T) {
	task := templateTask(t)
	task.Spec.Parties[1].MinReservedPods = ptr.To[int32](1)
	_, pods := builtPods(t, task)
	// bob's pods are all gone: his size is unknown, the smallest he could
	// have had is taken, so his pods count as deleted.
	roster, err := StartedRoster(task, pods[:1])
	require.NoError(t, err)
	require.Len(t, roster.Parties, 2)
	assert.Equal(t, []PodRef{{Namespace: "alice", Name: "task-template-host-0"}}, roster.Parties[0].Pods)
	assert.Equal(t, RosterParty{DomainID: "bob", Role: "guest", Replicas: 1, MinReservedPods: 1,
		Pods: []PodRef{{Namespace: "bob", Name: "task-template-guest-0"}}}, roster.Parties[1])
	assert.Equal(t, "bob/task-template-guest-0", roster.Parties[1].Pods[0].Key())
	assert.Equal(t, []string{"alice", "bob"}, roster.DomainIDs())

	parties := roster.ReservationParties(pods)
	require.Len(t, parties, 2)
	assert.Equal(t, []*corev1.Pod{pods[0]}, parties[0].Pods)
	assert.Equal(t, []*corev1.Pod{pods[1]}, parties[1].Pods)
}

// Where the CRD's immutability rules are not enforced, a spec edited after
// the pods were made fails the task with SpecChanged, not with a made-up
// story about pods that never existed.
func TestStartedRosterRefusesAChangedSpec(t *testing.T) {
	tests := map[string]func(task *kusciav1alpha1.KusciaTask){
		"role changed": func(task *kusciav1alpha1.KusciaTask) { task.Spec.Parties[0].Role = "guest" },
		"domain changed": func(task *kusciav1alpha1.KusciaTask) {
			task.Spec.Parties[1].DomainID = "carol"
			task.Spec.Initiator = "carol"
		},
		"party added": func(task *kusciav1alpha1.KusciaTask) {
			task.Spec.Parties = append(task.Spec.Parties, kusciav1alpha1.PartyInfo{DomainID: "carol", AppImageRef: "app-template"})
		},
		"template changed":          func(task *kusciav1alpha1.KusciaTask) { task.Spec.Parties[0].Template.Replicas = ptr.To[int32](2) },
		"taskInputConfig changed":   func(task *kusciav1alpha1.KusciaTask) { task.Spec.TaskInputConfig = "{}" },
		"minReservedPods changed":   func(task *kusciav1alpha1.KusciaTask) { task.Spec.Parties[1].MinReservedPods = ptr.To[int32](1) },
		"AppImage reference edited": func(task *kusciav1alpha1.KusciaTask) { task.Spec.Parties[1].AppImageRef = "secretflow-image" },
	}
	for name, change := range tests {
		t.Run(name, func(t *testing.T) {
			task := templateTask(t)
			_, pods := builtPods(t, task)
			change(task)
			_, err := StartedRoster(task, pods)
			ie, ok := AsInputError(err)
			require.True(t, ok, "want an InputError, got %v", err)
			assert.Equal(t, kusciav1alpha1.ReasonSpecChanged, ie.Reason)
			assert.Contains(t, ie.Message, "changed after pod alice/task-template-host-0 was created")
		})
	}
	t.Run("scheduleConfig may change", func(t *testing.T) {
		task := templateTask(t)
		_, pods := builtPods(t, task)
		task.Spec.ScheduleConfig = &kusciav1alpha1.ScheduleConfig{LifecycleSeconds: ptr.To[int32](60)}
		_, err := StartedRoster(task, pods)
		assert.NoError(t, err)
	})
	t.Run("pods of an older controller carry no hash", func(t *testing.T) {
		task := templateTask(t)
		_, pods := builtPods(t, task)
		for _, p := range pods {
			delete(p.Annotations, AnnotationSpecHash)
		}
		task.Spec.TaskInputConfig = "{}"
		_, err := StartedRoster(task, pods)
		assert.NoError(t, err)
	})
}

func TestStartedRosterRefusesAnInvalidSpec(t *testing.T) {
	task := templateTask(t)
	task.Spec.Initiator = "carol"
	_, err := StartedRoster(task, nil)
	ie, ok := AsInputError(err)
	require.True(t, ok)
	assert.Equal(t, kusciav1alpha1.ReasonInvalidSpec, ie.Reason)
}

func TestSpecHash(t *testing.T) {
	a, b := templateTask(t), templateTask(t)
	assert.Equal(t, SpecHash(&a.Spec), SpecHash(&b.Spec), "deterministic")
	assert.Len(t, SpecHash(&a.Spec), 16)
	b.Spec.Parties[1].Role = "host"
	assert.NotEqual(t, SpecHash(&a.Spec), SpecHash(&b.Spec))
	b = templateTask(t)
	b.Spec.ScheduleConfig = &kusciav1alpha1.ScheduleConfig{RetryIntervalSeconds: ptr.To[int32](5)}
	b.Spec.Initiator = "bob"
	assert.Equal(t, SpecHash(&a.Spec), SpecHash(&b.Spec), "scheduleConfig and initiator shape no pod")

	_, pods := builtPods(t, a)
	for _, p := range pods {
		assert.Equal(t, SpecHash(&a.Spec), p.Annotations[AnnotationSpecHash], p.Name)
	}
}
