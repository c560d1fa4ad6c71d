//go:build realnode

package realnode

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"kusciatask.io/controller/examples"
	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// setUpDomains applies the examples' domains (alice, bob and the ConfigMap)
// and the testapp AppImage, once per plane.
func (p *plane) setUpDomains(t *testing.T) {
	t.Helper()
	p.setupOnce.Do(func() {
		for _, f := range []string{examples.DomainsFile, examples.TestAppImageFile} {
			if _, err := p.kubectl(nil, "apply", "-f", filepath.Join(lane.root, "examples", f)); err != nil {
				p.setupErr = err
				return
			}
		}
	})
	require.NoError(t, p.setupErr)
}

// testAppTask is an example task renamed, every party's AppImage the
// testapp one.
func testAppTask(t *testing.T, file, name string) *kusciav1alpha1.KusciaTask {
	t.Helper()
	task := &kusciav1alpha1.KusciaTask{}
	require.NoError(t, examples.Decode(file, task))
	task.Name = name
	for i := range task.Spec.Parties {
		task.Spec.Parties[i].AppImageRef = "testapp"
	}
	return task
}

// createTask creates the task and deletes it when the test ends.
func (p *plane) createTask(t *testing.T, task *kusciav1alpha1.KusciaTask) *kusciav1alpha1.KusciaTask {
	t.Helper()
	created, err := p.kuscia.KusciaV1alpha1().KusciaTasks().Create(context.Background(), task, metav1.CreateOptions{})
	require.NoError(t, err, "create task %s", task.Name)
	t.Cleanup(func() {
		err := p.kuscia.KusciaV1alpha1().KusciaTasks().Delete(context.Background(), task.Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete task %s: %v", task.Name, err)
		}
	})
	return created
}

// waitTaskPhase waits until the task reaches phase, failing early when it
// ends in another phase.
func (p *plane) waitTaskPhase(ctx context.Context, t *testing.T, name string, phase kusciav1alpha1.KusciaTaskPhase, limit time.Duration) *kusciav1alpha1.KusciaTask {
	t.Helper()
	start := time.Now()
	var task *kusciav1alpha1.KusciaTask
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, limit, true, func(ctx context.Context) (bool, error) {
		var err error
		task, err = p.kuscia.KusciaV1alpha1().KusciaTasks().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		if task.Status.Phase == phase {
			return true, nil
		}
		if task.Status.Phase == kusciav1alpha1.TaskSucceeded || task.Status.Phase == kusciav1alpha1.TaskFailed {
			return false, fmt.Errorf("task %s ended %s (%s: %s)", name, task.Status.Phase, task.Status.Reason, task.Status.Message)
		}
		return false, nil
	})
	if err != nil {
		st := ""
		if task != nil {
			st = fmt.Sprintf("phase %q reason %q message %q pods %+v", task.Status.Phase, task.Status.Reason, task.Status.Message, task.Status.PodStatuses)
		}
		t.Fatalf("task %s never %s: %v (%s)\n%s", name, phase, err, st, p.podsDump(name))
	}
	t.Logf("task %s %s after %s", name, phase, time.Since(start).Round(time.Millisecond))
	return task
}

// taskPods lists the task's pods in its domains.
func (p *plane) taskPods(ctx context.Context, t *testing.T, name string, domains ...string) []corev1.Pod {
	t.Helper()
	var out []corev1.Pod
	for _, ns := range domains {
		pods, err := p.kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: kusciav1alpha1.LabelTask + "=" + name})
		require.NoError(t, err)
		out = append(out, pods.Items...)
	}
	return out
}

// podsDump describes the task's pods for a failure message.
func (p *plane) podsDump(name string) string {
	out, _ := p.kubectl(nil, "get", "pods", "-A", "-l", kusciav1alpha1.LabelTask+"="+name, "-o", "wide")
	ev, _ := p.kubectl(nil, "get", "events", "-A", "--sort-by=.lastTimestamp")
	return out + "\n" + ev
}
