package controller

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	core "k8s.io/client-go/testing"

	"kusciatask.io/controller/examples"
	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
	"kusciatask.io/controller/pkg/status"
)

const psi = "secretflow-task-psi"

func TestFirstSyncCreatesEveryPartysResources(t *testing.T) {
	f := newFixture(t, psiObjects(t)...)
	res := f.mustSync(psi)

	// Pending and startTime are written before any child is created, so a
	// child the API server refuses never leaves a task without a phase.
	// (writes lists the Kubernetes actions before the task's.)
	assert.Equal(t, append(psiCreates(), "update kusciatasks/status /secretflow-task-psi"), f.writes())
	statusWrite := f.kuscia.Actions()[len(f.kuscia.Actions())-1]
	assert.Equal(t, "update", statusWrite.GetVerb())
	assert.Empty(t, statusWrite.(core.UpdateAction).GetObject().(*kusciav1alpha1.KusciaTask).Status.PodStatuses,
		"the status is written before the pods exist")

	task := f.task(psi)
	assert.Equal(t, kusciav1alpha1.TaskPending, task.Status.Phase)
	assert.Equal(t, t0, task.Status.StartTime.Time)
	require.NotNil(t, task.Status.Reservation)
	assert.EqualValues(t, 1, task.Status.Reservation.Round)
	// Nothing is reserved yet: the task waits for the lifecycle deadline.
	assert.Equal(t, 300*time.Second, res.requeueAfter)

	pods := f.pods()
	require.Len(t, pods, 2)
	for _, key := range []string{"alice/secretflow-task-psi-0", "bob/secretflow-task-psi-0"} {
		pod := pods[key]
		require.NotNil(t, pod, key)
		ref := metav1.GetControllerOf(pod)
		require.NotNil(t, ref, key)
		assert.Equal(t, task.UID, ref.UID)
		assert.Equal(t, "KusciaTask", ref.Kind)
		assert.Equal(t, string(task.UID), pod.Labels[kusciav1alpha1.LabelTaskUID])
		assert.Equal(t, psi, pod.Labels[kusciav1alpha1.LabelTask])
		assert.Equal(t, pod.Namespace, pod.Labels[kusciav1alpha1.LabelParty])
	}
	assert.Empty(t, f.events(), "being accepted is told by status, not an Event")

	// The next sync sees the children in the caches and reports them.
	f.mustSync(psi)
	task = f.task(psi)
	cond := status.Condition(&task.Status, kusciav1alpha1.ConditionResourceCreated)
	require.NotNil(t, cond)
	assert.Equal(t, corev1.ConditionTrue, cond.Status)
	assert.Len(t, task.Status.PodStatuses, 2)
	assert.Empty(t, f.events(), "so is having created its resources")
}

func TestSecondSyncWithNothingChangedWritesNothing(t *testing.T) {
	f := newFixture(t, psiObjects(t)...)
	f.mustSync(psi)
	f.mustSync(psi) // reports what the first one created
	f.mustSync(psi)
	assert.Empty(t, f.writes(), "a sync that changes nothing must not write")

	f.updatePods(bind("node-0"))
	f.mustSync(psi)
	require.Equal(t, []string{"update kusciatasks/status /secretflow-task-psi"}, f.writes())
	f.mustSync(psi)
	assert.Empty(t, f.writes())

	f.updatePods(succeedPod)
	f.mustSync(psi)
	require.Equal(t, kusciav1alpha1.TaskSucceeded, f.task(psi).Status.Phase)
	f.mustSync(psi)
	assert.Empty(t, f.writes(), "a finished task with finished pods needs no writes")
	assert.Zero(t, f.conflicts, "no status write ran into a conflict")
}

func TestStatusIsWrittenOnlyThroughTheStatusSubresource(t *testing.T) {
	f := newFixture(t, psiObjects(t)...)
	f.mustSync(psi)
	writes := 0
	for _, a := range f.kuscia.Actions() {
		if a.GetVerb() == "update" || a.GetVerb() == "patch" {
			writes++
			assert.Equal(t, "status", a.GetSubresource(), "task written outside the status subresource: %v", a)
		}
	}
	assert.Positive(t, writes, "the first sync writes the task's status")
}

func TestPendingToRunningToSucceeded(t *testing.T) {
	f := newFixture(t, psiObjects(t)...)
	f.mustSync(psi)
	f.events()

	// One party bound: still Pending, reserving.
	f.updatePod("alice/secretflow-task-psi-0", bind("node-0"))
	f.clock.Step(2 * time.Second)
	res := f.mustSync(psi)
	task := f.task(psi)
	assert.Equal(t, kusciav1alpha1.TaskPending, task.Status.Phase)
	assert.Equal(t, kusciav1alpha1.ReasonReserving, task.Status.Reason)
	assert.Equal(t, 30*time.Second, res.requeueAfter, "release timer of the round")

	// Both bound: Running.
	f.updatePod("bob/secretflow-task-psi-0", bind("node-1"))
	f.clock.Step(time.Second)
	res = f.mustSync(psi)
	task = f.task(psi)
	assert.Equal(t, kusciav1alpha1.TaskRunning, task.Status.Phase)
	assert.Zero(t, res.requeueAfter, "a running task waits for pod events, not timers")
	assert.Equal(t, corev1.ConditionTrue, status.Condition(&task.Status, kusciav1alpha1.ConditionRunning).Status)
	assert.Equal(t, corev1.ConditionTrue, status.Condition(&task.Status, kusciav1alpha1.ConditionReserved).Status)
	assert.Equal(t, []string{"update kusciatasks/status /secretflow-task-psi"}, f.writes())
	assert.Contains(t, f.events(), "Normal Running task reserved and running: parties [alice bob] reserved")

	f.updatePods(runPod)
	f.mustSync(psi)
	for _, p := range f.task(psi).Status.PartyTaskStatus {
		assert.Equal(t, kusciav1alpha1.TaskRunning, p.Phase, p.DomainID)
	}

	f.updatePods(succeedPod)
	f.clock.Step(time.Second)
	f.mustSync(psi)
	task = f.task(psi)
	assert.Equal(t, kusciav1alpha1.TaskSucceeded, task.Status.Phase)
	assert.Equal(t, f.clock.Now(), task.Status.CompletionTime.Time)
	assert.Equal(t, f.clock.Now(), task.Status.LastReconcileTime.Time)
	assert.Equal(t, corev1.ConditionTrue, status.Condition(&task.Status, kusciav1alpha1.ConditionSuccess).Status)
	require.Len(t, task.Status.PartyTaskStatus, 2)
	for _, p := range task.Status.PartyTaskStatus {
		assert.Equal(t, kusciav1alpha1.TaskSucceeded, p.Phase, p.DomainID)
	}
	ps := task.Status.PodStatuses["alice/secretflow-task-psi-0"]
	require.NotNil(t, ps)
	assert.Equal(t, "Completed", ps.Reason)
	assert.Equal(t, "node-0", ps.NodeName)
	assert.Equal(t, corev1.PodSucceeded, ps.PodPhase)
	assert.Len(t, task.Status.ServiceStatuses, 6)
	assert.Contains(t, f.events(), "Normal Succeeded 2 of 2 parties succeeded")

	// Terminal: nothing changes any more, even when the clock moves.
	f.clock.Step(time.Hour)
	f.mustSync(psi)
	assert.Empty(t, f.writes())
}

func TestOneFailedPodFailsTheTaskAndStopsThePeers(t *testing.T) {
	f := newFixture(t, psiObjects(t)...)
	f.mustSync(psi)
	f.updatePods(bind("node-0"))
	f.mustSync(psi)
	f.updatePods(runPod)
	f.updatePod("bob/secretflow-task-psi-0", failPod("psi: input table bob-table not found"))
	f.events()

	f.mustSync(psi)
	task := f.task(psi)
	require.Equal(t, kusciav1alpha1.TaskFailed, task.Status.Phase)
	assert.Equal(t, kusciav1alpha1.ReasonPartiesFailed, task.Status.Reason)
	bob := task.Status.PartyTaskStatus[1]
	assert.Equal(t, "bob", bob.DomainID)
	assert.Equal(t, kusciav1alpha1.TaskFailed, bob.Phase)
	assert.Contains(t, bob.Message, "bob/secretflow-task-psi-0")
	assert.Contains(t, bob.Message, "psi: input table bob-table not found")
	assert.Equal(t, "psi: input table bob-table not found", task.Status.PodStatuses["bob/secretflow-task-psi-0"].TerminationLog)
	assert.Equal(t, corev1.ConditionFalse, status.Condition(&task.Status, kusciav1alpha1.ConditionSuccess).Status)
	events := f.events()
	require.NotEmpty(t, events)
	assert.Contains(t, events[len(events)-1], "Warning PartiesFailed party bob failed")

	// The sync that fails the task deletes alice's running pod and keeps
	// bob's failed one for its logs; the status says alice was stopped.
	assert.Equal(t, []string{"delete pods alice/secretflow-task-psi-0", "update kusciatasks/status /secretflow-task-psi"}, f.writes())
	alice := task.Status.PartyTaskStatus[0]
	assert.Equal(t, kusciav1alpha1.TaskFailed, alice.Phase)
	assert.Equal(t, "stopped: the task failed before this party finished", alice.Message)
	assert.Equal(t, kusciav1alpha1.PodReasonStopped, task.Status.PodStatuses["alice/secretflow-task-psi-0"].Reason)
	f.mustSync(psi)
	assert.Empty(t, f.writes())
}

// A container stuck waiting fails the task only when the reason is one a
// pod does not recover from.
func TestWaitingReasons(t *testing.T) {
	cases := map[string]kusciav1alpha1.KusciaTaskPhase{
		"CrashLoopBackOff":           kusciav1alpha1.TaskFailed,
		"InvalidImageName":           kusciav1alpha1.TaskFailed,
		"CreateContainerConfigError": kusciav1alpha1.TaskFailed,
		"ImagePullBackOff":           kusciav1alpha1.TaskFailed,
		"ContainerCreating":          kusciav1alpha1.TaskRunning,
		"ErrImagePull":               kusciav1alpha1.TaskRunning,
	}
	for reason, want := range cases {
		t.Run(reason, func(t *testing.T) {
			f := newFixture(t, psiObjects(t)...)
			f.mustSync(psi)
			f.updatePods(bind("node-0"))
			f.mustSync(psi)
			f.updatePods(runPod)
			f.updatePod("alice/secretflow-task-psi-0", waitPod(reason))
			f.mustSync(psi)
			task := f.task(psi)
			assert.Equal(t, want, task.Status.Phase)
			assert.Equal(t, reason, task.Status.PodStatuses["alice/secretflow-task-psi-0"].Reason)
			if want == kusciav1alpha1.TaskFailed {
				assert.Contains(t, task.Status.PartyTaskStatus[0].Message, reason)
			}
		})
	}
}

func TestDeletedPodFailsItsParty(t *testing.T) {
	f := newFixture(t, psiObjects(t)...)
	f.mustSync(psi)
	f.updatePods(bind("node-0"))
	f.mustSync(psi)
	f.updatePods(runPod)
	require.NoError(t, f.kube.CoreV1().Pods("bob").Delete(f.ctx, "secretflow-task-psi-0", metav1.DeleteOptions{}))
	f.mustSync(psi)
	task := f.task(psi)
	assert.Equal(t, kusciav1alpha1.TaskFailed, task.Status.Phase)
	assert.Contains(t, task.Status.PartyTaskStatus[1].Message, "pod bob/secretflow-task-psi-0 was deleted")
	// A deleted pod is never recreated once running; alice's is stopped
	// with the task.
	assert.Equal(t, []string{"delete pods alice/secretflow-task-psi-0", "update kusciatasks/status /secretflow-task-psi"}, f.writes())
	assert.Equal(t, kusciav1alpha1.PodReasonDeleted, task.Status.PodStatuses["bob/secretflow-task-psi-0"].Reason)
	assert.Equal(t, corev1.PodFailed, task.Status.PodStatuses["bob/secretflow-task-psi-0"].PodPhase)
}

func TestMinReservedMembersLetsTheTaskSucceedWithOnePartyFailed(t *testing.T) {
	objs := psiObjects(t)
	task := objs[0].(*kusciav1alpha1.KusciaTask)
	task.Spec.ScheduleConfig = &kusciav1alpha1.ScheduleConfig{MinReservedMembers: ptrTo[int32](1)}
	f := newFixture(t, objs...)
	f.mustSync(psi)
	f.updatePods(bind("node-0"))
	f.mustSync(psi)
	f.updatePod("alice/secretflow-task-psi-0", succeedPod)
	f.updatePod("bob/secretflow-task-psi-0", failPod("boom"))
	f.mustSync(psi)
	got := f.task(psi)
	assert.Equal(t, kusciav1alpha1.TaskSucceeded, got.Status.Phase)
	assert.Equal(t, kusciav1alpha1.TaskSucceeded, got.Status.PartyTaskStatus[0].Phase)
	assert.Equal(t, kusciav1alpha1.TaskFailed, got.Status.PartyTaskStatus[1].Phase)
}

func TestTaskTemplateRolesAndReplicas(t *testing.T) {
	task := seedTask(t, "task-template.yaml")
	task.Spec.Parties[0].Template.Replicas = ptrTo[int32](2)
	f := newFixture(t, task, appImage(t, examples.AppTemplateImageFile), domain("alice"), domain("bob"))
	f.mustSync("task-template")
	pods := f.pods()
	require.Len(t, pods, 3)
	for _, key := range []string{"alice/task-template-host-0", "alice/task-template-host-1", "bob/task-template-guest-0"} {
		require.Contains(t, pods, key)
	}
	host := pods["alice/task-template-host-1"]
	assert.Equal(t, "host", host.Labels[kusciav1alpha1.LabelRole])
	assert.Equal(t, []string{"sh"}, host.Spec.Containers[0].Command)
	assert.Equal(t, "/work", host.Spec.Containers[0].WorkingDir)
	require.NotNil(t, host.Spec.Containers[0].ReadinessProbe)
	assert.Equal(t, "task-template-host-1-config", host.Spec.Volumes[0].ConfigMap.Name)
	assert.Equal(t, "1", host.Annotations[builder.AnnotationRound])

	guest := pods["bob/task-template-guest-0"]
	assert.Equal(t, "guest", guest.Labels[kusciav1alpha1.LabelRole])
	assert.Contains(t, guest.Spec.Containers[0].Args[1], "--role=guest")
	assert.Equal(t, "secretflow/app:0.1", guest.Spec.Containers[0].Image)
}

// psiCreates are the creates of the seed's PSI task, in order.
func psiCreates() []string {
	var out []string
	for _, ns := range []string{"alice", "bob"} {
		out = append(out,
			"create configmaps "+ns+"/secretflow-task-psi-0-config",
			"create services "+ns+"/secretflow-task-psi-0-spu",
			"create services "+ns+"/secretflow-task-psi-0-fed",
			"create services "+ns+"/secretflow-task-psi-0-global",
		)
	}
	// Pods come last: they need the others.
	return append(out, "create pods alice/secretflow-task-psi-0", "create pods bob/secretflow-task-psi-0")
}

func ptrTo[T any](v T) *T { return &v }

// A running task keeps the shape it was created with: editing or deleting
// its AppImage while it runs changes nothing for it.
func TestRunningTaskIgnoresLaterAppImageChanges(t *testing.T) {
	for name, change := range map[string]func(f *fixture){
		"AppImage deleted": func(f *fixture) {
			require.NoError(t, f.kuscia.KusciaV1alpha1().AppImages().Delete(f.ctx, "secretflow-image", metav1.DeleteOptions{}))
		},
		"AppImage replicas raised": func(f *fixture) {
			img, err := f.kuscia.KusciaV1alpha1().AppImages().Get(f.ctx, "secretflow-image", metav1.GetOptions{})
			require.NoError(t, err)
			img.Spec.DeployTemplates[0].Replicas = ptrTo[int32](3)
			_, err = f.kuscia.KusciaV1alpha1().AppImages().Update(f.ctx, img, metav1.UpdateOptions{})
			require.NoError(t, err)
		},
		"domain label removed": func(f *fixture) {
			_, err := f.kube.CoreV1().Namespaces().Update(f.ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "bob"}}, metav1.UpdateOptions{})
			require.NoError(t, err)
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, psiObjects(t)...)
			f.startRunning(psi)
			change(f)
			f.updatePods(runPod)
			f.mustSync(psi)
			assert.Equal(t, kusciav1alpha1.TaskRunning, f.task(psi).Status.Phase)
			f.updatePods(succeedPod)
			f.mustSync(psi)
			assert.Equal(t, kusciav1alpha1.TaskSucceeded, f.task(psi).Status.Phase)
		})
	}
}

// A task that runs nothing must not succeed: a party of zero replicas (the
// CRD refuses it; an AppImage may still say so) fails the task at once.
func TestZeroReplicasFailTheTask(t *testing.T) {
	for name, mutate := range map[string]func(objs []runtime.Object){
		"task": func(objs []runtime.Object) {
			objs[0].(*kusciav1alpha1.KusciaTask).Spec.Parties[1].Template = &kusciav1alpha1.PartyTemplate{Replicas: ptrTo[int32](0)}
		},
		"AppImage": func(objs []runtime.Object) {
			objs[1].(*kusciav1alpha1.AppImage).Spec.DeployTemplates[0].Replicas = ptrTo[int32](0)
		},
	} {
		t.Run(name, func(t *testing.T) {
			objs := psiObjects(t)
			mutate(objs)
			f := newFixture(t, objs...)
			f.mustSync(psi)
			assert.Empty(t, f.pods())
			task := f.task(psi)
			assert.Equal(t, kusciav1alpha1.TaskFailed, task.Status.Phase)
			assert.Equal(t, kusciav1alpha1.ReasonInvalidTemplate, task.Status.Reason)
			assert.Contains(t, task.Status.Message, "replicas must be at least 1, got 0")
		})
	}
}
