package controller

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	psapi "k8s.io/pod-security-admission/api"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
)

// The controller's policy (Options.Policy, from its flags) and the domains'
// labels reach the builder: a refused task fails at once and nothing of it
// is created.
func TestPolicyRefusalsCreateNothing(t *testing.T) {
	cases := []struct {
		name       string
		policy     builder.Policy
		alice      map[string]string
		wantReason kusciav1alpha1.KusciaTaskReason
		wantInMsg  string
	}{
		{name: "controller level restricted", policy: builder.Policy{PodSecurityLevel: psapi.LevelRestricted},
			wantReason: kusciav1alpha1.ReasonPodSecurityViolation, wantInMsg: `party alice: pod secretflow-task-psi-0 violates PodSecurity "restricted:latest"`},
		{name: "domain enforce=restricted", alice: map[string]string{psapi.EnforceLevelLabel: "restricted"},
			wantReason: kusciav1alpha1.ReasonPodSecurityViolation, wantInMsg: "label pod-security.kubernetes.io/enforce of namespace alice"},
		{name: "max pods per task", policy: builder.Policy{MaxPodsPerTask: 1},
			wantReason: kusciav1alpha1.ReasonTooManyPods, wantInMsg: "(--max-pods-per-task)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			objs := psiObjects(t)
			for _, o := range objs {
				if ns, ok := o.(*corev1.Namespace); ok && ns.Name == "alice" {
					for k, v := range tc.alice {
						ns.Labels[k] = v
					}
				}
			}
			f := newFixture(t, objs...)
			f.c.policy = tc.policy
			res, err := f.sync(psi)
			require.NoError(t, err, "a refusal is not retried")
			assert.Zero(t, res.requeueAfter)
			assert.Equal(t, []string{"update kusciatasks/status /secretflow-task-psi"}, f.writes(), "nothing may be created")
			task := f.task(psi)
			assert.Equal(t, kusciav1alpha1.TaskFailed, task.Status.Phase)
			assert.Equal(t, tc.wantReason, task.Status.Reason)
			assert.Contains(t, task.Status.Message, tc.wantInMsg)
		})
	}
}
