package plugin

import (
	"context"
	"fmt"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// followTask follows the logs of the task's pods, starting each pod's
// stream once its container starts (the pods of later rounds included),
// through a watch of the pods in each party's namespace; it returns once
// the task ended and every stream closed, or when ctx ends.
func (o *logsOptions) followTask(ctx context.Context, c *Clients, task *kusciav1alpha1.KusciaTask, parties map[string]bool, f *fanOut) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	f.idle = make(chan struct{}, 1)
	var ended atomic.Bool
	ended.Store(task.Status.Phase.IsTerminal())
	changed := make(chan struct{}, 1)
	markEnded := func() {
		ended.Store(true)
		select {
		case changed <- struct{}{}:
		default:
		}
	}

	var synced []cache.InformerSynced
	onPod := func(obj any) {
		if pod, ok := obj.(*corev1.Pod); ok {
			f.start(ctx, pod, false)
		}
	}
	for _, ns := range partyNamespaces(task) {
		if len(parties) == 0 || parties[ns] {
			synced = append(synced, runInformer(ctx, taskPodsListWatch(c, task, ns), &corev1.Pod{}, onPod, nil))
		}
	}
	onTask := func(obj any) {
		if t, ok := obj.(*kusciav1alpha1.KusciaTask); ok && t.UID == task.UID && t.Status.Phase.IsTerminal() {
			markEnded()
		}
	}
	synced = append(synced, runInformer(ctx, oneTaskListWatch(c, task.Name), &kusciav1alpha1.KusciaTask{}, onTask, markEnded))
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		cancel()
		f.wg.Wait()
		return &CodedError{Code: ExitError, Err: fmt.Errorf("watching the pods of task %s: %w", task.Name, context.Cause(ctx))}
	}
	for {
		if ended.Load() && f.activeStreams() == 0 {
			cancel()
			return f.wait()
		}
		select {
		case <-ctx.Done():
			// Interrupted: what was read is out; only stream errors count.
			return f.wait()
		case <-changed:
		case <-f.idle:
		}
	}
}

// runInformer runs an informer of lw until ctx ends, calling onChange for
// every added or updated object and onDelete (when set) for deletions.
func runInformer(ctx context.Context, lw cache.ListerWatcher, obj runtime.Object, onChange func(any), onDelete func()) cache.InformerSynced {
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    onChange,
		UpdateFunc: func(_, obj any) { onChange(obj) },
	}
	if onDelete != nil {
		handler.DeleteFunc = func(any) { onDelete() }
	}
	_, informer := cache.NewInformerWithOptions(cache.InformerOptions{ListerWatcher: lw, ObjectType: obj, Handler: handler})
	go informer.RunWithContext(ctx)
	return informer.HasSynced
}

// taskPodsListWatch lists and watches the task's pods in one namespace.
func taskPodsListWatch(c *Clients, task *kusciav1alpha1.KusciaTask, namespace string) cache.ListerWatcher {
	pods := c.Kube.CoreV1().Pods(namespace)
	selector := kusciav1alpha1.LabelTaskUID + "=" + string(task.UID)
	return cache.ToListWatcherWithWatchListSemantics(&cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			opts.LabelSelector = selector
			return pods.List(ctx, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.LabelSelector = selector
			return pods.Watch(ctx, opts)
		},
	}, c.Kube)
}

// oneTaskListWatch lists and watches one task by name.
func oneTaskListWatch(c *Clients, name string) cache.ListerWatcher {
	tasks := c.Kuscia.KusciaV1alpha1().KusciaTasks()
	byName := fields.OneTermEqualSelector("metadata.name", name).String()
	return cache.ToListWatcherWithWatchListSemantics(&cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			opts.FieldSelector = byName
			return tasks.List(ctx, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.FieldSelector = byName
			return tasks.Watch(ctx, opts)
		},
	}, c.Kuscia)
}
