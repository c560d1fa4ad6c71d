// Opening the reservation gates of a reserved gang's pods (gate patches).

package controller

import (
	"context"
	"errors"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/gate"
)

// kindPodGate names the expectation that a pod's gate shows open.
const kindPodGate = "pod gate"

// patchGates opens the reservation gate of each pod a Running status lists,
// with one JSON merge patch per pod carrying the pod's UID: a patch never
// opens a newer pod of the same name (the API server refuses to change a
// UID). The patches go out concurrently, at most maxCreateBatch at once:
// the gang's nodes wait idle until the last gate opens. Each opened gate is
// expected in the pod cache before the task syncs again, so a sync never
// patches a gate it already opened. A pod gone or replaced meanwhile is
// skipped; other errors are returned for a retry.
func (c *Controller) patchGates(ctx context.Context, task *kusciav1alpha1.KusciaTask, pods []*corev1.Pod) error {
	errs := make([]error, len(pods))
	sem := make(chan struct{}, c.maxCreateBatch)
	var wg sync.WaitGroup
	for i, p := range pods {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = c.openGate(ctx, task, p)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// openGate opens the gate of one pod.
func (c *Controller) openGate(ctx context.Context, task *kusciav1alpha1.KusciaTask, p *corev1.Pod) error {
	patch, err := gate.OpenPatch(p.UID)
	if err != nil {
		return fmt.Errorf("pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	patched, err := c.gateClient.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.MergePatchType, patch,
		metav1.PatchOptions{FieldManager: ControllerName})
	switch {
	case err == nil:
		klog.FromContext(ctx).V(2).Info("Opened the gate", "pod", klog.KObj(p), "kusciatask", task.Name)
		c.expectations.gateOpened(task.Name, patched)
	case apierrors.IsNotFound(err), apierrors.IsInvalid(err), apierrors.IsConflict(err):
		// Gone, or replaced by a newer pod this patch must not open.
	default:
		return fmt.Errorf("open the gate of pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	return nil
}
