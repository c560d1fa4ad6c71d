package podstate

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/gate"
)

const insufficientCPU = "0/2 nodes are available: 2 Insufficient cpu."

// pod is a task pod bound to a node and running its container "app", after
// change.
func pod(change func(p *corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "alice", Name: "task-0"},
		Spec:       corev1.PodSpec{NodeName: "node-0", InitContainers: []corev1.Container{{Name: "init"}}, Containers: []corev1.Container{{Name: "app"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{
			Name: "app", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
		}}},
	}
	change(p)
	return p
}

func unbound(p *corev1.Pod) {
	p.Spec.NodeName = ""
	p.Status = corev1.PodStatus{Phase: corev1.PodPending}
}

func unschedulable(msg string) func(p *corev1.Pod) {
	return func(p *corev1.Pod) {
		unbound(p)
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable, Message: msg}}
	}
}

func initializing(p *corev1.Pod) {
	p.Status.Phase = corev1.PodPending
	p.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "init", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "PodInitializing"}}}}
}

func waiting(reason, msg string, lastExit int32) func(p *corev1.Pod) {
	return func(p *corev1.Pod) {
		cs := &p.Status.ContainerStatuses[0]
		cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}
		if lastExit != 0 {
			cs.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{ExitCode: lastExit}
		}
	}
}

func exit(code int32, reason, msg string) func(p *corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Status.Phase = corev1.PodFailed
		if code == 0 {
			p.Status.Phase = corev1.PodSucceeded
		}
		p.Status.ContainerStatuses[0].State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason, Message: msg}}
	}
}

func podReason(reason, msg string) func(p *corev1.Pod) {
	return func(p *corev1.Pod) { p.Status.Reason, p.Status.Message = reason, msg }
}

func markDeleted(p *corev1.Pod) { p.DeletionTimestamp = &metav1.Time{Time: time.Unix(1, 0)} }

func all(changes ...func(p *corev1.Pod)) func(p *corev1.Pod) {
	return func(p *corev1.Pod) {
		for _, c := range changes {
			c(p)
		}
	}
}

// One table for every way the controller reads a pod: its phase as the
// gang and the parties count it, the reason, message and exit code
// podStatuses report, and the one-line story every message tells.
func TestOf(t *testing.T) {
	tests := []struct {
		name      string
		pod       *corev1.Pod
		want      State
		summary   string
		reserved  bool
		live      bool
		terminLog string
	}{
		{name: "unschedulable", pod: pod(unschedulable(insufficientCPU)),
			want:    State{Phase: Pending, Reason: corev1.PodReasonUnschedulable, Message: insufficientCPU},
			summary: insufficientCPU, live: true},
		{name: "unschedulable, message on one line", pod: pod(unschedulable("0/2 nodes are available:\n  2 Insufficient cpu.")),
			want:    State{Phase: Pending, Reason: corev1.PodReasonUnschedulable, Message: insufficientCPU},
			summary: insufficientCPU, live: true},
		{name: "unschedulable, reason only", pod: pod(unschedulable("")),
			want: State{Phase: Pending, Reason: corev1.PodReasonUnschedulable}, summary: "Unschedulable", live: true},
		{name: "created, not looked at yet", pod: pod(unbound),
			want: State{Phase: Pending}, summary: "not scheduled yet", live: true},
		{name: "bound, not started", pod: pod(func(p *corev1.Pod) { p.Status = corev1.PodStatus{Phase: corev1.PodPending} }),
			want: State{Phase: Reserved}, summary: "reserved", reserved: true, live: true},
		{name: "bound, init container running", pod: pod(initializing),
			want: State{Phase: Reserved, Reason: "PodInitializing"}, summary: "reserved", reserved: true, live: true},
		{name: "running", pod: pod(func(*corev1.Pod) {}),
			want: State{Phase: Running}, summary: "running", reserved: true, live: true},
		{name: "running, a container still being created", pod: pod(waiting("ContainerCreating", "", 0)),
			want: State{Phase: Running, Reason: "ContainerCreating"}, summary: "running", reserved: true, live: true},
		{name: "a first ErrImagePull is not fatal", pod: pod(waiting("ErrImagePull", "pull failed", 0)),
			want: State{Phase: Running, Reason: "ErrImagePull", Message: "pull failed"}, summary: "running", reserved: true, live: true},
		{name: "succeeded", pod: pod(exit(0, "Completed", "")),
			want: State{Phase: Succeeded, Reason: "Completed"}, summary: "succeeded", reserved: true},
		{name: "succeeded, then deleted", pod: pod(all(exit(0, "Completed", ""), markDeleted)),
			want: State{Phase: Succeeded, Reason: "Completed"}, summary: "succeeded", reserved: true},
		{name: "exited 1 with a termination message", pod: pod(exit(1, "Error", "psi: no such table\n")),
			want:    State{Phase: Failed, Reason: "Error", Message: "psi: no such table", Container: "app", ExitCode: 1, failure: exited},
			summary: "failed: Error: psi: no such table (container app exited with code 1)", terminLog: "psi: no such table"},
		{name: "exited 137 without a reason", pod: pod(exit(137, "", "")),
			want:    State{Phase: Failed, Reason: "ExitCode 137", Container: "app", ExitCode: 137, failure: exited},
			summary: "failed: ExitCode 137 (container app exited with code 137)"},
		{name: "OOMKilled", pod: pod(exit(137, "OOMKilled", "")),
			want:    State{Phase: Failed, Reason: "OOMKilled", Container: "app", ExitCode: 137, failure: exited},
			summary: "failed: OOMKilled (container app exited with code 137)"},
		{name: "evicted, its container killed", pod: pod(all(exit(137, "Error", ""), podReason("Evicted", "The node was low on resource: memory."))),
			want:      State{Phase: Failed, Reason: "Evicted", Message: "The node was low on resource: memory.", Container: "app", ExitCode: 137, failure: exited},
			summary:   "failed: Evicted: The node was low on resource: memory. (container app exited with code 137)",
			terminLog: "The node was low on resource: memory."},
		{name: "refused by the kubelet", pod: pod(func(p *corev1.Pod) {
			p.Status = corev1.PodStatus{Phase: corev1.PodFailed, Reason: "OutOfcpu", Message: "Pod Node didn't have enough resource: cpu"}
		}),
			want:    State{Phase: Failed, Reason: "OutOfcpu", Message: "Pod Node didn't have enough resource: cpu", failure: exited},
			summary: "failed: OutOfcpu: Pod Node didn't have enough resource: cpu", terminLog: "Pod Node didn't have enough resource: cpu"},
		{name: "failed without any reason", pod: pod(func(p *corev1.Pod) { p.Status = corev1.PodStatus{Phase: corev1.PodFailed} }),
			want: State{Phase: Failed, failure: exited}, summary: "failed: no reason given"},
		{name: "init container exited non-zero", pod: pod(func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodFailed
			p.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "init", State: corev1.ContainerState{
				Terminated: &corev1.ContainerStateTerminated{ExitCode: 2, Reason: "Error", Message: "gate closed"}}}}
			p.Status.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "PodInitializing"}}
		}),
			want:    State{Phase: Failed, Reason: "Error", Message: "gate closed", Container: "init", ExitCode: 2, failure: exited},
			summary: "failed: Error: gate closed (container init exited with code 2)", terminLog: "gate closed"},
		{name: "CrashLoopBackOff", pod: pod(waiting("CrashLoopBackOff", "back-off 10s", 1)),
			want:    State{Phase: Failed, Reason: "CrashLoopBackOff", Message: "back-off 10s", Container: "app", ExitCode: 1, failure: stuck},
			summary: "container app is stuck: CrashLoopBackOff: back-off 10s (last exit code 1)", live: true},
		{name: "ImagePullBackOff", pod: pod(waiting("ImagePullBackOff", "", 0)),
			want:    State{Phase: Failed, Reason: "ImagePullBackOff", Container: "app", failure: stuck},
			summary: "container app is stuck: ImagePullBackOff", live: true},
		{name: "InvalidImageName", pod: pod(waiting("InvalidImageName", `couldn't parse image name "x:"`, 0)),
			want:    State{Phase: Failed, Reason: "InvalidImageName", Message: `couldn't parse image name "x:"`, Container: "app", failure: stuck},
			summary: `container app is stuck: InvalidImageName: couldn't parse image name "x:"`, live: true},
		{name: "CreateContainerConfigError", pod: pod(waiting("CreateContainerConfigError", `configmap "c" not found`, 0)),
			want:    State{Phase: Failed, Reason: "CreateContainerConfigError", Message: `configmap "c" not found`, Container: "app", failure: stuck},
			summary: `container app is stuck: CreateContainerConfigError: configmap "c" not found`, live: true},
		{name: "init container in CrashLoopBackOff", pod: pod(func(p *corev1.Pod) {
			initializing(p)
			p.Status.InitContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
		}),
			want:    State{Phase: Failed, Reason: "CrashLoopBackOff", Container: "init", failure: stuck},
			summary: "container init is stuck: CrashLoopBackOff", live: true},
		{name: "being deleted", pod: pod(markDeleted),
			want:    State{Phase: Failed, Reason: kusciav1alpha1.PodReasonTerminating, Message: "the pod is being deleted", failure: deleting},
			summary: "is being deleted"},
		{name: "unscheduled, being deleted", pod: pod(all(unschedulable(insufficientCPU), markDeleted)),
			want:    State{Phase: Failed, Reason: kusciav1alpha1.PodReasonTerminating, Message: "the pod is being deleted", failure: deleting},
			summary: "is being deleted"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Of(tc.pod)
			want := tc.want
			want.TerminationLog = tc.terminLog
			assert.Equal(t, want, got)
			assert.Equal(t, tc.summary, got.Summary(), "summary")
			assert.Equal(t, tc.reserved, got.Reserved(), "reserved")
			assert.Equal(t, tc.live, got.Live(), "live")
		})
	}
}

// The states the controller gives pods it no longer sees or deletes.
func TestGoneAndStopped(t *testing.T) {
	gone := Gone()
	assert.Equal(t, Failed, gone.Phase)
	assert.Equal(t, kusciav1alpha1.PodReasonDeleted, gone.Reason)
	assert.Equal(t, "was deleted", gone.Summary())
	assert.False(t, gone.Reserved())
	assert.False(t, gone.Live())

	stopped := Stopped("the task failed before this pod finished")
	assert.Equal(t, Failed, stopped.Phase)
	assert.Equal(t, kusciav1alpha1.PodReasonStopped, stopped.Reason)
	assert.Equal(t, "stopped by the controller: the task failed before this pod finished", stopped.Message)
	assert.Equal(t, "was stopped by the controller: the task failed before this pod finished", stopped.Summary())
	assert.False(t, stopped.Live())
}

// pullingPod is a bound, pending pod that pulls during its reservation: the
// install container (gate image), one pull-only container (image "side:1")
// and the gate (image "sf:1.2"), with these init container statuses.
func pullingPod(statuses ...corev1.ContainerStatus) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "alice", Name: "task-0"},
		Spec: corev1.PodSpec{NodeName: "node-0", InitContainers: []corev1.Container{
			{Name: gate.InstallContainerName, Image: "gate:v1"},
			{Name: gate.PullContainerName(1), Image: "side:1"},
			{Name: gate.ContainerName, Image: "sf:1.2"},
			{Name: "prepare", Image: "prep"},
		}},
		Status: corev1.PodStatus{Phase: corev1.PodPending, InitContainerStatuses: statuses},
	}
}

func done(name string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed"}}}
}

func waitingIn(name, reason, msg string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}}
}

func runningIn(name string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
}

// TestPullingDuringTheReservation: a bound pod pulling during its
// reservation is Pulling (not reserved, live) until its gate runs, names the
// image of the first reservation container not done, keeps ErrImagePull and
// ImagePullBackOff as retried pulls with the kubelet's message, and fails at
// once on InvalidImageName or ErrImageNeverPull, naming the image.
func TestPullingDuringTheReservation(t *testing.T) {
	backOff := `Back-off pulling image "sf:1.2": not found`
	tests := []struct {
		name    string
		pod     *corev1.Pod
		phase   Phase
		summary string
	}{
		{"bound, no status yet", pullingPod(), Pulling, "pulling gate:v1"},
		{"install running", pullingPod(runningIn(gate.InstallContainerName)), Pulling, "pulling gate:v1"},
		{"pull-only container pulling", pullingPod(done(gate.InstallContainerName), waitingIn(gate.PullContainerName(1), "PodInitializing", "")),
			Pulling, "pulling side:1"},
		{"gate's image pulling", pullingPod(done(gate.InstallContainerName), done(gate.PullContainerName(1)), waitingIn(gate.ContainerName, "PodInitializing", "")),
			Pulling, "pulling sf:1.2"},
		{"pull failed once", pullingPod(done(gate.InstallContainerName), done(gate.PullContainerName(1)),
			waitingIn(gate.ContainerName, "ErrImagePull", `failed to pull and unpack image "sf:1.2": 403 Forbidden`)),
			Pulling, `pulling sf:1.2: ErrImagePull: failed to pull and unpack image "sf:1.2": 403 Forbidden`},
		{"pull backing off", pullingPod(done(gate.InstallContainerName), done(gate.PullContainerName(1)), waitingIn(gate.ContainerName, "ImagePullBackOff", backOff)),
			Pulling, "pulling sf:1.2: ImagePullBackOff: " + backOff},
		{"gate image backing off", pullingPod(waitingIn(gate.InstallContainerName, "ImagePullBackOff", `Back-off pulling image "gate:v1"`)),
			Pulling, `pulling gate:v1: ImagePullBackOff: Back-off pulling image "gate:v1"`},
		{"gate waits: reserved", pullingPod(done(gate.InstallContainerName), done(gate.PullContainerName(1)), runningIn(gate.ContainerName)),
			Reserved, "reserved"},
		{"gate opened, the application's init runs: reserved", pullingPod(done(gate.InstallContainerName), done(gate.PullContainerName(1)), done(gate.ContainerName), runningIn("prepare")),
			Reserved, "reserved"},
		{"invalid image name: fatal, image named", pullingPod(done(gate.InstallContainerName), done(gate.PullContainerName(1)),
			waitingIn(gate.ContainerName, "InvalidImageName", "couldn't parse image name: invalid reference format")),
			Failed, "container kuscia-gate is stuck: InvalidImageName: couldn't parse image name: invalid reference format (image sf:1.2)"},
		{"never pulled: fatal", pullingPod(done(gate.InstallContainerName), waitingIn(gate.PullContainerName(1), "ErrImageNeverPull",
			`Container image "side:1" is not present with pull policy of Never`)),
			Failed, `container kuscia-pull-1 is stuck: ErrImageNeverPull: Container image "side:1" is not present with pull policy of Never`},
		{"the application's own init container backing off: fatal as before", pullingPod(done(gate.InstallContainerName), done(gate.PullContainerName(1)),
			done(gate.ContainerName), waitingIn("prepare", "ImagePullBackOff", `Back-off pulling image "prep"`)),
			Failed, `container prepare is stuck: ImagePullBackOff: Back-off pulling image "prep"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Of(tt.pod)
			assert.Equal(t, tt.phase, s.Phase)
			assert.Equal(t, tt.summary, s.Summary())
			assert.Equal(t, tt.phase == Reserved, s.Reserved())
			assert.True(t, s.Live(), "a pulling, reserved or stuck pod is live: stopping the task deletes it")
		})
	}

	// Without the install container (--pull-during-reservation=false), a
	// bound pod is reserved and a gate that cannot be pulled is fatal.
	old := pullingPod(waitingIn(gate.ContainerName, "ImagePullBackOff", backOff))
	old.Spec.InitContainers = old.Spec.InitContainers[2:]
	assert.Equal(t, Failed, Of(old).Phase)
	old.Status.InitContainerStatuses = nil
	assert.Equal(t, Reserved, Of(old).Phase)
}

// TestWithPullFailure: a failure seen before is carried over a retry (the
// kubelet's PodInitializing during the next attempt) on the container
// pulling the image it names, and nowhere else.
func TestWithPullFailure(t *testing.T) {
	failed := `failed to pull and unpack image "sf:1.2": 403 Forbidden`
	retrying := pullingPod(done(gate.InstallContainerName), done(gate.PullContainerName(1)), waitingIn(gate.ContainerName, "PodInitializing", ""))
	got := WithPullFailure(retrying, "ErrImagePull", failed)
	assert.Equal(t, "pulling sf:1.2: ErrImagePull: "+failed, Of(got).Summary())
	assert.Equal(t, "PodInitializing", retrying.Status.InitContainerStatuses[2].State.Waiting.Reason, "the pod given is not changed")

	noStatus := pullingPod(done(gate.InstallContainerName), done(gate.PullContainerName(1)))
	assert.Equal(t, "pulling sf:1.2: ImagePullBackOff: "+failed, Of(WithPullFailure(noStatus, "ImagePullBackOff", failed)).Summary())

	for name, tc := range map[string]struct {
		pod             *corev1.Pod
		reason, message string
	}{
		"another image":        {retrying, "ErrImagePull", `failed to pull image "side:1"`},
		"not a pull failure":   {retrying, "CrashLoopBackOff", failed},
		"failing on its own":   {pullingPod(done(gate.InstallContainerName), done(gate.PullContainerName(1)), waitingIn(gate.ContainerName, "ImagePullBackOff", "now")), "ErrImagePull", failed},
		"pulled: gate running": {pullingPod(done(gate.InstallContainerName), done(gate.PullContainerName(1)), runningIn(gate.ContainerName)), "ErrImagePull", failed},
	} {
		assert.Same(t, tc.pod, WithPullFailure(tc.pod, tc.reason, tc.message), name)
	}
}
