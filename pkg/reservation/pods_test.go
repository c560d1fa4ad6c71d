package reservation

import (
	"testing"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPodReservedAndFailed(t *testing.T) {
	running := boundPod("alice", "task-0")
	running.Status.Phase = corev1.PodRunning
	succeeded := boundPod("alice", "task-0")
	succeeded.Status.Phase = corev1.PodSucceeded
	deleting := boundPod("alice", "task-0")
	deleting.DeletionTimestamp = &metav1.Time{Time: t0}
	tests := []struct {
		name         string
		pod          *corev1.Pod
		wantReserved bool
		wantFailed   bool
	}{
		{name: "not scheduled", pod: unschedulablePod("alice", "task-0", insufficientCPU)},
		{name: "created, no condition yet", pod: newPod("alice", "task-0")},
		{name: "bound, pending", pod: boundPod("alice", "task-0"), wantReserved: true},
		{name: "running", pod: running, wantReserved: true},
		{name: "succeeded", pod: succeeded, wantReserved: true},
		{name: "failed", pod: failedPod("alice", "task-0"), wantFailed: true},
		{name: "bound, being deleted", pod: deleting},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.wantReserved, PodReserved(tt.pod), "PodReserved")
			assert.Equal(t, tt.wantFailed, PodFailed(tt.pod), "PodFailed")
		})
	}
}

func TestSchedulerReason(t *testing.T) {
	reasonOnly := unschedulablePod("bob", "task-0", "")
	multiline := unschedulablePod("bob", "task-0", "0/2 nodes are available:\n  2 Insufficient cpu.")
	scheduled := boundPod("bob", "task-0")
	scheduled.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}}
	otherFalse := newPod("bob", "task-0")
	otherFalse.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse, Message: "containers not ready"}}
	tests := []struct {
		name string
		pod  *corev1.Pod
		want string
	}{
		{name: "condition message", pod: unschedulablePod("bob", "task-0", insufficientCPU), want: insufficientCPU},
		{name: "message on one line", pod: multiline, want: insufficientCPU},
		{name: "condition reason", pod: reasonOnly, want: "Unschedulable"},
		{name: "no condition", pod: newPod("bob", "task-0"), want: "not scheduled yet"},
		{name: "PodScheduled true", pod: scheduled, want: "not scheduled yet"},
		{name: "other condition false", pod: otherFalse, want: "not scheduled yet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, SchedulerReason(tt.pod))
		})
	}
}

func TestNotReservedReason(t *testing.T) {
	deleting := unschedulablePod("bob", "task-0", insufficientCPU)
	deleting.DeletionTimestamp = &metav1.Time{Time: t0}
	exited := boundPod("bob", "task-0")
	exited.Status.Phase = corev1.PodFailed
	exited.Status.ContainerStatuses = []corev1.ContainerStatus{
		{Name: "sidecar", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}},
		{Name: "main", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "OOMKilled"}}},
	}
	bare := boundPod("bob", "task-0")
	bare.Status.Phase = corev1.PodFailed
	tests := []struct {
		name string
		pod  *corev1.Pod
		want string
	}{
		{name: "unschedulable", pod: unschedulablePod("bob", "task-0", insufficientCPU), want: insufficientCPU},
		{name: "being deleted", pod: deleting, want: "being deleted"},
		{name: "failed with status reason", pod: failedPod("bob", "task-0"), want: "failed: OutOfcpu: Pod Node didn't have enough resource: cpu"},
		{name: "failed container", pod: exited, want: "failed: container main exited with code 137 (OOMKilled)"},
		{name: "failed without reason", pod: bare, want: "failed: no reason given"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, notReservedReason(tt.pod))
		})
	}
}
