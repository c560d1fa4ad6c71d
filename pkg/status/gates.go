package status

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/gate"
	"kusciatask.io/controller/pkg/podstate"
)

// openGates lists the pods whose reservation gate the controller opens: in
// a Running task, every live pod not stopped whose gate is still closed.
// The status written first says Running; the opening follows from it, so a
// controller stopped in between opens the gates at its next sync. A pod
// made without a gate (--reservation-gate=false) has no annotation and is
// never listed.
func (n *next) openGates() {
	if n.s.Phase != kusciav1alpha1.TaskRunning {
		return
	}
	for _, pod := range n.in.Pods {
		if _, stopped := n.stopped[podKey(pod)]; stopped || !gateClosed(pod) || !podstate.Of(pod).Live() {
			continue
		}
		n.open = append(n.open, pod)
	}
}

// gateClosed reports whether a pod carries a reservation gate that is not
// open yet.
func gateClosed(pod *corev1.Pod) bool {
	v, gated := pod.Annotations[gate.Annotation]
	return gated && !gate.IsOpen(v)
}

// anyGated reports whether any of the pods carries a reservation gate.
func anyGated(pods []*corev1.Pod) bool {
	for _, pod := range pods {
		if _, gated := pod.Annotations[gate.Annotation]; gated {
			return true
		}
	}
	return false
}

// wholeSecond is t as status stores it: whole seconds, in UTC.
func wholeSecond(t time.Time) *metav1.Time {
	mt := metav1.NewTime(time.Unix(t.Unix(), 0).UTC())
	return &mt
}
