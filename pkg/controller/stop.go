// Stopping a task's pods.

package controller

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// stopPods deletes the pods a status reports as stopped: the one place the
// controller deletes pods. The UID precondition keeps a delete from hitting
// a newer pod of the same name.
func (c *Controller) stopPods(ctx context.Context, task *kusciav1alpha1.KusciaTask, pods []*corev1.Pod) error {
	var errs []error
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		uid := p.UID
		err := c.kubeClient.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{
			Preconditions: &metav1.Preconditions{UID: &uid},
		})
		switch {
		case err == nil:
			klog.FromContext(ctx).V(2).Info("Deleted pod", "pod", klog.KObj(p), "kusciatask", task.Name)
			c.expectations.deleted(task.Name, kindPod, p)
		case apierrors.IsNotFound(err), apierrors.IsConflict(err):
			// Gone already, or replaced by a pod this delete must not touch.
		default:
			errs = append(errs, fmt.Errorf("delete pod %s/%s: %w", p.Namespace, p.Name, err))
		}
	}
	return errors.Join(errs...)
}
