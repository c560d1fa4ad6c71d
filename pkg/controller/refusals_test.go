package controller

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	core "k8s.io/client-go/testing"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/status"
)

const (
	podSecurityRefusal = `violates PodSecurity "baseline:latest": privileged (container "secretflow" must not set securityContext.privileged=true)`
	quotaRefusal       = "exceeded quota: compute, requested: pods=1, used: pods=0, limited: pods=0"
)

// refuseBobsPods makes the API server refuse bob's pods with a Forbidden
// while refuse() says so.
func (f *fixture) refuseBobsPods(msg string, refuse func() bool) {
	f.kube.PrependReactor("create", "pods", func(a core.Action) (bool, runtime.Object, error) {
		if a.GetNamespace() != "bob" || !refuse() {
			return false, nil, nil
		}
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "secretflow-task-psi-0", errors.New(msg))
	})
}

// syncToFailure syncs a task that must fail with reason, and returns it.
func (f *fixture) syncToFailure(name string, reason kusciav1alpha1.KusciaTaskReason) *kusciav1alpha1.KusciaTask {
	f.t.Helper()
	f.mustSync(name)
	task := f.task(name)
	require.Equal(f.t, kusciav1alpha1.TaskFailed, task.Status.Phase)
	require.Equal(f.t, reason, task.Status.Reason, task.Status.Message)
	return task
}

// A child the API server refuses for good fails the task at once, with the
// server's message and a reason of its own; Pending and startTime were
// written before anything was created, and the pods already created are
// stopped in the same sync.
func TestARefusedChildFailsTheTaskAtOnce(t *testing.T) {
	f := newFixture(t, psiObjects(t)...)
	f.refuseBobsPods(podSecurityRefusal, func() bool { return true })
	res, err := f.sync(psi)
	require.NoError(t, err, "not retried")
	assert.Zero(t, res.requeueAfter)

	task := f.task(psi)
	assert.Equal(t, kusciav1alpha1.TaskFailed, task.Status.Phase)
	assert.Equal(t, kusciav1alpha1.ReasonResourceRejected, task.Status.Reason)
	assert.Contains(t, task.Status.Message, "the API server refused pod bob/secretflow-task-psi-0")
	assert.Contains(t, task.Status.Message, podSecurityRefusal)
	assert.Equal(t, t0, task.Status.StartTime.Time)
	assert.NotNil(t, task.Status.CompletionTime)
	writes := f.writes()
	assert.Contains(t, writes, "delete pods alice/secretflow-task-psi-0", "alice's pod is stopped with the task")
	assert.Equal(t, []string{"update kusciatasks/status /secretflow-task-psi", "update kusciatasks/status /secretflow-task-psi"},
		writes[len(writes)-2:], "Pending first, then Failed")
	events := f.events()
	require.Len(t, events, 1)
	assert.Contains(t, events[0], "Warning ResourceRejected the API server refused pod bob/secretflow-task-psi-0")

	f.mustSync(psi)
	assert.Empty(t, f.writes(), "the failure is final")
}

// A child a ResourceQuota holds back is retried: the task stays Pending,
// says why in status.message, and fails when lifecycleSeconds pass.
func TestAQuotaHoldsTheTaskUntilItsLifecycleEnds(t *testing.T) {
	f := newFixture(t, psiObjects(t)...)
	f.refuseBobsPods(quotaRefusal, func() bool { return true })
	res, err := f.sync(psi)
	require.NoError(t, err, "retried at a steady pace, not with a backoff that could outgrow the lifecycle")
	assert.Equal(t, quotaRetryInterval, res.requeueAfter)
	task := f.task(psi)
	assert.Equal(t, kusciav1alpha1.TaskPending, task.Status.Phase)
	assert.Equal(t, kusciav1alpha1.ReasonResourceQuotaExceeded, task.Status.Reason)
	assert.Contains(t, task.Status.Message, quotaRefusal)
	cond := status.Condition(&task.Status, kusciav1alpha1.ConditionResourceCreated)
	require.NotNil(t, cond)
	assert.Equal(t, corev1.ConditionFalse, cond.Status)

	// The next retry reports alice's pod, which the caches now show; then
	// retries rewrite nothing while nothing changes.
	for range 2 {
		f.clock.Step(10 * time.Second)
		f.mustSync(psi)
	}
	assert.Equal(t, []string{"create pods bob/secretflow-task-psi-0"}, f.writes())
	assert.Equal(t, kusciav1alpha1.ReasonResourceQuotaExceeded, f.task(psi).Status.Reason)

	f.clock.SetTime(t0.Add(300 * time.Second))
	task = f.syncToFailure(psi, kusciav1alpha1.ReasonReservationExpired)
	assert.Contains(t, task.Status.Message, "parties [alice bob] did not reserve within 300s")
	assert.Contains(t, task.Status.Message, "creating its resources failed: create pod bob/secretflow-task-psi-0")
	assert.Contains(t, task.Status.Message, quotaRefusal)
	assert.Contains(t, f.writes(), "delete pods alice/secretflow-task-psi-0")
}

// Once the quota lets the pod through, the task goes on as if nothing had
// happened.
func TestAQuotaThatHeals(t *testing.T) {
	f := newFixture(t, psiObjects(t)...)
	full := true
	f.refuseBobsPods(quotaRefusal, func() bool { return full })
	f.mustSync(psi)
	full = false
	f.clock.Step(5 * time.Second)
	f.mustSync(psi)
	assert.Contains(t, f.writes(), "create pods bob/secretflow-task-psi-0")
	f.mustSync(psi)
	task := f.task(psi)
	assert.Equal(t, kusciav1alpha1.TaskPending, task.Status.Phase)
	assert.Equal(t, kusciav1alpha1.ReasonReserving, task.Status.Reason)
	assert.Equal(t, corev1.ConditionTrue, status.Condition(&task.Status, kusciav1alpha1.ConditionResourceCreated).Status)
	f.updatePods(bind("node-0"))
	f.mustSync(psi)
	assert.Equal(t, kusciav1alpha1.TaskRunning, f.task(psi).Status.Phase)
}

// Where the CRD's immutability rules do not run, a pod-shaping spec edited
// while the task runs fails it with SpecChanged, not with a story about
// pods that never existed.
func TestASpecChangedWhileRunningFailsTheTask(t *testing.T) {
	for name, change := range map[string]func(task *kusciav1alpha1.KusciaTask){
		"role":   func(task *kusciav1alpha1.KusciaTask) { task.Spec.Parties[0].Role = "host" },
		"domain": func(task *kusciav1alpha1.KusciaTask) { task.Spec.Parties[1].DomainID = "carol" },
		"party added": func(task *kusciav1alpha1.KusciaTask) {
			task.Spec.Parties = append(task.Spec.Parties, kusciav1alpha1.PartyInfo{DomainID: "carol", AppImageRef: "secretflow-image"})
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, psiObjects(t)...)
			f.startRunning(psi)
			f.updatePods(runPod)

			task := f.task(psi)
			change(task)
			_, err := f.kuscia.KusciaV1alpha1().KusciaTasks().Update(f.ctx, task, metav1.UpdateOptions{})
			require.NoError(t, err)
			task = f.syncToFailure(psi, kusciav1alpha1.ReasonSpecChanged)
			assert.Contains(t, task.Status.Message, "changed after pod alice/secretflow-task-psi-0 was created")
			assert.NotContains(t, task.Status.Message, "was deleted")
			assert.ElementsMatch(t, []string{"delete pods alice/secretflow-task-psi-0", "delete pods bob/secretflow-task-psi-0",
				"update kusciatasks/status /secretflow-task-psi"}, f.writes(), "the running pods are stopped")
			require.Len(t, task.Status.PartyTaskStatus, 2, "the parties that ran")
			for i, p := range task.Status.PartyTaskStatus {
				assert.Equal(t, []string{"alice", "bob"}[i], p.DomainID)
				assert.Equal(t, kusciav1alpha1.TaskFailed, p.Phase, p.DomainID)
				assert.True(t, strings.HasPrefix(p.Message, "stopped"), p.Message)
			}
		})
	}
}
