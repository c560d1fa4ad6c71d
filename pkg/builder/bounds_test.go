package builder

import (
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// planError plans the PSI example after mutate and returns the InputError.
func planError(t *testing.T, mutate func(task *kusciav1alpha1.KusciaTask, in *Inputs)) *InputError {
	t.Helper()
	task, in := psiTask(t), exampleInputs(t)
	mutate(task, &in)
	plan, err := PlanTask(task, in)
	require.Nil(t, plan)
	ie, ok := AsInputError(err)
	require.True(t, ok, "want an InputError, got %v", err)
	return ie
}

func TestPlanTaskSizeBounds(t *testing.T) {
	partyReplicas := func(n int32) func(*kusciav1alpha1.KusciaTask, *Inputs) {
		return func(task *kusciav1alpha1.KusciaTask, _ *Inputs) {
			task.Spec.Parties[0].Template = &kusciav1alpha1.PartyTemplate{Replicas: ptr.To(n)}
		}
	}
	cases := []struct {
		name   string
		mutate func(task *kusciav1alpha1.KusciaTask, in *Inputs)
		reason kusciav1alpha1.KusciaTaskReason
		want   string
	}{
		{"party replicas above the default", partyReplicas(DefaultMaxReplicasPerParty + 1), kusciav1alpha1.ReasonTooManyPods,
			"party alice: 65 replicas, more than the 64 per party this controller allows (--max-replicas-per-party)"},
		{"party replicas no schema allows", partyReplicas(math.MaxInt32), kusciav1alpha1.ReasonTooManyPods,
			"party alice: 2147483647 replicas"},
		{"AppImage replicas above the flag", func(task *kusciav1alpha1.KusciaTask, in *Inputs) {
			in.AppImages[secretflowImage].Spec.DeployTemplates[0].Replicas = ptr.To[int32](3)
			in.Policy.MaxReplicasPerParty = 2
		}, kusciav1alpha1.ReasonTooManyPods, "party alice: 3 replicas, more than the 2 per party"},
		{"pods of the task above the flag", func(task *kusciav1alpha1.KusciaTask, in *Inputs) {
			in.AppImages[secretflowImage].Spec.DeployTemplates[0].Replicas = ptr.To[int32](3)
			in.Policy.MaxPodsPerTask = 5
		}, kusciav1alpha1.ReasonTooManyPods,
			"the parties ask for 6 pods in all, more than the 5 per task this controller allows (--max-pods-per-task)"},
		{"pod templates times pods", func(task *kusciav1alpha1.KusciaTask, in *Inputs) {
			in.AppImages[secretflowImage].Spec.DeployTemplates[0].Replicas = ptr.To[int32](10)
			in.Policy.MaxPodBytesPerTask = 10_000
		}, kusciav1alpha1.ReasonTaskTooLarge, "the task's 20 pods would take"},
		{"taskInputConfig", func(task *kusciav1alpha1.KusciaTask, _ *Inputs) {
			task.Spec.TaskInputConfig = strings.Repeat("数", kusciav1alpha1.MaxTaskInputConfigLength+1)
		}, kusciav1alpha1.ReasonInvalidSpec, "spec.taskInputConfig: 524289 characters, more than the 524288 allowed"},
		{"config templates", func(_ *kusciav1alpha1.KusciaTask, in *Inputs) {
			for i := range kusciav1alpha1.MaxConfigTemplates {
				in.AppImages[secretflowImage].Spec.ConfigTemplates["f"+strconv.Itoa(i)] = ""
			}
		}, kusciav1alpha1.ReasonInvalidTemplate, "party alice: AppImage secretflow-image: 17 configTemplates, more than the 16 allowed"},
		{"config template length", func(_ *kusciav1alpha1.KusciaTask, in *Inputs) {
			in.AppImages[secretflowImage].Spec.ConfigTemplates["big"] = strings.Repeat("x", kusciav1alpha1.MaxConfigTemplateLength+1)
		}, kusciav1alpha1.ReasonInvalidTemplate, `config template "big" has 65537 characters, more than the 65536 allowed`},
		{"config template name", func(_ *kusciav1alpha1.KusciaTask, in *Inputs) {
			in.AppImages[secretflowImage].Spec.ConfigTemplates["../etc/passwd"] = ""
		}, kusciav1alpha1.ReasonInvalidTemplate, `configTemplates key "../etc/passwd" is not a valid file name`},
		{"image name", func(_ *kusciav1alpha1.KusciaTask, in *Inputs) {
			in.AppImages[secretflowImage].Spec.Image.Name = strings.Repeat("a", kusciav1alpha1.MaxImageNameLength+1)
		}, kusciav1alpha1.ReasonInvalidTemplate, "image.name has 513 characters"},
		{"image tag", func(_ *kusciav1alpha1.KusciaTask, in *Inputs) {
			in.AppImages[secretflowImage].Spec.Image.Tag = strings.Repeat("a", kusciav1alpha1.MaxImageTagLength+1)
		}, kusciav1alpha1.ReasonInvalidTemplate, "image.tag has 129 characters"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ie := planError(t, tc.mutate)
			assert.Equal(t, tc.reason, ie.Reason)
			assert.Contains(t, ie.Message, tc.want)
		})
	}
}

// At the bounds, tasks are planned.
func TestPlanTaskAtTheBounds(t *testing.T) {
	task, in := psiTask(t), exampleInputs(t)
	in.AppImages[secretflowImage].Spec.DeployTemplates[0].Replicas = ptr.To[int32](3)
	in.Policy.MaxReplicasPerParty, in.Policy.MaxPodsPerTask = 3, 6
	task.Spec.TaskInputConfig = strings.Repeat("数", kusciav1alpha1.MaxTaskInputConfigLength)
	plan, err := PlanTask(task, in)
	require.NoError(t, err)
	assert.Len(t, plan.Parties[0].Pods, 3)
	assert.Len(t, plan.Parties[1].Pods, 3)
}

// Every list of a pod template is bounded as in the CRD schema.
func TestPlanTaskListBounds(t *testing.T) {
	n := func(k int) []string { return make([]string, k) }
	cases := []struct {
		field  string
		mutate func(spec *kusciav1alpha1.PodSpec, c *kusciav1alpha1.Container)
		want   string
	}{
		{"containers", func(spec *kusciav1alpha1.PodSpec, _ *kusciav1alpha1.Container) {
			for i := range kusciav1alpha1.MaxContainers {
				spec.Containers = append(spec.Containers, kusciav1alpha1.Container{Name: "c" + strconv.Itoa(i)})
			}
		}, "containers has 9 entries, more than the 8 allowed"},
		{"tolerations", func(spec *kusciav1alpha1.PodSpec, _ *kusciav1alpha1.Container) {
			spec.Tolerations = make([]corev1.Toleration, kusciav1alpha1.MaxTolerations+1)
		}, "tolerations has 33 entries"},
		{"nodeSelector", func(spec *kusciav1alpha1.PodSpec, _ *kusciav1alpha1.Container) {
			spec.NodeSelector = map[string]string{}
			for i := range kusciav1alpha1.MaxNodeSelector + 1 {
				spec.NodeSelector["k"+strconv.Itoa(i)] = "v"
			}
		}, "nodeSelector has 33 entries"},
		{"command", func(_ *kusciav1alpha1.PodSpec, c *kusciav1alpha1.Container) {
			c.Command = n(kusciav1alpha1.MaxCommandArgs + 1)
		}, `container "secretflow" command has 257 entries, more than the 256 allowed`},
		{"args", func(_ *kusciav1alpha1.PodSpec, c *kusciav1alpha1.Container) {
			c.Args = n(kusciav1alpha1.MaxCommandArgs + 1)
		}, `container "secretflow" args has 257 entries`},
		{"ports", func(_ *kusciav1alpha1.PodSpec, c *kusciav1alpha1.Container) {
			c.Ports = nil
			for i := range kusciav1alpha1.MaxPortsPerContainer + 1 {
				c.Ports = append(c.Ports, kusciav1alpha1.ContainerPort{Name: "p" + strconv.Itoa(i), Port: int32(1000 + i)})
			}
		}, `container "secretflow" ports has 17 entries`},
		{"env", func(_ *kusciav1alpha1.PodSpec, c *kusciav1alpha1.Container) {
			c.Env = make([]corev1.EnvVar, kusciav1alpha1.MaxEnvPerContainer+1)
		}, `container "secretflow" env has 257 entries`},
		{"envFrom", func(_ *kusciav1alpha1.PodSpec, c *kusciav1alpha1.Container) {
			c.EnvFrom = make([]corev1.EnvFromSource, kusciav1alpha1.MaxEnvFromPerContainer+1)
		}, `container "secretflow" envFrom has 33 entries`},
		{"configVolumeMounts", func(_ *kusciav1alpha1.PodSpec, c *kusciav1alpha1.Container) {
			for range kusciav1alpha1.MaxConfigVolumeMounts {
				c.ConfigVolumeMounts = append(c.ConfigVolumeMounts, c.ConfigVolumeMounts[0])
			}
		}, `container "secretflow" configVolumeMounts has 18 entries`},
	}
	for _, tc := range cases {
		t.Run(tc.field, func(t *testing.T) {
			ie := planError(t, func(_ *kusciav1alpha1.KusciaTask, in *Inputs) {
				spec := &in.AppImages[secretflowImage].Spec.DeployTemplates[0].Spec
				tc.mutate(spec, &spec.Containers[0])
			})
			assert.Equal(t, kusciav1alpha1.ReasonInvalidTemplate, ie.Reason)
			assert.Contains(t, ie.Message, "party alice: "+tc.want)
		})
	}
}

func TestPolicyDefaults(t *testing.T) {
	p := Policy{}.withDefaults()
	assert.Equal(t, DefaultMaxReplicasPerParty, p.MaxReplicasPerParty)
	assert.Equal(t, DefaultMaxPodsPerTask, p.MaxPodsPerTask)
	assert.EqualValues(t, "baseline", p.PodSecurityLevel)
	assert.Equal(t, DefaultRenderTimeout, p.Render.Timeout)

	p = Policy{MaxReplicasPerParty: 1 << 30, MaxPodsPerTask: 7}.withDefaults()
	assert.Equal(t, kusciav1alpha1.MaxReplicas, p.MaxReplicasPerParty, "no flag allows more than the schema")
	assert.Equal(t, 7, p.MaxPodsPerTask)
}

// A party size on a pod annotation that no task can have is not believed.
func TestPartySizesIgnoresImpossibleSizes(t *testing.T) {
	pod := func(n string) *corev1.Pod {
		p := &corev1.Pod{}
		p.Labels = map[string]string{kusciav1alpha1.LabelParty: "alice"}
		p.Annotations = map[string]string{AnnotationPartyReplicas: n}
		return p
	}
	for _, n := range []string{"1001", "-1", "0", "99999999999", "x"} {
		_, known := partySizes([]*corev1.Pod{pod(n)})["alice"]
		assert.False(t, known, "size %q", n)
	}
	assert.Equal(t, 1000, partySizes([]*corev1.Pod{pod("1000")})["alice"])
}

// Port names become container port names: Kubernetes wants IANA service
// names there.
func TestPlanTaskPortNames(t *testing.T) {
	for name, want := range map[string]string{
		"8080":               "must contain at least one letter",
		"a--b":               "must not contain consecutive hyphens",
		"much-too-long-name": "must be no more than 15 characters",
	} {
		t.Run(name, func(t *testing.T) {
			ie := planError(t, func(_ *kusciav1alpha1.KusciaTask, in *Inputs) {
				secretflowContainer(*in).Ports[0].Name = name
			})
			assert.Equal(t, kusciav1alpha1.ReasonInvalidTemplate, ie.Reason)
			assert.Contains(t, ie.Message, `party alice: container "secretflow" port name "`+name+`": `+want)
		})
	}
}
