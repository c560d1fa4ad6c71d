// Pods that carry a task's labels and controller reference but not this
// controller's mark: told once in an Event, never counted.

package controller

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/klog/v2"
	"k8s.io/utils/lru"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
	"kusciatask.io/controller/pkg/mark"
)

// markAnnotation names the mark in messages.
const markAnnotation = mark.Annotation

// EventForeignPod is the reason of the Warning recorded once per pod that
// carries a task's labels and controller reference but was not made by
// this controller (it has no valid mark): it is ignored.
const EventForeignPod = "ForeignPod"

// msgForeignPod is the message of EventForeignPod.
const msgForeignPod = "pod %s/%s carries this task's labels and controller reference, but this controller did not create it " +
	"(no valid %s annotation): it is not counted, its gate is not opened and it is not reported"

// foreignPodsRemembered bounds the foreign pods told in an Event that the
// controller remembers (by UID), so each is told once and not on every
// sync; one forgotten and seen again is told again.
const foreignPodsRemembered = 4096

// foreignPods remembers the foreign pods already told.
type foreignPods struct {
	told *lru.Cache
}

func newForeignPods(size int) *foreignPods {
	return &foreignPods{told: lru.New(size)}
}

// first reports whether the pod is seen for the first time, and remembers
// it.
func (f *foreignPods) first(uid types.UID) bool {
	if _, ok := f.told.Get(uid); ok {
		return false
	}
	f.told.Add(uid, struct{}{})
	return true
}

// splitMarked separates the pods this controller made for the task (a
// valid mark for the round they name) from foreign ones.
func (c *Controller) splitMarked(task *kusciav1alpha1.KusciaTask, pods []*corev1.Pod) (own, foreign []*corev1.Pod) {
	for _, p := range pods {
		if c.marker.Valid(p, task.UID) {
			own = append(own, p)
		} else {
			foreign = append(foreign, p)
		}
	}
	return own, foreign
}

// reportForeign records a Warning for each foreign pod not told before.
func (c *Controller) reportForeign(ctx context.Context, task *kusciav1alpha1.KusciaTask, foreign []*corev1.Pod) {
	for _, p := range foreign {
		if !c.foreignSeen.first(p.UID) {
			continue
		}
		klog.FromContext(ctx).Info("Ignoring a pod this controller did not create", "pod", klog.KObj(p))
		c.recorder.Eventf(task, corev1.EventTypeWarning, EventForeignPod, msgForeignPod, p.Namespace, p.Name, markAnnotation)
	}
}

// inRoster keeps the pods whose names the roster has: a pod counts for a
// party only under a name the plan gives it.
func inRoster(roster *builder.Roster, pods []*corev1.Pod) []*corev1.Pod {
	names := sets.New[string]()
	for _, party := range roster.Parties {
		for _, ref := range party.Pods {
			names.Insert(ref.Key())
		}
	}
	out := make([]*corev1.Pod, 0, len(pods))
	for _, p := range pods {
		if names.Has(p.Namespace + "/" + p.Name) {
			out = append(out, p)
		}
	}
	return out
}

// adoptable says whether an existing pod found where the controller
// creates one (AlreadyExists) is the very pod it wanted: marked by this
// controller for the same task and round. A pod of this controller's from
// another round is on its way out (retried); anything else in the way
// fails the task with ResourceConflict.
func (c *Controller) adoptable(task *kusciav1alpha1.KusciaTask, want, existing *corev1.Pod) error {
	key := builder.KeyOf(want)
	if !c.marker.Valid(existing, task.UID) {
		return &builder.InputError{
			Reason: kusciav1alpha1.ReasonResourceConflict,
			Message: key + " already exists and was not created by this controller for this task (no valid " +
				markAnnotation + " annotation); delete or rename it",
		}
	}
	if got, wantRound := existing.Annotations[builder.AnnotationRound], want.Annotations[builder.AnnotationRound]; got != wantRound {
		return &retryableError{reason: kusciav1alpha1.ReasonCreateFailed,
			err: fmt.Errorf("create %s: the pod of reservation round %s is still there (this is round %s)", key, got, wantRound)}
	}
	return nil
}
