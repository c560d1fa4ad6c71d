//go:build realnode

package realnode

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"

	"kusciatask.io/controller/pkg/gate"
	"kusciatask.io/controller/pkg/gate/gatepod"
)

// TestGateDeadlineRealNode: the real gate binary, from the controller's
// image, on a pod (built as the controller builds gated pods) that is never
// opened: at its deadline the gate exits 1 with its deadline message as
// the termination message, the pod fails and the application never starts
// nor prints anything. Opening the gate afterwards changes nothing.
func TestGateDeadlineRealNode(t *testing.T) {
	p := sharedPlane(t)
	p.loadImages(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	pod := realPod("gate-deadline", testAppImage, corev1.RestartPolicyNever)
	pod.Spec.Containers[0].SecurityContext.RunAsUser = ptrInt64(65532)
	deadline := time.Now().Add(30 * time.Second).Truncate(time.Second)
	require.NoError(t, gatepod.AddTo(pod, gatepod.Options{Image: controllerImage, Deadline: deadline}))
	gates := p.followPodGate(t, pod.Namespace, pod.Name)
	_, err := p.kube.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = p.kube.CoreV1().Pods(pod.Namespace).Delete(context.Background(), pod.Name, metav1.DeleteOptions{GracePeriodSeconds: ptrInt64(0)})
	})

	// Held first: the gate runs, the application waits.
	var got *corev1.Pod
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		got, err = p.kube.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		return gateState(got).Running != nil || got.Status.Phase == corev1.PodFailed, nil
	})
	require.NoError(t, err, "the gate to run: %+v", got)
	require.NotNil(t, gateState(got).Running, "the gate container ran before the deadline: %+v", got.Status)
	require.Len(t, got.Status.ContainerStatuses, 1)
	assert.NotNil(t, got.Status.ContainerStatuses[0].State.Waiting)

	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		got, err = p.kube.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		return err == nil && got.Status.Phase == corev1.PodFailed, nil
	})
	require.NoError(t, err, "the pod to fail at the gate's deadline: %+v", got.Status)
	term := gateState(got).Terminated
	require.NotNil(t, term, "gate state %+v", gateState(got))
	assert.EqualValues(t, gate.ExitClosed, term.ExitCode)
	assert.Equal(t, "Error", term.Reason)
	assert.Equal(t, gate.DeadlineMessage(deadline), term.Message)
	assert.False(t, term.FinishedAt.Time.Before(deadline), "the gate ended at %s, before its deadline %s", term.FinishedAt, deadline)
	assert.NoError(t, appNeverStarted(got))

	// Opening a failed gate changes nothing.
	patch, err := gate.OpenPatch(got.UID)
	require.NoError(t, err)
	_, err = p.kube.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	require.NoError(t, err)
	// The poll must run out its 10 s: only a change ends it early. A Get
	// that fails (near the end the client's rate limiter refuses a wait
	// past the poll's deadline) is no change.
	err = wait.PollUntilContextTimeout(ctx, time.Second, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		current, err := p.kube.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		got = current
		if got.Status.Phase != corev1.PodFailed {
			return false, fmt.Errorf("the failed pod became %s", got.Status.Phase)
		}
		return false, appNeverStarted(got)
	})
	assert.ErrorIs(t, err, context.DeadlineExceeded, "the opened failed pod: %+v", got.Status)
	violations, events := gates.snapshot()
	assert.Empty(t, violations)
	assert.Positive(t, events)
}

func gateState(pod *corev1.Pod) corev1.ContainerState {
	for _, s := range pod.Status.InitContainerStatuses {
		if s.Name == gate.ContainerName {
			return s.State
		}
	}
	return corev1.ContainerState{}
}

func ptrInt64(v int64) *int64 { return &v }
