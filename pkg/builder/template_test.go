package builder

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

const appImage = "secretflow/app:0.1"

func TestTaskTemplateExamplePodNames(t *testing.T) {
	task := templateTask(t)
	plan, all := buildAll(t, task, exampleInputs(t))
	require.Len(t, all, 2)

	assert.Equal(t, 2, plan.Schedule.MinReservedMembers)
	assert.Equal(t, []string{"alice/task-template-host-0"}, podNames(all[0].Pods))
	assert.Equal(t, []string{"bob/task-template-guest-0"}, podNames(all[1].Pods))
	assert.Equal(t, []string{"alice/task-template-host-0-global"}, serviceNames(all[0].Services))
	assert.Equal(t, []string{"bob/task-template-guest-0-global"}, serviceNames(all[1].Services))
	assert.Equal(t, []string{"alice/task-template-host-0-config"}, configMapNames(all[0].ConfigMaps))
	assert.Equal(t, []string{"bob/task-template-guest-0-config"}, configMapNames(all[1].ConfigMaps))
	assert.Equal(t, 1, plan.Parties[0].MinReservedPods)
	assert.Equal(t, 1, plan.Parties[1].MinReservedPods)

	for i, role := range []string{"host", "guest"} {
		for _, pod := range all[i].Pods {
			assert.Equal(t, role, pod.Labels[kusciav1alpha1.LabelRole])
			assert.Equal(t, templateTaskName, pod.Labels[kusciav1alpha1.LabelTask])
		}
		// No configTemplates: task-config.conf is taskInputConfig verbatim.
		assert.Equal(t, map[string]string{DefaultConfigFile: task.Spec.TaskInputConfig}, all[i].ConfigMaps[0].Data)
	}
}

// alice's template in task-template.yaml wins over the AppImage's host
// template field by field.
func TestTaskTemplateExampleOverrideWins(t *testing.T) {
	task := templateTask(t)
	_, all := buildAll(t, task, exampleInputs(t))
	require.Len(t, all[0].Pods, 1)
	pod := all[0].Pods[0]
	assert.Equal(t, corev1.RestartPolicyNever, pod.Spec.RestartPolicy)
	require.Len(t, pod.Spec.Containers, 1)
	c := pod.Spec.Containers[0]

	assert.Equal(t, "app", c.Name)
	assert.Equal(t, appImage, c.Image)
	assert.Equal(t, []string{"sh"}, c.Command)
	assert.Equal(t, []string{"-c", "./app --role=client --task_config_path=/etc/kuscia/task-config.conf"}, c.Args,
		"the host template says --role=server; the party's override wins")
	assert.Equal(t, "/work", c.WorkingDir)
	assert.Equal(t, corev1.PullIfNotPresent, c.ImagePullPolicy)
	assert.Equal(t, []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: "config-template"},
	}}}, c.EnvFrom)

	for name, want := range map[string]string{
		"APP_NAME":                  "app",
		"TASK_ID":                   templateTaskName,
		"KUSCIA_DOMAIN_ID":          "alice",
		"KUSCIA_PORT_GLOBAL_NUMBER": "8080",
	} {
		got, ok := envValue(c, name)
		assert.True(t, ok, "env %s missing", name)
		assert.Equal(t, want, got, "env %s", name)
	}

	want := corev1.ResourceRequirements{
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("100Mi")},
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("100Mi")},
	}
	assert.True(t, resourcesEqual(want, c.Resources), "resources %v", c.Resources)

	assert.Equal(t, &corev1.Probe{
		ProbeHandler:        corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"cat", "/tmp/healthy"}}},
		InitialDelaySeconds: 5, PeriodSeconds: 5,
	}, c.ReadinessProbe)
	assert.Equal(t, &corev1.Probe{
		ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}},
		FailureThreshold: 1, PeriodSeconds: 20,
	}, c.LivenessProbe)
	assert.Equal(t, &corev1.Probe{
		ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}},
		FailureThreshold: 30, PeriodSeconds: 10,
	}, c.StartupProbe)

	assert.Equal(t, []corev1.ContainerPort{{Name: "global", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}, c.Ports,
		"the host template says 9090; the party's 8080 wins")
	require.Len(t, all[0].Services, 1)
	assert.Equal(t, int32(8080), all[0].Services[0].Spec.Ports[0].Port)

	require.Len(t, c.VolumeMounts, 1)
	assert.Equal(t, "/etc/kuscia/task-config.conf", c.VolumeMounts[0].MountPath)
	assert.Equal(t, DefaultConfigFile, c.VolumeMounts[0].SubPath)
}

// bob has no template of his own: the AppImage's guest template as it is.
func TestTaskTemplateExampleGuestUnchanged(t *testing.T) {
	task := templateTask(t)
	in := exampleInputs(t)
	_, all := buildAll(t, task, in)
	require.Len(t, all[1].Pods, 1)
	pod := all[1].Pods[0]
	guest := in.AppImages[appTemplateImage].Spec.DeployTemplates[1]
	require.Equal(t, "guest", guest.Role)
	gc := guest.Spec.Containers[0]

	require.Len(t, pod.Spec.Containers, 1)
	c := pod.Spec.Containers[0]
	assert.Equal(t, gc.Name, c.Name)
	assert.Equal(t, appImage, c.Image)
	assert.Equal(t, gc.Command, c.Command)
	assert.Equal(t, []string{"-c", "./app --role=guest --task_config_path=/etc/kuscia/task-config.conf"}, c.Args)
	assert.Empty(t, c.WorkingDir)
	assert.Empty(t, c.ImagePullPolicy)
	assert.Empty(t, c.EnvFrom)
	assert.Nil(t, c.ReadinessProbe)
	assert.Nil(t, c.LivenessProbe)
	assert.Nil(t, c.StartupProbe)
	assert.True(t, resourcesEqual(gc.Resources, c.Resources), "resources %v", c.Resources)
	_, hasAppName := envValue(c, "APP_NAME")
	assert.False(t, hasAppName, "alice's env must not leak into bob")
	got, _ := envValue(c, "KUSCIA_DOMAIN_ID")
	assert.Equal(t, "bob", got)
	assert.Equal(t, []corev1.ContainerPort{{Name: "global", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}, c.Ports)
}

func TestTaskTemplateExampleReplicas(t *testing.T) {
	task := templateTask(t)
	task.Spec.Parties[0].Template.Replicas = ptr.To[int32](3)
	plan, all := buildAll(t, task, exampleInputs(t))
	assert.Equal(t, 3, plan.Parties[0].Replicas)
	assert.Equal(t, 1, plan.Parties[0].MinReservedPods, "the party's own minReservedPods")
	assert.Equal(t, []string{
		"alice/task-template-host-0", "alice/task-template-host-1", "alice/task-template-host-2",
	}, podNames(all[0].Pods))
	assert.Equal(t, []string{
		"alice/task-template-host-0-config", "alice/task-template-host-1-config", "alice/task-template-host-2-config",
	}, configMapNames(all[0].ConfigMaps))
	assert.Equal(t, []string{
		"alice/task-template-host-0-global", "alice/task-template-host-1-global", "alice/task-template-host-2-global",
	}, serviceNames(all[0].Services))
	for i, pod := range all[0].Pods {
		assert.Equal(t, all[0].ConfigMaps[i].Name, pod.Spec.Volumes[0].ConfigMap.Name)
	}
	assert.Equal(t, []string{"bob/task-template-guest-0"}, podNames(all[1].Pods))
}

// image makes an AppImage whose templates each run one container "main"
// whose single arg is the template's name, so tests see which one was
// picked.
func image(templates ...kusciav1alpha1.DeployTemplate) *kusciav1alpha1.AppImage {
	img := &kusciav1alpha1.AppImage{}
	img.Name = "img"
	img.Spec.Image = kusciav1alpha1.AppImageInfo{Name: "repo/app"}
	for _, tpl := range templates {
		if len(tpl.Spec.Containers) == 0 {
			tpl.Spec.Containers = []kusciav1alpha1.Container{{Name: "main", Args: []string{tpl.Name}}}
		}
		img.Spec.DeployTemplates = append(img.Spec.DeployTemplates, tpl)
	}
	return img
}

func tpl(name, roles string) kusciav1alpha1.DeployTemplate {
	return kusciav1alpha1.DeployTemplate{Name: name, Role: roles}
}

// oneParty is a one-party task of the given role running img in alice.
func oneParty(role string, template *kusciav1alpha1.PartyTemplate) *kusciav1alpha1.KusciaTask {
	task := &kusciav1alpha1.KusciaTask{}
	task.Name = "t"
	task.UID = "uid-t"
	task.Spec.Initiator = "alice"
	task.Spec.Parties = []kusciav1alpha1.PartyInfo{{DomainID: "alice", AppImageRef: "img", Role: role, Template: template}}
	return task
}

func inputsWith(t *testing.T, img *kusciav1alpha1.AppImage) Inputs {
	in := exampleInputs(t)
	in.AppImages[img.Name] = img
	return in
}

func TestDeployTemplateSelection(t *testing.T) {
	ownContainers := &kusciav1alpha1.PartyTemplate{Spec: kusciav1alpha1.PodSpec{
		Containers: []kusciav1alpha1.Container{{Name: "own", Args: []string{"party"}}},
	}}
	tests := []struct {
		name      string
		img       *kusciav1alpha1.AppImage
		role      string
		template  *kusciav1alpha1.PartyTemplate
		wantArg   string
		wantError bool
	}{
		{name: "role in a comma-separated list with spaces", img: image(tpl("a", "host, guest"), tpl("b", "")), role: "guest", wantArg: "a"},
		{name: "role first in the list", img: image(tpl("a", "host, guest"), tpl("b", "")), role: "host", wantArg: "a"},
		{name: "role in a later template", img: image(tpl("a", "x"), tpl("b", "y,guest,z")), role: "guest", wantArg: "b"},
		{name: "a named role wins over the template without role", img: image(tpl("any", ""), tpl("g", "guest")), role: "guest", wantArg: "g"},
		{name: "no role names it: the template without role", img: image(tpl("a", "host"), tpl("b", ""), tpl("c", "other")), role: "guest", wantArg: "b"},
		{name: "a role list of blanks counts as no role", img: image(tpl("a", "host"), tpl("b", " , ")), role: "guest", wantArg: "b"},
		{name: "party without role: the template without role", img: image(tpl("a", "host"), tpl("b", "")), role: "", wantArg: "b"},
		{name: "party without role: the first template", img: image(tpl("a", "host"), tpl("b", "guest")), role: "", wantArg: "a"},
		{name: "a role no template has", img: image(tpl("a", "host"), tpl("b", "guest")), role: "carol", wantError: true},
		{name: "a role that is only a prefix of a listed role", img: image(tpl("a", "hosts")), role: "host", wantError: true},
		{name: "party's own containers without a matching template", img: image(tpl("a", "host")), role: "guest", template: ownContainers, wantArg: "party"},
		{name: "party's template without containers does not replace a missing template", img: image(tpl("a", "host")), role: "guest",
			template: &kusciav1alpha1.PartyTemplate{Replicas: ptr.To[int32](2)}, wantError: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			task := oneParty(tc.role, tc.template)
			plan, err := PlanTask(task, inputsWith(t, tc.img))
			if tc.wantError {
				require.Error(t, err)
				ie, ok := AsInputError(err)
				require.True(t, ok, "not an InputError: %v", err)
				assert.Equal(t, kusciav1alpha1.ReasonDeployTemplateNotFound, ie.Reason)
				assert.Contains(t, ie.Message, "alice")
				assert.Contains(t, ie.Message, `"`+tc.role+`"`)
				assert.Nil(t, plan)
				return
			}
			require.NoError(t, err)
			objs, err := buildOneParty(task, plan, 0, 1)
			require.NoError(t, err)
			require.Len(t, objs.Pods, 1)
			require.Len(t, objs.Pods[0].Spec.Containers, 1)
			c := objs.Pods[0].Spec.Containers[0]
			assert.Equal(t, []string{tc.wantArg}, c.Args)
			assert.Equal(t, "repo/app:latest", c.Image, "image from the AppImage, tag defaulting to latest")
		})
	}
}

func TestMergeTemplate(t *testing.T) {
	base := kusciav1alpha1.DeployTemplate{
		Name: "base", Replicas: ptr.To[int32](2),
		Spec: kusciav1alpha1.PodSpec{
			RestartPolicy: corev1.RestartPolicyOnFailure,
			NodeSelector:  map[string]string{"pool": "base"},
			Tolerations:   []corev1.Toleration{{Key: "base", Operator: corev1.TolerationOpExists}},
			Containers: []kusciav1alpha1.Container{
				{Name: "main", Command: []string{"base"}, Args: []string{"base"}, WorkingDir: "/base",
					Ports: []kusciav1alpha1.ContainerPort{{Name: "p", Port: 1}},
					Env:   []corev1.EnvVar{{Name: "FROM", Value: "base"}}},
				{Name: "sidecar", Args: []string{"sidecar"}},
			},
		},
	}
	tests := []struct {
		name     string
		override *kusciav1alpha1.PartyTemplate
		check    func(t *testing.T, replicas int32, spec kusciav1alpha1.PodSpec)
	}{
		{
			name:     "no override keeps the base, ports defaulted",
			override: nil,
			check: func(t *testing.T, replicas int32, spec kusciav1alpha1.PodSpec) {
				assert.Equal(t, int32(2), replicas)
				assert.Equal(t, corev1.RestartPolicyOnFailure, spec.RestartPolicy)
				require.Len(t, spec.Containers, 2)
				assert.Equal(t, []kusciav1alpha1.ContainerPort{{Name: "p", Port: 1, Protocol: kusciav1alpha1.ProtocolTCP, Scope: kusciav1alpha1.ScopeLocal}},
					spec.Containers[0].Ports)
			},
		},
		{
			name:     "replicas only",
			override: &kusciav1alpha1.PartyTemplate{Replicas: ptr.To[int32](5)},
			check: func(t *testing.T, replicas int32, spec kusciav1alpha1.PodSpec) {
				assert.Equal(t, int32(5), replicas)
				assert.Len(t, spec.Containers, 2)
			},
		},
		{
			name:     "zero replicas is kept",
			override: &kusciav1alpha1.PartyTemplate{Replicas: ptr.To[int32](0)},
			check: func(t *testing.T, replicas int32, _ kusciav1alpha1.PodSpec) {
				assert.Equal(t, int32(0), replicas)
			},
		},
		{
			name:     "template-level restartPolicy",
			override: &kusciav1alpha1.PartyTemplate{RestartPolicy: corev1.RestartPolicyAlways},
			check: func(t *testing.T, _ int32, spec kusciav1alpha1.PodSpec) {
				assert.Equal(t, corev1.RestartPolicyAlways, spec.RestartPolicy)
			},
		},
		{
			name: "spec.restartPolicy wins over the template-level one",
			override: &kusciav1alpha1.PartyTemplate{RestartPolicy: corev1.RestartPolicyAlways,
				Spec: kusciav1alpha1.PodSpec{RestartPolicy: corev1.RestartPolicyNever}},
			check: func(t *testing.T, _ int32, spec kusciav1alpha1.PodSpec) {
				assert.Equal(t, corev1.RestartPolicyNever, spec.RestartPolicy)
			},
		},
		{
			name: "node selector and tolerations",
			override: &kusciav1alpha1.PartyTemplate{Spec: kusciav1alpha1.PodSpec{
				NodeSelector: map[string]string{"pool": "party"},
				Tolerations:  []corev1.Toleration{{Key: "party", Operator: corev1.TolerationOpExists}},
			}},
			check: func(t *testing.T, _ int32, spec kusciav1alpha1.PodSpec) {
				assert.Equal(t, map[string]string{"pool": "party"}, spec.NodeSelector)
				assert.Equal(t, []corev1.Toleration{{Key: "party", Operator: corev1.TolerationOpExists}}, spec.Tolerations)
				assert.Len(t, spec.Containers, 2)
			},
		},
		{
			name: "a listed container is laid over the base container of its name; unlisted ones go",
			override: &kusciav1alpha1.PartyTemplate{Spec: kusciav1alpha1.PodSpec{
				Containers: []kusciav1alpha1.Container{{Name: "main", Args: []string{"party"}}},
			}},
			check: func(t *testing.T, _ int32, spec kusciav1alpha1.PodSpec) {
				require.Len(t, spec.Containers, 1)
				c := spec.Containers[0]
				assert.Equal(t, []string{"party"}, c.Args)
				assert.Equal(t, []string{"base"}, c.Command, "unset fields keep the base's")
				assert.Equal(t, "/base", c.WorkingDir)
				assert.Equal(t, []corev1.EnvVar{{Name: "FROM", Value: "base"}}, c.Env)
				assert.Len(t, c.Ports, 1)
			},
		},
		{
			name: "a new container is taken as it is",
			override: &kusciav1alpha1.PartyTemplate{Spec: kusciav1alpha1.PodSpec{
				Containers: []kusciav1alpha1.Container{{Name: "other", Args: []string{"other"}}},
			}},
			check: func(t *testing.T, _ int32, spec kusciav1alpha1.PodSpec) {
				require.Len(t, spec.Containers, 1)
				assert.Equal(t, kusciav1alpha1.Container{Name: "other", Args: []string{"other"}}, spec.Containers[0])
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := *base.DeepCopy()
			replicas, spec := mergeTemplate(&b, tc.override)
			tc.check(t, replicas, spec)
			assert.Equal(t, base, b, "the AppImage's template must not change")
		})
	}
}

func TestMergeTemplateDefaults(t *testing.T) {
	replicas, spec := mergeTemplate(nil, &kusciav1alpha1.PartyTemplate{Spec: kusciav1alpha1.PodSpec{
		Containers: []kusciav1alpha1.Container{{Name: "c", Ports: []kusciav1alpha1.ContainerPort{
			{Name: "a", Port: 1}, {Name: "b", Port: 2, Protocol: kusciav1alpha1.ProtocolHTTP, Scope: kusciav1alpha1.ScopeCluster},
		}}},
	}})
	assert.Equal(t, int32(1), replicas, "replicas default to 1")
	assert.Equal(t, corev1.RestartPolicyNever, spec.RestartPolicy, "restartPolicy defaults to Never")
	assert.Equal(t, []kusciav1alpha1.ContainerPort{
		{Name: "a", Port: 1, Protocol: kusciav1alpha1.ProtocolTCP, Scope: kusciav1alpha1.ScopeLocal},
		{Name: "b", Port: 2, Protocol: kusciav1alpha1.ProtocolHTTP, Scope: kusciav1alpha1.ScopeCluster},
	}, spec.Containers[0].Ports)
}

func resourcesEqual(a, b corev1.ResourceRequirements) bool {
	eq := func(x, y corev1.ResourceList) bool {
		if len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !v.Equal(w) {
				return false
			}
		}
		return true
	}
	return eq(a.Limits, b.Limits) && eq(a.Requests, b.Requests)
}
