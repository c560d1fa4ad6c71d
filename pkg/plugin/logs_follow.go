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
	poke := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}

	selector := kusciav1alpha1.LabelTaskUID + "=" + string(task.UID)
	var synced []cache.InformerSynced
	for _, ns := range partyNamespaces(task) {
		if len(parties) > 0 && !parties[ns] {
			continue
		}
		pods := c.Kube.CoreV1().Pods(ns)
		lw := cache.ToListWatcherWithWatchListSemantics(&cache.ListWatch{
			ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
				opts.LabelSelector = selector
				return pods.List(ctx, opts)
			},
			WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
				opts.LabelSelector = selector
				return pods.Watch(ctx, opts)
			},
		}, c.Kube)
		onPod := func(obj any) {
			if pod, ok := obj.(*corev1.Pod); ok {
				f.start(ctx, pod, false)
			}
		}
		_, informer := cache.NewInformerWithOptions(cache.InformerOptions{
			ListerWatcher: lw,
			ObjectType:    &corev1.Pod{},
			Handler: cache.ResourceEventHandlerFuncs{
				AddFunc:    onPod,
				UpdateFunc: func(_, obj any) { onPod(obj) },
			},
		})
		go informer.RunWithContext(ctx)
		synced = append(synced, informer.HasSynced)
	}

	tasks := c.Kuscia.KusciaV1alpha1().KusciaTasks()
	byName := fields.OneTermEqualSelector("metadata.name", task.Name).String()
	onTask := func(obj any) {
		if t, ok := obj.(*kusciav1alpha1.KusciaTask); ok && t.UID == task.UID && t.Status.Phase.IsTerminal() {
			ended.Store(true)
			poke()
		}
	}
	_, taskInformer := cache.NewInformerWithOptions(cache.InformerOptions{
		ListerWatcher: cache.ToListWatcherWithWatchListSemantics(&cache.ListWatch{
			ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
				opts.FieldSelector = byName
				return tasks.List(ctx, opts)
			},
			WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
				opts.FieldSelector = byName
				return tasks.Watch(ctx, opts)
			},
		}, c.Kuscia),
		ObjectType: &kusciav1alpha1.KusciaTask{},
		Handler: cache.ResourceEventHandlerFuncs{
			AddFunc:    onTask,
			UpdateFunc: func(_, obj any) { onTask(obj) },
			DeleteFunc: func(any) { ended.Store(true); poke() },
		},
	})
	go taskInformer.RunWithContext(ctx)
	synced = append(synced, taskInformer.HasSynced)
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
			err := f.wait()
			if ctx.Err() != nil && err == nil {
				return nil
			}
			return err
		case <-changed:
		case <-f.idle:
		}
	}
}
