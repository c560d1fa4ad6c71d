package informers

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kusciatask.io/controller/examples"
	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
	"kusciatask.io/controller/pkg/mark"
)

var t0 = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

// testTrimmer trims every object of these tests, as one controller's
// informers share one Trimmer: children trimmed apart share metadata.
var testTrimmer = NewTrimmer()

// psiTask is the seed's PSI task, with the UID its children's controller
// reference names.
func psiTask(t *testing.T) *kusciav1alpha1.KusciaTask {
	t.Helper()
	task, err := examples.Task("secretflow-task-psi.yaml")
	require.NoError(t, err)
	task.UID = "psi-uid"
	return task
}

func domain(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{kusciav1alpha1.LabelDomain: name}}}
}

// builtChildren are the children the builder makes for the seed's PSI
// task in its first round, pods marked as the controller creates them;
// the task they were built for first.
func builtChildren(t *testing.T) (*kusciav1alpha1.KusciaTask, []*corev1.Pod, []*corev1.Service, []*corev1.ConfigMap) {
	t.Helper()
	task := psiTask(t)
	img, err := examples.AppImage(examples.SecretflowImageFile)
	require.NoError(t, err)
	in := builder.Inputs{AppImages: map[string]*kusciav1alpha1.AppImage{}, Namespaces: map[string]*corev1.Namespace{}, Start: t0}
	for _, p := range task.Spec.Parties {
		in.AppImages[p.AppImageRef], in.Namespaces[p.DomainID] = img, domain(p.DomainID)
	}
	plan, err := builder.PlanTask(task, in)
	require.NoError(t, err)
	parties, err := builder.BuildTask(context.Background(), task, plan, 1)
	require.NoError(t, err)
	marker, err := mark.New(bytes.Repeat([]byte("k"), mark.KeySize))
	require.NoError(t, err)
	var pods []*corev1.Pod
	var svcs []*corev1.Service
	var cms []*corev1.ConfigMap
	for _, party := range parties {
		pods, svcs, cms = append(pods, party.Pods...), append(svcs, party.Services...), append(cms, party.ConfigMaps...)
	}
	for _, p := range pods {
		marker.Stamp(p, task.UID) // as the controller creates them
	}
	require.NotEmpty(t, pods)
	require.NotEmpty(t, svcs)
	require.NotEmpty(t, cms)
	return task, pods, svcs, cms
}

// Pod states, as kube-scheduler and a kubelet make them.

func bound(node string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Spec.NodeName, p.Status.Phase = node, corev1.PodPending
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}}
	}
}

func unschedulable(msg string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Spec.NodeName, p.Status.Phase = "", corev1.PodPending
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
			Reason: "Unschedulable", Message: msg}}
	}
}

// inState runs the pod on node-0 with its first container in state (a
// running one when state is zero), the pod in phase.
func inState(phase corev1.PodPhase, state corev1.ContainerState) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		bound("node-0")(p)
		p.Status.Phase = phase
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(t0)}}
		if state == (corev1.ContainerState{}) {
			state.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(t0)}
		}
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: p.Spec.Containers[0].Name, State: state}}
	}
}

var runPod = inState(corev1.PodRunning, corev1.ContainerState{})

var succeedPod = inState(corev1.PodSucceeded, corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed"}})

func failPod(msg string) func(*corev1.Pod) {
	return inState(corev1.PodFailed, corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error", Message: msg}})
}

func waitPod(reason string) func(*corev1.Pod) {
	return inState(corev1.PodRunning, corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}})
}
