package reservation

import (
	"time"

	corev1 "k8s.io/api/core/v1"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// Defaults used when scheduleConfig or one of its fields is absent.
const (
	DefaultResourceReservedSeconds = 30
	DefaultLifecycleSeconds        = 300
	DefaultRetryIntervalSeconds    = 30
)

// Config is a task's schedule configuration with every default applied; see
// ConfigFor. The durations are whole seconds.
type Config struct {
	ResourceReserved   time.Duration
	Lifecycle          time.Duration
	RetryInterval      time.Duration
	MinReservedMembers int
}

// Party is one party as the tracker sees it.
type Party struct {
	DomainID string
	// MinReservedPods is how many of its pods must be reserved, as returned
	// by the function MinReservedPods. A value outside 1..Replicas (the zero
	// value included) is taken as Replicas.
	MinReservedPods int
	// Replicas is how many pods the party runs.
	Replicas int
	// Pods are the party's pods of the current round (the controller filters
	// out pods of older rounds and pods being deleted).
	Pods []*corev1.Pod
	// GroupMessage is why kube-scheduler cannot place the party's PodGroup
	// (its condition PodGroupInitiallyScheduled=False), if it said so; it
	// follows the party's pods in the messages.
	GroupMessage string
}

// Action is what the controller must do after an evaluation.
type Action string

const (
	// ActionCreate: no round is under way (first sync, or the retry interval
	// after a release has passed and the old pods are gone): create the
	// round's pods. Decision.State holds the new round.
	ActionCreate Action = "Create"
	// ActionWait: the round is under way and not decided yet; evaluate again
	// at Decision.RequeueAt at the latest (pod events may come sooner).
	ActionWait Action = "Wait"
	// ActionReserved: enough parties reserved; the task may run.
	// Decision.UnreservedParties lists the parties whose pods must be deleted
	// because the gang went ahead without them (minReservedMembers < parties).
	ActionReserved Action = "Reserved"
	// ActionRelease: the round failed; delete every pod of the task. While
	// the task waits for its next round Evaluate keeps answering Release as
	// long as pods remain, then Wait until the retry time, then Create.
	ActionRelease Action = "Release"
	// ActionExpire: lifecycleSeconds passed without a reservation; fail the
	// task with reason ReservationExpired and Decision.Message.
	ActionExpire Action = "Expire"
	// ActionFail: a pod of the round is stuck on an image no round can
	// bring (see podstate.State.ImageUnavailable); fail the task at once
	// with reason ImageUnavailable and Decision.Message.
	ActionFail Action = "Fail"
)

// Decision is the outcome of Evaluate.
type Decision struct {
	Action Action
	// State is the reservation status to persist in task status. It is
	// always set, also when unchanged. Its times are whole seconds in UTC,
	// as they come back from a status round trip.
	State kusciav1alpha1.ReservationStatus
	// RequeueAt is when the decision may change without any pod event: the
	// next deadline, a whole second in UTC. Zero when no timer is needed
	// (Create, Reserved, Expire).
	RequeueAt time.Time
	// ReservedParties and UnreservedParties split the parties (spec order).
	ReservedParties   []string
	UnreservedParties []string
	// Message explains the decision for events and status (why a round was
	// released, which parties could not reserve and the scheduler's reason).
	Message string
}
