package controller

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	schedulingv1beta1 "k8s.io/api/scheduling/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
	"kusciatask.io/controller/pkg/status"
)

func (f *fixture) podGroups() map[string]*schedulingv1beta1.PodGroup {
	f.t.Helper()
	list, err := f.kube.SchedulingV1beta1().PodGroups("").List(f.ctx, metav1.ListOptions{})
	require.NoError(f.t, err)
	out := map[string]*schedulingv1beta1.PodGroup{}
	for i := range list.Items {
		out[list.Items[i].Namespace+"/"+list.Items[i].Name] = &list.Items[i]
	}
	return out
}

// On a cluster that serves PodGroups, each party gets one, created before
// its pods, owned by the task and labelled like its other children, with
// minCount its minReservedPods; its pods join it.
func TestPodGroupsCreatedBeforePods(t *testing.T) {
	f := newFixtureServing(t, true, psiObjects(t)...)
	f.mustSync(psi)
	var order []string
	for _, w := range f.writes() {
		if w == "create podgroups alice/"+psi || w == "create pods alice/secretflow-task-psi-0" {
			order = append(order, w)
		}
	}
	assert.Equal(t, []string{"create podgroups alice/" + psi, "create pods alice/secretflow-task-psi-0"}, order)
	task := f.task(psi)
	groups := f.podGroups()
	require.Len(t, groups, 2)
	for _, domain := range []string{"alice", "bob"} {
		pg := groups[domain+"/"+builder.PodGroupName(psi, "")]
		require.NotNil(t, pg, domain)
		assert.True(t, metav1.IsControlledBy(pg, task))
		assert.Equal(t, string(task.UID), pg.Labels[kusciav1alpha1.LabelTaskUID])
		assert.Equal(t, domain, pg.Labels[kusciav1alpha1.LabelParty])
		assert.EqualValues(t, 1, pg.Spec.SchedulingPolicy.Gang.MinCount)
	}
	for key, p := range f.pods() {
		require.NotNil(t, p.Spec.SchedulingGroup, key)
		assert.Equal(t, builder.PodGroupName(psi, ""), *p.Spec.SchedulingGroup.PodGroupName)
	}

	// The next sync finds everything, creates nothing and reports the
	// resources created; the one after writes nothing.
	f.mustSync(psi)
	assert.Equal(t, []string{"update kusciatasks/status /" + psi}, f.writes())
	created := status.Condition(&f.task(psi).Status, kusciav1alpha1.ConditionResourceCreated)
	require.NotNil(t, created)
	assert.Equal(t, corev1.ConditionTrue, created.Status)
	f.mustSync(psi)
	assert.Empty(t, f.writes())
}

// Without the API (fake discovery serves nothing) the controller creates
// no PodGroup and its pods join none: the gang is the controller's alone.
func TestNoPodGroupsWhenNotServed(t *testing.T) {
	f := newFixtureServing(t, false, psiObjects(t)...)
	f.mustSync(psi)
	for _, w := range f.writes() {
		assert.NotContains(t, w, "podgroups")
	}
	assert.Empty(t, f.podGroups())
	for key, p := range f.pods() {
		assert.Nil(t, p.Spec.SchedulingGroup, key)
	}
}

// The scheduler's PodGroupInitiallyScheduled=False message goes into the
// party's message and, when the round is released, its lastFailure.
func TestPodGroupNotScheduledMessage(t *testing.T) {
	const groupMsg = "0/2 nodes are available: 2 Insufficient cpu."
	f := newFixtureServing(t, true, psiObjects(t)...)
	f.mustSync(psi)
	f.updatePod(alicePod, bind("node-0"))
	pg := f.podGroups()["bob/"+builder.PodGroupName(psi, "")]
	pg.Status.Conditions = []metav1.Condition{{
		Type: schedulingv1beta1.PodGroupInitiallyScheduled, Status: metav1.ConditionFalse,
		Reason: "Unschedulable", Message: groupMsg, LastTransitionTime: metav1.NewTime(t0),
	}}
	_, err := f.kube.SchedulingV1beta1().PodGroups("bob").UpdateStatus(f.ctx, pg, metav1.UpdateOptions{})
	require.NoError(t, err)
	f.mustSync(psi)
	task := f.task(psi)
	assert.Contains(t, task.Status.PartyTaskStatus[1].Message, "bob: pod group: "+groupMsg)
	assert.Contains(t, task.Status.PartyTaskStatus[0].Message, "waiting for [bob]: bob/secretflow-task-psi-0: ")

	f.clock.Step(31e9)
	f.mustSync(psi)
	task = f.task(psi)
	require.NotNil(t, task.Status.Reservation.ReleasedTime)
	assert.Contains(t, task.Status.Reservation.LastFailure, "bob: pod group: "+groupMsg)
}
