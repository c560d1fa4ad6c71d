//go:build e2e && bench

// The run's watches: pod and task informers feeding the tally of the
// current run, which the phases wait on.

package bench

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
	"kusciatask.io/controller/pkg/generated/clientset/versioned"
	kusciainformers "kusciatask.io/controller/pkg/generated/informers/externalversions"
)

// benchWatch follows the bench's pods and tasks with two informers (watches,
// never polling the API server) and feeds every event to the tally of the
// current run.
type benchWatch struct {
	mu    sync.Mutex
	tally *tally
}

// tally counts, for the objects whose name starts with prefix, what a run
// waits for. Times are when the harness saw the event.
type tally struct {
	prefix string
	// podsPerTask is how many pods each task has (2 for the seed tasks).
	podsPerTask int
	// present: pods that exist; running: pods seen Running (or past it);
	// done: pods seen Succeeded.
	present, running, done map[string]bool
	// succeededPods counts each task's pods seen Succeeded; lastPodDone is
	// when its last one was seen Succeeded.
	succeededPods map[string]int
	lastPodDone   map[string]time.Time
	// podsOf lists each task's pods (namespace/name) in the order seen,
	// by the task label's value.
	podsOf map[string][]string
	// tasks: tasks that exist; taskDone: when each was seen Succeeded;
	// taskFailed: those seen Failed.
	tasks      map[string]bool
	taskDone   map[string]time.Time
	taskFailed map[string]bool
	changed    chan struct{}
}

func newTally(prefix string, podsPerTask int) *tally {
	return &tally{
		prefix: prefix, podsPerTask: podsPerTask,
		present: map[string]bool{}, running: map[string]bool{}, done: map[string]bool{},
		succeededPods: map[string]int{}, lastPodDone: map[string]time.Time{}, podsOf: map[string][]string{},
		tasks: map[string]bool{}, taskDone: map[string]time.Time{}, taskFailed: map[string]bool{},
		changed: make(chan struct{}, 1),
	}
}

// startBenchWatch starts pod informers on the domain namespaces (objects
// with a task label only) and a KusciaTask informer, and waits for them to
// sync.
func startBenchWatch(ctx context.Context, kube kubernetes.Interface, kuscia versioned.Interface) (*benchWatch, error) {
	w := &benchWatch{}
	byTaskLabel := informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = kusciav1alpha1.LabelTask })
	var synced []cache.InformerSynced
	for _, ns := range []string{"alice", "bob"} {
		f := informers.NewSharedInformerFactoryWithOptions(kube, 0, informers.WithNamespace(ns), byTaskLabel)
		pods := f.Core().V1().Pods().Informer()
		if _, err := pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { w.pod(obj, false) },
			UpdateFunc: func(_, obj any) { w.pod(obj, false) },
			DeleteFunc: func(obj any) { w.pod(obj, true) },
		}); err != nil {
			return nil, fmt.Errorf("watch pods in %s: %w", ns, err)
		}
		synced = append(synced, pods.HasSynced)
		f.Start(ctx.Done())
	}
	kf := kusciainformers.NewSharedInformerFactory(kuscia, 0)
	tasks := kf.Kuscia().V1alpha1().KusciaTasks().Informer()
	if _, err := tasks.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { w.task(obj, false) },
		UpdateFunc: func(_, obj any) { w.task(obj, false) },
		DeleteFunc: func(obj any) { w.task(obj, true) },
	}); err != nil {
		return nil, fmt.Errorf("watch tasks: %w", err)
	}
	synced = append(synced, tasks.HasSynced)
	kf.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return nil, fmt.Errorf("bench watches did not sync")
	}
	return w, nil
}

// follow makes t the tally fed from now on; objects already present are
// not replayed, so a run's prefix must be new or its objects gone.
func (w *benchWatch) follow(t *tally) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.tally = t
}

func (w *benchWatch) pod(obj any, deleted bool) {
	now := time.Now()
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	t := w.tally
	if t == nil || !strings.HasPrefix(pod.Name, t.prefix) {
		return
	}
	key := pod.Namespace + "/" + pod.Name
	switch {
	case deleted:
		delete(t.present, key)
	default:
		if task := pod.Labels[kusciav1alpha1.LabelTask]; !slices.Contains(t.podsOf[task], key) {
			t.podsOf[task] = append(t.podsOf[task], key)
		}
		t.present[key] = true
		switch pod.Status.Phase {
		case corev1.PodRunning:
			t.running[key] = true
		case corev1.PodSucceeded:
			t.running[key] = true
			if task := pod.Labels[kusciav1alpha1.LabelTask]; !t.done[key] {
				t.done[key] = true
				t.succeededPods[task]++
				if t.succeededPods[task] == t.podsPerTask {
					t.lastPodDone[task] = now
				}
			}
		}
	}
	t.notify()
}

func (w *benchWatch) task(obj any, deleted bool) {
	now := time.Now()
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	task, ok := obj.(*kusciav1alpha1.KusciaTask)
	if !ok {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	t := w.tally
	if t == nil || !strings.HasPrefix(task.Name, t.prefix) {
		return
	}
	if deleted {
		delete(t.tasks, task.Name)
	} else {
		t.tasks[task.Name] = true
		if _, seen := t.taskDone[task.Name]; !seen && task.Status.Phase == kusciav1alpha1.TaskSucceeded {
			t.taskDone[task.Name] = now
		}
		if task.Status.Phase == kusciav1alpha1.TaskFailed {
			t.taskFailed[task.Name] = true
		}
	}
	t.notify()
}

func (t *tally) notify() {
	select {
	case t.changed <- struct{}{}:
	default:
	}
}

// counts of a tally, read under the watch's lock.
type counts struct {
	present, running, podsDone, tasks, tasksDone, tasksFailed int
}

func (w *benchWatch) counts() counts {
	w.mu.Lock()
	defer w.mu.Unlock()
	t := w.tally
	return counts{present: len(t.present), running: len(t.running), podsDone: len(t.done),
		tasks: len(t.tasks), tasksDone: len(t.taskDone), tasksFailed: len(t.taskFailed)}
}

// waitUntil blocks until cond holds for the current tally's counts, woken by
// watch events only, or fails after timeout saying what it saw last.
func (w *benchWatch) waitUntil(ctx context.Context, timeout time.Duration, what string, cond func(counts) bool) error {
	w.mu.Lock()
	changed := w.tally.changed
	w.mu.Unlock()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		c := w.counts()
		if cond(c) {
			return nil
		}
		select {
		case <-changed:
		case <-deadline.C:
			return fmt.Errorf("timed out after %s waiting for %s (saw %+v)", timeout, what, c)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// timeline is, per task, when its last pod and the task were seen
// Succeeded (zero when not seen).
func (w *benchWatch) timeline() map[string][2]time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string][2]time.Time{}
	for task, done := range w.tally.taskDone {
		out[task] = [2]time.Time{w.tally.lastPodDone[builder.TaskLabelValue(task)], done}
	}
	return out
}

// podsOfTask are the pods seen of the task named name.
func (w *benchWatch) podsOfTask(name string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.tally.podsOf[builder.TaskLabelValue(name)])
}

// reactions are, per task whose last pod and the task itself were seen
// Succeeded, the time from the one to the other.
func (w *benchWatch) reactions() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []time.Duration
	for task, done := range w.tally.taskDone {
		if pod, ok := w.tally.lastPodDone[builder.TaskLabelValue(task)]; ok {
			out = append(out, done.Sub(pod))
		}
	}
	return out
}
