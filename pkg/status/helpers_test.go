package status

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"kusciatask.io/controller/examples"
	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
	"kusciatask.io/controller/pkg/reservation"
)

// t0 is when the controller first sees every task of these tests; it has a
// sub-second part, as a real clock does.
var t0 = time.Date(2025, 6, 1, 10, 0, 0, 400_000_000, time.UTC)

// at is t0 plus the given seconds.
func at(seconds float64) time.Time {
	return t0.Add(time.Duration(seconds * float64(time.Second)))
}

// mt is at(seconds) as a metav1.Time.
func mt(seconds float64) *metav1.Time {
	return ptr.To(metav1.NewTime(at(seconds)))
}

func loadTask(t *testing.T, file string) *kusciav1alpha1.KusciaTask {
	t.Helper()
	task, err := examples.Task(file)
	require.NoError(t, err)
	return task
}

// exampleInputs are the example AppImages and domains.
func exampleInputs(t *testing.T) builder.Inputs {
	t.Helper()
	images, err := examples.AppImages()
	require.NoError(t, err)
	domains, err := examples.Domains()
	require.NoError(t, err)
	return builder.Inputs{AppImages: images, Namespaces: domains}
}

// fixture is a task resolved from the examples, with its pods and services
// as the builder makes them (before the apiserver and kubelet touch them).
type fixture struct {
	task     *kusciav1alpha1.KusciaTask
	plan     *builder.TaskPlan
	pods     []*corev1.Pod
	services []*corev1.Service
}

// newFixture loads an example task, lets mutate change it, and builds it.
func newFixture(t *testing.T, file string, mutate func(*kusciav1alpha1.KusciaTask)) *fixture {
	t.Helper()
	return newFixtureIn(t, file, exampleInputs(t), mutate)
}

// newFixtureIn is newFixture built from the inputs in (and their policy).
func newFixtureIn(t *testing.T, file string, in builder.Inputs, mutate func(*kusciav1alpha1.KusciaTask)) *fixture {
	t.Helper()
	task := loadTask(t, file)
	if mutate != nil {
		mutate(task)
	}
	plan, err := builder.PlanTask(task, in)
	require.NoError(t, err)
	f := &fixture{task: task, plan: plan}
	parties, err := builder.BuildTask(context.Background(), task, plan, 1)
	require.NoError(t, err)
	for _, objs := range parties {
		for _, p := range objs.Pods {
			p.CreationTimestamp = metav1.NewTime(at(1).Truncate(time.Second))
			f.pods = append(f.pods, p)
		}
		for _, s := range objs.Services {
			s.CreationTimestamp = metav1.NewTime(at(1).Truncate(time.Second))
			f.services = append(f.services, s)
		}
	}
	return f
}

func psiFixture(t *testing.T) *fixture {
	return newFixture(t, "secretflow-task-psi.yaml", nil)
}

// pod returns the fixture's pod namespace/name, failing when absent.
func (f *fixture) pod(t *testing.T, key string) *corev1.Pod {
	t.Helper()
	for _, p := range f.pods {
		if p.Namespace+"/"+p.Name == key {
			return p
		}
	}
	require.Failf(t, "no pod", "%s", key)
	return nil
}

// without returns the fixture's pods except the named ones.
func (f *fixture) without(keys ...string) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range f.pods {
		drop := false
		for _, k := range keys {
			drop = drop || p.Namespace+"/"+p.Name == k
		}
		if !drop {
			out = append(out, p)
		}
	}
	return out
}

// phase is a status phase function with what the sync found bound to it:
// Running and Finished as they are, pending and failed for Pending and
// Failed. Tests call the phase a task is in, as the controller's phase
// handlers do.
type phase func(Input) Next

// pending is Pending with the reservation decision d, and whether every
// child of the round is in the cache.
func pending(d *reservation.Decision, created bool) phase {
	return func(in Input) Next { return Pending(in, *d, Resources{Created: created}) }
}

// failed is Failed for the input error ie.
func failed(ie *builder.InputError) phase {
	return func(in Input) Next { return Failed(in, ie.Reason, ie.Message) }
}

// evaluate runs the reservation tracker over the fixture's pods, as the
// Pending handler does.
func (f *fixture) evaluate(state *kusciav1alpha1.ReservationStatus, now time.Time) *reservation.Decision {
	parties := f.plan.Roster().ReservationParties(f.pods)
	start := now
	if f.task.Status.StartTime != nil {
		start = f.task.Status.StartTime.Time
	}
	d := reservation.Evaluate(f.plan.Schedule, state, start, parties, now)
	return &d
}

// input is the fixture as a status Input at now.
func (f *fixture) input(now time.Time) Input {
	return Input{Task: f.task, Roster: f.plan.Roster(), Pods: f.pods, Services: f.services, Now: now}
}

// compute runs step over the fixture's children at now and stores the
// result as the task's status, through a JSON round trip as the apiserver
// does. It returns the computed status (before the trip).
func (f *fixture) compute(t *testing.T, now time.Time, step phase) kusciav1alpha1.KusciaTaskStatus {
	t.Helper()
	s := step(f.input(now)).Status
	f.task.Status = roundTrip(t, s)
	return s
}

// roundTrip passes a status through JSON, as a write and a read back do.
func roundTrip(t *testing.T, s kusciav1alpha1.KusciaTaskStatus) kusciav1alpha1.KusciaTaskStatus {
	t.Helper()
	data, err := json.Marshal(s)
	require.NoError(t, err)
	var out kusciav1alpha1.KusciaTaskStatus
	require.NoError(t, json.Unmarshal(data, &out))
	return out
}

// toRunning takes a fresh fixture through the first sync and a reserved
// second sync, leaving its pods bound and running.
func (f *fixture) toRunning(t *testing.T) {
	t.Helper()
	f.compute(t, at(0), pending(f.evaluate(nil, at(0)), true))
	for _, p := range f.pods {
		bind(p)
		run(p, at(3))
	}
	d := f.evaluate(f.task.Status.Reservation, at(3))
	require.Equal(t, reservation.ActionReserved, d.Action)
	f.compute(t, at(3), pending(d, false))
	require.Equal(t, kusciav1alpha1.TaskRunning, f.task.Status.Phase)
}

// releaseRoundOne takes a fresh fixture through round 1: alice's pod
// bound, running and ready at 2s, bob's unschedulable, the round released
// at 40s. It returns the status of the release.
func (f *fixture) releaseRoundOne(t *testing.T) kusciav1alpha1.KusciaTaskStatus {
	t.Helper()
	f.compute(t, at(0), pending(f.evaluate(nil, at(0)), true))
	bind(f.pod(t, "alice/secretflow-task-psi-0"))
	run(f.pod(t, "alice/secretflow-task-psi-0"), at(1))
	ready(f.pod(t, "alice/secretflow-task-psi-0"), corev1.ConditionTrue, at(2))
	unschedulable(f.pod(t, "bob/secretflow-task-psi-0"), "0/2 nodes are available: 2 Insufficient cpu.")
	f.compute(t, at(2), pending(f.evaluate(f.task.Status.Reservation, at(2)), false))
	s := f.compute(t, at(40), pending(f.evaluate(f.task.Status.Reservation, at(40)), false))
	require.NotNil(t, s.Reservation.ReleasedTime, "the round is released")
	return s
}

// Pod states.

func bind(p *corev1.Pod) {
	p.Spec.NodeName = "node-" + p.Namespace
	p.Status.Phase = corev1.PodPending
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}}
}

func run(p *corev1.Pod, started time.Time) {
	p.Status.Phase = corev1.PodRunning
	p.Status.StartTime = ptr.To(metav1.NewTime(started.Truncate(time.Second)))
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{
		Name:  p.Spec.Containers[0].Name,
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: *p.Status.StartTime}},
	}}
}

func ready(p *corev1.Pod, status corev1.ConditionStatus, since time.Time) {
	conds := []corev1.PodCondition{}
	for _, c := range p.Status.Conditions {
		if c.Type != corev1.PodReady {
			conds = append(conds, c)
		}
	}
	p.Status.Conditions = append(conds, corev1.PodCondition{
		Type: corev1.PodReady, Status: status, LastTransitionTime: metav1.NewTime(since.Truncate(time.Second)),
	})
}

func succeed(p *corev1.Pod) {
	p.Status.Phase = corev1.PodSucceeded
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{
		Name:  p.Spec.Containers[0].Name,
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed"}},
	}}
}

func fail(p *corev1.Pod, message string) {
	p.Status.Phase = corev1.PodFailed
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{
		Name: p.Spec.Containers[0].Name,
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 1, Reason: "Error", Message: message,
		}},
	}}
}

func waiting(p *corev1.Pod, reason, message string) {
	p.Status.Phase = corev1.PodPending
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{
		Name:  p.Spec.Containers[0].Name,
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: message}},
	}}
}

func unschedulable(p *corev1.Pod, message string) {
	p.Spec.NodeName = ""
	p.Status.Phase = corev1.PodPending
	p.Status.Conditions = []corev1.PodCondition{{
		Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable, Message: message,
	}}
}

func partyPhases(s kusciav1alpha1.KusciaTaskStatus) map[string]kusciav1alpha1.KusciaTaskPhase {
	out := map[string]kusciav1alpha1.KusciaTaskPhase{}
	for _, p := range s.PartyTaskStatus {
		out[p.DomainID] = p.Phase
	}
	return out
}

func partyStatus(t *testing.T, s kusciav1alpha1.KusciaTaskStatus, domain string) kusciav1alpha1.PartyTaskStatus {
	t.Helper()
	for _, p := range s.PartyTaskStatus {
		if p.DomainID == domain {
			return p
		}
	}
	require.Failf(t, "no party status", "%s in %+v", domain, s.PartyTaskStatus)
	return kusciav1alpha1.PartyTaskStatus{}
}

// sameTime compares two optional times at the second, as status stores them.
func sameTime(a, b *metav1.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Time.Truncate(time.Second).Equal(b.Time.Truncate(time.Second))
}
