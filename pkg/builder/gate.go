package builder

import (
	"time"

	corev1 "k8s.io/api/core/v1"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/gate/gatepod"
)

// GateDeadlineMargin is how long a pod's reservation gate outlives the
// task's lifecycle. The controller expires an unreserved task at startTime +
// lifecycleSeconds and deletes its pods; the gate gives up a minute later,
// so while the controller runs it always decides first, and a pod whose
// controller is gone still does not wait forever.
const GateDeadlineMargin = time.Minute

// GatePolicy is the reservation gate the builder adds to every pod.
type GatePolicy struct {
	// Image holds the gate binary (--gate-image). Empty means no gate
	// (--reservation-gate=false): a bound pod starts at once.
	Image string
	// PullImages makes the reservation include the pod's images
	// (--pull-during-reservation): the kubelet pulls them before the gate
	// waits, so a reserved pod starts the moment its gate opens. See
	// gatepod.Options.
	PullImages bool
}

// Enabled reports whether pods get the gate.
func (g GatePolicy) Enabled() bool { return g.Image != "" }

// GateDeadline is when the gate of a task started at start gives up:
// start + lifecycle + GateDeadlineMargin.
func GateDeadline(start time.Time, lifecycle time.Duration) time.Time {
	return start.Add(lifecycle + GateDeadlineMargin)
}

// addGate adds the reservation gate to a built pod when the policy asks for
// it. A template that already uses the gate's container or volume name is
// the user's to fix.
func addGate(pod *corev1.Pod, plan *TaskPlan, party *PartyPlan) error {
	if !plan.Policy.Gate.Enabled() {
		return nil
	}
	opts := gatepod.Options{Image: plan.Policy.Gate.Image, Deadline: plan.GateDeadline, PullImages: plan.Policy.Gate.PullImages}
	if err := gatepod.AddTo(pod, opts); err != nil {
		return inputErrorf(kusciav1alpha1.ReasonInvalidTemplate, "party %s: %v", party.DomainID, err)
	}
	return nil
}
