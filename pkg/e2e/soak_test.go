//go:build e2e && soak

package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// soakShape is one kind of task in the soak and how it must end.
type soakShape struct {
	name       string
	manifest   func(task string) string
	wantPhase  kusciav1alpha1.KusciaTaskPhase
	wantReason kusciav1alpha1.KusciaTaskReason
}

// The soak's two domains, its own so that its watch and its final count see
// nothing of other tests.
const soakA, soakB = "soak-a", "soak-b"

func soakShapes() []soakShape {
	party := func(domain, extra string) string {
		return fmt.Sprintf("  - domainID: %s\n    appImageRef: secretflow-image\n%s", domain, extra)
	}
	container := func(replicas int, env map[string]string, cpu string) string {
		var b strings.Builder
		b.WriteString("    template:\n")
		if replicas > 0 {
			fmt.Fprintf(&b, "      replicas: %d\n", replicas)
		}
		b.WriteString("      spec:\n        containers:\n        - name: secretflow\n")
		if len(env) > 0 {
			b.WriteString("          env:\n")
			for k, v := range env {
				fmt.Fprintf(&b, "          - {name: %s, value: %q}\n", k, v)
			}
		}
		if cpu != "" {
			fmt.Fprintf(&b, "          resources:\n            requests: {cpu: %q, memory: 64Mi}\n", cpu)
		}
		return b.String()
	}
	task := func(name, schedule string, parties ...string) string {
		return fmt.Sprintf("apiVersion: kuscia.secretflow/v1alpha1\nkind: KusciaTask\nmetadata:\n  name: %s\nspec:\n  initiator: %s\n%s  taskInputConfig: '{}'\n  parties:\n%s",
			name, soakA, schedule, strings.Join(parties, ""))
	}
	delay := func() map[string]string { return map[string]string{"KWOK_DELAY": fmt.Sprintf("%ds", 1+rand.IntN(6))} }
	waiting := "  scheduleConfig:\n    resourceReservedSeconds: 2\n    retryIntervalSeconds: 1\n    lifecycleSeconds: 15\n"
	return []soakShape{
		{"succeeds", func(n string) string {
			return task(n, "", party(soakA, container(0, delay(), "")), party(soakB, container(0, delay(), "")))
		}, kusciav1alpha1.TaskSucceeded, kusciav1alpha1.ReasonSucceeded},
		{"fails", func(n string) string {
			// Late enough that a controller is up between bob starting and
			// failing (each new one waits up to 15 s for the Lease): without
			// the gate, a pod that fails before its task is seen reserved
			// only releases the round.
			fail := map[string]string{"KWOK_OUTCOME": "fail", "KWOK_EXIT_CODE": "3", "KWOK_DELAY": "25s"}
			return task(n, "", party(soakA, container(0, map[string]string{"KWOK_OUTCOME": "run"}, "")), party(soakB, container(0, fail, "")))
		}, kusciav1alpha1.TaskFailed, kusciav1alpha1.ReasonPartiesFailed},
		{"replicas", func(n string) string {
			return task(n, "", party(soakA, container(3, delay(), "")), party(soakB, container(2, delay(), "")))
		}, kusciav1alpha1.TaskSucceeded, kusciav1alpha1.ReasonSucceeded},
		{"waiting-gang", func(n string) string {
			return task(n, waiting, party(soakA, container(0, map[string]string{"KWOK_OUTCOME": "run"}, "")), party(soakB, container(0, nil, "64")))
		}, kusciav1alpha1.TaskFailed, kusciav1alpha1.ReasonReservationExpired},
		{"partial-gang", func(n string) string {
			partial := "  scheduleConfig:\n    minReservedMembers: 1\n"
			return task(n, partial, party(soakA, container(0, delay(), "")), party(soakB, container(0, nil, "64")))
		}, kusciav1alpha1.TaskSucceeded, kusciav1alpha1.ReasonSucceeded},
	}
}

func soakInt(key string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(key)); err == nil && v > 0 {
		return v
	}
	return def
}

// TestSoak (make soak) runs SOAK_TASKS tasks of mixed shapes while the
// controller is killed with SIGKILL at random moments at least SOAK_KILLS
// times, then checks that every task ended as its shape must, that each pod
// of each round was created once, and that deleting the tasks leaves no
// child behind.
func TestSoak(t *testing.T) {
	tasks, kills := soakInt("SOAK_TASKS", 60), soakInt("SOAK_KILLS", 10)
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	for _, ns := range []string{soakA, soakB} {
		applyYAML(t, fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n  labels:\n    kuscia.secretflow/domain: %s\n", ns, ns))
	}
	creates := watchPods(ctx, t, kusciav1alpha1.LabelTaskUID, soakA, soakB)
	start := time.Now()

	// Kill the controller at random moments until the tasks are all done and
	// it was killed at least `kills` times. Each new controller must first
	// win the Lease (the killed one's expires after 15 s); it is killed at a
	// random moment of its first seconds as the leader.
	allDone := make(chan struct{})
	killed := make(chan int)
	go func() {
		n := 0
		defer func() { killed <- n }()
		for {
			if !waitLeader(ctx) {
				return
			}
			select {
			case <-allDone:
				if n >= kills {
					return
				}
			case <-time.After(time.Duration(500+rand.IntN(4000)) * time.Millisecond):
			}
			env.controller.Stop(syscall.SIGKILL)
			if err := env.controller.Start(); err != nil {
				t.Errorf("restart the controller: %v", err)
				return
			}
			n++
		}
	}()

	shapes := soakShapes()
	want := map[string]soakShape{}
	for i := range tasks {
		shape := shapes[i%len(shapes)]
		name := fmt.Sprintf("soak-%s-%02d", shape.name, i)
		want[name] = shape
		applyYAML(t, shape.manifest(name))
		time.Sleep(time.Duration(rand.IntN(600)) * time.Millisecond)
	}
	t.Cleanup(func() {
		for name := range want {
			_, _ = kubectlOutput(nil, "delete", "kt", name, "--ignore-not-found", "--wait=false")
		}
	})

	// Every task ends, and as its shape says.
	var wrong []string
	for name, shape := range want {
		task := waitTerminal(ctx, t, name)
		if task.Status.Phase != shape.wantPhase || task.Status.Reason != shape.wantReason {
			wrong = append(wrong, fmt.Sprintf("%s: %s/%s (%s), want %s/%s",
				name, task.Status.Phase, task.Status.Reason, task.Status.Message, shape.wantPhase, shape.wantReason))
		}
	}
	terminalAfter := time.Since(start)
	close(allDone)
	nKills := <-killed

	// Deleting the tasks leaves nothing behind.
	for name := range want {
		kubectl(t, "delete", "kt", name, "--wait=false")
	}
	var left int
	eventually(t, 120*time.Second, "every child of the soak's tasks to be collected", func() (bool, string) {
		left = 0
		for _, ns := range []string{soakA, soakB} {
			for _, list := range []func() (int, error){
				func() (int, error) {
					l, err := env.kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
					return len(l.Items), err
				},
				func() (int, error) {
					l, err := env.kube.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
					return len(l.Items), err
				},
				func() (int, error) {
					l, err := env.kube.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{LabelSelector: kusciav1alpha1.LabelTaskUID})
					return len(l.Items), err
				},
			} {
				n, err := list()
				require.NoError(t, err)
				left += n
			}
		}
		return left == 0, fmt.Sprintf("%d children left", left)
	})

	dups := creates.duplicates()
	nCreates, _ := creates.created()
	t.Logf("soak: %d tasks (%d shapes), %d SIGKILLs, all terminal after %s; %d pod creates over %d (pod, round) pairs, %d duplicates; %d children left after delete",
		tasks, len(shapes), nKills, terminalAfter.Round(time.Second), nCreates, len(creates.adds()), len(dups), left)
	assert.Empty(t, wrong, "every task ends as its shape must")
	assert.Empty(t, dups, "each pod of each round is created once")
	assert.GreaterOrEqual(t, nKills, kills)
}

// waitLeader waits until the running controller holds the Lease with its
// caches synced; false when ctx ends first.
func waitLeader(ctx context.Context) bool {
	for ctx.Err() == nil {
		if env.controller.Leading(ctx) {
			return true
		}
		time.Sleep(200 * time.Millisecond)
	}
	return false
}

// waitTerminal waits for the task to reach Succeeded or Failed.
func waitTerminal(ctx context.Context, t *testing.T, name string) *kusciav1alpha1.KusciaTask {
	t.Helper()
	var task *kusciav1alpha1.KusciaTask
	eventually(t, 5*time.Minute, "task "+name+" to finish", func() (bool, string) {
		got, err := env.kuscia.KusciaV1alpha1().KusciaTasks().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		task = got
		return got.Status.Phase.IsTerminal(), fmt.Sprintf("phase %q reason %q", got.Status.Phase, got.Status.Reason)
	})
	return task
}
