//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
	"kusciatask.io/controller/pkg/gate"
)

// taskPodLog follows every pod of a task, in every round, through every
// change the API server reports, from before the task exists: it checks on
// each event that no application container ran behind a closed gate, and
// notes when each pod was first seen bound and first seen open.
type taskPodLog struct {
	mu         sync.Mutex
	violations []string
	bound      map[types.UID]time.Time
	opened     map[types.UID]time.Time
	party      map[types.UID]string
	events     int
}

// followGates starts following the pods of task name in namespaces; the
// watches stop when the test ends.
func followGates(t *testing.T, name string, namespaces ...string) *taskPodLog {
	t.Helper()
	l := &taskPodLog{bound: map[types.UID]time.Time{}, opened: map[types.UID]time.Time{}, party: map[types.UID]string{}}
	ctx, cancel := context.WithCancel(testContext(t))
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	sel := metav1.ListOptions{LabelSelector: kusciav1alpha1.LabelTask + "=" + builder.TaskLabelValue(name)}
	for _, ns := range namespaces {
		list, err := env.kube.CoreV1().Pods(ns).List(ctx, sel)
		require.NoError(t, err)
		require.Empty(t, list.Items, "pods of %s exist before the test", name)
		opts := sel
		opts.ResourceVersion = list.ResourceVersion
		w, err := env.kube.CoreV1().Pods(ns).Watch(ctx, opts)
		require.NoError(t, err)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer w.Stop()
			for ev := range w.ResultChan() {
				if pod, ok := ev.Object.(*corev1.Pod); ok && (ev.Type == watch.Added || ev.Type == watch.Modified) {
					l.observe(pod, time.Now())
				}
			}
		}()
	}
	return l
}

func (l *taskPodLog) observe(pod *corev1.Pod, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events++
	l.party[pod.UID] = pod.Labels[kusciav1alpha1.LabelParty]
	if _, seen := l.bound[pod.UID]; !seen && pod.Spec.NodeName != "" {
		l.bound[pod.UID] = now
	}
	if gate.IsOpen(pod.Annotations[gate.Annotation]) {
		if _, seen := l.opened[pod.UID]; !seen {
			l.opened[pod.UID] = now
		}
		return
	}
	if err := appNeverRan(pod); err != nil {
		l.violations = append(l.violations, fmt.Sprintf("%s: %v (%s)", pod.Name, err, describePod(pod)))
	}
}

// snapshot returns copies of what was seen so far.
func (l *taskPodLog) snapshot() (violations []string, bound, opened map[types.UID]time.Time, party map[types.UID]string, events int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cp := func(m map[types.UID]time.Time) map[types.UID]time.Time {
		out := make(map[types.UID]time.Time, len(m))
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	party = make(map[types.UID]string, len(l.party))
	for k, v := range l.party {
		party[k] = v
	}
	return append([]string(nil), l.violations...), cp(l.bound), cp(l.opened), party, l.events
}

// labelNode labels a node and removes the label when the test ends.
func labelNode(t *testing.T, node, key, value string) {
	t.Helper()
	kubectl(t, "label", "node", node, "--overwrite", key+"="+value)
	t.Cleanup(func() { _, _ = kubectlOutput(nil, "label", "node", node, key+"-") })
}

// The hold: bob's pod selects a node label no node has; alice's pod is
// bound and held behind its gate (her application never runs, checked on
// every event) while bob waits. Once a node gets the label, bob binds, both
// gates open and the task succeeds.
func TestReservationHold(t *testing.T) {
	const name = "e2e-hold"
	const labelKey = "e2e.kuscia.secretflow/hold"
	deleteTaskOnCleanup(t, name)
	pods := followGates(t, name, "alice", "bob")
	applyBobWaitsForALabel(t, name, labelKey)

	eventually(t, 30*time.Second, "alice to be held and bob to wait for a node", func() (bool, string) {
		task := getTask(t, name)
		alice := taskPods(t, task, "alice")
		if len(alice) != 1 || !held(&alice[0]) {
			return false, fmt.Sprintf("alice's pods: %d", len(alice))
		}
		if len(task.Status.PartyTaskStatus) < 2 {
			return false, "no party status yet"
		}
		msg := task.Status.PartyTaskStatus[1].Message
		return strings.Contains(msg, "node affinity/selector"), msg
	})
	// Held for a while: still Pending, alice's application still waits.
	time.Sleep(3 * time.Second)
	task := getTask(t, name)
	assert.Equal(t, kusciav1alpha1.TaskPending, task.Status.Phase)
	assert.Equal(t, []string{"alice"}, task.Status.Reservation.ReservedParties)
	assert.Contains(t, task.Status.PartyTaskStatus[0].Message, "reserved 1/1 pods, gate closed; waiting for [bob]: bob/")
	assert.Contains(t, task.Status.PartyTaskStatus[0].Message, "node affinity/selector")
	assert.Nil(t, task.Status.Reservation.GateOpenedTime)

	labelNode(t, "kwok-node-0", labelKey, name)
	task = waitPhase(t, name, kusciav1alpha1.TaskSucceeded, 60*time.Second)
	assert.EqualValues(t, 1, task.Status.Reservation.Round)
	require.NotNil(t, task.Status.Reservation.GateOpenedTime)
	assert.Regexp(t, `Normal\s+Running\s+.*opened the gates of the pods of parties \[alice bob\]: the gang formed in \d+s`,
		kubectl(t, "describe", "kt", name))

	violations, bound, opened, party, events := pods.snapshot()
	assert.Empty(t, violations, "an application container ran behind a closed gate")
	assert.Positive(t, events)
	require.Len(t, opened, 2, "both pods' gates opened")
	var bobBound, lastOpen time.Time
	for uid, p := range party {
		if p == "bob" {
			bobBound = bound[uid]
		}
		if opened[uid].After(lastOpen) {
			lastOpen = opened[uid]
		}
	}
	require.False(t, bobBound.IsZero(), "bob's binding was seen")
	assert.False(t, lastOpen.Before(bobBound), "no gate opened before bob was bound")
	t.Logf("bob bound -> both gates open in %s (seen from the watch)", lastOpen.Sub(bobBound).Round(time.Millisecond))
}

// Release without running: bob never fits. Each round alice's pods are
// bound and held, then deleted at resourceReservedSeconds; none of her
// application containers ever runs, and the task expires naming bob.
func TestReservationReleaseWithoutRunning(t *testing.T) {
	const name = "e2e-release-held"
	deleteTaskOnCleanup(t, name)
	pods := followGates(t, name, "alice", "bob")
	schedule := "  scheduleConfig:\n    resourceReservedSeconds: 3\n    retryIntervalSeconds: 2\n    lifecycleSeconds: 15\n"
	applyYAML(t, psiTask(name, schedule, partyOpts{}, partyOpts{cpu: "64"}))

	task := waitPhase(t, name, kusciav1alpha1.TaskFailed, 60*time.Second)
	assert.Equal(t, kusciav1alpha1.ReasonReservationExpired, task.Status.Reason)
	assert.Contains(t, task.Status.Message, "[bob]")
	assert.GreaterOrEqual(t, task.Status.Reservation.Round, int32(2), "rounds were released and retried")

	violations, bound, opened, party, _ := pods.snapshot()
	assert.Empty(t, violations, "an application container ran behind a closed gate")
	assert.Empty(t, opened, "no gate ever opened")
	aliceBound := 0
	for uid, p := range party {
		if _, ok := bound[uid]; ok && p == "alice" {
			aliceBound++
		}
	}
	assert.GreaterOrEqual(t, aliceBound, 2, "alice's pod was bound (held) in every round")
}

// All or nothing within a party (PodGroups on, as the local plane serves
// them): alice runs 3 pods of 3 cpu on two 4-cpu nodes. One by one two
// would fit; as a gang none does, so none is ever bound, and her party
// message carries the scheduler's reason for the group.
func TestPartyAllOrNothing(t *testing.T) {
	const name = "e2e-all-or-nothing"
	deleteTaskOnCleanup(t, name)
	pods := followGates(t, name, "alice", "bob")
	schedule := "  scheduleConfig:\n    resourceReservedSeconds: 60\n    lifecycleSeconds: 120\n"
	applyYAML(t, psiTask(name, schedule, partyOpts{replicas: 3, cpu: "3"}, partyOpts{}))

	var msg string
	eventually(t, 60*time.Second, "alice's message to carry the pod group's reason", func() (bool, string) {
		task := getTask(t, name)
		if len(task.Status.PartyTaskStatus) < 2 {
			return false, "no party status yet"
		}
		msg = task.Status.PartyTaskStatus[0].Message
		return strings.Contains(msg, "alice: pod group: "), msg
	})
	t.Logf("alice: %s", msg)
	assert.Contains(t, msg, "not reserved (reserved 0/3 pods, needs 3)")
	time.Sleep(3 * time.Second)
	task := getTask(t, name)
	assert.Equal(t, kusciav1alpha1.TaskPending, task.Status.Phase)
	assert.Contains(t, task.Status.PartyTaskStatus[1].Message, "waiting for [alice]: alice/")
	assert.Contains(t, task.Status.Message, "alice: pod group: ", "the task's message (and a released round's lastFailure) carries it too")

	_, bound, _, party, _ := pods.snapshot()
	aliceSeen := 0
	for uid, p := range party {
		if p == "alice" {
			aliceSeen++
			_, wasBound := bound[uid]
			assert.False(t, wasBound, "an alice pod was bound although her gang cannot fit")
		}
	}
	assert.Equal(t, 3, aliceSeen, "alice's three pods were created")
}

// applyBobWaitsForALabel applies a two-party task whose bob selects the node
// label labelKey=name, which no node has until the test sets it; the timers
// are long enough that only the test decides when the gang forms.
func applyBobWaitsForALabel(t *testing.T, name, labelKey string) {
	t.Helper()
	schedule := "  scheduleConfig:\n    resourceReservedSeconds: 120\n    lifecycleSeconds: 240\n"
	applyYAML(t, psiTask(name, schedule,
		partyOpts{env: map[string]string{"KWOK_DELAY": "1s"}},
		partyOpts{env: map[string]string{"KWOK_DELAY": "1s"}, nodeSelector: map[string]string{labelKey: name}},
	))
}
