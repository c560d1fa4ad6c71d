package reservation

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// t0 is the start time of every task in these tests.
var t0 = time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)

// insufficientCPU is what the scheduler says about bob's pods.
const insufficientCPU = "0/2 nodes are available: 2 Insufficient cpu."

// at is t0 plus the given seconds.
func at(seconds float64) time.Time {
	return t0.Add(time.Duration(seconds * float64(time.Second)))
}

// mtime is at(seconds) as status stores it.
func mtime(seconds float64) *metav1.Time {
	return ptr.To(metav1.NewTime(at(seconds)))
}

func newPod(party, name string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: party, Name: name}}
}

// boundPod is a pod the scheduler placed, still starting.
func boundPod(party, name string) *corev1.Pod {
	pod := newPod(party, name)
	pod.Spec.NodeName = "node-1"
	pod.Status.Phase = corev1.PodPending
	return pod
}

// unschedulablePod is a pod the scheduler could not place.
func unschedulablePod(party, name, msg string) *corev1.Pod {
	pod := newPod(party, name)
	pod.Status.Phase = corev1.PodPending
	pod.Status.Conditions = []corev1.PodCondition{{
		Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
		Reason: corev1.PodReasonUnschedulable, Message: msg,
	}}
	return pod
}

// failedPod is a bound pod the kubelet failed.
func failedPod(party, name string) *corev1.Pod {
	pod := boundPod(party, name)
	pod.Status.Phase = corev1.PodFailed
	pod.Status.Reason = "OutOfcpu"
	pod.Status.Message = "Pod Node didn't have enough resource: cpu"
	return pod
}

func party(domain string, replicas int, pods ...*corev1.Pod) Party {
	return Party{DomainID: domain, Replicas: replicas, MinReservedPods: replicas, Pods: pods}
}

// alice is reserved, bob cannot be scheduled.
func aliceReservedBobNot() []Party {
	return []Party{
		party("alice", 1, boundPod("alice", "task-0")),
		party("bob", 1, unschedulablePod("bob", "task-0", insufficientCPU)),
	}
}

// noPods are the parties once the round's pods are deleted.
func noPods() []Party {
	return []Party{party("alice", 1), party("bob", 1)}
}

// defaults is the configuration of a 2-party task without scheduleConfig.
func defaults(t *testing.T) Config {
	t.Helper()
	cfg, err := ConfigFor(&kusciav1alpha1.KusciaTaskSpec{Parties: []kusciav1alpha1.PartyInfo{{DomainID: "alice"}, {DomainID: "bob"}}})
	require.NoError(t, err)
	return cfg
}

// roundTrip passes a reservation state through task status JSON, as a
// restarted controller reads it back.
func roundTrip(t *testing.T, st kusciav1alpha1.ReservationStatus) *kusciav1alpha1.ReservationStatus {
	t.Helper()
	data, err := json.Marshal(kusciav1alpha1.KusciaTaskStatus{Reservation: &st})
	require.NoError(t, err)
	var status kusciav1alpha1.KusciaTaskStatus
	require.NoError(t, json.Unmarshal(data, &status))
	require.NotNil(t, status.Reservation)
	return status.Reservation
}

// assertSurvivesRoundTrip checks that a state reads back from status JSON
// as the same instants: no sub-second part is lost. (The zone is: status
// times come back in time.Local.)
func assertSurvivesRoundTrip(t *testing.T, st kusciav1alpha1.ReservationStatus) {
	t.Helper()
	back := roundTrip(t, st)
	assert.True(t, equality.Semantic.DeepEqual(st, *back), "state changed in a status round trip:\n%+v\n%+v", st, *back)
}
