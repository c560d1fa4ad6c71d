package controller

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	core "k8s.io/client-go/testing"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
	"kusciatask.io/controller/pkg/gate"
)

const (
	alicePod = "alice/secretflow-task-psi-0"
	bobPod   = "bob/secretflow-task-psi-0"
)

// newGatedFixture is a fixture whose controller adds the reservation gate
// (--reservation-gate, the default) and whose fake API server gives every
// created pod a UID, as a real one does.
func newGatedFixture(t *testing.T, objects ...runtime.Object) *fixture {
	f := newFixture(t, objects...)
	f.c.policy.Gate = builder.GatePolicy{Image: gate.DefaultImage()}
	n := 0
	f.kube.PrependReactor("create", "pods", func(a core.Action) (bool, runtime.Object, error) {
		n++
		a.(core.CreateAction).GetObject().(*corev1.Pod).UID = types.UID(fmt.Sprintf("pod-uid-%d", n))
		return false, nil, nil
	})
	return f
}

func (f *fixture) gateOf(key string) string {
	f.t.Helper()
	p, ok := f.pods()[key]
	require.True(f.t, ok, "pod %s not found", key)
	return p.Annotations[gate.Annotation]
}

// Every pod is created behind a closed gate; the sync that finds the gang
// formed writes Running first, then opens every gate with one patch per
// pod; a sync with nothing new writes nothing.
func TestGatesOpenWhenReserved(t *testing.T) {
	f := newGatedFixture(t, psiObjects(t)...)
	f.mustSync(psi)
	for key, p := range f.pods() {
		assert.Equal(t, gate.Closed, p.Annotations[gate.Annotation], key)
		assert.Equal(t, gate.ContainerName, p.Spec.InitContainers[0].Name, key)
	}

	f.updatePod(alicePod, bind("node-0"))
	f.updatePod(bobPod, unschedulable(insufficientCPU))
	f.mustSync(psi)
	assert.Equal(t, []string{"update kusciatasks/status /secretflow-task-psi"}, f.writes(), "no gate opens while bob waits")
	assert.Equal(t, gate.Closed, f.gateOf(alicePod))
	assert.Equal(t, "reserved 1/1 pods, gate closed; waiting for [bob]: "+bobPod+": "+insufficientCPU,
		f.task(psi).Status.PartyTaskStatus[0].Message)

	f.updatePod(bobPod, bind("node-1"))
	f.mustSync(psi)
	assert.ElementsMatch(t, []string{
		"update kusciatasks/status /secretflow-task-psi",
		"patch pods alice/secretflow-task-psi-0",
		"patch pods bob/secretflow-task-psi-0",
	}, f.writes(), "Running, and one patch per pod")
	task := f.task(psi)
	assert.Equal(t, kusciav1alpha1.TaskRunning, task.Status.Phase)
	require.NotNil(t, task.Status.Reservation.GateOpenedTime)
	assert.Contains(t, f.events(), "Normal Running task reserved and running: parties [alice bob] reserved; opened the gates of the pods of parties [alice bob]: the gang formed in 0s (round 1)")
	assert.Equal(t, gate.Open, f.gateOf(alicePod))
	assert.Equal(t, gate.Open, f.gateOf(bobPod))

	f.mustSync(psi)
	assert.Empty(t, f.writes(), "a no-op sync opens nothing")
}

// The patch carries the pod's UID, so it can never open a newer pod of the
// same name.
func TestGateOpenPatchNamesThePod(t *testing.T) {
	f := newGatedFixture(t, psiObjects(t)...)
	f.mustSync(psi)
	f.updatePods(bind("node-0"))
	f.mustSync(psi)
	uids := map[string]types.UID{}
	for key, p := range f.pods() {
		uids[key] = p.UID
	}
	var patched int
	for _, a := range f.kube.Actions() {
		pa, ok := a.(core.PatchAction)
		if !ok {
			continue
		}
		patched++
		assert.Equal(t, types.MergePatchType, pa.GetPatchType())
		want, err := gate.OpenPatch(uids[pa.GetNamespace()+"/"+pa.GetName()])
		require.NoError(t, err)
		assert.JSONEq(t, string(want), string(pa.GetPatch()))
	}
	assert.Equal(t, 2, patched)
}

// Until the pod cache shows the opened gates, the task waits instead of
// patching again.
func TestGatesOpenedAreExpected(t *testing.T) {
	f := newGatedFixture(t, psiObjects(t)...)
	f.mustSync(psi)
	f.updatePods(bind("node-0"))
	f.mustSync(psi)
	require.Len(t, f.writes(), 3)

	f.refreshExcept("pods")
	f.kube.ClearActions()
	f.kuscia.ClearActions()
	res, err := f.c.syncHandler(f.ctx, keyOf(psi))
	require.NoError(t, err)
	assert.Empty(t, f.writes(), "the cache still shows closed gates: wait, do not patch again")
	assert.Positive(t, res.requeueAfter)
}

// The status is written before the gates are opened: when opening fails,
// the task is Running already and the next sync opens the gates, once.
func TestGatesOpenAfterRestart(t *testing.T) {
	f := newGatedFixture(t, psiObjects(t)...)
	f.mustSync(psi)
	f.updatePods(bind("node-0"))
	f.kube.PrependReactor("patch", "pods", func(core.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewServiceUnavailable("the API server went away")
	})
	_, err := f.sync(psi)
	require.Error(t, err, "the patches failed: retry")
	assert.Equal(t, kusciav1alpha1.TaskRunning, f.task(psi).Status.Phase, "the decision is in status")
	assert.Equal(t, gate.Closed, f.gateOf(alicePod))

	// The API server is back; the next sync finds Running in status and
	// the gates closed.
	f.kube.ReactionChain = f.kube.ReactionChain[1:]
	f.mustSync(psi)
	assert.ElementsMatch(t, []string{
		"patch pods alice/secretflow-task-psi-0",
		"patch pods bob/secretflow-task-psi-0",
	}, f.writes())
	f.mustSync(psi)
	assert.Empty(t, f.writes())
}

// minReservedMembers 1: alice's gate opens, bob's pod is deleted unopened.
func TestGatesPartialGang(t *testing.T) {
	objs := psiObjects(t)
	objs[0].(*kusciav1alpha1.KusciaTask).Spec.ScheduleConfig = &kusciav1alpha1.ScheduleConfig{MinReservedMembers: ptrTo[int32](1)}
	f := newGatedFixture(t, objs...)
	f.mustSync(psi)
	bobCannotSchedule(f)
	f.mustSync(psi)
	assert.Equal(t, []string{
		"delete pods bob/secretflow-task-psi-0",
		"patch pods alice/secretflow-task-psi-0",
		"update kusciatasks/status /secretflow-task-psi",
	}, f.writes(), "pod writes in order (the status write, listed last, comes first)")
	assert.Equal(t, gate.Open, f.gateOf(alicePod))
}

// --reservation-gate=false: pods carry no gate and nothing is patched.
func TestNoGateNoPatch(t *testing.T) {
	f := newFixture(t, psiObjects(t)...)
	f.mustSync(psi)
	for key, p := range f.pods() {
		assert.Empty(t, p.Spec.InitContainers, key)
		assert.NotContains(t, p.Annotations, gate.Annotation, key)
	}
	f.updatePods(bind("node-0"))
	f.mustSync(psi)
	assert.Equal(t, []string{"update kusciatasks/status /secretflow-task-psi"}, f.writes())
}
