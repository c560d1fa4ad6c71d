// Reporting a finished phase the task's own pods do not explain.

package controller

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/controller/informers"
	"kusciatask.io/controller/pkg/status"
)

// msgStatusTampered is the message of the StatusTampered Warning: the
// claimed phase and what the pods show.
const msgStatusTampered = "status.phase was set to %s by someone other than the controller (%s); no pod was stopped"

// reportTampered writes, once, the status of a finished task whose phase
// its pods do not explain (status.Tampered), and records a Warning. It
// reads the task from the API server first: the cache holds a finished
// task without its pods' and services' reports (informers.TrimTask), and writeStatus
// refuses to write over a finished status for that reason. A task read
// back already reported, or whose phase the pods now explain, is left
// alone.
func (c *Controller) reportTampered(ctx context.Context, tc *taskContext, st step) error {
	tasks := c.kusciaClient.KusciaV1alpha1().KusciaTasks()
	fresh, err := tasks.Get(ctx, tc.stored.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) || (err == nil && fresh.UID != tc.stored.UID) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read task %s to report its tampered status: %w", tc.stored.Name, err)
	}
	if !fresh.Status.Phase.IsTerminal() || fresh.Status.Reason == kusciav1alpha1.ReasonStatusTampered {
		return nil
	}
	in := status.Input{Task: fresh, Roster: st.roster, Pods: tc.children.pods, Services: tc.children.services, Now: tc.now}
	ok, why := status.Explains(in)
	if ok {
		return nil // the next sync stops what the phase says
	}
	updated := fresh.DeepCopy()
	updated.Status = status.Tampered(in, why)
	written, err := tasks.UpdateStatus(ctx, updated, metav1.UpdateOptions{FieldManager: ControllerName})
	if err != nil {
		return fmt.Errorf("update status of task %s (tampered): %w", fresh.Name, err)
	}
	c.tasks.Mutation(informers.TrimTask(written))
	klog.FromContext(ctx).Info("A finished phase the task's pods do not explain; no pod stopped", "phase", fresh.Status.Phase, "why", why)
	c.recorder.Eventf(fresh, corev1.EventTypeWarning, string(kusciav1alpha1.ReasonStatusTampered), msgStatusTampered, fresh.Status.Phase, why)
	return nil
}
