//go:build realnode

package realnode

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kusciatask.io/controller/examples"
	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// templateTask is task-template.yaml on the test application: its host's
// container is named as the testapp AppImage's (so the party's template is
// laid over it) and keeps its env, envFrom, resources, ports and config
// mount, but not the seed's shell command, working folder and probes (the
// test application has no shell and serves no /healthz).
func templateTask(t *testing.T, name string) *kusciav1alpha1.KusciaTask {
	t.Helper()
	task := testAppTask(t, examples.TemplateTaskFile, name)
	for i := range task.Spec.Parties {
		tpl := task.Spec.Parties[i].Template
		if tpl == nil {
			continue
		}
		for j := range tpl.Spec.Containers {
			c := &tpl.Spec.Containers[j]
			c.Name = "testapp"
			c.Command, c.Args, c.WorkingDir = nil, nil, ""
			c.LivenessProbe, c.ReadinessProbe, c.StartupProbe = nil, nil, nil
			c.ImagePullPolicy = corev1.PullNever
		}
	}
	return task
}

// TestSeedTasksRealContainers runs both seed tasks on the test application
// to Succeeded, and checks that what each application printed is the config
// the controller rendered into its pod's ConfigMap.
func TestSeedTasksRealContainers(t *testing.T) {
	p := taskPlane(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	for _, task := range []*kusciav1alpha1.KusciaTask{
		testAppTask(t, examples.PSITaskFile, "seed-psi"),
		templateTask(t, "seed-template"),
	} {
		p.createTask(t, task)
	}
	for _, name := range []string{"seed-psi", "seed-template"} {
		done := p.waitTaskPhase(ctx, t, name, kusciav1alpha1.TaskSucceeded, 5*time.Minute)
		require.Len(t, done.Status.PartyTaskStatus, 2, name)
		for _, ps := range done.Status.PartyTaskStatus {
			assert.Equal(t, kusciav1alpha1.TaskSucceeded, ps.Phase, "%s %s", name, ps.DomainID)
		}
		pods := p.taskPods(ctx, t, name, "alice", "bob")
		require.Len(t, pods, 2, name)
		for _, pod := range pods {
			assert.Equal(t, realNodeName, pod.Spec.NodeName)
			p.assertPrintedConfig(ctx, t, &pod)
		}
	}
}

// assertPrintedConfig: the pod's application printed its ConfigMap's
// task-config.conf, byte for byte, under the path it is mounted at.
func (p *plane) assertPrintedConfig(ctx context.Context, t *testing.T, pod *corev1.Pod) {
	t.Helper()
	app := pod.Spec.Containers[0]
	var cmName, mountPath string
	for _, v := range pod.Spec.Volumes {
		if v.ConfigMap == nil {
			continue
		}
		for _, m := range app.VolumeMounts {
			if m.Name == v.Name && m.SubPath == "task-config.conf" {
				cmName, mountPath = v.ConfigMap.Name, m.MountPath
			}
		}
	}
	require.NotEmpty(t, cmName, "pod %s/%s mounts no task-config.conf", pod.Namespace, pod.Name)
	cm, err := p.kube.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, cmName, metav1.GetOptions{})
	require.NoError(t, err)
	content := cm.Data["task-config.conf"]
	require.NotEmpty(t, content)
	assert.Contains(t, content, `"domain_id": "`+pod.Namespace+`"`)

	raw, err := p.kube.CoreV1().Pods(pod.Namespace).GetLogs(pod.Name, &corev1.PodLogOptions{Container: app.Name}).DoRaw(ctx)
	require.NoError(t, err, "logs of %s/%s", pod.Namespace, pod.Name)
	want := "==> " + mountPath + " <==\n" + content
	if !strings.HasSuffix(content, "\n") {
		want += "\n"
	}
	assert.True(t, strings.HasPrefix(string(raw), want), "%s/%s printed:\n%s\nwant it to begin with:\n%s", pod.Namespace, pod.Name, raw, want)
}
