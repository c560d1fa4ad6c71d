package plugin

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
)

func event(name, ns, kind, objNS, objName string, uid types.UID, at int, typ, reason, msg string) *corev1.Event {
	return &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: name, Namespace: ns},
		InvolvedObject: corev1.ObjectReference{Kind: kind, Namespace: objNS, Name: objName, UID: uid},
		LastTimestamp:  *mt(at), FirstTimestamp: *mt(at), Type: typ, Reason: reason, Message: msg, Count: 1,
	}
}

// The task's, its pods' (live or remembered by status) and its PodGroups'
// events across the parties' namespaces, oldest first; nothing else.
func TestEvents(t *testing.T) {
	task := waitingTask(t)
	delete(task.Status.PodStatuses, "bob/psi-waiting-0") // bob's pod is found by its label
	bobPod := taskPod(task, "bob", "", 0)
	repeated := event("e6", "bob", "Pod", "bob", "psi-waiting-0", "", 200, "Warning", "FailedScheduling", "0/2 nodes are available: 2 Insufficient cpu.")
	repeated.Count = 7
	objs := []runtime.Object{
		bobPod,
		event("e1", "default", "KusciaTask", "", "psi-waiting", task.UID, 0, "Normal", "Pending", "task accepted; creating its resources"),
		event("e2", "default", "KusciaTask", "", "psi-waiting", "uid-of-an-older-task", 1, "Normal", "Pending", "an older task of the same name"),
		event("e3", "default", "KusciaTask", "", "other", "uid-other", 2, "Normal", "Pending", "another task"),
		event("e4", "alice", "Pod", "alice", "psi-waiting-0", "", 181, "Normal", "Scheduled", "Successfully assigned alice/psi-waiting-0 to kwok-node-0"),
		event("e5", "alice", "Pod", "alice", "unrelated-0", "", 182, "Normal", "Scheduled", "not this task's"),
		repeated,
		event("e7", "bob", "PodGroup", "bob", "psi-waiting-guest", "", 190, "Warning", "Unschedulable", "gang cannot be placed"),
		event("e8", "default", "KusciaTask", "", "psi-waiting", task.UID, 30, "Warning", "RoundReleased", "round 1 released"),
	}
	task.Spec.Parties[1].Role = "guest"
	e := newEnv(objs, task)
	out, _, err := e.run(context.Background(), "events", task.Name)
	require.NoError(t, err)
	golden(t, "events", out)
}

func TestEventsNone(t *testing.T) {
	out, _, err := newEnv(nil, waitingTask(t)).run(context.Background(), "events", "psi-waiting")
	require.NoError(t, err)
	require.Equal(t, "No events found.\n", out)
}
