package plugin

import (
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	kubefake "k8s.io/client-go/kubernetes/fake"

	"kusciatask.io/controller/examples"
	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	kusciafake "kusciatask.io/controller/pkg/generated/clientset/versioned/fake"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// t0 is when the test tasks were created; now is five minutes later.
var (
	t0  = time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	now = t0.Add(5 * time.Minute)
)

func mt(seconds int) *metav1.Time {
	t := metav1.NewTime(t0.Add(time.Duration(seconds) * time.Second))
	return &t
}

// env is a plugin over fake clientsets.
type env struct {
	kube   *kubefake.Clientset
	kuscia *kusciafake.Clientset
	logs   LogStreamer
}

func newEnv(kubeObjs []runtime.Object, tasks ...runtime.Object) *env {
	return &env{kube: kubefake.NewClientset(kubeObjs...), kuscia: kusciafake.NewClientset(tasks...)}
}

// run runs the plugin with args; it returns stdout, stderr and the error.
func (e *env) run(ctx context.Context, args ...string) (string, string, error) {
	var out, errOut bytes.Buffer
	err := e.runTo(ctx, &out, &errOut, args...)
	return out.String(), errOut.String(), err
}

// runTo runs the plugin with args, writing to out and errOut.
func (e *env) runTo(ctx context.Context, out, errOut io.Writer, args ...string) error {
	streams := genericiooptions.IOStreams{In: &bytes.Buffer{}, Out: out, ErrOut: errOut}
	logs := e.logs
	if logs == nil {
		logs = podLogs{e.kube}
	}
	d := deps{
		clients: func() (*Clients, error) { return &Clients{Kube: e.kube, Kuscia: e.kuscia, Logs: logs}, nil },
		now:     func() time.Time { return now },
	}
	cmd := newRoot(genericclioptions.NewConfigFlags(true), streams, d)
	cmd.SetArgs(args)
	cmd.SetOut(out)
	cmd.SetErr(errOut)
	return cmd.ExecuteContext(ctx)
}

// golden compares got with testdata/name.golden (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file; run go test ./pkg/plugin -update")
	require.Equal(t, string(want), got)
}

// psiTask is the seed's PSI task named name, created at t0.
func psiTask(t *testing.T, name string) *kusciav1alpha1.KusciaTask {
	t.Helper()
	task, err := examples.Task(examples.PSITaskFile)
	require.NoError(t, err)
	task.Name = name
	task.UID = types.UID("uid-" + name)
	task.CreationTimestamp = metav1.NewTime(t0)
	return task
}

// waitingTask is Pending in its second round: alice reserved, bob's pod
// cannot be scheduled.
func waitingTask(t *testing.T) *kusciav1alpha1.KusciaTask {
	task := psiTask(t, "psi-waiting")
	bobWhy := "pod bob/psi-waiting-0 is not scheduled: 0/2 nodes are available: 2 Insufficient cpu."
	task.Status = kusciav1alpha1.KusciaTaskStatus{
		Phase: kusciav1alpha1.TaskPending, Reason: kusciav1alpha1.ReasonReserving,
		Message: "waiting for parties [bob] to reserve", StartTime: mt(0), LastReconcileTime: mt(200),
		PartiesSummary: "1/2 reserved",
		Reservation: &kusciav1alpha1.ReservationStatus{
			Round: 2, RoundStartTime: mt(180), FirstReservedTime: mt(181), ReservedParties: []string{"alice"},
			LastFailure: "round 1 released: parties [bob] did not reserve within 30s",
		},
		PartyTaskStatus: []kusciav1alpha1.PartyTaskStatus{
			{DomainID: "alice", Phase: kusciav1alpha1.TaskPending},
			{DomainID: "bob", Phase: kusciav1alpha1.TaskPending, Message: bobWhy},
		},
		PodStatuses: map[string]*kusciav1alpha1.PodStatus{
			"alice/psi-waiting-0": {PodName: "psi-waiting-0", Namespace: "alice", NodeName: "kwok-node-0", PodPhase: corev1.PodPending, Reason: "PodInitializing", CreateTime: mt(180)},
			"bob/psi-waiting-0":   {PodName: "psi-waiting-0", Namespace: "bob", PodPhase: corev1.PodPending, Reason: "Unschedulable", Message: "0/2 nodes are available: 2 Insufficient cpu.", CreateTime: mt(180)},
		},
	}
	return task
}

// failedTask failed when bob's container exited 1.
func failedTask(t *testing.T) *kusciav1alpha1.KusciaTask {
	task := psiTask(t, "psi-failed")
	msg := "party bob failed: pod bob/psi-failed-0: Error (exit code 1): psi: input file missing"
	task.Status = kusciav1alpha1.KusciaTaskStatus{
		Phase: kusciav1alpha1.TaskFailed, Reason: kusciav1alpha1.ReasonPartiesFailed, Message: msg,
		StartTime: mt(0), CompletionTime: mt(12), LastReconcileTime: mt(12), PartiesSummary: "1/2 failed",
		Reservation: &kusciav1alpha1.ReservationStatus{Round: 1, RoundStartTime: mt(1), ReservedParties: []string{"alice", "bob"}, GateOpenedTime: mt(3)},
		PartyTaskStatus: []kusciav1alpha1.PartyTaskStatus{
			{DomainID: "alice", Phase: kusciav1alpha1.TaskFailed, Message: "stopped: the task failed before this party finished"},
			{DomainID: "bob", Phase: kusciav1alpha1.TaskFailed, Message: "pod bob/psi-failed-0: Error (exit code 1): psi: input file missing"},
		},
		PodStatuses: map[string]*kusciav1alpha1.PodStatus{
			"alice/psi-failed-0": {PodName: "psi-failed-0", Namespace: "alice", NodeName: "kwok-node-0", PodPhase: corev1.PodFailed, Reason: kusciav1alpha1.PodReasonStopped, Message: "the task failed before this pod finished", ReadyTime: mt(5)},
			"bob/psi-failed-0":   {PodName: "psi-failed-0", Namespace: "bob", NodeName: "kwok-node-1", PodPhase: corev1.PodFailed, Reason: "Error", ExitCode: 1, TerminationLog: "psi: input file missing", ReadyTime: mt(5)},
		},
	}
	return task
}

// succeededTask ran to Succeeded.
func succeededTask(t *testing.T) *kusciav1alpha1.KusciaTask {
	task := psiTask(t, "psi-done")
	task.CreationTimestamp = metav1.NewTime(t0.Add(-time.Hour))
	task.Status = kusciav1alpha1.KusciaTaskStatus{
		Phase: kusciav1alpha1.TaskSucceeded, Reason: kusciav1alpha1.ReasonSucceeded, Message: "2 of 2 parties succeeded",
		StartTime: mt(-3600), CompletionTime: mt(-3590), PartiesSummary: "2/2 succeeded",
		Reservation: &kusciav1alpha1.ReservationStatus{Round: 1, ReservedParties: []string{"alice", "bob"}},
		PartyTaskStatus: []kusciav1alpha1.PartyTaskStatus{
			{DomainID: "alice", Phase: kusciav1alpha1.TaskSucceeded}, {DomainID: "bob", Phase: kusciav1alpha1.TaskSucceeded},
		},
	}
	return task
}

// taskPod is a pod of task in party's namespace, as the controller labels
// it, running on node with restarts restarts.
func taskPod(task *kusciav1alpha1.KusciaTask, party, node string, restarts int32) *corev1.Pod {
	name := task.Name + "-0"
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: party, UID: types.UID(party + "-" + name),
			Labels: map[string]string{kusciav1alpha1.LabelTaskUID: string(task.UID), kusciav1alpha1.LabelParty: party, kusciav1alpha1.LabelTask: task.Name},
		},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "secretflow"}}},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning,
			ContainerStatuses: []corev1.ContainerStatus{{
				Name: "secretflow", RestartCount: restarts,
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: *mt(3)}},
			}},
		},
	}
}
