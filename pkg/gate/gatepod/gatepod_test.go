package gatepod

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	resourcehelper "k8s.io/component-helpers/resource"
	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"k8s.io/utils/ptr"

	"kusciatask.io/controller/pkg/gate"
)

var testDeadline = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func appPod(containers ...corev1.Container) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "task-0", Namespace: "alice"},
		Spec:       corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: containers},
	}
}

func TestAddTo(t *testing.T) {
	userInit := corev1.Container{Name: "prepare", Image: "busybox"}
	pod := appPod(corev1.Container{Name: "secretflow", Image: "sf"}, corev1.Container{Name: "sidecar", Image: "s"})
	pod.Spec.InitContainers = []corev1.Container{userInit}
	pod.Spec.Volumes = []corev1.Volume{{Name: "config"}}
	pod.Annotations = map[string]string{"keep": "me"}

	require.NoError(t, AddTo(pod, Options{Image: "registry.example/kusciatask-controller:v1", Deadline: testDeadline}))

	require.Len(t, pod.Spec.InitContainers, 2)
	gc := pod.Spec.InitContainers[0]
	assert.Equal(t, gate.ContainerName, gc.Name, "the gate runs before any init container of the application")
	assert.Equal(t, userInit, pod.Spec.InitContainers[1])
	assert.Equal(t, "registry.example/kusciatask-controller:v1", gc.Image)
	assert.Equal(t, []string{gate.BinaryPath}, gc.Command, "no shell")
	assert.Equal(t, []string{"--file=/etc/kuscia-gate/gate", "--deadline=2026-01-02T03:04:05Z"}, gc.Args)
	assert.Equal(t, []corev1.VolumeMount{{Name: gate.VolumeName, MountPath: gate.MountPath, ReadOnly: true}}, gc.VolumeMounts)
	assert.Equal(t, corev1.PullIfNotPresent, gc.ImagePullPolicy)
	assert.Equal(t, corev1.TerminationMessageFallbackToLogsOnError, gc.TerminationMessagePolicy)
	assert.Empty(t, gc.Env, "the gate needs nothing from the environment")

	assert.Equal(t, []corev1.Volume{{Name: "config"}, Volume()}, pod.Spec.Volumes)
	assert.Equal(t, map[string]string{
		"keep":                          "me",
		gate.Annotation:                 gate.Closed,
		gate.DefaultContainerAnnotation: "secretflow",
	}, pod.Annotations)
	assert.Nil(t, pod.Spec.AutomountServiceAccountToken, "AddTo leaves the application's token choice alone")
}

func TestAddToKeepsADefaultContainerAlreadySet(t *testing.T) {
	pod := appPod(corev1.Container{Name: "a"}, corev1.Container{Name: "b"})
	SetDefaultContainer(pod, "b")
	require.NoError(t, AddTo(pod, Options{Image: "img", Deadline: testDeadline}))
	assert.Equal(t, "b", pod.Annotations[gate.DefaultContainerAnnotation])
}

func TestSetDefaultContainer(t *testing.T) {
	pod := &corev1.Pod{}
	SetDefaultContainer(pod, "app")
	assert.Equal(t, map[string]string{"kubectl.kubernetes.io/default-container": "app"}, pod.Annotations)
}

func TestAddToRefusesTakenNames(t *testing.T) {
	tests := map[string]func(*corev1.Pod){
		"app container": func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: gate.ContainerName})
		},
		"init container": func(p *corev1.Pod) { p.Spec.InitContainers = []corev1.Container{{Name: gate.ContainerName}} },
		"volume":         func(p *corev1.Pod) { p.Spec.Volumes = []corev1.Volume{{Name: gate.VolumeName}} },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			pod := appPod(corev1.Container{Name: "app"})
			mutate(pod)
			before := pod.DeepCopy()
			err := AddTo(pod, Options{Image: "img", Deadline: testDeadline})
			require.ErrorContains(t, err, `"kuscia-gate", reserved for the gate`)
			assert.Equal(t, before, pod, "a refused pod is left unchanged")
		})
	}
	// Twice is a mistake too.
	pod := appPod(corev1.Container{Name: "app"})
	require.NoError(t, AddTo(pod, Options{Image: "img", Deadline: testDeadline}))
	assert.Error(t, AddTo(pod, Options{Image: "img", Deadline: testDeadline}))
}

func TestInitContainerRefusesMissingInputs(t *testing.T) {
	_, err := InitContainer("", testDeadline, nil)
	assert.ErrorContains(t, err, "image is empty")
	_, err = InitContainer("img", time.Time{}, nil)
	assert.ErrorContains(t, err, "deadline is unset")
}

func TestVolumeProjectsTheAnnotation(t *testing.T) {
	v := Volume()
	require.NotNil(t, v.DownwardAPI)
	require.Len(t, v.DownwardAPI.Items, 1)
	item := v.DownwardAPI.Items[0]
	assert.Equal(t, gate.FileName, item.Path)
	assert.Equal(t, "metadata.annotations['kuscia.secretflow/gate']", item.FieldRef.FieldPath)
	assert.Equal(t, int32(0o444), *v.DownwardAPI.DefaultMode, "readable by the gate's non-root user")
}

func res(cpu, memory string) corev1.ResourceList {
	out := corev1.ResourceList{}
	if cpu != "" {
		out[corev1.ResourceCPU] = resource.MustParse(cpu)
	}
	if memory != "" {
		out[corev1.ResourceMemory] = resource.MustParse(memory)
	}
	return out
}

func withResources(name string, requests, limits corev1.ResourceList) corev1.Container {
	return corev1.Container{Name: name, Resources: corev1.ResourceRequirements{Requests: requests, Limits: limits}}
}

// resourceCases are application pods of every QoS shape.
var resourceCases = []struct {
	name         string
	app          []corev1.Container
	wantRequests corev1.ResourceList
	wantLimits   corev1.ResourceList
}{
	{name: "best effort", app: []corev1.Container{{Name: "a"}}},
	{
		name:         "burstable, requests only",
		app:          []corev1.Container{withResources("a", res("1", "1Gi"), nil)},
		wantRequests: res("10m", "16Mi"),
	},
	{
		name:         "burstable, limits above requests",
		app:          []corev1.Container{withResources("a", res("1", "1Gi"), res("2", "2Gi"))},
		wantRequests: res("10m", "16Mi"),
	},
	{
		name:         "burstable, cpu only",
		app:          []corev1.Container{withResources("a", res("500m", ""), nil)},
		wantRequests: res("10m", ""),
	},
	{
		name:         "guaranteed",
		app:          []corev1.Container{withResources("a", res("1", "1Gi"), res("1", "1Gi"))},
		wantRequests: res("10m", "16Mi"), wantLimits: res("10m", "16Mi"),
	},
	{
		name:         "guaranteed by limits alone (requests default to them)",
		app:          []corev1.Container{withResources("a", nil, res("1", "1Gi")), withResources("b", res("2", "64Mi"), res("2", "64Mi"))},
		wantRequests: res("10m", "16Mi"), wantLimits: res("10m", "16Mi"),
	},
	{
		name:         "one guaranteed container, one best effort",
		app:          []corev1.Container{withResources("a", res("1", "1Gi"), res("1", "1Gi")), {Name: "b"}},
		wantRequests: res("10m", "16Mi"),
	},
	{
		name:         "application smaller than the gate",
		app:          []corev1.Container{withResources("a", res("2m", "3Mi"), nil), withResources("b", res("3m", "4Mi"), nil)},
		wantRequests: res("5m", "7Mi"),
	},
	{
		name:         "tiny guaranteed application",
		app:          []corev1.Container{withResources("a", res("5m", "8Mi"), res("5m", "8Mi"))},
		wantRequests: res("5m", "8Mi"), wantLimits: res("5m", "8Mi"),
	},
	{
		name:         "explicit zero requests",
		app:          []corev1.Container{withResources("a", res("0", "0"), nil)},
		wantRequests: nil,
	},
}

func TestResources(t *testing.T) {
	for _, tt := range resourceCases {
		t.Run(tt.name, func(t *testing.T) {
			got := Resources(tt.app)
			assertResourceList(t, tt.wantRequests, got.Requests, "requests")
			assertResourceList(t, tt.wantLimits, got.Limits, "limits")
		})
	}
}

func assertResourceList(t *testing.T, want, got corev1.ResourceList, what string) {
	t.Helper()
	require.Len(t, got, len(want), "%s: got %v, want %v", what, got, want)
	for name, q := range want {
		assert.Zero(t, q.Cmp(got[name]), "%s %s: got %s, want %s", what, name, got.Name(name, resource.DecimalSI), q.String())
	}
}

// For every shape, the gate changes neither the pod's effective request (as
// the scheduler computes it, with init containers) nor its QoS shape.
func TestGateKeepsEffectiveRequestsAndQoS(t *testing.T) {
	for _, tt := range resourceCases {
		for _, pulls := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, pull during reservation %t", tt.name, pulls), func(t *testing.T) {
				plain := defaulted(appPod(tt.app...))
				for i := range plain.Spec.Containers {
					plain.Spec.Containers[i].Image = fmt.Sprintf("app-%d", i)
				}
				gated := plain.DeepCopy()
				require.NoError(t, AddTo(gated, Options{Image: "img", Deadline: testDeadline, PullImages: pulls}))

				want := resourcehelper.PodRequests(plain, resourcehelper.PodResourcesOptions{})
				got := resourcehelper.PodRequests(gated, resourcehelper.PodResourcesOptions{})
				for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
					w, g := want[name], got[name]
					assert.Zero(t, w.Cmp(g), "effective %s request: %s without the gate, %s with it", name, w.String(), g.String())
				}
				assert.Equal(t, qosShape(plain), qosShape(gated))
			})
		}
	}
}

// defaulted sets unset requests to their limits, as the API server does.
func defaulted(pod *corev1.Pod) *corev1.Pod {
	for i := range pod.Spec.Containers {
		r := &pod.Spec.Containers[i].Resources
		for name, limit := range r.Limits {
			if _, ok := r.Requests[name]; !ok {
				if r.Requests == nil {
					r.Requests = corev1.ResourceList{}
				}
				r.Requests[name] = limit
			}
		}
	}
	return pod
}

// qosShape classifies a pod by what decides its QoS class: whether any
// container sets anything, and whether all set cpu and memory limits equal
// to their requests.
func qosShape(pod *corev1.Pod) string {
	all := append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...)
	anySet, allEqual := false, true
	for _, c := range all {
		if len(c.Resources.Requests)+len(c.Resources.Limits) > 0 {
			anySet = true
		}
		for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			l, ok := c.Resources.Limits[name]
			if r := c.Resources.Requests[name]; !ok || r.Cmp(l) != 0 {
				allEqual = false
			}
		}
	}
	switch {
	case !anySet:
		return "BestEffort"
	case allEqual:
		return "Guaranteed"
	}
	return "Burstable"
}

// The gate passes Pod Security "restricted" (latest) on its own, and adds no
// violation to any pod: whatever a pod is refused for, it is not the gate.
func TestGatePassesPodSecurityRestricted(t *testing.T) {
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	require.NoError(t, err)
	evaluate := func(pod *corev1.Pod, level psapi.Level) policy.AggregateCheckResult {
		lv := psapi.LevelVersion{Level: level, Version: psapi.LatestVersion()}
		return policy.AggregateCheckResults(evaluator.EvaluatePod(lv, &pod.ObjectMeta, &pod.Spec))
	}

	restrictedApp := corev1.Container{Name: "app", Image: "app", SecurityContext: SecurityContext()}
	rootApp := corev1.Container{Name: "app", Image: "app"}
	privilegedApp := corev1.Container{Name: "app", Image: "app", SecurityContext: &corev1.SecurityContext{
		Privileged: ptr.To(true), RunAsUser: ptr.To[int64](0),
		Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_ADMIN"}},
	}}
	podLevelRoot := appPod(rootApp)
	podLevelRoot.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(false), RunAsUser: ptr.To[int64](0)}
	hostNet := appPod(restrictedApp)
	hostNet.Spec.HostNetwork = true

	pods := map[string]*corev1.Pod{
		"restricted application": appPod(restrictedApp),
		"root application":       appPod(rootApp),
		"privileged application": appPod(privilegedApp),
		"pod-level root":         podLevelRoot,
		"host network":           hostNet,
	}
	for name, plain := range pods {
		for _, pulls := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, pull during reservation %t", name, pulls), func(t *testing.T) {
				gated := plain.DeepCopy()
				require.NoError(t, AddTo(gated, Options{Image: "img", Deadline: testDeadline, PullImages: pulls}))
				for _, level := range []psapi.Level{psapi.LevelBaseline, psapi.LevelRestricted} {
					before, after := evaluate(plain, level), evaluate(gated, level)
					assert.Equal(t, before.ForbiddenReasons, after.ForbiddenReasons, "%s: the gate adds no violation", level)
					assert.NotContains(t, after.ForbiddenDetail(), gate.ContainerName, "%s: the gate is never named", level)
					assert.NotContains(t, after.ForbiddenDetail(), gate.PullContainerPrefix, "%s: a pull-only container is never named", level)
				}
			})
		}
	}

	for _, pulls := range []bool{false, true} {
		gated := appPod(restrictedApp, corev1.Container{Name: "other", Image: "other", SecurityContext: SecurityContext()})
		require.NoError(t, AddTo(gated, Options{Image: "img", Deadline: testDeadline, PullImages: pulls}))
		result := evaluate(gated, psapi.LevelRestricted)
		assert.True(t, result.Allowed, "a restricted application stays restricted with the gate (pulls %t): %s", pulls, result.ForbiddenDetail())
	}

	// The gate alone, whatever the pod-level context says.
	alone := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{must(InitContainer("img", testDeadline, nil))}}}
	result := evaluate(alone, psapi.LevelRestricted)
	assert.True(t, result.Allowed, result.ForbiddenDetail())
}

func must(c corev1.Container, err error) corev1.Container {
	if err != nil {
		panic(err)
	}
	return c
}

// TestAddToPullingOneImage: with PullImages the install container copies
// the binary from the gate image, and the gate runs it from the
// application's image, with the application's pull policy.
func TestAddToPullingOneImage(t *testing.T) {
	userInit := corev1.Container{Name: "prepare", Image: "sf:1.2"}
	pod := appPod(corev1.Container{Name: "secretflow", Image: "sf:1.2", ImagePullPolicy: corev1.PullAlways})
	pod.Spec.InitContainers = []corev1.Container{userInit}

	require.NoError(t, AddTo(pod, Options{Image: "registry.example/kusciatask-controller:v1", Deadline: testDeadline, PullImages: true}))

	require.Len(t, pod.Spec.InitContainers, 3, "install, gate, then the application's own: one image, no pull-only container")
	install, waiter := pod.Spec.InitContainers[0], pod.Spec.InitContainers[1]
	assert.Equal(t, userInit, pod.Spec.InitContainers[2])

	assert.Equal(t, gate.InstallContainerName, install.Name)
	assert.Equal(t, "registry.example/kusciatask-controller:v1", install.Image)
	assert.Equal(t, []string{gate.BinaryPath}, install.Command)
	assert.Equal(t, []string{"--install=" + gate.InstalledBinaryPath}, install.Args)
	assert.Equal(t, []corev1.VolumeMount{{Name: gate.BinVolumeName, MountPath: gate.BinMountPath}}, install.VolumeMounts, "the only writable mount")
	assert.Equal(t, corev1.PullIfNotPresent, install.ImagePullPolicy)

	assert.Equal(t, gate.ContainerName, waiter.Name, "hack/kwok/stages.yaml and podstate know the waiting gate by this name")
	assert.Equal(t, "sf:1.2", waiter.Image, "the gate runs from the application's image, so it is pulled first")
	assert.Equal(t, corev1.PullAlways, waiter.ImagePullPolicy, "the application's pull policy")
	assert.Equal(t, []string{gate.InstalledBinaryPath}, waiter.Command, "the copied binary, no shell")
	assert.Equal(t, []string{"--file=/etc/kuscia-gate/gate", "--deadline=2026-01-02T03:04:05Z"}, waiter.Args)
	assert.Equal(t, "/", waiter.WorkingDir, "the image's own working directory may not exist")
	assert.Equal(t, []corev1.VolumeMount{
		{Name: gate.VolumeName, MountPath: gate.MountPath, ReadOnly: true},
		{Name: gate.BinVolumeName, MountPath: gate.BinMountPath, ReadOnly: true},
	}, waiter.VolumeMounts)

	for _, c := range []corev1.Container{install, waiter} {
		assert.Equal(t, SecurityContext(), c.SecurityContext, "%s: the image's own user is unknown, so it is set", c.Name)
		assert.Empty(t, c.Env, "%s needs nothing from the environment", c.Name)
	}
	assert.Equal(t, []corev1.Volume{Volume(), BinVolume()}, pod.Spec.Volumes)
	assert.Equal(t, gate.Closed, pod.Annotations[gate.Annotation])
	assert.Equal(t, "secretflow", pod.Annotations[gate.DefaultContainerAnnotation])
}

// TestAddToPullingSeveralImages: one pull-only init container per distinct
// image but the gate's, application containers' first, then the
// application's init containers', each with its first container's pull
// policy (defaulted as the API server does), all before the gate.
func TestAddToPullingSeveralImages(t *testing.T) {
	pod := appPod(
		corev1.Container{Name: "a", Image: "a:1"},
		corev1.Container{Name: "b", Image: "b", ImagePullPolicy: corev1.PullNever},
		corev1.Container{Name: "a-again", Image: "a:1"},
		corev1.Container{Name: "c", Image: "c:latest"},
		corev1.Container{Name: "d", Image: "d@sha256:0123"},
	)
	pod.Spec.InitContainers = []corev1.Container{{Name: "prepare", Image: "prep:2"}, {Name: "prepare-b", Image: "b"}}

	require.NoError(t, AddTo(pod, Options{Image: "gate:v1", Deadline: testDeadline, PullImages: true}))

	type step struct {
		name, image string
		policy      corev1.PullPolicy
	}
	var got []step
	for _, c := range pod.Spec.InitContainers {
		got = append(got, step{c.Name, c.Image, c.ImagePullPolicy})
	}
	assert.Equal(t, []step{
		{gate.InstallContainerName, "gate:v1", corev1.PullIfNotPresent},
		{"kuscia-pull-1", "b", corev1.PullNever},
		{"kuscia-pull-2", "c:latest", corev1.PullAlways},
		{"kuscia-pull-3", "d@sha256:0123", corev1.PullIfNotPresent},
		{"kuscia-pull-4", "prep:2", corev1.PullIfNotPresent},
		{gate.ContainerName, "a:1", corev1.PullIfNotPresent},
		{"prepare", "prep:2", ""},
		{"prepare-b", "b", ""},
	}, got)
	for _, c := range pod.Spec.InitContainers[1:5] {
		assert.Equal(t, []string{gate.InstalledBinaryPath}, c.Command, c.Name)
		assert.Equal(t, []string{"--pull-only"}, c.Args, c.Name)
		assert.Equal(t, []corev1.VolumeMount{{Name: gate.BinVolumeName, MountPath: gate.BinMountPath, ReadOnly: true}}, c.VolumeMounts, c.Name)
		assert.Equal(t, SecurityContext(), c.SecurityContext, c.Name)
		assert.Equal(t, Resources(pod.Spec.Containers), c.Resources, c.Name)
	}
}

// TestAddToPullingRefuses: a container without an image, and names the
// gate keeps for itself.
func TestAddToPullingRefuses(t *testing.T) {
	err := AddTo(appPod(corev1.Container{Name: "a"}), Options{Image: "gate", Deadline: testDeadline, PullImages: true})
	assert.ErrorContains(t, err, "no image")
	err = AddTo(appPod(), Options{Image: "gate", Deadline: testDeadline, PullImages: true})
	assert.ErrorContains(t, err, "no container")
	for _, name := range []string{gate.InstallContainerName, "kuscia-pull-1"} {
		pod := appPod(corev1.Container{Name: name, Image: "a"})
		assert.ErrorContains(t, AddTo(pod, Options{Image: "gate", Deadline: testDeadline, PullImages: true}), name)
	}
	pod := appPod(corev1.Container{Name: "a", Image: "a"})
	pod.Spec.Volumes = []corev1.Volume{{Name: gate.BinVolumeName}}
	assert.ErrorContains(t, AddTo(pod, Options{Image: "gate", Deadline: testDeadline}), gate.BinVolumeName)
}
