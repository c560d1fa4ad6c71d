//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
)

// scratchNamespace creates a namespace for pods made by hand (no task, so
// the controller leaves them alone), waits for its default ServiceAccount
// (pod admission needs it) and deletes it when the test ends.
func scratchNamespace(t *testing.T, prefix string) string {
	t.Helper()
	ctx := testContext(t)
	ns, err := env.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = env.kube.CoreV1().Namespaces().Delete(context.Background(), ns.Name, metav1.DeleteOptions{})
	})
	eventually(t, 30*time.Second, "the default ServiceAccount of "+ns.Name, func() (bool, string) {
		_, err := env.kube.CoreV1().ServiceAccounts(ns.Name).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, fmt.Sprint(err)
	})
	return ns.Name
}

// singlePodWatch follows one pod through every change the API server reports
// (not samples), checking an invariant on each.
type singlePodWatch struct {
	t      *testing.T
	w      watch.Interface
	last   *corev1.Pod
	events int
}

// watchPod creates pod and watches it from its creation on, so no change
// is missed.
func watchPod(t *testing.T, pod *corev1.Pod) *singlePodWatch {
	t.Helper()
	ctx := testContext(t)
	created, err := env.kube.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	require.NoError(t, err)
	w, err := env.kube.CoreV1().Pods(pod.Namespace).Watch(ctx, metav1.ListOptions{
		FieldSelector:   fields.OneTermEqualSelector("metadata.name", pod.Name).String(),
		ResourceVersion: created.ResourceVersion,
	})
	require.NoError(t, err)
	t.Cleanup(w.Stop)
	return &singlePodWatch{t: t, w: w, last: created}
}

// until reads events until cond holds for the pod, failing the test if
// check (when set) rejects any state seen on the way, or after timeout.
func (p *singlePodWatch) until(timeout time.Duration, what string, check func(*corev1.Pod) error, cond func(*corev1.Pod) bool) *corev1.Pod {
	p.t.Helper()
	if p.verify(check, p.last) && cond(p.last) {
		return p.last
	}
	deadline := time.After(timeout)
	for {
		select {
		case <-deadline:
			p.t.Fatalf("timed out after %s waiting for %s; last seen: %s", timeout, what, describePod(p.last))
		case ev, ok := <-p.w.ResultChan():
			if !ok {
				p.t.Fatalf("watch closed while waiting for %s", what)
			}
			pod, isPod := ev.Object.(*corev1.Pod)
			if !isPod || ev.Type == watch.Deleted {
				p.t.Fatalf("unexpected %s event while waiting for %s: %v", ev.Type, what, ev.Object)
			}
			p.last, p.events = pod, p.events+1
			if p.verify(check, pod) && cond(pod) {
				return pod
			}
		}
	}
}

// holds reads every event for d and fails if check rejects any.
func (p *singlePodWatch) holds(d time.Duration, check func(*corev1.Pod) error) {
	p.t.Helper()
	p.verify(check, p.last)
	end := time.After(d)
	for {
		select {
		case <-end:
			return
		case ev, ok := <-p.w.ResultChan():
			if !ok {
				p.t.Fatalf("watch closed during a %s hold", d)
			}
			pod, isPod := ev.Object.(*corev1.Pod)
			if !isPod || ev.Type == watch.Deleted {
				p.t.Fatalf("unexpected %s event during a %s hold: %v", ev.Type, d, ev.Object)
			}
			p.last, p.events = pod, p.events+1
			p.verify(check, pod)
		}
	}
}

func (p *singlePodWatch) verify(check func(*corev1.Pod) error, pod *corev1.Pod) bool {
	p.t.Helper()
	if check == nil {
		return true
	}
	if err := check(pod); err != nil {
		p.t.Fatalf("after %d event(s): %v; pod: %s", p.events, err, describePod(pod))
	}
	return true
}

// describePod is a one-line summary of a pod's status for failure messages.
func describePod(pod *corev1.Pod) string {
	if pod == nil {
		return "<none>"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s/%s phase=%s node=%q", pod.Namespace, pod.Name, pod.Status.Phase, pod.Spec.NodeName)
	for _, list := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses} {
		for _, s := range list {
			fmt.Fprintf(&b, " %s=%s", s.Name, containerState(s.State))
		}
	}
	return b.String()
}

func containerState(s corev1.ContainerState) string {
	switch {
	case s.Running != nil:
		return "Running"
	case s.Terminated != nil:
		return fmt.Sprintf("Terminated(%d,%s,%q)", s.Terminated.ExitCode, s.Terminated.Reason, s.Terminated.Message)
	case s.Waiting != nil:
		return "Waiting(" + s.Waiting.Reason + ")"
	}
	return "-"
}

// containerStatus returns the status of the named (init or app) container.
func containerStatus(pod *corev1.Pod, name string) *corev1.ContainerStatus {
	for _, list := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	return nil
}
