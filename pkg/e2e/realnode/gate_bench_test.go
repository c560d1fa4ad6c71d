//go:build realnode && bench

package realnode

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	"kusciatask.io/controller/pkg/gate"
	"kusciatask.io/controller/pkg/gate/gatepod"
)

// TestBenchGateLatency measures what the hold costs on a real kubelet, pod
// by pod (one at a time, so each measures the node and not a queue):
//   - gated: the gate-opening patch sent → the application container seen
//     running on a pod watch, and the gate's own share (patch → the gate's
//     "Gate open" log line, klog's microsecond time on the same clock);
//   - baseline: a pod without a gate, seen bound → seen running.
//
// BENCH_GATE_PODS pods of each (default 20). It prints p50/p99 and writes
// _output/bench/realnode-gate.txt. Run by `make bench-realnode`.
func TestBenchGateLatency(t *testing.T) {
	n := 20
	if v, err := strconv.Atoi(os.Getenv("BENCH_GATE_PODS")); err == nil && v > 0 {
		n = v
	}
	p := sharedPlane(t)
	p.loadImages(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()

	var opened, gateShare, baseline []time.Duration
	for i := range n {
		toRunning, toGateExit := p.measureGated(ctx, t, fmt.Sprintf("bench-gated-%d", i))
		opened, gateShare = append(opened, toRunning), append(gateShare, toGateExit)
		baseline = append(baseline, p.measureUngated(ctx, t, fmt.Sprintf("bench-plain-%d", i)))
	}
	report := strings.Join([]string{
		fmt.Sprintf("real-node gate latency, %d pods each, one at a time", n),
		row("gated: open patch -> app running", opened),
		row("gated: open patch -> gate exits (its share)", gateShare),
		row("baseline, no gate: bound -> app running", baseline),
		fmt.Sprintf("ratio of p50s, gated over baseline: %.2f", float64(pct(opened, 50))/float64(pct(baseline, 50))),
	}, "\n") + "\n"
	fmt.Print(report)
	out := filepath.Join(lane.root, "_output", "bench", "realnode-gate.txt")
	require.NoError(t, os.MkdirAll(filepath.Dir(out), 0o755))
	require.NoError(t, os.WriteFile(out, []byte(report), 0o644))
}

// measureGated creates a held pod, waits for its gate to run, opens it and
// returns patch → app running and patch → the gate's "Gate open" line.
func (p *plane) measureGated(ctx context.Context, t *testing.T, name string) (toRunning, toGateExit time.Duration) {
	t.Helper()
	pod := realPod(name, testAppImage, corev1.RestartPolicyNever)
	pod.Spec.Containers[0].SecurityContext.RunAsUser = ptrInt64(65532)
	pod.Spec.Containers[0].Env = append(pod.Spec.Containers[0].Env, corev1.EnvVar{Name: "KWOK_DELAY", Value: "1h"})
	require.NoError(t, gatepod.AddTo(pod, gatepod.Options{Image: controllerImage, Deadline: time.Now().Add(10 * time.Minute)}))
	w := p.createWatched(ctx, t, pod)
	defer w.Stop()
	got := waitPod(t, w, func(pod *corev1.Pod) bool { return gateState(pod).Running != nil })

	patch, err := gate.OpenPatch(got.UID)
	require.NoError(t, err)
	sent := time.Now()
	_, err = p.kube.CoreV1().Pods(pod.Namespace).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
	require.NoError(t, err)
	waitPod(t, w, appRunning)
	toRunning = time.Since(sent)

	logs, err := p.kube.CoreV1().Pods(pod.Namespace).GetLogs(name, &corev1.PodLogOptions{Container: gate.ContainerName}).DoRaw(ctx)
	require.NoError(t, err)
	exited, err := gateOpenTime(string(logs), sent)
	require.NoError(t, err, "gate log:\n%s", logs)
	return toRunning, exited.Sub(sent)
}

// measureUngated creates a pod without a gate and returns the time from
// its binding seen to its application seen running.
func (p *plane) measureUngated(ctx context.Context, t *testing.T, name string) time.Duration {
	t.Helper()
	pod := realPod(name, testAppImage, corev1.RestartPolicyNever)
	pod.Spec.Containers[0].SecurityContext.RunAsUser = ptrInt64(65532)
	pod.Spec.Containers[0].Env = append(pod.Spec.Containers[0].Env, corev1.EnvVar{Name: "KWOK_DELAY", Value: "1h"})
	w := p.createWatched(ctx, t, pod)
	defer w.Stop()
	waitPod(t, w, func(pod *corev1.Pod) bool { return pod.Spec.NodeName != "" })
	bound := time.Now()
	waitPod(t, w, appRunning)
	return time.Since(bound)
}

// createWatched starts a watch on the pod's name, then creates it; the pod
// is deleted when the test ends.
func (p *plane) createWatched(ctx context.Context, t *testing.T, pod *corev1.Pod) watch.Interface {
	t.Helper()
	w, err := p.kube.CoreV1().Pods(pod.Namespace).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + pod.Name})
	require.NoError(t, err)
	_, err = p.kube.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = p.kube.CoreV1().Pods(pod.Namespace).Delete(context.Background(), pod.Name, metav1.DeleteOptions{GracePeriodSeconds: ptrInt64(0)})
	})
	return w
}

// waitPod reads the watch until a pod satisfies done, failing on a
// terminated pod or after two minutes.
func waitPod(t *testing.T, w watch.Interface, done func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	timeout := time.After(2 * time.Minute)
	for {
		select {
		case ev, ok := <-w.ResultChan():
			require.True(t, ok, "the pod watch ended")
			pod, isPod := ev.Object.(*corev1.Pod)
			if !isPod {
				continue
			}
			require.NotContains(t, []corev1.PodPhase{corev1.PodFailed, corev1.PodSucceeded}, pod.Status.Phase, "pod %s ended: %+v", pod.Name, pod.Status)
			if done(pod) {
				return pod
			}
		case <-timeout:
			t.Fatal("timed out waiting on a pod watch")
		}
	}
}

func appRunning(pod *corev1.Pod) bool {
	return len(pod.Status.ContainerStatuses) > 0 && pod.Status.ContainerStatuses[0].State.Running != nil
}

// gateOpenTime finds the gate's "Gate open" log line and returns its klog
// time (header "I1202 14:05:06.123456 ..."), dated on the day of near.
func gateOpenTime(log string, near time.Time) (time.Time, error) {
	sc := bufio.NewScanner(strings.NewReader(log))
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, "Gate open") || len(line) < 21 {
			continue
		}
		clock, err := time.ParseInLocation("0102 15:04:05.000000", line[1:21], time.Local)
		if err != nil {
			return time.Time{}, fmt.Errorf("klog time of %q: %w", line, err)
		}
		y, _, _ := near.Date()
		return time.Date(y, clock.Month(), clock.Day(), clock.Hour(), clock.Minute(), clock.Second(), clock.Nanosecond(), time.Local), nil
	}
	return time.Time{}, fmt.Errorf("no \"Gate open\" line")
}

func row(what string, d []time.Duration) string {
	return fmt.Sprintf("%-46s p50 %6s  p99 %6s  (n=%d)", what, pct(d, 50).Round(time.Millisecond), pct(d, 99).Round(time.Millisecond), len(d))
}

// pct is the p-th percentile (nearest rank) of d.
func pct(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	i := (p*len(s)+99)/100 - 1
	return s[max(i, 0)]
}
