package controller

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
	"kusciatask.io/controller/pkg/status"
)

const insufficientCPU = "0/2 nodes are available: 2 Insufficient cpu."

// everything returns every object stored in the fakes.
func (f *fixture) everything() []runtime.Object {
	f.t.Helper()
	var out []runtime.Object
	for _, list := range []runtime.Object{
		must(f.kuscia.KusciaV1alpha1().KusciaTasks().List(f.ctx, metav1.ListOptions{})),
		must(f.kuscia.KusciaV1alpha1().AppImages().List(f.ctx, metav1.ListOptions{})),
		must(f.kube.CoreV1().Namespaces().List(f.ctx, metav1.ListOptions{})),
		must(f.kube.CoreV1().Pods("").List(f.ctx, metav1.ListOptions{})),
		must(f.kube.CoreV1().Services("").List(f.ctx, metav1.ListOptions{})),
		must(f.kube.CoreV1().ConfigMaps("").List(f.ctx, metav1.ListOptions{})),
	} {
		items, err := apimeta.ExtractList(list)
		require.NoError(f.t, err)
		out = append(out, items...)
	}
	return out
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// podNames lists the pods stored in the fake.
func (f *fixture) podNames() []string {
	var names []string
	for k := range f.pods() {
		names = append(names, k)
	}
	return names
}

// bobCannotSchedule leaves the task with alice bound and bob unschedulable.
func bobCannotSchedule(f *fixture) {
	f.updatePod("alice/secretflow-task-psi-0", bind("node-0"))
	f.updatePod("bob/secretflow-task-psi-0", unschedulable(insufficientCPU))
}

func TestReservationReleaseRetryAndExpiry(t *testing.T) {
	f := newFixture(t, psiObjects(t)...)
	f.mustSync(psi) // t=0: round 1 created
	bobCannotSchedule(f)
	f.clock.Step(time.Second)
	res := f.mustSync(psi) // t=1: alice reserved, bob not
	assert.Equal(t, 30*time.Second, res.requeueAfter, "release at firstReserved+30s")
	task := f.task(psi)
	assert.Equal(t, []string{"alice"}, task.Status.Reservation.ReservedParties)
	assert.Contains(t, task.Status.PartyTaskStatus[1].Message, insufficientCPU)

	// Waiting on the timer writes nothing.
	f.clock.Step(10 * time.Second)
	res = f.mustSync(psi)
	assert.Empty(t, f.writes())
	assert.Equal(t, 20*time.Second, res.requeueAfter)

	// t=31: the round is released: every pod of the task is deleted.
	f.clock.Step(20 * time.Second)
	res = f.mustSync(psi)
	assert.ElementsMatch(t, []string{
		"delete pods alice/secretflow-task-psi-0",
		"delete pods bob/secretflow-task-psi-0",
		"update kusciatasks/status /secretflow-task-psi",
	}, f.writes())
	assert.Equal(t, 30*time.Second, res.requeueAfter, "retry after retryIntervalSeconds")
	task = f.task(psi)
	assert.Equal(t, kusciav1alpha1.ReasonRoundReleased, task.Status.Reason)
	assert.Contains(t, task.Status.Reservation.LastFailure, "bob")
	assert.Contains(t, f.events(), "Warning RoundReleased "+task.Status.Reservation.LastFailure)
	assert.Empty(t, f.podNames(), "the fake deletes at once")

	// Between rounds nothing is written until the retry time.
	f.clock.Step(29 * time.Second)
	res = f.mustSync(psi)
	assert.Empty(t, f.writes())
	assert.Equal(t, time.Second, res.requeueAfter)

	// t=61: round 2 recreates the pods, with the round on them.
	f.clock.Step(time.Second)
	f.mustSync(psi)
	assert.Equal(t, []string{
		"create pods alice/secretflow-task-psi-0",
		"create pods bob/secretflow-task-psi-0",
		"update kusciatasks/status /secretflow-task-psi",
	}, f.writes(), "config maps and services survive a release")
	task = f.task(psi)
	assert.EqualValues(t, 2, task.Status.Reservation.Round)
	assert.Nil(t, task.Status.Reservation.ReleasedTime)
	for _, p := range f.pods() {
		assert.Equal(t, "2", p.Annotations[builder.AnnotationRound])
	}
	assert.Contains(t, f.events(), "Normal RoundStarted reservation round 2 started")

	// Bob never schedules: the task expires at lifecycleSeconds.
	bobCannotSchedule(f)
	f.clock.SetTime(t0.Add(300 * time.Second))
	f.mustSync(psi)
	task = f.task(psi)
	require.Equal(t, kusciav1alpha1.TaskFailed, task.Status.Phase)
	assert.Equal(t, kusciav1alpha1.ReasonReservationExpired, task.Status.Reason)
	assert.Contains(t, task.Status.Message, "bob")
	assert.Contains(t, task.Status.Message, insufficientCPU)
	// The sync that fails the task deletes the pods still pending or
	// running, after writing a status that says so.
	assert.ElementsMatch(t, []string{
		"delete pods alice/secretflow-task-psi-0",
		"delete pods bob/secretflow-task-psi-0",
		"update kusciatasks/status /secretflow-task-psi",
	}, f.writes())
	for _, key := range []string{"alice/secretflow-task-psi-0", "bob/secretflow-task-psi-0"} {
		assert.Equal(t, kusciav1alpha1.PodReasonStopped, task.Status.PodStatuses[key].Reason, key)
		assert.Equal(t, corev1.PodFailed, task.Status.PodStatuses[key].PodPhase, key)
	}
	f.mustSync(psi)
	assert.Empty(t, f.writes())
}

func TestPartialGangDropsTheUnreservedParty(t *testing.T) {
	objs := psiObjects(t)
	objs[0].(*kusciav1alpha1.KusciaTask).Spec.ScheduleConfig = &kusciav1alpha1.ScheduleConfig{MinReservedMembers: ptrTo[int32](1)}
	f := newFixture(t, objs...)
	f.mustSync(psi)
	bobCannotSchedule(f)
	f.mustSync(psi)
	assert.Equal(t, []string{
		"delete pods bob/secretflow-task-psi-0",
		"update kusciatasks/status /secretflow-task-psi",
	}, f.writes())
	task := f.task(psi)
	assert.Equal(t, kusciav1alpha1.TaskRunning, task.Status.Phase)
	assert.Equal(t, kusciav1alpha1.TaskFailed, task.Status.PartyTaskStatus[1].Phase)
	assert.Contains(t, task.Status.PartyTaskStatus[1].Message, "not reserved")

	f.updatePod("alice/secretflow-task-psi-0", succeedPod)
	f.mustSync(psi)
	assert.Equal(t, kusciav1alpha1.TaskSucceeded, f.task(psi).Status.Phase)
}

// A controller restarted in the middle of a round continues it from status:
// a fresh controller over the same objects neither recreates nor re-deletes.
func TestRestartMidRoundContinuesFromStatus(t *testing.T) {
	f := newFixture(t, psiObjects(t)...)
	f.mustSync(psi)
	bobCannotSchedule(f)
	f.clock.Step(5 * time.Second)
	f.mustSync(psi)
	before := f.task(psi).Status.Reservation.DeepCopy()

	// A new controller, new caches, the same cluster.
	restarted := newFixture(t, f.everything()...)
	restarted.clock.SetTime(f.clock.Now().Add(10 * time.Second))
	res := restarted.mustSync(psi)
	assert.Empty(t, restarted.writes(), "the same round goes on")
	assert.Equal(t, 20*time.Second, res.requeueAfter, "the release timer counts from the first reserved party (t=5s), not from the restart (t=15s)")
	assert.Equal(t, before, restarted.task(psi).Status.Reservation)
}

// A pod that fails during a round releases the round at once.
func TestFailedPodReleasesTheRoundAtOnce(t *testing.T) {
	f := newFixture(t, psiObjects(t)...)
	f.mustSync(psi)
	f.updatePod("alice/secretflow-task-psi-0", failPod("oom"))
	f.updatePod("bob/secretflow-task-psi-0", unschedulable(insufficientCPU))
	f.mustSync(psi)
	assert.Contains(t, f.writes(), "delete pods bob/secretflow-task-psi-0")
	task := f.task(psi)
	assert.Equal(t, kusciav1alpha1.TaskPending, task.Status.Phase)
	assert.NotNil(t, task.Status.Reservation.ReleasedTime)
	cond := status.Condition(&task.Status, kusciav1alpha1.ConditionReserved)
	require.NotNil(t, cond)
	assert.Equal(t, corev1.ConditionFalse, cond.Status)
	assert.Equal(t, kusciav1alpha1.ReasonRoundReleased, cond.Reason)
}

// A pod that failed in a released round holds the name the next round's pod
// needs: the release deletes it too, and the next round's pods are created.
// (Seen in the soak: the failed pod stayed, the next round never came, and
// the task expired.)
func TestFailedPodOfAReleasedRoundMakesWayForTheNext(t *testing.T) {
	f := newFixture(t, psiObjects(t)...)
	f.mustSync(psi)
	f.updatePod("alice/secretflow-task-psi-0", failPod("oom"))
	f.updatePod("bob/secretflow-task-psi-0", unschedulable(insufficientCPU))
	f.mustSync(psi)
	require.NotNil(t, f.task(psi).Status.Reservation.ReleasedTime, "round 1 released")
	assert.ElementsMatch(t, []string{"update kusciatasks/status /secretflow-task-psi",
		"delete pods alice/secretflow-task-psi-0", "delete pods bob/secretflow-task-psi-0"}, f.writes(),
		"every pod of the released round goes, the failed one too")
	assert.Equal(t, "Error: oom",
		podReport(f.task(psi), "alice/secretflow-task-psi-0"), "the failed pod keeps its story")

	f.clock.Step(30 * time.Second)
	var writes []string
	for range 4 {
		f.mustSync(psi)
		writes = append(writes, f.writes()...)
	}
	assert.Contains(t, writes, "create pods alice/secretflow-task-psi-0")
	assert.Contains(t, writes, "create pods bob/secretflow-task-psi-0")
	task := f.task(psi)
	assert.EqualValues(t, 2, task.Status.Reservation.Round)
	for key, pod := range f.pods() {
		assert.Equal(t, "2", pod.Annotations["kuscia.secretflow/reservation-round"], key)
	}
}

// podReport is a pod's reason and message in the task's status.
func podReport(task *kusciav1alpha1.KusciaTask, key string) string {
	ps := task.Status.PodStatuses[key]
	if ps == nil {
		return ""
	}
	return ps.Reason + ": " + ps.Message
}
