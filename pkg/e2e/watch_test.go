//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
)

// podWatch records every pod of a task, from a watch started before the
// task exists (a watch, not a sample: a pod created and deleted between two
// looks is seen too).
type podWatch struct {
	mu sync.Mutex
	// added counts ADDED events by "namespace/name round N".
	added map[string]int
	// lastAdded is when the last ADDED event arrived.
	lastAdded time.Time
	// deleted is when each "namespace/name" was last DELETED.
	deleted map[string]time.Time
}

// watchTaskPods starts watching the pods of the named task.
func watchTaskPods(t *testing.T, task string, namespaces ...string) *podWatch {
	t.Helper()
	return watchPods(testContext(t), t, kusciav1alpha1.LabelTask+"="+task, namespaces...)
}

// watchPods starts watching the pods that match a label selector, until ctx
// ends; none may exist yet.
func watchPods(ctx context.Context, t *testing.T, selector string, namespaces ...string) *podWatch {
	t.Helper()
	w := &podWatch{added: map[string]int{}, deleted: map[string]time.Time{}}
	for _, ns := range namespaces {
		pods := env.kube.CoreV1().Pods(ns)
		list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: selector})
		require.NoError(t, err)
		require.Empty(t, list.Items, "pods matching %s left from an earlier run", selector)
		rw, err := watchtools.NewRetryWatcherWithContext(ctx, list.ResourceVersion, &cache.ListWatch{
			WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
				o.LabelSelector = selector
				return pods.Watch(ctx, o)
			},
		})
		require.NoError(t, err)
		t.Cleanup(rw.Stop)
		go w.record(rw.ResultChan())
	}
	return w
}

func (w *podWatch) record(events <-chan watch.Event) {
	for e := range events {
		pod, ok := e.Object.(*corev1.Pod)
		if !ok {
			continue
		}
		key := pod.Namespace + "/" + pod.Name
		w.mu.Lock()
		switch e.Type {
		case watch.Added:
			w.added[key+" round "+pod.Annotations[builder.AnnotationRound]]++
			w.lastAdded = time.Now()
		case watch.Deleted:
			w.deleted[key] = time.Now()
		}
		w.mu.Unlock()
	}
}

// created is how many pods were created, and when the last one was seen.
func (w *podWatch) created() (n int, last time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range w.added {
		n += c
	}
	return n, w.lastAdded
}

// duplicates lists the (pod, round) pairs created more than once.
func (w *podWatch) duplicates() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for key, n := range w.added {
		if n > 1 {
			out = append(out, fmt.Sprintf("%s: %d creates", key, n))
		}
	}
	return out
}

// adds returns a copy of the ADDED counts.
func (w *podWatch) adds() map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return maps.Clone(w.added)
}

// deletedAt returns when the pod was deleted, if it was.
func (w *podWatch) deletedAt(key string) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	at, ok := w.deleted[key]
	return at, ok
}

// taskWatch records every version of a task's status, as a watch sees them.
type taskWatch struct {
	mu       sync.Mutex
	statuses []kusciav1alpha1.KusciaTaskStatus
}

// watchTask starts watching the named task (it need not exist yet).
func watchTask(t *testing.T, name string) *taskWatch {
	t.Helper()
	tasks := env.kuscia.KusciaV1alpha1().KusciaTasks()
	list, err := tasks.List(testContext(t), metav1.ListOptions{})
	require.NoError(t, err)
	rw, err := watchtools.NewRetryWatcherWithContext(testContext(t), list.ResourceVersion, &cache.ListWatch{
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = "metadata.name=" + name
			return tasks.Watch(ctx, o)
		},
	})
	require.NoError(t, err)
	t.Cleanup(rw.Stop)
	w := &taskWatch{}
	go func() {
		for e := range rw.ResultChan() {
			if task, ok := e.Object.(*kusciav1alpha1.KusciaTask); ok {
				w.mu.Lock()
				w.statuses = append(w.statuses, *task.Status.DeepCopy())
				w.mu.Unlock()
			}
		}
	}()
	return w
}

// seen returns every status seen so far.
func (w *taskWatch) seen() []kusciav1alpha1.KusciaTaskStatus {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]kusciav1alpha1.KusciaTaskStatus{}, w.statuses...)
}
