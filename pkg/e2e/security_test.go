//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/utils/ptr"

	"kusciatask.io/controller/examples"
	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/e2e/framework"
)

// applyObject applies an object given as a Go value (as JSON, so config
// templates need no YAML quoting) and returns kubectl's output and error.
func applyObject(t *testing.T, obj any, args ...string) (string, error) {
	t.Helper()
	b, err := json.Marshal(obj)
	require.NoError(t, err)
	return kubectlOutput(b, append([]string{"apply", "-f", "-"}, args...)...)
}

// twoPartyTask is a task of alice and bob on the given AppImage, with
// mutate applied to each party.
func twoPartyTask(name, image string, mutate func(p *kusciav1alpha1.PartyInfo)) *kusciav1alpha1.KusciaTask {
	task := &kusciav1alpha1.KusciaTask{
		TypeMeta:   metav1.TypeMeta{APIVersion: kusciav1alpha1.SchemeGroupVersion.String(), Kind: "KusciaTask"},
		ObjectMeta: metav1.ObjectMeta{Name: name},
	}
	task.Spec.Initiator = "alice"
	task.Spec.TaskInputConfig = "{}"
	for _, d := range []string{"alice", "bob"} {
		p := kusciav1alpha1.PartyInfo{DomainID: d, AppImageRef: image}
		if mutate != nil {
			mutate(&p)
		}
		task.Spec.Parties = append(task.Spec.Parties, p)
	}
	return task
}

// withContainer overrides the secretflow container of a party.
func withContainer(c kusciav1alpha1.Container) func(p *kusciav1alpha1.PartyInfo) {
	c.Name = "secretflow"
	return func(p *kusciav1alpha1.PartyInfo) {
		p.Template = &kusciav1alpha1.PartyTemplate{Spec: kusciav1alpha1.PodSpec{Containers: []kusciav1alpha1.Container{c}}}
	}
}

// watchChildren records every pod, service and config map labelled with the
// task's name that appears in the namespaces from now on.
func watchChildren(t *testing.T, task string, namespaces ...string) func() []string {
	t.Helper()
	opts := metav1.ListOptions{LabelSelector: kusciav1alpha1.LabelTask + "=" + task}
	ctx := testContext(t)
	var watches []watch.Interface
	for _, ns := range namespaces {
		for _, start := range []func() (watch.Interface, error){
			func() (watch.Interface, error) { return env.kube.CoreV1().Pods(ns).Watch(ctx, opts) },
			func() (watch.Interface, error) { return env.kube.CoreV1().Services(ns).Watch(ctx, opts) },
			func() (watch.Interface, error) { return env.kube.CoreV1().ConfigMaps(ns).Watch(ctx, opts) },
		} {
			w, err := start()
			require.NoError(t, err)
			t.Cleanup(w.Stop)
			watches = append(watches, w)
		}
	}
	return func() []string {
		var seen []string
		for _, w := range watches {
			for drained := false; !drained; {
				select {
				case e := <-w.ResultChan():
					if m, ok := e.Object.(metav1.Object); ok && e.Type == watch.Added {
						seen = append(seen, fmt.Sprintf("%T %s/%s", e.Object, m.GetNamespace(), m.GetName()))
					}
				case <-time.After(100 * time.Millisecond):
					drained = true
				}
			}
		}
		return seen
	}
}

// A privileged task fails at once with the Pod Security reason, and none of
// its objects is ever created (watched, not sampled).
func TestSecurityPrivilegedTaskCreatesNothing(t *testing.T) {
	const name = "e2e-privileged"
	deleteTaskOnCleanup(t, name)
	created := watchChildren(t, name, "alice", "bob")
	start := time.Now()
	out, err := applyObject(t, twoPartyTask(name, "secretflow-image", withContainer(kusciav1alpha1.Container{
		SecurityContext: &corev1.SecurityContext{
			Privileged:   ptr.To(true),
			Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"SYS_ADMIN"}},
		},
	})))
	require.NoError(t, err, out)
	task := waitPhase(t, name, kusciav1alpha1.TaskFailed, 30*time.Second)
	t.Logf("failed %s after apply", time.Since(start).Round(time.Millisecond))
	assert.Equal(t, kusciav1alpha1.ReasonPodSecurityViolation, task.Status.Reason)
	for _, want := range []string{
		`party alice: pod e2e-privileged-0 violates PodSecurity "baseline:latest"`,
		`privileged (container "secretflow" must not set securityContext.privileged=true)`,
		`non-default capabilities (container "secretflow" must not include "SYS_ADMIN" in securityContext.capabilities.add)`,
	} {
		assert.Contains(t, task.Status.Message, want)
	}
	assert.Empty(t, created(), "nothing of a refused task may be created")
	assert.Zero(t, childCount(t, string(task.UID), "alice", "bob"))
}

// A domain labelled pod-security.kubernetes.io/enforce=restricted refuses a
// pod that baseline allows.
func TestSecurityRestrictedDomain(t *testing.T) {
	const name, ns = "e2e-restricted-domain", "e2e-restricted"
	deleteTaskOnCleanup(t, name)
	applyYAML(t, fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata:
  name: %s
  labels:
    %s: %s
    %s: restricted
`, ns, kusciav1alpha1.LabelDomain, ns, psapi.EnforceLevelLabel))
	t.Cleanup(func() { _, _ = kubectlOutput(nil, "delete", "namespace", ns, "--wait=false") })
	created := watchChildren(t, name, "alice", ns)

	task := twoPartyTask(name, "secretflow-image", nil)
	task.Spec.Parties[1].DomainID = ns
	out, err := applyObject(t, task)
	require.NoError(t, err, out)
	got := waitPhase(t, name, kusciav1alpha1.TaskFailed, 30*time.Second)
	assert.Equal(t, kusciav1alpha1.ReasonPodSecurityViolation, got.Status.Reason)
	for _, want := range []string{
		`party e2e-restricted: pod e2e-restricted-domain-0 violates PodSecurity "restricted:latest"`,
		"label pod-security.kubernetes.io/enforce of namespace e2e-restricted",
		`allowPrivilegeEscalation != false (container "secretflow" must set securityContext.allowPrivilegeEscalation=false)`,
	} {
		assert.Contains(t, got.Status.Message, want)
	}
	assert.Empty(t, created(), "alice's objects must not be created either")
}

// A task larger than the controller's --max-replicas-per-party (default 64)
// but within the schema's 1000 fails at once and creates nothing.
func TestSecurityTooManyReplicas(t *testing.T) {
	const name = "e2e-too-many-replicas"
	deleteTaskOnCleanup(t, name)
	created := watchChildren(t, name, "alice", "bob")
	out, err := applyObject(t, twoPartyTask(name, "secretflow-image", func(p *kusciav1alpha1.PartyInfo) {
		p.Template = &kusciav1alpha1.PartyTemplate{Replicas: ptr.To[int32](500)}
	}))
	require.NoError(t, err, out)
	task := waitPhase(t, name, kusciav1alpha1.TaskFailed, 30*time.Second)
	assert.Equal(t, kusciav1alpha1.ReasonTooManyPods, task.Status.Reason)
	assert.Contains(t, task.Status.Message, "party alice: 500 replicas, more than the 64 per party this controller allows (--max-replicas-per-party)")
	assert.Empty(t, created())
}

// templateBombs are config templates that would exhaust an unbounded
// renderer; each must fail its task with ConfigRenderFailed.
var templateBombs = map[string]string{
	"huge-range":     `{{range 2000000000}}{{end}}`,
	"nested-ranges":  `{{range 100000}}{{range 100000}}{{end}}{{end}}`,
	"recursion":      `{{define "a"}}{{template "a" .}}{{template "a" .}}{{end}}{{template "a" .}}`,
	"output-blow-up": `{{range 100000}}{{$.TASK_INPUT_CONFIG}}{{end}}`,
	"printf-width":   `{{printf "%0999999999d" 1}}`,
	"doubling":       `{{$x := .TASK_INPUT_CONFIG}}{{range 64}}{{$x = print $x $x}}{{end}}{{$x}}`,
}

// The controller survives every template bomb (one AppImage and task per
// bomb, all at once, with a 200 KB input), stays healthy and small, and a
// normal task applied with them still succeeds.
func TestSecurityTemplateBombs(t *testing.T) {
	const normal = "e2e-bomb-neighbour"
	deleteTaskOnCleanup(t, normal)
	input := `{"pad":"` + strings.Repeat("x", 200*1024) + `"}`
	start := time.Now()
	for bomb, text := range templateBombs {
		img, err := examples.AppImage(examples.SecretflowImageFile)
		require.NoError(t, err)
		img.TypeMeta = metav1.TypeMeta{APIVersion: kusciav1alpha1.SchemeGroupVersion.String(), Kind: "AppImage"}
		img.Name = "e2e-bomb-" + bomb
		img.Spec.ConfigTemplates = map[string]string{"task-config.conf": text}
		out, err := applyObject(t, img)
		require.NoError(t, err, out)
		t.Cleanup(func() { _, _ = kubectlOutput(nil, "delete", "aimg", img.Name, "--ignore-not-found") })

		task := twoPartyTask("e2e-bomb-"+bomb, img.Name, nil)
		task.Spec.TaskInputConfig = input
		deleteTaskOnCleanup(t, task.Name)
		out, err = applyObject(t, task)
		require.NoError(t, err, out)
	}
	applyYAML(t, psiTask(normal, "", partyOpts{}, partyOpts{}))

	for bomb := range templateBombs {
		task := waitPhase(t, "e2e-bomb-"+bomb, kusciav1alpha1.TaskFailed, 60*time.Second)
		assert.Equal(t, kusciav1alpha1.ReasonConfigRenderFailed, task.Status.Reason, bomb)
		assert.Contains(t, task.Status.Message, `config template "task-config.conf": `, bomb)
		t.Logf("%-15s %s", bomb, task.Status.Message)
		assert.Zero(t, childCount(t, string(task.UID), "alice", "bob"), bomb)
	}
	t.Logf("all bombs failed %s after apply", time.Since(start).Round(time.Millisecond))
	waitPhase(t, normal, kusciav1alpha1.TaskSucceeded, 90*time.Second)

	code, body := httpGet(t, "http://"+framework.ProbeAddress+"/healthz")
	assert.Equal(t, http.StatusOK, code, body)
	peak := peakRSS(t)
	t.Logf("controller peak RSS: %d MiB", peak>>20)
	assert.Less(t, peak, int64(1<<30), "the controller's memory stays bounded")
}

// peakRSS reads the controller process's peak resident memory.
func peakRSS(t *testing.T) int64 {
	t.Helper()
	require.True(t, env.controller.Running(), "the suite's controller runs")
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", env.controller.Pid()))
	require.NoError(t, err)
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmHWM:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc/<pid>/status")
	return 0
}

// Oversized tasks and AppImages are refused by `kubectl apply`, with a
// message naming the field, instead of failing late.
func TestAdmissionRejectsOversizedInput(t *testing.T) {
	image := func(mutate func(img *kusciav1alpha1.AppImage)) any {
		img, err := examples.AppImage(examples.SecretflowImageFile)
		require.NoError(t, err)
		img.TypeMeta = metav1.TypeMeta{APIVersion: kusciav1alpha1.SchemeGroupVersion.String(), Kind: "AppImage"}
		img.Name = "e2e-oversized"
		mutate(img)
		return img
	}
	container := func(img *kusciav1alpha1.AppImage) *kusciav1alpha1.Container {
		return &img.Spec.DeployTemplates[0].Spec.Containers[0]
	}
	withInput := func(n int) any {
		task := twoPartyTask("e2e-oversized", "secretflow-image", nil)
		task.Spec.TaskInputConfig = strings.Repeat("x", n)
		return task
	}
	cases := []struct {
		name string
		obj  any
		args []string
		want []string
	}{{
		name: "1.5 MB taskInputConfig",
		obj:  withInput(1_500_000),
		want: []string{"spec.taskInputConfig: Too long: may not be more than 524288"},
	}, {
		name: "1.5 MB taskInputConfig, server-side apply",
		obj:  withInput(1_500_000),
		args: []string{"--server-side"},
		want: []string{"spec.taskInputConfig: Too long: may not be more than 524288"},
	}, {
		name: "taskInputConfig just over the bound",
		obj:  withInput(kusciav1alpha1.MaxTaskInputConfigLength + 1),
		args: []string{"--server-side"},
		want: []string{"spec.taskInputConfig: Too long: may not be more than 524288"},
	}, {
		name: "task replicas",
		obj: twoPartyTask("e2e-oversized", "secretflow-image", func(p *kusciav1alpha1.PartyInfo) {
			p.Template = &kusciav1alpha1.PartyTemplate{Replicas: ptr.To[int32](10000)}
		}),
		want: []string{"spec.parties[0].template.replicas", "less than or equal to 1000"},
	}, {
		name: "AppImage replicas",
		obj:  image(func(img *kusciav1alpha1.AppImage) { img.Spec.DeployTemplates[0].Replicas = ptr.To[int32](1001) }),
		want: []string{"spec.deployTemplates[0].replicas", "less than or equal to 1000"},
	}, {
		name: "config template size",
		obj: image(func(img *kusciav1alpha1.AppImage) {
			img.Spec.ConfigTemplates["big.conf"] = strings.Repeat("x", kusciav1alpha1.MaxConfigTemplateLength+1)
		}),
		want: []string{"spec.configTemplates", "each config template must be at most 65536 characters"},
	}, {
		name: "config template count",
		obj: image(func(img *kusciav1alpha1.AppImage) {
			for i := range kusciav1alpha1.MaxConfigTemplates {
				img.Spec.ConfigTemplates[fmt.Sprintf("f%d.conf", i)] = ""
			}
		}),
		want: []string{"spec.configTemplates", "must have at most 16 items"},
	}, {
		name: "containers",
		obj: image(func(img *kusciav1alpha1.AppImage) {
			for i := range kusciav1alpha1.MaxContainers {
				img.Spec.DeployTemplates[0].Spec.Containers = append(img.Spec.DeployTemplates[0].Spec.Containers, kusciav1alpha1.Container{Name: fmt.Sprintf("c%d", i)})
			}
		}),
		want: []string{"spec.deployTemplates[0].spec.containers", "must have at most 8 items"},
	}, {
		name: "env entries",
		obj: image(func(img *kusciav1alpha1.AppImage) {
			for i := range kusciav1alpha1.MaxEnvPerContainer + 1 {
				container(img).Env = append(container(img).Env, corev1.EnvVar{Name: fmt.Sprintf("E%d", i)})
			}
		}),
		want: []string{"spec.deployTemplates[0].spec.containers[0].env", "must have at most 256 items"},
	}, {
		name: "port name without a letter",
		obj:  image(func(img *kusciav1alpha1.AppImage) { container(img).Ports[0].Name = "8080" }),
		want: []string{"spec.deployTemplates[0].spec.containers[0].ports[0].name", "a port name must contain at least one letter"},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := applyObject(t, tc.obj, tc.args...)
			require.Error(t, err, "accepted")
			for _, w := range tc.want {
				assert.Contains(t, out, w)
			}
		})
	}
	for _, kind := range []string{"kt", "aimg"} {
		_, err := kubectlOutput(nil, "get", kind, "e2e-oversized")
		assert.Error(t, err, "no oversized %s may have been stored", kind)
	}
}

// A taskInputConfig near the bound runs. Client-side `kubectl apply` cannot
// send it (it copies the object into an annotation limited to 256 KiB);
// `kubectl apply --server-side` or `kubectl create` can.
func TestSecurityLargeInputRuns(t *testing.T) {
	const name = "e2e-large-input"
	deleteTaskOnCleanup(t, name)
	task := twoPartyTask(name, "secretflow-image", nil)
	task.Spec.TaskInputConfig = `{"pad":"` + strings.Repeat("x", 400*1024) + `"}`
	out, err := applyObject(t, task)
	require.Error(t, err)
	assert.Contains(t, out, "metadata.annotations: Too long")
	out, err = applyObject(t, task, "--server-side")
	require.NoError(t, err, out)
	got := waitPhase(t, name, kusciav1alpha1.TaskSucceeded, 90*time.Second)
	cm, err := env.kube.CoreV1().ConfigMaps("alice").Get(testContext(t), name+"-0-config", metav1.GetOptions{})
	require.NoError(t, err)
	var rendered struct {
		Input string `json:"task_input_config"`
	}
	require.NoError(t, json.Unmarshal([]byte(cm.Data["task-config.conf"]), &rendered))
	assert.True(t, rendered.Input == task.Spec.TaskInputConfig, "the rendered config carries the whole input")
	assert.Equal(t, kusciav1alpha1.TaskSucceeded, got.Status.Phase)
}
