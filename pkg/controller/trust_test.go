package controller

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stypes "k8s.io/apimachinery/pkg/types"
	core "k8s.io/client-go/testing"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
	"kusciatask.io/controller/pkg/gate"
	"kusciatask.io/controller/pkg/mark"
)

func TestMarkRoundAnnotationIsTheBuilders(t *testing.T) {
	assert.Equal(t, builder.AnnotationRound, mark.RoundAnnotation)
}

// forgePod makes, in bob's namespace, a copy of bob's real pod under
// another name (labels, controller reference, annotations and all), bound
// to a node, as a user who may create pods there could; withMark copies
// the real pod's mark too.
func (f *fixture) forgePod(name string, withMark bool) *corev1.Pod {
	f.t.Helper()
	real := f.pods()[bobPod]
	require.NotNil(f.t, real)
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "bob", Name: name, UID: k8stypes.UID("forged-" + name),
		Labels: real.Labels, Annotations: map[string]string{}, OwnerReferences: real.OwnerReferences}, Spec: real.Spec}
	for k, v := range real.Annotations {
		if k != mark.Annotation || withMark {
			p.Annotations[k] = v
		}
	}
	bind("node-1")(p)
	_, err := f.kube.CoreV1().Pods("bob").Create(f.ctx, p, metav1.CreateOptions{})
	require.NoError(f.t, err)
	return p
}

// countEvents counts the recorded events that start with prefix.
func countEvents(events []string, prefix string) int {
	n := 0
	for _, e := range events {
		if strings.HasPrefix(e, prefix) {
			n++
		}
	}
	return n
}

// A pod with the task's labels and controller reference that this
// controller did not make stands in for no one: bob's real pod cannot be
// placed, so the task stays Pending, alice's gate stays closed, the forged
// pod is not reported, and one ForeignPod Warning says so.
func TestForgedPodIsNeverCounted(t *testing.T) {
	for _, tt := range []struct {
		name     string
		withMark bool
	}{
		{"unmarked, not in the plan", false},
		{"mark copied from bob's real pod", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newGatedFixture(t, psiObjects(t)...)
			f.mustSync(psi)
			bobCannotSchedule(f)
			f.mustSync(psi)
			f.forgePod("fake-secretflow-task-psi", tt.withMark)
			f.events()

			for range 3 {
				f.mustSync(psi)
				for _, w := range f.writes() {
					assert.NotContains(t, w, "patch pods", "no gate opens")
					assert.NotContains(t, w, "delete pods bob/fake", "a pod it did not make is not the controller's to delete")
				}
			}
			task := f.task(psi)
			assert.Equal(t, kusciav1alpha1.TaskPending, task.Status.Phase)
			assert.Equal(t, []string{"alice"}, task.Status.Reservation.ReservedParties)
			assert.NotContains(t, task.Status.PodStatuses, "bob/fake-secretflow-task-psi")
			alice := f.pods()[alicePod]
			require.Contains(t, alice.Annotations, gate.Annotation)
			assert.False(t, gate.IsOpen(alice.Annotations[gate.Annotation]), "alice's gate stays closed")
			events := f.events()
			assert.Equal(t, 1, countEvents(events, "Warning "+EventForeignPod+" pod bob/fake-secretflow-task-psi"),
				"told once, not on every sync: %v", events)
		})
	}
}

// A forged pod that appears once the task runs is neither reported nor
// opened.
func TestForgedPodInARunningTaskIsNotReported(t *testing.T) {
	f := newFixture(t, psiObjects(t)...)
	f.startRunning(psi)
	f.mustSync(psi)
	f.forgePod("fake-secretflow-task-psi", true)
	f.mustSync(psi)
	assert.Empty(t, f.writes(), "nothing to report, nothing to open")
	assert.NotContains(t, f.task(psi).Status.PodStatuses, "bob/fake-secretflow-task-psi")
}

// A pod under a name the plan gives, made before the controller by someone
// else, is not adopted: the task fails with ResourceConflict.
func TestUnmarkedPodWithAPlanNameIsAConflict(t *testing.T) {
	objs := psiObjects(t)
	task := objs[0].(*kusciav1alpha1.KusciaTask)
	ctrl := true
	squatter := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "bob", Name: "secretflow-task-psi-0",
		Labels:      map[string]string{kusciav1alpha1.LabelTaskUID: string(task.UID), kusciav1alpha1.LabelParty: "bob"},
		Annotations: map[string]string{builder.AnnotationRound: "1"},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: kusciav1alpha1.SchemeGroupVersion.String(), Kind: "KusciaTask",
			Name: task.Name, UID: task.UID, Controller: &ctrl}}}}
	f := newFixture(t, append(objs, squatter)...)
	f.mustSync(psi)
	got := f.task(psi)
	require.Equal(t, kusciav1alpha1.TaskFailed, got.Status.Phase)
	assert.Equal(t, kusciav1alpha1.ReasonResourceConflict, got.Status.Reason)
	assert.Contains(t, got.Status.Message, "pod bob/secretflow-task-psi-0 already exists and was not created by this controller")
	_, stillThere := f.pods()[bobPod]
	assert.True(t, stillThere, "the squatter is not the controller's to delete")
	assert.NotContains(t, got.Status.PodStatuses, bobPod)
}

// The controller's own pod found on create (its informer had not shown it)
// is adopted as before.
func TestOwnMarkedPodIsAdoptedOnCreate(t *testing.T) {
	f := newFixture(t, psiObjects(t)...)
	f.mustSync(psi)
	objs := f.everything()
	restarted := newFixture(t, objs...)
	// The pod informer lags: it shows none of the pods yet.
	require.NoError(t, restarted.kubeInf.Core().V1().Pods().Informer().GetIndexer().Replace(nil, ""))
	restarted.kube.ClearActions()
	restarted.kuscia.ClearActions()
	restarted.c.expectations.forget(psi)
	_, err := restarted.c.syncHandler(restarted.ctx, keyOf(psi))
	require.NoError(t, err)
	assert.Contains(t, restarted.writes(), "create pods bob/secretflow-task-psi-0", "tried, found, adopted")
	assert.Equal(t, kusciav1alpha1.TaskPending, restarted.task(psi).Status.Phase)
	assert.Len(t, restarted.pods(), 2)
}

// forgeStatus writes a terminal phase over the task's status, as a user
// who may write kusciatasks/status could.
func (f *fixture) forgeStatus(phase kusciav1alpha1.KusciaTaskPhase) {
	f.t.Helper()
	task := f.task(psi)
	now := metav1.NewTime(f.clock.Now())
	task.Status.Phase, task.Status.CompletionTime = phase, &now
	_, err := f.kuscia.KusciaV1alpha1().KusciaTasks().UpdateStatus(f.ctx, task, metav1.UpdateOptions{})
	require.NoError(f.t, err)
}

// A terminal phase the pods do not explain is not obeyed: no pod is
// deleted, the task says StatusTampered (once), one Warning.
func TestForgedTerminalStatusIsNotObeyed(t *testing.T) {
	for _, phase := range []kusciav1alpha1.KusciaTaskPhase{kusciav1alpha1.TaskSucceeded, kusciav1alpha1.TaskFailed} {
		t.Run(string(phase), func(t *testing.T) {
			f := newFixture(t, psiObjects(t)...)
			f.startRunning(psi)
			f.updatePods(runPod)
			f.mustSync(psi)
			f.events()
			f.forgeStatus(phase)

			f.mustSync(psi)
			assert.Equal(t, []string{"update kusciatasks/status /secretflow-task-psi"}, f.writes(), "no pod deleted")
			task := f.task(psi)
			assert.Equal(t, phase, task.Status.Phase, "a finished phase cannot change")
			assert.Equal(t, kusciav1alpha1.ReasonStatusTampered, task.Status.Reason)
			assert.Contains(t, task.Status.Message, "status.phase was set to "+string(phase)+" by someone other than the controller")
			for _, p := range task.Status.PartyTaskStatus {
				assert.Equal(t, kusciav1alpha1.TaskRunning, p.Phase, p.DomainID)
			}
			assert.Equal(t, corev1.PodRunning, task.Status.PodStatuses[alicePod].PodPhase)
			events := f.events()
			assert.Equal(t, 1, countEvents(events, "Warning StatusTampered status.phase was set to "+string(phase)), "%v", events)

			f.mustSync(psi)
			assert.Empty(t, f.writes(), "reported once, not in a loop")
			assert.Len(t, f.pods(), 2)
		})
	}
}

// The controller's own end, read back by a restarted controller before it
// stopped the pods (the deletes failed), is explained: the pods still live
// are stopped.
func TestOwnTerminalStatusAfterARestartStillStopsPods(t *testing.T) {
	running := func(f *fixture) {
		f.startRunning(psi)
		f.updatePods(runPod)
		f.mustSync(psi)
		f.updatePod(alicePod, failPod("boom"))
	}
	expiring := func(f *fixture) {
		f.mustSync(psi)
		bobCannotSchedule(f)
		f.mustSync(psi)
		f.clock.Step(301 * time.Second)
	}
	tests := []struct {
		name  string
		gated bool
		setup func(f *fixture)
		want  kusciav1alpha1.KusciaTaskReason
	}{
		{"a peer failed", false, running, kusciav1alpha1.ReasonPartiesFailed},
		{"a peer failed, gated", true, running, kusciav1alpha1.ReasonPartiesFailed},
		{"the reservation expired, gated", true, expiring, kusciav1alpha1.ReasonReservationExpired},
		{"the reservation expired, ungated", false, expiring, kusciav1alpha1.ReasonReservationExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			newF := newFixture
			if tt.gated {
				newF = newGatedFixture
			}
			objs := psiObjects(t)
			objs[0].(*kusciav1alpha1.KusciaTask).CreationTimestamp = metav1.NewTime(t0)
			f := newF(t, objs...)
			tt.setup(f)
			f.kube.PrependReactor("delete", "pods", func(core.Action) (bool, runtime.Object, error) {
				return true, nil, errors.New("the controller was killed")
			})
			_, err := f.sync(psi)
			require.Error(t, err)
			require.Equal(t, tt.want, f.task(psi).Status.Reason)

			restarted := newF(t, f.everything()...)
			restarted.clock.SetTime(f.clock.Now())
			restarted.mustSync(psi)
			var deletes []string
			for _, w := range restarted.writes() {
				if strings.HasPrefix(w, "delete pods") {
					deletes = append(deletes, w)
				}
			}
			assert.NotEmpty(t, deletes, "the live pods are stopped")
			assert.Equal(t, tt.want, restarted.task(psi).Status.Reason, "not taken for tampering")
			assert.Zero(t, countEvents(restarted.events(), "Warning StatusTampered"))
		})
	}
}

// toRoundTwo takes the task through a released round 1 to the sync that
// starts round 2, and returns the pods of round 1 as they were.
func toRoundTwo(f *fixture) []runtime.Object {
	f.t.Helper()
	f.mustSync(psi)
	bobCannotSchedule(f)
	f.clock.Step(time.Second)
	f.mustSync(psi)
	var round1 []runtime.Object
	for _, p := range f.pods() {
		round1 = append(round1, p.DeepCopy())
	}
	f.clock.Step(30 * time.Second)
	f.mustSync(psi) // released; the fake deletes at once
	f.clock.Step(30 * time.Second)
	f.mustSync(psi) // round 2: its number written, then its pods created
	require.EqualValues(f.t, 2, f.task(psi).Status.Reservation.Round)
	return round1
}

// A new round's number reaches status before its pods exist, also when the
// status might be held (--status-batch-delay): a controller killed in
// between finds round 2 in status.
func TestNewRoundIsInStatusBeforeItsPods(t *testing.T) {
	f := newFixture(t, psiObjects(t)...)
	f.c.statusBatchDelay = DefaultStatusBatchDelay
	var roundsAtCreate []int32
	f.kube.PrependReactor("create", "pods", func(core.Action) (bool, runtime.Object, error) {
		obj, err := f.kuscia.Tracker().Get(kusciav1alpha1.SchemeGroupVersion.WithResource("kusciatasks"), "", psi)
		require.NoError(t, err)
		if r := obj.(*kusciav1alpha1.KusciaTask).Status.Reservation; r != nil {
			roundsAtCreate = append(roundsAtCreate, r.Round)
		} else {
			roundsAtCreate = append(roundsAtCreate, 0)
		}
		return false, nil, nil
	})
	toRoundTwo(f)
	require.Len(t, roundsAtCreate, 4)
	assert.Equal(t, []int32{2, 2}, roundsAtCreate[2:], "the stored round when round 2's pods were created")
}

// A controller killed between writing a round's number and creating its
// pods (or after some of them) continues the round: no pod of the round is
// deleted, none is created twice. The reverse state, the old round's pods
// still there under the new number, deletes them and creates nothing until
// they are gone.
func TestRestartBetweenRoundStatusAndItsPods(t *testing.T) {
	f := newFixture(t, psiObjects(t)...)
	round1 := toRoundTwo(f)
	all := f.everything()
	var noPods, bobOnly, stale []runtime.Object
	for _, o := range all {
		p, isPod := o.(*corev1.Pod)
		if !isPod {
			noPods, bobOnly, stale = append(noPods, o), append(bobOnly, o), append(stale, o)
		} else if p.Namespace == "bob" {
			bobOnly = append(bobOnly, o)
		}
	}
	stale = append(stale, round1...)
	tests := []struct {
		name string
		objs []runtime.Object
		want []string
	}{
		{"no pod created yet", noPods, []string{"create pods alice/secretflow-task-psi-0", "create pods bob/secretflow-task-psi-0"}},
		{"one pod created", bobOnly, []string{"create pods alice/secretflow-task-psi-0"}},
		{"every pod created", all, nil},
		{"the old round's pods still there", stale, []string{"delete pods alice/secretflow-task-psi-0", "delete pods bob/secretflow-task-psi-0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			restarted := newFixture(t, tt.objs...)
			restarted.clock.SetTime(f.clock.Now().Add(time.Second))
			restarted.mustSync(psi)
			var pods []string
			for _, w := range restarted.writes() {
				if strings.Contains(w, " pods ") {
					pods = append(pods, w)
				}
			}
			assert.ElementsMatch(t, tt.want, pods)
			restarted.mustSync(psi)
			for _, w := range restarted.writes() {
				assert.NotContains(t, w, "delete pods", "no pod of round 2 is deleted")
			}
			assert.EqualValues(t, 2, restarted.task(psi).Status.Reservation.Round)
			for key, p := range restarted.pods() {
				assert.Equal(t, "2", p.Annotations[builder.AnnotationRound], key)
			}
		})
	}
}
