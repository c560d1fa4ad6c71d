//go:build e2e

package e2e

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"kusciatask.io/controller/pkg/gate"
	"kusciatask.io/controller/pkg/gate/gatepod"
)

// The kwok model of the gate (hack/kwok/stages.yaml) on pods made by hand,
// with no controller involved: a gated pod is held with its gate running and
// its application waiting, opens when its annotation says so, and fails the
// way the gate binary would when its deadline passes.
func TestGate(t *testing.T) {
	ns := scratchNamespace(t, "e2e-gate")
	t.Run("held, then opened", func(t *testing.T) { t.Parallel(); testGateOpens(t, ns) })
	t.Run("deadline", func(t *testing.T) { t.Parallel(); testGateDeadline(t, ns) })
	t.Run("opened before the deadline", func(t *testing.T) { t.Parallel(); testGateOpensBeforeDeadline(t, ns) })
	t.Run("deadline as a duration", func(t *testing.T) { t.Parallel(); testGateDurationDeadline(t, ns) })
	t.Run("no deadline", func(t *testing.T) { t.Parallel(); testGateWithoutDeadline(t, ns) })
	t.Run("restartPolicy OnFailure", func(t *testing.T) { t.Parallel(); testGateCrashLoop(t, ns) })
	t.Run("not a gate", func(t *testing.T) { t.Parallel(); testNotAGate(t, ns) })
	t.Run("pulling: held, then opened", func(t *testing.T) { t.Parallel(); testPullingGateOpens(t, ns) })
	t.Run("pulling: deadline", func(t *testing.T) { t.Parallel(); testPullingGateDeadline(t, ns) })
	t.Run("pulling: restartPolicy OnFailure", func(t *testing.T) {
		t.Parallel()
		testGateCrashLoopOf(t, ns, "pulling-crashloop", pullingGatedPod)
	})
}

// gatedPod is a pod with one application container (its kwok fate in env)
// and the gate, as the controller builds it.
func gatedPod(t *testing.T, ns, name string, deadline time.Time, env ...corev1.EnvVar) *corev1.Pod {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.PodSpec{
			RestartPolicy:                corev1.RestartPolicyNever,
			AutomountServiceAccountToken: new(bool),
			Containers:                   []corev1.Container{{Name: "app", Image: "app", Env: env}},
		},
	}
	require.NoError(t, gatepod.AddTo(pod, gatepod.Options{Image: gate.DefaultImage(), Deadline: deadline}))
	return pod
}

// pullingGatedPod is gatedPod pulling its image during the reservation
// (the install container, then the gate from the application's image).
func pullingGatedPod(t *testing.T, ns, name string, deadline time.Time, env ...corev1.EnvVar) *corev1.Pod {
	t.Helper()
	pod := gatedPod(t, ns, name, deadline, env...)
	pod.Spec.InitContainers, pod.Spec.Volumes = nil, nil
	require.NoError(t, gatepod.AddTo(pod, gatepod.Options{Image: gate.DefaultImage(), Deadline: deadline, PullImages: true}))
	require.Equal(t, gate.InstallContainerName, pod.Spec.InitContainers[0].Name)
	return pod
}

// A pod pulling during its reservation is held the same way, its install
// container Completed before the gate runs, and opens the same way.
func testPullingGateOpens(t *testing.T, ns string) {
	w := watchPod(t, pullingGatedPod(t, ns, "pulling-opens", time.Now().Add(10*time.Minute), kwokEnv("KWOK_DELAY", "1s")...))
	pod := w.until(30*time.Second, "the pod to be held", appNeverRan, held)
	install := containerStatus(pod, gate.InstallContainerName)
	require.NotNil(t, install, describePod(pod))
	require.NotNil(t, install.State.Terminated, "the install container ran before the gate: %s", describePod(pod))
	assert.Equal(t, int32(0), install.State.Terminated.ExitCode)
	require.NoError(t, openGate(t, ns, "pulling-opens", pod.UID))
	w.until(30*time.Second, "the pod to succeed", nil, phaseIs(corev1.PodSucceeded))
}

// A pod pulling during its reservation fails at its gate's deadline as any
// gated pod does.
func testPullingGateDeadline(t *testing.T, ns string) {
	deadline := time.Now().Add(5 * time.Second).Truncate(time.Second)
	w := watchPod(t, pullingGatedPod(t, ns, "pulling-deadline", deadline))
	w.until(30*time.Second, "the pod to be held", appNeverRan, held)
	failed := w.until(30*time.Second, "the gate to fail at its deadline", appNeverRan, phaseIs(corev1.PodFailed))
	wantGateFailed(t, failed, gate.ExitClosed, gate.DeadlineMessage(deadline))
}

func kwokEnv(kv ...string) []corev1.EnvVar {
	var out []corev1.EnvVar
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, corev1.EnvVar{Name: kv[i], Value: kv[i+1]})
	}
	return out
}

// appNeverRan rejects any state in which an application container started.
func appNeverRan(pod *corev1.Pod) error {
	if pod.Status.Phase == corev1.PodRunning || pod.Status.Phase == corev1.PodSucceeded {
		return fmt.Errorf("pod is %s while its gate is closed", pod.Status.Phase)
	}
	for _, s := range pod.Status.ContainerStatuses {
		if s.State.Running != nil || s.State.Terminated != nil || s.LastTerminationState.Terminated != nil || ptrTrue(s.Started) {
			return fmt.Errorf("application container %s ran while the gate was closed", s.Name)
		}
	}
	return nil
}

func ptrTrue(b *bool) bool { return b != nil && *b }

// held is the state of a bound pod whose gate waits: Pending, the gate
// Running, every application container Waiting PodInitializing.
func held(pod *corev1.Pod) bool {
	g := containerStatus(pod, gate.ContainerName)
	if pod.Spec.NodeName == "" || pod.Status.Phase != corev1.PodPending || g == nil || g.State.Running == nil {
		return false
	}
	for _, s := range pod.Status.ContainerStatuses {
		if s.State.Waiting == nil || s.State.Waiting.Reason != "PodInitializing" {
			return false
		}
	}
	return len(pod.Status.ContainerStatuses) == len(pod.Spec.Containers) && pod.Status.PodIP != ""
}

func phaseIs(phase corev1.PodPhase) func(*corev1.Pod) bool {
	return func(pod *corev1.Pod) bool { return pod.Status.Phase == phase }
}

// openGate patches the gate annotation open for the pod with uid.
func openGate(t *testing.T, ns, name string, uid types.UID) error {
	t.Helper()
	patch, err := gate.OpenPatch(uid)
	require.NoError(t, err)
	_, err = env.kube.CoreV1().Pods(ns).Patch(testContext(t), name, types.MergePatchType, patch, metav1.PatchOptions{})
	return err
}

func testGateOpens(t *testing.T, ns string) {
	w := watchPod(t, gatedPod(t, ns, "opens", time.Now().Add(10*time.Minute), kwokEnv("KWOK_DELAY", "1s")...))
	pod := w.until(30*time.Second, "the pod to be held", appNeverRan, held)
	assert.Equal(t, gate.Closed, pod.Annotations[gate.Annotation])
	assert.Equal(t, "app", pod.Annotations[gate.DefaultContainerAnnotation])
	w.holds(3*time.Second, appNeverRan)

	// A patch made for another pod of this name (another round) is refused
	// and opens nothing.
	err := openGate(t, ns, "opens", "not-this-pods-uid")
	require.Error(t, err)
	assert.True(t, apierrors.IsInvalid(err), "want 422 Invalid, got %v", err)
	w.holds(time.Second, appNeverRan)

	opened := time.Now()
	require.NoError(t, openGate(t, ns, "opens", pod.UID))
	running := w.until(30*time.Second, "the pod to run", nil, phaseIs(corev1.PodRunning))
	t.Logf("gate opened -> pod Running in %s", time.Since(opened).Round(time.Millisecond))
	g := containerStatus(running, gate.ContainerName)
	require.NotNil(t, g.State.Terminated, describePod(running))
	assert.Equal(t, int32(0), g.State.Terminated.ExitCode)
	assert.Equal(t, "Completed", g.State.Terminated.Reason)
	assert.True(t, g.State.Terminated.StartedAt.Equal(&pod.Status.InitContainerStatuses[0].State.Running.StartedAt),
		"the gate keeps the start time it was held with")
	assert.Equal(t, pod.Status.StartTime, running.Status.StartTime, "the pod's start is when it was admitted")
	for _, c := range running.Status.Conditions {
		assert.Equal(t, corev1.ConditionTrue, c.Status, "condition %s", c.Type)
		if c.Type != corev1.PodReadyToStartContainers {
			assert.Empty(t, c.Reason, "condition %s keeps no reason of the hold", c.Type)
		}
	}
	w.until(30*time.Second, "the pod to succeed", nil, phaseIs(corev1.PodSucceeded))
}

// wantGateFailed checks a pod failed by its gate: exit code, reason and
// message as the gate binary writes them, the application never started.
func wantGateFailed(t *testing.T, pod *corev1.Pod, exitCode int32, message string) {
	t.Helper()
	g := containerStatus(pod, gate.ContainerName)
	require.NotNil(t, g, describePod(pod))
	require.NotNil(t, g.State.Terminated, describePod(pod))
	assert.Equal(t, exitCode, g.State.Terminated.ExitCode)
	assert.Equal(t, "Error", g.State.Terminated.Reason)
	assert.Equal(t, message, g.State.Terminated.Message)
	assert.NoError(t, appNeverRan(pod))
}

func testGateDeadline(t *testing.T, ns string) {
	deadline := time.Now().Add(5 * time.Second).Truncate(time.Second)
	w := watchPod(t, gatedPod(t, ns, "deadline", deadline))
	w.until(30*time.Second, "the pod to be held", appNeverRan, held)
	failed := w.until(30*time.Second, "the gate to fail at its deadline", appNeverRan, phaseIs(corev1.PodFailed))
	failedAt := time.Now()
	assert.False(t, failedAt.Before(deadline.Add(-time.Second)), "failed at %s, before the deadline %s", failedAt, deadline)
	wantGateFailed(t, failed, gate.ExitClosed, gate.DeadlineMessage(deadline))

	// Opening a failed gate changes nothing.
	require.NoError(t, openGate(t, ns, "deadline", failed.UID))
	w.holds(2*time.Second, func(pod *corev1.Pod) error {
		if pod.Status.Phase != corev1.PodFailed {
			return fmt.Errorf("a failed pod became %s", pod.Status.Phase)
		}
		return appNeverRan(pod)
	})
}

// Opened before its deadline, with the application still running when the
// deadline passes: the deadline no longer matters.
func testGateOpensBeforeDeadline(t *testing.T, ns string) {
	deadline := time.Now().Add(6 * time.Second)
	w := watchPod(t, gatedPod(t, ns, "early", deadline, kwokEnv("KWOK_DELAY", "8s")...))
	pod := w.until(30*time.Second, "the pod to be held", appNeverRan, held)
	require.NoError(t, openGate(t, ns, "early", pod.UID))
	notFailed := func(pod *corev1.Pod) error {
		if pod.Status.Phase == corev1.PodFailed {
			return errors.New("the pod failed although its gate opened before the deadline")
		}
		return nil
	}
	w.until(60*time.Second, "the pod to succeed", notFailed, phaseIs(corev1.PodSucceeded))
	assert.True(t, time.Now().After(deadline), "the deadline passed while the application ran")
}

// A duration deadline counts from the gate's start; the message shows the
// absolute time, as the binary's does.
func testGateDurationDeadline(t *testing.T, ns string) {
	pod := gatedPod(t, ns, "duration", time.Now())
	pod.Spec.InitContainers[0].Args = []string{"--file=" + gate.FilePath, "--deadline=3s"}
	w := watchPod(t, pod)
	heldPod := w.until(30*time.Second, "the pod to be held", appNeverRan, held)
	startedAt := heldPod.Status.InitContainerStatuses[0].State.Running.StartedAt.Time
	failed := w.until(30*time.Second, "the gate to fail", appNeverRan, phaseIs(corev1.PodFailed))
	wantGateFailed(t, failed, gate.ExitClosed, gate.DeadlineMessage(startedAt.Add(3*time.Second)))
}

// Without --deadline the binary refuses to start (exit 2); so does the model.
func testGateWithoutDeadline(t *testing.T, ns string) {
	pod := gatedPod(t, ns, "no-deadline", time.Now())
	pod.Spec.InitContainers[0].Args = []string{"--file=" + gate.FilePath}
	w := watchPod(t, pod)
	failed := w.until(30*time.Second, "the gate to fail", appNeverRan, phaseIs(corev1.PodFailed))
	wantGateFailed(t, failed, 2, "kuscia-gate: --deadline: deadline is empty: want an RFC 3339 time or a duration")
}

// With restartPolicy OnFailure the failed gate is restarted and crash-loops;
// the pod stays Pending and still starts once the gate opens.
func testGateCrashLoop(t *testing.T, ns string) {
	testGateCrashLoopOf(t, ns, "crashloop", gatedPod)
}

// testGateCrashLoopOf is testGateCrashLoop on a pod made by gated.
func testGateCrashLoopOf(t *testing.T, ns, name string, gated func(*testing.T, string, string, time.Time, ...corev1.EnvVar) *corev1.Pod) {
	deadline := time.Now().Add(3 * time.Second).Truncate(time.Second)
	pod := gated(t, ns, name, deadline, kwokEnv("KWOK_DELAY", "1s")...)
	pod.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
	w := watchPod(t, pod)
	w.until(30*time.Second, "the pod to be held", appNeverRan, held)
	looping := w.until(30*time.Second, "the gate to crash-loop", appNeverRan, func(pod *corev1.Pod) bool {
		g := containerStatus(pod, gate.ContainerName)
		return g != nil && g.State.Waiting != nil && g.State.Waiting.Reason == "CrashLoopBackOff"
	})
	assert.Equal(t, corev1.PodPending, looping.Status.Phase)
	g := containerStatus(looping, gate.ContainerName)
	assert.Equal(t, int32(1), g.RestartCount)
	require.NotNil(t, g.LastTerminationState.Terminated)
	assert.Equal(t, gate.DeadlineMessage(deadline), g.LastTerminationState.Terminated.Message)

	require.NoError(t, openGate(t, ns, name, looping.UID))
	w.until(30*time.Second, "the pod to succeed once opened", nil, phaseIs(corev1.PodSucceeded))
}

// Only an init container named kuscia-gate makes a gate: a pod with the
// annotation closed and another init container runs as before.
func testNotAGate(t *testing.T, ns string) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "plain", Namespace: ns, Annotations: map[string]string{gate.Annotation: gate.Closed}},
		Spec: corev1.PodSpec{
			RestartPolicy:                corev1.RestartPolicyNever,
			AutomountServiceAccountToken: new(bool),
			InitContainers:               []corev1.Container{{Name: "prepare", Image: "prepare"}},
			Containers:                   []corev1.Container{{Name: "app", Image: "app", Env: kwokEnv("KWOK_DELAY", "1s")}},
		},
	}
	w := watchPod(t, pod)
	neverHeld := func(pod *corev1.Pod) error {
		for _, s := range pod.Status.ContainerStatuses {
			if s.State.Waiting != nil && s.State.Waiting.Reason == "PodInitializing" {
				return errors.New("a pod without a gate was held")
			}
		}
		return nil
	}
	w.until(30*time.Second, "the pod to succeed", neverHeld, phaseIs(corev1.PodSucceeded))
}
