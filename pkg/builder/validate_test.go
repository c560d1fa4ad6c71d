package builder

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// secretflowContainer returns the single container of the secretflow
// AppImage in in, to be changed by a test case.
func secretflowContainer(in Inputs) *kusciav1alpha1.Container {
	return &in.AppImages[secretflowImage].Spec.DeployTemplates[0].Spec.Containers[0]
}

// TestPlanTaskInputErrors starts each case from the PSI example and breaks one
// thing; PlanTask must fail with the reason and a message naming the party and
// field, and return no plan.
func TestPlanTaskInputErrors(t *testing.T) {
	tests := []struct {
		name         string
		mutate       func(task *kusciav1alpha1.KusciaTask, in Inputs)
		wantReason   kusciav1alpha1.KusciaTaskReason
		wantMessages []string
	}{
		{
			name:         "no parties",
			mutate:       func(task *kusciav1alpha1.KusciaTask, _ Inputs) { task.Spec.Parties = nil },
			wantReason:   kusciav1alpha1.ReasonInvalidSpec,
			wantMessages: []string{"spec.parties"},
		},
		{
			name: "too many parties",
			mutate: func(task *kusciav1alpha1.KusciaTask, _ Inputs) {
				for i := len(task.Spec.Parties); i <= kusciav1alpha1.MaxParties; i++ {
					task.Spec.Parties = append(task.Spec.Parties, kusciav1alpha1.PartyInfo{DomainID: fmt.Sprintf("p%d", i), AppImageRef: secretflowImage})
				}
			},
			wantReason:   kusciav1alpha1.ReasonInvalidSpec,
			wantMessages: []string{"spec.parties", "64"},
		},
		{
			name: "duplicate domain",
			mutate: func(task *kusciav1alpha1.KusciaTask, _ Inputs) {
				task.Spec.Parties[1].DomainID = "alice"
			},
			wantReason:   kusciav1alpha1.ReasonInvalidSpec,
			wantMessages: []string{"spec.parties[1].domainID", `"alice"`},
		},
		{
			name:         "initiator not a party",
			mutate:       func(task *kusciav1alpha1.KusciaTask, _ Inputs) { task.Spec.Initiator = "carol" },
			wantReason:   kusciav1alpha1.ReasonInvalidSpec,
			wantMessages: []string{"spec.initiator", `"carol"`},
		},
		{
			name:         "empty initiator",
			mutate:       func(task *kusciav1alpha1.KusciaTask, _ Inputs) { task.Spec.Initiator = "" },
			wantReason:   kusciav1alpha1.ReasonInvalidSpec,
			wantMessages: []string{"spec.initiator"},
		},
		{
			name:         "invalid domain name",
			mutate:       func(task *kusciav1alpha1.KusciaTask, _ Inputs) { task.Spec.Parties[1].DomainID = "Bob_1" },
			wantReason:   kusciav1alpha1.ReasonInvalidSpec,
			wantMessages: []string{"spec.parties[1].domainID", `"Bob_1"`},
		},
		{
			name: "domain name too long",
			mutate: func(task *kusciav1alpha1.KusciaTask, _ Inputs) {
				task.Spec.Parties[1].DomainID = strings.Repeat("b", 64)
			},
			wantReason:   kusciav1alpha1.ReasonInvalidSpec,
			wantMessages: []string{"spec.parties[1].domainID"},
		},
		{
			name:         "invalid role",
			mutate:       func(task *kusciav1alpha1.KusciaTask, _ Inputs) { task.Spec.Parties[0].Role = "Host" },
			wantReason:   kusciav1alpha1.ReasonInvalidSpec,
			wantMessages: []string{"spec.parties[0].role", `"Host"`},
		},
		{
			name: "minReservedMembers above the parties",
			mutate: func(task *kusciav1alpha1.KusciaTask, _ Inputs) {
				task.Spec.ScheduleConfig = &kusciav1alpha1.ScheduleConfig{MinReservedMembers: ptr.To[int32](3)}
			},
			wantReason:   kusciav1alpha1.ReasonInvalidSpec,
			wantMessages: []string{"spec.scheduleConfig.minReservedMembers", "3"},
		},
		{
			name: "minReservedMembers zero",
			mutate: func(task *kusciav1alpha1.KusciaTask, _ Inputs) {
				task.Spec.ScheduleConfig = &kusciav1alpha1.ScheduleConfig{MinReservedMembers: ptr.To[int32](0)}
			},
			wantReason:   kusciav1alpha1.ReasonInvalidSpec,
			wantMessages: []string{"spec.scheduleConfig.minReservedMembers"},
		},
		{
			name: "resourceReservedSeconds zero",
			mutate: func(task *kusciav1alpha1.KusciaTask, _ Inputs) {
				task.Spec.ScheduleConfig = &kusciav1alpha1.ScheduleConfig{ResourceReservedSeconds: ptr.To[int32](0)}
			},
			wantReason:   kusciav1alpha1.ReasonInvalidSpec,
			wantMessages: []string{"spec.scheduleConfig.resourceReservedSeconds"},
		},
		{
			name: "lifecycleSeconds negative",
			mutate: func(task *kusciav1alpha1.KusciaTask, _ Inputs) {
				task.Spec.ScheduleConfig = &kusciav1alpha1.ScheduleConfig{LifecycleSeconds: ptr.To[int32](-5)}
			},
			wantReason:   kusciav1alpha1.ReasonInvalidSpec,
			wantMessages: []string{"spec.scheduleConfig.lifecycleSeconds", "-5"},
		},
		{
			name: "retryIntervalSeconds zero",
			mutate: func(task *kusciav1alpha1.KusciaTask, _ Inputs) {
				task.Spec.ScheduleConfig = &kusciav1alpha1.ScheduleConfig{RetryIntervalSeconds: ptr.To[int32](0)}
			},
			wantReason:   kusciav1alpha1.ReasonInvalidSpec,
			wantMessages: []string{"spec.scheduleConfig.retryIntervalSeconds"},
		},
		{
			name:         "AppImage not found",
			mutate:       func(task *kusciav1alpha1.KusciaTask, _ Inputs) { task.Spec.Parties[1].AppImageRef = "nope" },
			wantReason:   kusciav1alpha1.ReasonAppImageNotFound,
			wantMessages: []string{"party bob", `"nope"`},
		},
		{
			name:         "AppImage entry nil",
			mutate:       func(_ *kusciav1alpha1.KusciaTask, in Inputs) { in.AppImages[secretflowImage] = nil },
			wantReason:   kusciav1alpha1.ReasonAppImageNotFound,
			wantMessages: []string{"party alice", `"secretflow-image"`},
		},
		{
			name:         "namespace missing",
			mutate:       func(_ *kusciav1alpha1.KusciaTask, in Inputs) { delete(in.Namespaces, "bob") },
			wantReason:   kusciav1alpha1.ReasonDomainNotFound,
			wantMessages: []string{"party bob", `"bob"`, "does not exist"},
		},
		{
			name: "namespace without the domain label",
			mutate: func(_ *kusciav1alpha1.KusciaTask, in Inputs) {
				ns := &corev1.Namespace{}
				ns.Name = "bob"
				ns.Labels = map[string]string{"kubernetes.io/metadata.name": "bob"}
				in.Namespaces["bob"] = ns
			},
			wantReason:   kusciav1alpha1.ReasonDomainNotFound,
			wantMessages: []string{"party bob", kusciav1alpha1.LabelDomain},
		},
		{
			name: "a system namespace",
			mutate: func(task *kusciav1alpha1.KusciaTask, in Inputs) {
				ns := &corev1.Namespace{}
				ns.Name = "kube-system"
				in.Namespaces["kube-system"] = ns
				task.Spec.Parties[1].DomainID = "kube-system"
			},
			wantReason:   kusciav1alpha1.ReasonDomainNotFound,
			wantMessages: []string{"party kube-system", kusciav1alpha1.LabelDomain},
		},
		{
			name: "no containers",
			mutate: func(_ *kusciav1alpha1.KusciaTask, in Inputs) {
				in.AppImages[secretflowImage].Spec.DeployTemplates[0].Spec.Containers = nil
			},
			wantReason:   kusciav1alpha1.ReasonInvalidTemplate,
			wantMessages: []string{"party alice", "no containers"},
		},
		{
			name: "duplicate port name",
			mutate: func(_ *kusciav1alpha1.KusciaTask, in Inputs) {
				c := secretflowContainer(in)
				c.Ports = append(c.Ports, kusciav1alpha1.ContainerPort{Name: "fed", Port: 40000})
			},
			wantReason:   kusciav1alpha1.ReasonInvalidTemplate,
			wantMessages: []string{"party alice", `"fed"`},
		},
		{
			name: "duplicate port name across containers",
			mutate: func(_ *kusciav1alpha1.KusciaTask, in Inputs) {
				spec := &in.AppImages[secretflowImage].Spec.DeployTemplates[0].Spec
				spec.Containers = append(spec.Containers, kusciav1alpha1.Container{
					Name: "sidecar", Ports: []kusciav1alpha1.ContainerPort{{Name: "spu", Port: 40000}},
				})
			},
			wantReason:   kusciav1alpha1.ReasonInvalidTemplate,
			wantMessages: []string{"party alice", `"spu"`},
		},
		{
			name: "duplicate container name",
			mutate: func(_ *kusciav1alpha1.KusciaTask, in Inputs) {
				spec := &in.AppImages[secretflowImage].Spec.DeployTemplates[0].Spec
				spec.Containers = append(spec.Containers, kusciav1alpha1.Container{Name: "secretflow"})
			},
			wantReason:   kusciav1alpha1.ReasonInvalidTemplate,
			wantMessages: []string{"party alice", `"secretflow"`},
		},
		{
			name: "mount of an unknown config file in the party's override",
			mutate: func(task *kusciav1alpha1.KusciaTask, _ Inputs) {
				task.Spec.Parties[1].Template = &kusciav1alpha1.PartyTemplate{Spec: kusciav1alpha1.PodSpec{
					Containers: []kusciav1alpha1.Container{{
						Name:               "secretflow",
						ConfigVolumeMounts: []kusciav1alpha1.ConfigVolumeMount{{MountPath: "/etc/other.conf", SubPath: "other.conf"}},
					}},
				}}
			},
			wantReason:   kusciav1alpha1.ReasonInvalidTemplate,
			wantMessages: []string{"party bob", `"secretflow"`, `"other.conf"`},
		},
		{
			name: "a request above its limit in the party's override",
			mutate: func(task *kusciav1alpha1.KusciaTask, _ Inputs) {
				task.Spec.Parties[1].Template = &kusciav1alpha1.PartyTemplate{Spec: kusciav1alpha1.PodSpec{
					Containers: []kusciav1alpha1.Container{{
						Name: "secretflow",
						Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")},
							Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")},
						},
					}},
				}}
			},
			wantReason:   kusciav1alpha1.ReasonInvalidTemplate,
			wantMessages: []string{"party bob", `container "secretflow"`, "the cpu request 2 is above its limit 500m"},
		},
		{
			name: "minReservedPods above replicas",
			mutate: func(task *kusciav1alpha1.KusciaTask, _ Inputs) {
				task.Spec.Parties[1].MinReservedPods = ptr.To[int32](2)
			},
			wantReason:   kusciav1alpha1.ReasonInvalidTemplate,
			wantMessages: []string{"party bob", "spec.parties[1].minReservedPods"},
		},
		{
			name: "minReservedPods zero",
			mutate: func(task *kusciav1alpha1.KusciaTask, _ Inputs) {
				task.Spec.Parties[0].MinReservedPods = ptr.To[int32](0)
			},
			wantReason:   kusciav1alpha1.ReasonInvalidTemplate,
			wantMessages: []string{"party alice", "spec.parties[0].minReservedPods"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			task, in := psiTask(t), exampleInputs(t)
			tc.mutate(task, in)
			plan, err := PlanTask(task, in)
			require.Error(t, err)
			assert.Nil(t, plan)
			ie, ok := AsInputError(err)
			require.True(t, ok, "not an InputError: %v", err)
			assert.Equal(t, tc.wantReason, ie.Reason)
			for _, want := range tc.wantMessages {
				assert.Contains(t, ie.Message, want)
			}
			assert.Equal(t, string(tc.wantReason)+": "+ie.Message, err.Error())
		})
	}
}

// A mount of a file the AppImage's configTemplates define is fine.
func TestPlanTaskMountOfTemplatedConfigFile(t *testing.T) {
	task, in := psiTask(t), exampleInputs(t)
	img := in.AppImages[secretflowImage]
	img.Spec.ConfigTemplates["extra.conf"] = "domain={{.KUSCIA_DOMAIN_ID}}"
	c := secretflowContainer(in)
	c.ConfigVolumeMounts = append(c.ConfigVolumeMounts, kusciav1alpha1.ConfigVolumeMount{MountPath: "/etc/extra.conf", SubPath: "extra.conf"})
	plan, err := PlanTask(task, in)
	require.NoError(t, err)
	objs, err := buildOneParty(task, plan, 1, 1)
	require.NoError(t, err)
	assert.Equal(t, "domain=bob", objs.ConfigMaps[0].Data["extra.conf"])
	mounts := objs.Pods[0].Spec.Containers[0].VolumeMounts
	require.Len(t, mounts, 2)
	assert.Equal(t, "extra.conf", mounts[1].SubPath)
	assert.Equal(t, "/etc/extra.conf", mounts[1].MountPath)
}

// Config templates are rendered when the party is built: a template that
// uses an unknown key or does not parse fails with ConfigRenderFailed naming
// the party and the file.
func TestBuildPartyConfigRenderFailed(t *testing.T) {
	tests := []struct {
		name     string
		template string
		want     string
	}{
		{name: "unknown key", template: `{"x": "{{.NOPE}}"}`, want: "NOPE"},
		{name: "unknown key in a pipeline", template: `{{printf "%q" .TASK_INPUT}}`, want: "TASK_INPUT"},
		{name: "parse error", template: `{"x": "{{.TASK_ID"}`, want: "task-config.conf"},
		{name: "unknown function", template: `{{toJSON .TASK_ID}}`, want: "toJSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			task, in := psiTask(t), exampleInputs(t)
			in.AppImages[secretflowImage].Spec.ConfigTemplates[DefaultConfigFile] = tc.template
			plan, err := PlanTask(task, in)
			require.NoError(t, err)
			for i, party := range []string{"alice", "bob"} {
				objs, err := buildOneParty(task, plan, i, 1)
				require.Error(t, err)
				assert.Nil(t, objs)
				ie, ok := AsInputError(err)
				require.True(t, ok, "not an InputError: %v", err)
				assert.Equal(t, kusciav1alpha1.ReasonConfigRenderFailed, ie.Reason)
				assert.Contains(t, ie.Message, "party "+party)
				assert.Contains(t, ie.Message, `"task-config.conf"`)
				assert.Contains(t, ie.Message, tc.want)
			}
		})
	}
}

func TestRenderConfigKeys(t *testing.T) {
	task, in := psiTask(t), exampleInputs(t)
	in.AppImages[secretflowImage].Spec.ConfigTemplates = map[string]string{
		"keys.txt": "{{.TASK_ID}}|{{.KUSCIA_DOMAIN_ID}}|{{.TASK_INPUT_CONFIG}}",
	}
	c := secretflowContainer(in)
	c.ConfigVolumeMounts = []kusciav1alpha1.ConfigVolumeMount{{MountPath: "/k", SubPath: "keys.txt"}}
	task.Spec.TaskInputConfig = "in<put>&"
	plan, err := PlanTask(task, in)
	require.NoError(t, err)
	objs, err := buildOneParty(task, plan, 1, 1)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{
		"keys.txt":        "secretflow-task-psi|bob|in<put>&",
		DefaultConfigFile: "in<put>&",
	}, objs.ConfigMaps[0].Data, "text/template, no HTML escaping; task-config.conf is taskInputConfig verbatim when not templated")
}

func TestAsInputError(t *testing.T) {
	ie := &InputError{Reason: kusciav1alpha1.ReasonInvalidSpec, Message: "m"}
	got, ok := AsInputError(fmt.Errorf("plan: %w", ie))
	assert.True(t, ok)
	assert.Same(t, ie, got)

	got, ok = AsInputError(errors.New("transient"))
	assert.False(t, ok)
	assert.Nil(t, got)

	_, ok = AsInputError(nil)
	assert.False(t, ok)
}

// Replicas below one cannot come through the CRD schema, but a pure
// function should not crash the controller on them, and a party of no pods
// must not make a task that runs nothing and "succeeds".
func TestPlanTaskReplicasBelowOne(t *testing.T) {
	for name, mutate := range map[string]func(task *kusciav1alpha1.KusciaTask, in Inputs){
		"party template, negative": func(task *kusciav1alpha1.KusciaTask, _ Inputs) {
			task.Spec.Parties[0].Template = &kusciav1alpha1.PartyTemplate{Replicas: ptr.To[int32](-1)}
		},
		"AppImage template, negative": func(_ *kusciav1alpha1.KusciaTask, in Inputs) {
			in.AppImages[secretflowImage].Spec.DeployTemplates[0].Replicas = ptr.To[int32](-1)
		},
		"party template, zero": func(task *kusciav1alpha1.KusciaTask, _ Inputs) {
			task.Spec.Parties[0].Template = &kusciav1alpha1.PartyTemplate{Replicas: ptr.To[int32](0)}
		},
		"AppImage template, zero": func(_ *kusciav1alpha1.KusciaTask, in Inputs) {
			in.AppImages[secretflowImage].Spec.DeployTemplates[0].Replicas = ptr.To[int32](0)
		},
	} {
		t.Run(name, func(t *testing.T) {
			task, in := psiTask(t), exampleInputs(t)
			mutate(task, in)
			var err error
			require.NotPanics(t, func() { _, err = PlanTask(task, in) })
			ie, ok := AsInputError(err)
			require.True(t, ok, "want an InputError, got %v", err)
			assert.Equal(t, kusciav1alpha1.ReasonInvalidTemplate, ie.Reason)
			assert.Contains(t, ie.Message, "party alice: replicas must be at least 1")
		})
	}
}

func TestJSONTemplateFunctionQuotesValues(t *testing.T) {
	out, err := renderTemplate("t", `{"input": {{json .TASK_INPUT_CONFIG}}}`, map[string]string{
		KeyTaskInputConfig: "{\"a\":\"b\\n\x01\"}",
	})
	require.NoError(t, err)
	var parsed map[string]string
	require.NoError(t, json.Unmarshal([]byte(out), &parsed), out)
	assert.Equal(t, "{\"a\":\"b\\n\x01\"}", parsed["input"])
}
