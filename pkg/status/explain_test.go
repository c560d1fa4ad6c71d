package status

import (
	"testing"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/gate"
)

// Explains accepts every end the controller reaches from the pods and
// refuses an end they do not show.
func TestExplains(t *testing.T) {
	closed := func(p *corev1.Pod) { bind(p); p.Annotations[gate.Annotation] = gate.Closed }
	opened := func(p *corev1.Pod) { run(p, at(2)); p.Annotations[gate.Annotation] = gate.Open }
	tests := []struct {
		name    string
		phase   kusciav1alpha1.KusciaTaskPhase
		alice   func(*corev1.Pod)
		bob     func(*corev1.Pod) // nil: bob's pod is gone
		ageSecs float64
		want    bool
	}{
		{"succeeded: both parties succeeded", kusciav1alpha1.TaskSucceeded, succeed, succeed, 10, true},
		{"succeeded: one still running", kusciav1alpha1.TaskSucceeded, succeed, func(p *corev1.Pod) { run(p, at(2)) }, 10, false},
		{"succeeded: both running", kusciav1alpha1.TaskSucceeded, func(p *corev1.Pod) { run(p, at(2)) }, func(p *corev1.Pod) { run(p, at(2)) }, 10, false},
		{"failed: a peer failed", kusciav1alpha1.TaskFailed, func(p *corev1.Pod) { fail(p, "boom") }, func(p *corev1.Pod) { run(p, at(2)) }, 10, true},
		{"failed: a peer's pod is gone", kusciav1alpha1.TaskFailed, func(p *corev1.Pod) { run(p, at(2)) }, nil, 10, true},
		{"failed: a peer stuck", kusciav1alpha1.TaskFailed, func(p *corev1.Pod) { run(p, at(2)) }, func(p *corev1.Pod) { waiting(p, "CrashLoopBackOff", "") }, 10, true},
		{"failed: held behind closed gates (expired, input)", kusciav1alpha1.TaskFailed, closed, closed, 10, true},
		{"failed: a party the gang went without", kusciav1alpha1.TaskFailed, opened, closed, 10, true},
		{"failed: both running behind open gates", kusciav1alpha1.TaskFailed, opened, opened, 1000, false},
		{"failed: both running, ungated, young", kusciav1alpha1.TaskFailed, func(p *corev1.Pod) { run(p, at(2)) }, func(p *corev1.Pod) { run(p, at(2)) }, 10, false},
		{"failed: bound, ungated, past lifecycleSeconds", kusciav1alpha1.TaskFailed, bind, bind, 300, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := psiFixture(t)
			f.task.CreationTimestamp = metav1.NewTime(at(0))
			f.task.Status.Phase = tt.phase
			tt.alice(f.pod(t, "alice/secretflow-task-psi-0"))
			pods := f.pods
			if tt.bob != nil {
				tt.bob(f.pod(t, "bob/secretflow-task-psi-0"))
			} else {
				pods = f.without("bob/secretflow-task-psi-0")
			}
			in := Input{Task: f.task, Roster: f.plan.Roster(), Pods: pods, Now: at(tt.ageSecs)}
			ok, why := Explains(in)
			assert.Equal(t, tt.want, ok, why)
			if !ok {
				assert.NotEmpty(t, why)
			}
		})
	}
}

func TestExplainsWithoutARoster(t *testing.T) {
	f := psiFixture(t)
	f.task.Status.Phase = kusciav1alpha1.TaskFailed
	ok, _ := Explains(Input{Task: f.task, Pods: f.pods, Now: at(1)})
	assert.True(t, ok, "a spec that does not resolve fails the task")
	f.task.Status.Phase = kusciav1alpha1.TaskSucceeded
	ok, _ = Explains(Input{Task: f.task, Pods: f.pods, Now: at(1)})
	assert.False(t, ok)
}

// Tampered keeps the phase and completion time, says why, and reports
// the pods as they are.
func TestTampered(t *testing.T) {
	f := psiFixture(t)
	for _, p := range f.pods {
		run(p, at(2))
	}
	done := metav1.NewTime(at(5))
	f.task.Status = kusciav1alpha1.KusciaTaskStatus{Phase: kusciav1alpha1.TaskSucceeded, CompletionTime: &done,
		PodStatuses: map[string]*kusciav1alpha1.PodStatus{"bob/invented": {PodName: "invented", PodPhase: corev1.PodSucceeded}}}
	s := Tampered(Input{Task: f.task, Roster: f.plan.Roster(), Pods: f.pods, Services: f.services, Now: at(6)}, "0 of 2 parties have succeeded pods (2 needed)")
	assert.Equal(t, kusciav1alpha1.TaskSucceeded, s.Phase)
	assert.Equal(t, &done, s.CompletionTime)
	assert.Equal(t, kusciav1alpha1.ReasonStatusTampered, s.Reason)
	assert.Contains(t, s.Message, "status.phase was set to Succeeded by someone other than the controller: 0 of 2 parties")
	assert.Equal(t, map[string]kusciav1alpha1.KusciaTaskPhase{"alice": kusciav1alpha1.TaskRunning, "bob": kusciav1alpha1.TaskRunning}, partyPhases(s))
	assert.NotContains(t, s.PodStatuses, "bob/invented", "the forged report is not kept")
	assert.Equal(t, corev1.PodRunning, s.PodStatuses["alice/secretflow-task-psi-0"].PodPhase)
}
