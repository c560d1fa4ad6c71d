package security

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/utils/ptr"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// pod is a pod with one container "app" shaped by mutate.
func pod(mutate func(c *corev1.Container)) *corev1.Pod {
	c := corev1.Container{Name: "app", Image: "app:1"}
	if mutate != nil {
		mutate(&c)
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "task-0", Namespace: "alice"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{c}},
	}
}

func withSC(sc corev1.SecurityContext) func(c *corev1.Container) {
	return func(c *corev1.Container) { c.SecurityContext = &sc }
}

// restrictedSC is a securityContext that meets restricted.
func restrictedSC() corev1.SecurityContext {
	return corev1.SecurityContext{
		RunAsNonRoot:             ptr.To(true),
		RunAsUser:                ptr.To[int64](1000),
		AllowPrivilegeEscalation: ptr.To(false),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

func namespace(labels map[string]string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "alice", Labels: labels}}
}

func TestCheckPodSecurity(t *testing.T) {
	restricted := map[string]string{psapi.EnforceLevelLabel: "restricted"}
	cases := []struct {
		name  string
		level psapi.Level
		ns    map[string]string
		pod   *corev1.Pod
		want  []string // message parts; none means allowed
	}{
		{name: "plain pod at baseline", level: psapi.LevelBaseline, pod: pod(nil)},
		{name: "privileged", level: psapi.LevelBaseline,
			pod:  pod(withSC(corev1.SecurityContext{Privileged: ptr.To(true)})),
			want: []string{`pod task-0 violates PodSecurity "baseline:latest"`, "--pod-security-level", `privileged (container "app" must not set securityContext.privileged=true)`}},
		{name: "added capabilities", level: psapi.LevelBaseline,
			pod: pod(withSC(corev1.SecurityContext{
				Capabilities:             &corev1.Capabilities{Add: []corev1.Capability{"SYS_ADMIN", "NET_ADMIN"}},
				AllowPrivilegeEscalation: ptr.To(true),
			})),
			want: []string{"non-default capabilities", `container "app" must not include "NET_ADMIN", "SYS_ADMIN" in securityContext.capabilities.add`}},
		{name: "unconfined seccomp", level: psapi.LevelBaseline,
			pod:  pod(withSC(corev1.SecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}})),
			want: []string{"seccompProfile", `container "app"`, "Unconfined"}},
		{name: "unmasked proc", level: psapi.LevelBaseline,
			pod:  pod(withSC(corev1.SecurityContext{ProcMount: ptr.To(corev1.UnmaskedProcMount)})),
			want: []string{"procMount", `container "app"`}},
		{name: "windows host process", level: psapi.LevelBaseline,
			pod:  pod(withSC(corev1.SecurityContext{WindowsOptions: &corev1.WindowsSecurityContextOptions{HostProcess: ptr.To(true)}})),
			want: []string{"hostProcess", "securityContext.windowsOptions.hostProcess=true"}},
		{name: "host port", level: psapi.LevelBaseline,
			pod:  pod(func(c *corev1.Container) { c.Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 80}} }),
			want: []string{"hostPort", `container "app" uses hostPort 80`}},
		{name: "probe host", level: psapi.LevelBaseline,
			pod: pod(func(c *corev1.Container) {
				c.LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Host: "10.0.0.1", Path: "/"}}}
			}),
			want: []string{"probe or lifecycle host", `container "app"`, "10.0.0.1"}},
		{name: "allowPrivilegeEscalation is baseline", level: psapi.LevelBaseline,
			pod: pod(withSC(corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(true)}))},
		{name: "allowPrivilegeEscalation under restricted", level: psapi.LevelRestricted,
			pod:  pod(withSC(corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(true)})),
			want: []string{`"restricted:latest"`, "allowPrivilegeEscalation != false", `container "app" must set securityContext.allowPrivilegeEscalation=false`}},
		{name: "runAsUser 0 under restricted", level: psapi.LevelRestricted,
			pod:  pod(withSC(func() corev1.SecurityContext { sc := restrictedSC(); sc.RunAsUser = ptr.To[int64](0); return sc }())),
			want: []string{"runAsUser=0", `container "app" must not set runAsUser=0`}},
		{name: "runAsNonRoot missing under restricted", level: psapi.LevelRestricted,
			pod:  pod(withSC(func() corev1.SecurityContext { sc := restrictedSC(); sc.RunAsNonRoot = nil; return sc }())),
			want: []string{"runAsNonRoot != true", `container "app" must set securityContext.runAsNonRoot=true`}},
		{name: "restricted pod under restricted", level: psapi.LevelRestricted, pod: pod(withSC(restrictedSC()))},
		{name: "privileged level allows everything", level: psapi.LevelPrivileged,
			pod: pod(withSC(corev1.SecurityContext{Privileged: ptr.To(true)}))},
		{name: "namespace restricted fails a baseline pod", level: psapi.LevelBaseline, ns: restricted,
			pod:  pod(nil),
			want: []string{`"restricted:latest"`, "label pod-security.kubernetes.io/enforce of namespace alice", "allowPrivilegeEscalation != false", "runAsNonRoot != true", "seccompProfile"}},
		{name: "namespace restricted allows a restricted pod", level: psapi.LevelBaseline, ns: restricted,
			pod: pod(withSC(restrictedSC()))},
		{name: "namespace privileged does not loosen the controller", level: psapi.LevelBaseline,
			ns:   map[string]string{psapi.EnforceLevelLabel: "privileged"},
			pod:  pod(withSC(corev1.SecurityContext{Privileged: ptr.To(true)})),
			want: []string{`"baseline:latest"`, "--pod-security-level", "privileged"}},
		{name: "controller restricted wins over namespace baseline", level: psapi.LevelRestricted,
			ns:   map[string]string{psapi.EnforceLevelLabel: "baseline"},
			pod:  pod(nil),
			want: []string{`"restricted:latest"`, "--pod-security-level"}},
		{name: "namespace version pins the checks", level: psapi.LevelPrivileged,
			ns:   map[string]string{psapi.EnforceLevelLabel: "baseline", psapi.EnforceVersionLabel: "v1.24"},
			pod:  pod(withSC(corev1.SecurityContext{Privileged: ptr.To(true)})),
			want: []string{`"baseline:v1.24"`, "privileged"}},
		{name: "invalid namespace level is restricted", level: psapi.LevelBaseline,
			ns:   map[string]string{psapi.EnforceLevelLabel: "lenient"},
			pod:  pod(nil),
			want: []string{`"restricted:latest"`, "pod-security labels are invalid", "lenient", "allowPrivilegeEscalation != false"}},
		{name: "invalid namespace version is latest", level: psapi.LevelBaseline,
			ns:   map[string]string{psapi.EnforceLevelLabel: "baseline", psapi.EnforceVersionLabel: "yesterday"},
			pod:  pod(withSC(corev1.SecurityContext{Privileged: ptr.To(true)})),
			want: []string{`"baseline:latest"`, "privileged"}},
		{name: "unknown controller level is the default", level: psapi.Level("nonsense"),
			pod:  pod(withSC(corev1.SecurityContext{Privileged: ptr.To(true)})),
			want: []string{`"baseline:latest"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := Check(For(tc.level, namespace(tc.ns)), tc.pod)
			if len(tc.want) == 0 {
				assert.Nil(t, v)
				return
			}
			require.NotNil(t, v, "pod allowed")
			assert.Equal(t, kusciav1alpha1.ReasonPodSecurityViolation, v.Reason)
			for _, w := range tc.want {
				assert.Contains(t, v.Message, w)
			}
		})
	}
}

// Init containers are held to the same rules as app containers.
func TestCheckInitContainers(t *testing.T) {
	p := pod(nil)
	p.Spec.InitContainers = []corev1.Container{{Name: "gate", SecurityContext: &corev1.SecurityContext{Privileged: ptr.To(true)}}}
	v := Check(For(psapi.LevelBaseline, nil), p)
	require.NotNil(t, v)
	assert.Contains(t, v.Message, `container "gate" must not set securityContext.privileged=true`)

	p = pod(nil)
	p.Spec.InitContainers = []corev1.Container{{Name: "gate", EnvFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{}}}}}
	v = Check(For(psapi.LevelBaseline, nil), p)
	require.NotNil(t, v)
	assert.Equal(t, kusciav1alpha1.ReasonSecretRefForbidden, v.Reason)
}

func TestCheckSecretRefs(t *testing.T) {
	envFromSecret := func(c *corev1.Container) {
		c.EnvFrom = []corev1.EnvFromSource{
			{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}},
			{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}}},
		}
	}
	envSecretKey := func(c *corev1.Container) {
		c.Env = []corev1.EnvVar{
			{Name: "PLAIN", Value: "x"},
			{Name: "PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "password"}}},
		}
	}
	configMapOnly := func(c *corev1.Container) {
		c.EnvFrom = []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}}
		c.Env = []corev1.EnvVar{{Name: "MODE", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Key: "mode"}}}}
	}
	allow := map[string]string{kusciav1alpha1.LabelAllowSecretRefs: "true"}
	cases := []struct {
		name   string
		mutate func(c *corev1.Container)
		ns     map[string]string
		want   string // message part; empty means allowed
	}{
		{"envFrom secretRef", envFromSecret, nil, `container "app" envFrom[1].secretRef (Secret "db")`},
		{"env secretKeyRef", envSecretKey, nil, `container "app" env[1] PASSWORD valueFrom.secretKeyRef (Secret "db")`},
		{"label other than true", envSecretKey, map[string]string{kusciav1alpha1.LabelAllowSecretRefs: "yes"}, "valueFrom.secretKeyRef"},
		{"envFrom secretRef allowed by the domain", envFromSecret, allow, ""},
		{"env secretKeyRef allowed by the domain", envSecretKey, allow, ""},
		{"config map references", configMapOnly, nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := Check(For(psapi.LevelBaseline, namespace(tc.ns)), pod(tc.mutate))
			if tc.want == "" {
				assert.Nil(t, v)
				return
			}
			require.NotNil(t, v)
			assert.Equal(t, kusciav1alpha1.ReasonSecretRefForbidden, v.Reason)
			assert.Contains(t, v.Message, tc.want)
			assert.Contains(t, v.Message, "pod task-0 reads Secrets of namespace alice")
			assert.Contains(t, v.Message, kusciav1alpha1.LabelAllowSecretRefs+"=true")
		})
	}
}

func TestParseLevel(t *testing.T) {
	for _, s := range []string{"privileged", "baseline", "restricted"} {
		l, err := ParseLevel(s)
		require.NoError(t, err)
		assert.Equal(t, psapi.Level(s), l)
	}
	for _, s := range []string{"", "Baseline", "strict"} {
		_, err := ParseLevel(s)
		assert.ErrorContains(t, err, "must be one of privileged, baseline, restricted", s)
	}
}

// The requirements list the strictest level first and leave out a namespace
// level equal to the controller's.
func TestForOrdersLevels(t *testing.T) {
	req := For(psapi.LevelBaseline, namespace(map[string]string{psapi.EnforceLevelLabel: "restricted"}))
	require.Len(t, req.Levels, 2)
	assert.Equal(t, psapi.LevelRestricted, req.Levels[0].Level)
	assert.Equal(t, psapi.LevelBaseline, req.Levels[1].Level)

	req = For(psapi.LevelBaseline, namespace(map[string]string{psapi.EnforceLevelLabel: "baseline"}))
	assert.Len(t, req.Levels, 1)
	req = For(psapi.LevelBaseline, namespace(nil))
	assert.Len(t, req.Levels, 1)
	assert.False(t, req.AllowSecretRefs)
}
