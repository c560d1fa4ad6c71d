//go:build realnode

package realnode

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
	"kusciatask.io/controller/pkg/gate"
)

// gateWatch follows every pod of a task from before the task exists and
// records, on every event, an application container that started while its
// pod's gate annotation was not open.
type gateWatch struct {
	mu         sync.Mutex
	violations []string
	events     int
}

func (p *plane) followGates(t *testing.T, name string, namespaces ...string) *gateWatch {
	t.Helper()
	g := &gateWatch{}
	for _, ns := range namespaces {
		p.watchGates(t, g, ns, metav1.ListOptions{LabelSelector: kusciav1alpha1.LabelTask + "=" + builder.TaskLabelValue(name)})
	}
	return g
}

// followPodGate follows the pod ns/name from before it exists.
func (p *plane) followPodGate(t *testing.T, ns, name string) *gateWatch {
	t.Helper()
	g := &gateWatch{}
	p.watchGates(t, g, ns, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
	return g
}

// watchGates feeds g every pod of ns that sel selects; none may exist yet.
// The watch stops when the test ends.
func (p *plane) watchGates(t *testing.T, g *gateWatch, ns string, sel metav1.ListOptions) {
	t.Helper()
	p.watchPods(t, ns, sel, g.observe)
}

// watchPods calls observe with every added or modified pod of ns that sel
// selects, from before any exists (none may yet), until the test ends.
func (p *plane) watchPods(t *testing.T, ns string, sel metav1.ListOptions, observe func(*corev1.Pod)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	list, err := p.kube.CoreV1().Pods(ns).List(ctx, sel)
	require.NoError(t, err)
	require.Empty(t, list.Items, "pods exist before the test in %s (%+v)", ns, sel)
	opts := sel
	opts.ResourceVersion = list.ResourceVersion
	w, err := p.kube.CoreV1().Pods(ns).Watch(ctx, opts)
	require.NoError(t, err)
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		defer w.Stop()
		for ev := range w.ResultChan() {
			if pod, ok := ev.Object.(*corev1.Pod); ok && (ev.Type == watch.Added || ev.Type == watch.Modified) {
				observe(pod)
			}
		}
	}()
}

func (g *gateWatch) observe(pod *corev1.Pod) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.events++
	if gate.IsOpen(pod.Annotations[gate.Annotation]) {
		return
	}
	if err := appNeverStarted(pod); err != nil {
		g.violations = append(g.violations, fmt.Sprintf("%s/%s: %v", pod.Namespace, pod.Name, err))
	}
}

func (g *gateWatch) snapshot() ([]string, int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.violations...), g.events
}

// appNeverStarted: no application container of the pod runs, ran or has a
// start time.
func appNeverStarted(pod *corev1.Pod) error {
	if pod.Status.Phase == corev1.PodRunning || pod.Status.Phase == corev1.PodSucceeded {
		return fmt.Errorf("pod is %s", pod.Status.Phase)
	}
	for _, s := range pod.Status.ContainerStatuses {
		if s.State.Running != nil || s.State.Terminated != nil || s.LastTerminationState.Terminated != nil || ptr.Deref(s.Started, false) {
			return fmt.Errorf("application container %s started: %+v", s.Name, s.State)
		}
	}
	return nil
}
