package controller

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	core "k8s.io/client-go/testing"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
)

// syncLagging syncs with the named informer caches (by resource) left as
// they were: informers that have not caught up with the last writes.
func (f *fixture) syncLagging(name string, lagging ...string) syncResult {
	f.t.Helper()
	f.refreshExcept(lagging...)
	f.kube.ClearActions()
	f.kuscia.ClearActions()
	res, err := f.c.syncHandler(f.ctx, keyOf(name))
	require.NoError(f.t, err)
	return res
}

// watchPodCreates counts every pod create by "namespace/name round N", as
// a pod watch sees them.
func (f *fixture) watchPodCreates() map[string]int {
	counts := map[string]int{}
	f.kube.PrependReactor("create", "pods", func(a core.Action) (bool, runtime.Object, error) {
		pod := a.(core.CreateAction).GetObject().(*corev1.Pod)
		counts[pod.Namespace+"/"+pod.Name+" round "+pod.Annotations[builder.AnnotationRound]]++
		return false, nil, nil
	})
	return counts
}

// bobNeverSchedules binds alice's pods and leaves bob's unschedulable,
// whatever pods exist.
func (f *fixture) bobNeverSchedules() {
	f.t.Helper()
	for key := range f.pods() {
		if key[:len("alice/")] == "alice/" {
			f.updatePod(key, bind("node-0"))
		} else {
			f.updatePod(key, unschedulable(insufficientCPU))
		}
	}
}

// shortRounds is the PSI task with rounds of a few seconds.
func shortRounds(t *testing.T) []runtime.Object {
	objs := psiObjects(t)
	objs[0].(*kusciav1alpha1.KusciaTask).Spec.ScheduleConfig = &kusciav1alpha1.ScheduleConfig{
		ResourceReservedSeconds: ptrTo[int32](3), RetryIntervalSeconds: ptrTo[int32](2), LifecycleSeconds: ptrTo[int32](30),
	}
	return objs
}

// Each pod of each reservation round is created exactly once, also when
// every other sync reads a task informer one status write behind (the
// round it just started not there yet), and no status write runs into a
// conflict with the controller's own last write.
func TestEachPodOfEachRoundIsCreatedOnce(t *testing.T) {
	for name, lagging := range map[string][]string{
		"informers caught up":                     nil,
		"task informer behind the status writes":  {"kusciatasks"},
		"pod informer behind the creates/deletes": {"pods"},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, shortRounds(t)...)
			creates := f.watchPodCreates()
			for range 40 {
				// Each sync that sees everything is followed by one whose
				// informers have not caught up with its writes.
				f.bobNeverSchedules()
				f.mustSync(psi)
				f.syncLagging(psi, lagging...)
				f.clock.Step(time.Second)
			}
			task := f.task(psi)
			require.Equal(t, kusciav1alpha1.TaskFailed, task.Status.Phase)
			assert.Equal(t, kusciav1alpha1.ReasonReservationExpired, task.Status.Reason)
			require.GreaterOrEqual(t, task.Status.Reservation.Round, int32(4), "several rounds ran")
			assert.Len(t, creates, 2*int(task.Status.Reservation.Round), "every round created both pods: %v", creates)
			for key, n := range creates {
				assert.Equal(t, 1, n, "%s created %d times", key, n)
			}
			assert.Zero(t, f.conflicts, "status writes never conflict with the controller's own")
		})
	}
}

// A sync whose pod informer does not show the pods it just created, or
// still shows the pods it just deleted, does nothing until it does.
func TestASyncWaitsForItsOwnCreatesAndDeletes(t *testing.T) {
	f := newFixture(t, shortRounds(t)...)
	f.mustSync(psi)
	res := f.syncLagging(psi, "pods", "services", "configmaps")
	assert.Empty(t, f.writes(), "nothing created twice, nothing reported from a stale view")
	assert.Equal(t, DefaultExpectationsTimeout, res.requeueAfter, "the informers' events bring the task back sooner")
	f.mustSync(psi)
	assert.Equal(t, []string{"update kusciatasks/status /secretflow-task-psi"}, f.writes(), "caught up: the created children are reported")

	// Round 1 is released at t=4 (alice reserved at 1, 3s to wait).
	f.bobNeverSchedules()
	f.mustSync(psi)
	f.clock.Step(4 * time.Second)
	f.mustSync(psi)
	require.Contains(t, f.writes(), "delete pods alice/secretflow-task-psi-0")
	f.clock.Step(3 * time.Second)
	f.syncLagging(psi, "pods")
	assert.Empty(t, f.writes(), "the deleted pods still in the cache are neither deleted again nor counted")
}

// A status write that fails (an API server outage) leaves the decision
// undone: the pods a release deletes are deleted after its status is
// written, so they are never created again in the same round.
func TestAFailedStatusWriteActsOnNothing(t *testing.T) {
	f := newFixture(t, shortRounds(t)...)
	creates := f.watchPodCreates()
	outage := false
	f.kuscia.PrependReactor("update", "kusciatasks", func(core.Action) (bool, runtime.Object, error) {
		if outage {
			return true, nil, apierrors.NewServiceUnavailable("etcd is down")
		}
		return false, nil, nil
	})
	f.mustSync(psi)
	f.bobNeverSchedules()
	f.clock.Step(time.Second)
	f.mustSync(psi) // alice reserved at 1
	f.clock.Step(3 * time.Second)

	outage = true
	_, err := f.sync(psi)
	require.Error(t, err)
	assert.Equal(t, []string{"update kusciatasks/status /secretflow-task-psi"}, f.writes(),
		"the status write failed; the release is not carried out before it is written")
	assert.True(t, apierrors.IsServiceUnavailable(errors.Unwrap(err)), "%v", err)

	outage = false
	f.mustSync(psi)
	assert.Contains(t, f.writes(), "delete pods alice/secretflow-task-psi-0")
	for range 5 {
		f.clock.Step(time.Second)
		f.mustSync(psi)
	}
	require.EqualValues(t, 2, f.task(psi).Status.Reservation.Round)
	assert.Equal(t, map[string]int{
		"alice/secretflow-task-psi-0 round 1": 1, "bob/secretflow-task-psi-0 round 1": 1,
		"alice/secretflow-task-psi-0 round 2": 1, "bob/secretflow-task-psi-0 round 2": 1,
	}, creates)
}

// A task deleted on the server while the informer still shows it ends
// the sync quietly: no Warning, no retry. Its delete event comes.
func TestTaskDeletedBeforeTheStatusWrite(t *testing.T) {
	f := newFixture(t, psiObjects(t)...)
	require.NoError(t, f.kuscia.KusciaV1alpha1().KusciaTasks().Delete(f.ctx, psi, metav1.DeleteOptions{}))
	res, err := f.sync(psi)
	require.NoError(t, err)
	assert.Zero(t, res)
	assert.Empty(t, f.events(), "no Warning for a task that is gone")
	assert.Empty(t, creates(f.writes()), "nothing is created for it")
}

// The task as written is cached trimmed, as the informer holds tasks: no
// managed fields, no kubectl copy, and no input once it has finished.
func TestWrittenTaskIsCachedTrimmed(t *testing.T) {
	f := newFixture(t, psiObjects(t)...)
	task := f.task(psi)
	task.Annotations = map[string]string{corev1.LastAppliedConfigAnnotation: "{}", "keep": "me"}
	task.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}
	_, err := f.kuscia.KusciaV1alpha1().KusciaTasks().Update(f.ctx, task, metav1.UpdateOptions{})
	require.NoError(t, err)
	f.refresh()
	stored, err := f.kuscia.KusciaV1alpha1().KusciaTasks().Get(f.ctx, psi, metav1.GetOptions{})
	require.NoError(t, err)
	require.NotEmpty(t, stored.Spec.TaskInputConfig)

	finished := stored.Status.DeepCopy()
	finished.Phase = kusciav1alpha1.TaskSucceeded
	written, err := f.c.writeStatus(f.ctx, stored, *finished)
	require.NoError(t, err)
	cached, err := f.c.getTask(psi)
	require.NoError(t, err)
	assert.Equal(t, written.ResourceVersion, cached.ResourceVersion, "the sync reads its own write")
	assert.Empty(t, cached.ManagedFields)
	assert.Equal(t, map[string]string{"keep": "me"}, cached.Annotations)
	assert.Empty(t, cached.Spec.TaskInputConfig, "a finished task's input is not cached")
}

// A finished task is cached without its pods' and services' reports
// (informers.TrimTask): its status never changes again, so no sync may write it,
// whatever happens to its pods, and the server keeps the reports.
func TestAFinishedTaskCachedWithoutItsReportsWritesNothing(t *testing.T) {
	f := newFixture(t, psiObjects(t)...)
	f.startRunning(psi)
	f.updatePods(succeedPod)
	f.mustSync(psi)
	stored := f.task(psi)
	require.Equal(t, kusciav1alpha1.TaskSucceeded, stored.Status.Phase)
	require.Len(t, stored.Status.PodStatuses, 2)
	require.NotEmpty(t, stored.Status.ServiceStatuses)

	f.refresh()
	cached, err := f.c.getTask(psi)
	require.NoError(t, err)
	assert.Nil(t, cached.Status.PodStatuses, "the cache drops the reports")
	assert.Nil(t, cached.Status.ServiceStatuses)
	assert.Equal(t, stored.Status.Conditions, cached.Status.Conditions, "and keeps the rest")

	for what, change := range map[string]func(*corev1.Pod){
		"annotated": func(p *corev1.Pod) { p.Annotations["touched"] = "yes" },
		"failed":    failPod("late"),
	} {
		f.updatePods(change)
		f.mustSync(psi)
		assert.Empty(t, f.writes(), "a finished task's pod %s", what)
	}
	for key, p := range f.pods() {
		require.NoError(t, f.kube.CoreV1().Pods(p.Namespace).Delete(f.ctx, p.Name, metav1.DeleteOptions{}), key)
	}
	f.mustSync(psi)
	assert.Empty(t, f.writes(), "a finished task's pods deleted")
	assert.Equal(t, stored.Status, f.task(psi).Status, "the server keeps the whole status")

	// Nor may anything write over it from the cached copy.
	changed := cached.Status.DeepCopy()
	changed.Message = "rewritten"
	_, err = f.c.writeStatus(f.ctx, cached, *changed)
	require.ErrorContains(t, err, "the status of a Succeeded task is final")
	assert.Equal(t, stored.Status, f.task(psi).Status)
}
