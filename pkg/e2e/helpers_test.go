//go:build e2e

package e2e

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// kubectl runs kubectl and fails the test on an error.
func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := kubectlOutput(nil, args...)
	require.NoError(t, err, out)
	return out
}

// applyYAML applies a manifest from a string.
func applyYAML(t *testing.T, manifest string) string {
	t.Helper()
	out, err := kubectlOutput([]byte(manifest), "apply", "-f", "-")
	require.NoError(t, err, out)
	return out
}

func example(name string) string { return filepath.Join(env.root, "examples", name) }

// eventually polls cond until it holds or timeout passes; the last reason is
// reported on failure.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var why string
	for time.Now().Before(deadline) {
		var ok bool
		if ok, why = cond(); ok {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s: %s\ncontroller log: %s", timeout, what, why, env.controller.Log)
}

func getTask(t *testing.T, name string) *kusciav1alpha1.KusciaTask {
	t.Helper()
	task, err := env.kuscia.KusciaV1alpha1().KusciaTasks().Get(testContext(t), name, metav1.GetOptions{})
	require.NoError(t, err)
	return task
}

// waitPhase waits for the task to reach phase and returns it.
func waitPhase(t *testing.T, name string, phase kusciav1alpha1.KusciaTaskPhase, timeout time.Duration) *kusciav1alpha1.KusciaTask {
	t.Helper()
	var task *kusciav1alpha1.KusciaTask
	eventually(t, timeout, fmt.Sprintf("task %s to be %s", name, phase), func() (bool, string) {
		got, err := env.kuscia.KusciaV1alpha1().KusciaTasks().Get(testContext(t), name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		task = got
		if got.Status.Phase.IsTerminal() && got.Status.Phase != phase {
			t.Fatalf("task %s ended %s (%s: %s), want %s", name, got.Status.Phase, got.Status.Reason, got.Status.Message, phase)
		}
		return got.Status.Phase == phase, fmt.Sprintf("phase %q reason %q message %q", got.Status.Phase, got.Status.Reason, got.Status.Message)
	})
	return task
}

// deleteTaskOnCleanup deletes the task when the test ends and waits until it
// is gone, so tests do not see each other's objects.
func deleteTaskOnCleanup(t *testing.T, name string) {
	t.Cleanup(func() {
		_, _ = kubectlOutput(nil, "delete", "kt", name, "--ignore-not-found", "--wait=true", "--timeout=60s")
	})
}

// taskPods lists the pods of a task in the given namespaces by its UID label.
func taskPods(t *testing.T, task *kusciav1alpha1.KusciaTask, namespaces ...string) []corev1.Pod {
	t.Helper()
	var pods []corev1.Pod
	for _, ns := range namespaces {
		list, err := env.kube.CoreV1().Pods(ns).List(testContext(t), metav1.ListOptions{
			LabelSelector: kusciav1alpha1.LabelTaskUID + "=" + string(task.UID),
		})
		require.NoError(t, err)
		pods = append(pods, list.Items...)
	}
	return pods
}

// childCount counts the pods, services and config maps of a task.
func childCount(t *testing.T, uid string, namespaces ...string) int {
	t.Helper()
	ctx := testContext(t)
	sel := metav1.ListOptions{LabelSelector: kusciav1alpha1.LabelTaskUID + "=" + uid}
	n := 0
	for _, ns := range namespaces {
		pods, err := env.kube.CoreV1().Pods(ns).List(ctx, sel)
		require.NoError(t, err)
		svcs, err := env.kube.CoreV1().Services(ns).List(ctx, sel)
		require.NoError(t, err)
		cms, err := env.kube.CoreV1().ConfigMaps(ns).List(ctx, sel)
		require.NoError(t, err)
		n += len(pods.Items) + len(svcs.Items) + len(cms.Items)
	}
	return n
}

func isNotFound(err error) bool { return apierrors.IsNotFound(err) }

// psiTask renders a two-party task on the secretflow-image AppImage whose
// parties' containers get the given env (kwok reads a pod's fate from it)
// and optional extra template YAML, indented for the container.
func psiTask(name, scheduleConfig string, alice, bob partyOpts) string {
	return fmt.Sprintf(`apiVersion: kuscia.secretflow/v1alpha1
kind: KusciaTask
metadata:
  name: %s
spec:
  initiator: alice
%s  taskInputConfig: '{}'
  parties:
  - domainID: %s
    appImageRef: secretflow-image
%s  - domainID: %s
    appImageRef: secretflow-image
%s`, name, scheduleConfig, alice.domain("alice"), alice.template(), bob.domain("bob"), bob.template())
}

// partyOpts shape one party of psiTask.
type partyOpts struct {
	domainID     string
	env          map[string]string
	cpu          string
	nodeSelector map[string]string
	replicas     int
}

func (p partyOpts) domain(def string) string {
	if p.domainID != "" {
		return p.domainID
	}
	return def
}

func (p partyOpts) template() string {
	if len(p.env) == 0 && p.cpu == "" && len(p.nodeSelector) == 0 && p.replicas == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("    template:\n")
	if p.replicas > 0 {
		fmt.Fprintf(&b, "      replicas: %d\n", p.replicas)
	}
	b.WriteString("      spec:\n")
	if len(p.nodeSelector) > 0 {
		b.WriteString("        nodeSelector:\n")
		for _, k := range slices.Sorted(maps.Keys(p.nodeSelector)) {
			fmt.Fprintf(&b, "          %s: %q\n", k, p.nodeSelector[k])
		}
	}
	b.WriteString("        containers:\n        - name: secretflow\n")
	if len(p.env) > 0 {
		b.WriteString("          env:\n")
		for _, k := range slices.Sorted(maps.Keys(p.env)) {
			fmt.Fprintf(&b, "          - {name: %s, value: %q}\n", k, p.env[k])
		}
	}
	if p.cpu != "" {
		fmt.Fprintf(&b, "          resources:\n            requests: {cpu: %q, memory: 64Mi}\n", p.cpu)
	}
	return b.String()
}

var metav1GetOptions = metav1.GetOptions{}

func itoa(n int) string { return fmt.Sprint(n) }
