package builder

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/utils/ptr"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/security"
)

// The seed's examples run at the default level (baseline) and at the
// controller's most permissive one.
func TestExamplesPassDefaultPodSecurity(t *testing.T) {
	for _, file := range []string{"secretflow-task-psi.yaml", "task-template.yaml"} {
		for _, level := range []psapi.Level{"", psapi.LevelBaseline, psapi.LevelPrivileged} {
			t.Run(file+"/"+string(level), func(t *testing.T) {
				in := exampleInputs(t)
				in.Policy.PodSecurityLevel = level
				task := loadTask(t, file)
				plan, err := PlanTask(task, in)
				require.NoError(t, err)
				objs, err := BuildTask(context.Background(), task, plan, 1)
				require.NoError(t, err)
				assert.Len(t, objs, 2)
			})
		}
	}
}

// Each refusal fails the whole build (nothing of the task is returned) with
// its reason and a message naming the party, pod, container and field.
func TestBuildTaskSecurityRefusals(t *testing.T) {
	secretEnv := corev1.EnvVar{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "alice-token"}, Key: "token"}}}
	cases := []struct {
		name       string
		mutate     func(c *kusciav1alpha1.Container, ns *corev1.Namespace, policy *Policy)
		wantReason kusciav1alpha1.KusciaTaskReason
		want       []string
	}{{
		name: "privileged",
		mutate: func(c *kusciav1alpha1.Container, _ *corev1.Namespace, _ *Policy) {
			c.SecurityContext = &corev1.SecurityContext{Privileged: ptr.To(true)}
		},
		wantReason: kusciav1alpha1.ReasonPodSecurityViolation,
		want: []string{`party alice: pod secretflow-task-psi-0 violates PodSecurity "baseline:latest"`,
			`privileged (container "secretflow" must not set securityContext.privileged=true)`},
	}, {
		name: "added capabilities",
		mutate: func(c *kusciav1alpha1.Container, _ *corev1.Namespace, _ *Policy) {
			c.SecurityContext = &corev1.SecurityContext{
				AllowPrivilegeEscalation: ptr.To(true),
				Capabilities:             &corev1.Capabilities{Add: []corev1.Capability{"SYS_ADMIN", "NET_ADMIN"}},
			}
		},
		wantReason: kusciav1alpha1.ReasonPodSecurityViolation,
		want:       []string{"non-default capabilities", `"NET_ADMIN", "SYS_ADMIN"`},
	}, {
		name: "root under a restricted controller",
		mutate: func(c *kusciav1alpha1.Container, _ *corev1.Namespace, p *Policy) {
			p.PodSecurityLevel = psapi.LevelRestricted
			c.SecurityContext = &corev1.SecurityContext{RunAsUser: ptr.To[int64](0)}
		},
		wantReason: kusciav1alpha1.ReasonPodSecurityViolation,
		want:       []string{`"restricted:latest"`, "runAsUser=0", "runAsNonRoot != true", "allowPrivilegeEscalation != false"},
	}, {
		name: "namespace enforce=restricted fails a baseline pod",
		mutate: func(_ *kusciav1alpha1.Container, ns *corev1.Namespace, _ *Policy) {
			ns.Labels[psapi.EnforceLevelLabel] = "restricted"
		},
		wantReason: kusciav1alpha1.ReasonPodSecurityViolation,
		want:       []string{`"restricted:latest"`, "label pod-security.kubernetes.io/enforce of namespace alice", `container "secretflow"`},
	}, {
		name: "secret in env",
		mutate: func(c *kusciav1alpha1.Container, _ *corev1.Namespace, _ *Policy) {
			c.Env = append(c.Env, secretEnv)
		},
		wantReason: kusciav1alpha1.ReasonSecretRefForbidden,
		want:       []string{`party alice: pod secretflow-task-psi-0 reads Secrets of namespace alice: container "secretflow" env[0] TOKEN valueFrom.secretKeyRef (Secret "alice-token")`},
	}, {
		name: "secret in envFrom",
		mutate: func(c *kusciav1alpha1.Container, _ *corev1.Namespace, _ *Policy) {
			c.EnvFrom = append(c.EnvFrom, corev1.EnvFromSource{SecretRef: &corev1.SecretEnvSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: "alice-db"}}})
		},
		wantReason: kusciav1alpha1.ReasonSecretRefForbidden,
		want:       []string{`container "secretflow" envFrom[0].secretRef (Secret "alice-db")`, kusciav1alpha1.LabelAllowSecretRefs + "=true"},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			task, in := psiTask(t), exampleInputs(t)
			tc.mutate(secretflowContainer(in), in.Namespaces["alice"], &in.Policy)
			plan, err := PlanTask(task, in)
			require.NoError(t, err)
			objs, err := BuildTask(context.Background(), task, plan, 1)
			assert.Nil(t, objs, "nothing of the task may be built")
			ie, ok := AsInputError(err)
			require.True(t, ok, "want an InputError, got %v", err)
			assert.Equal(t, tc.wantReason, ie.Reason)
			for _, w := range tc.want {
				assert.Contains(t, ie.Message, w)
			}
		})
	}
}

// A domain labelled kuscia.secretflow/allow-secret-refs=true lets its
// parties read its Secrets; the other party's domain still does not.
func TestBuildTaskSecretRefsOptIn(t *testing.T) {
	task, in := psiTask(t), exampleInputs(t)
	in.Namespaces["alice"].Labels[kusciav1alpha1.LabelAllowSecretRefs] = "true"
	task.Spec.Parties[0].Template = &kusciav1alpha1.PartyTemplate{Spec: kusciav1alpha1.PodSpec{
		Containers: []kusciav1alpha1.Container{{Name: "secretflow", EnvFrom: []corev1.EnvFromSource{
			{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "alice-db"}}}}}},
	}}
	plan, err := PlanTask(task, in)
	require.NoError(t, err)
	objs, err := BuildTask(context.Background(), task, plan, 1)
	require.NoError(t, err)
	assert.Equal(t, "alice-db", objs[0].Pods[0].Spec.Containers[0].EnvFrom[0].SecretRef.Name)

	task.Spec.Parties[1].Template = task.Spec.Parties[0].Template
	plan, err = PlanTask(task, in)
	require.NoError(t, err)
	_, err = BuildTask(context.Background(), task, plan, 1)
	ie, ok := AsInputError(err)
	require.True(t, ok, "want an InputError, got %v", err)
	assert.Equal(t, kusciav1alpha1.ReasonSecretRefForbidden, ie.Reason)
	assert.Contains(t, ie.Message, "party bob")
}

// A pod that meets restricted runs in a restricted domain.
func TestBuildTaskRestrictedPodInRestrictedDomain(t *testing.T) {
	task, in := psiTask(t), exampleInputs(t)
	in.Namespaces["alice"].Labels[psapi.EnforceLevelLabel] = "restricted"
	secretflowContainer(in).SecurityContext = restrictedContext()
	plan, err := PlanTask(task, in)
	require.NoError(t, err)
	_, err = BuildTask(context.Background(), task, plan, 1)
	require.NoError(t, err)
}

// A plan without resolved requirements (a started task's) still holds its
// pods to the default level.
func TestBuildPartyWithoutRequirementsUsesDefaultLevel(t *testing.T) {
	task, in := psiTask(t), exampleInputs(t)
	secretflowContainer(in).SecurityContext = &corev1.SecurityContext{Privileged: ptr.To(true)}
	plan, err := PlanTask(task, in)
	require.NoError(t, err)
	plan.Parties[0].Security = security.Requirements{}
	_, err = buildOneParty(task, plan, 0, 1)
	ie, ok := AsInputError(err)
	require.True(t, ok, "want an InputError, got %v", err)
	assert.Equal(t, kusciav1alpha1.ReasonPodSecurityViolation, ie.Reason)
}

// restrictedContext is a container security context that meets restricted.
func restrictedContext() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		RunAsNonRoot:             ptr.To(true),
		AllowPrivilegeEscalation: ptr.To(false),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}
