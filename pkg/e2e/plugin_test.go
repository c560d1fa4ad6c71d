//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/e2e/framework"
)

// pluginBinary builds cmd/kubectl-kuscia into the test's temp dir.
func pluginBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "kubectl-kuscia")
	_, err := framework.Output(env.root, nil, "go", "build", "-o", bin, "./cmd/kubectl-kuscia")
	require.NoError(t, err)
	return bin
}

// pluginRun is one run of the plugin: its output, exit code and when it
// exited.
type pluginRun struct {
	out, errOut string
	code        int
	exited      time.Time
}

// startPlugin starts the plugin against the e2e plane; the channel gets
// its run once it exits.
func startPlugin(t *testing.T, bin string, args ...string) <-chan pluginRun {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--kubeconfig", env.kubeconfig}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	ch := make(chan pluginRun, 1)
	go func() {
		err := cmd.Wait()
		r := pluginRun{out: stdout.String(), errOut: stderr.String(), exited: time.Now()}
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			r.code = exit.ExitCode()
		} else if err != nil {
			r.code = -1
		}
		ch <- r
	}()
	return ch
}

// runPlugin runs the plugin to its end.
func runPlugin(t *testing.T, bin string, args ...string) pluginRun {
	t.Helper()
	select {
	case r := <-startPlugin(t, bin, args...):
		return r
	case <-time.After(2 * time.Minute):
		t.Fatalf("kubectl-kuscia %v did not return", args)
		return pluginRun{}
	}
}

// watchPhase reports when a watch of the task first sees it in phase.
func watchPhase(t *testing.T, name string, phase kusciav1alpha1.KusciaTaskPhase) <-chan time.Time {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	w, err := env.kuscia.KusciaV1alpha1().KusciaTasks().Watch(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String(),
	})
	require.NoError(t, err)
	ch := make(chan time.Time, 1)
	go func() {
		defer cancel()
		defer w.Stop()
		for ev := range w.ResultChan() {
			if task, ok := ev.Object.(*kusciav1alpha1.KusciaTask); ok && task.Status.Phase == phase {
				ch <- time.Now()
				return
			}
		}
	}()
	return ch
}

// The plugin after kubectl apply: wait returns 1 within a second of the
// task failing, `kubectl wait --for=condition=Finished` returns for the
// failed task, get shows a waiting party's reason, -o wide shows the new
// columns, and the seed walk-through runs with the plugin only.
func TestPlugin(t *testing.T) {
	bin := pluginBinary(t)

	t.Run("wait exits 1 when the task fails", func(t *testing.T) {
		const name = "e2e-plugin-fails"
		deleteTaskOnCleanup(t, name)
		applyYAML(t, psiTask(name, "",
			partyOpts{env: map[string]string{"KWOK_OUTCOME": "run"}},
			partyOpts{env: map[string]string{"KWOK_OUTCOME": "fail", "KWOK_EXIT_CODE": "1", "KWOK_MESSAGE": "psi: bob-table has no column id2", "KWOK_DELAY": "3s"}},
		))
		failedSeen := watchPhase(t, name, kusciav1alpha1.TaskFailed)
		waiting := startPlugin(t, bin, "wait", name, "--timeout", "90s")
		kubectlWait := make(chan error, 1)
		go func() {
			_, err := kubectlOutput(nil, "wait", "--for=condition=Finished", "kt/"+name, "--timeout=90s")
			kubectlWait <- err
		}()

		var seen time.Time
		select {
		case seen = <-failedSeen:
		case <-time.After(100 * time.Second):
			t.Fatal("the task did not fail")
		}
		r := <-waiting
		t.Logf("$ kubectl kuscia wait %s\n%s%s(exit %d)", name, r.out, r.errOut, r.code)
		assert.Equal(t, 1, r.code, r.errOut)
		assert.Contains(t, r.out, "kusciatask/"+name+" Failed: PartiesFailed: ")
		assert.Contains(t, r.out, "psi: bob-table has no column id2")
		assert.Less(t, r.exited.Sub(seen), time.Second, "wait returns within a second of the failure")
		task := getTask(t, name)
		assert.Less(t, r.exited.Sub(task.Status.CompletionTime.Time), 2*time.Second, "completionTime has whole seconds")

		select {
		case err := <-kubectlWait:
			assert.NoError(t, err, "kubectl wait --for=condition=Finished returns for a failed task")
		case <-time.After(30 * time.Second):
			t.Fatal("kubectl wait --for=condition=Finished did not return")
		}
		finished := kusciav1alpha1.ConditionFinished
		var found bool
		for _, c := range task.Status.Conditions {
			if c.Type == finished {
				found = true
				assert.Equal(t, "True", string(c.Status))
				assert.Equal(t, kusciav1alpha1.ReasonPartiesFailed, c.Reason)
			}
		}
		assert.True(t, found, "condition Finished")
		assert.Equal(t, "2/2 failed", task.Status.PartiesSummary)
	})

	t.Run("get shows a waiting party's reason", func(t *testing.T) {
		const name = "e2e-plugin-waiting"
		deleteTaskOnCleanup(t, name)
		applyYAML(t, psiTask(name, "  scheduleConfig:\n    lifecycleSeconds: 120\n",
			partyOpts{env: map[string]string{"KWOK_OUTCOME": "run"}},
			partyOpts{cpu: "64"},
		))
		var r pluginRun
		eventually(t, 30*time.Second, "get to show why bob waits", func() (bool, string) {
			r = runPlugin(t, bin, "get", name)
			return r.code == 0 && strings.Contains(partyLineOf(r.out, "bob"), "waiting") &&
				strings.Contains(partyLineOf(r.out, "bob"), "Insufficient cpu"), r.out + r.errOut
		})
		t.Logf("$ kubectl kuscia get %s\n%s", name, r.out)
		assert.Contains(t, r.out, "KusciaTask "+name+"  Pending")
		assert.Contains(t, r.out, "waiting for: bob")
		assert.Contains(t, partyLineOf(r.out, "alice"), "reserved")

		list := runPlugin(t, bin, "get")
		t.Logf("$ kubectl kuscia get\n%s", list.out)
		assert.Equal(t, 0, list.code, list.errOut)
		assert.Regexp(t, `(?m)^`+name+`\s+Pending\s+\S+\s+\d+\s+1/2 reserved\s+Reserving$`, list.out)

		wide := kubectl(t, "get", "kt", name, "-o", "wide")
		t.Logf("$ kubectl get kt %s -o wide\n%s", name, wide)
		lines := strings.Split(strings.TrimSpace(wide), "\n")
		require.Len(t, lines, 2)
		assert.Regexp(t, `^NAME\s+STARTTIME\s+COMPLETIONTIME\s+LASTRECONCILETIME\s+PHASE\s+REASON\s+ROUND\s+PARTIES\s+MESSAGE$`, lines[0])
		assert.Regexp(t, `^`+name+`\s+\d+s\s+\d+s\s+Pending\s+Reserving\s+\d+\s+1/2 reserved\s+.*bob`, lines[1])
		plain := kubectl(t, "get", "kt", name)
		assert.Regexp(t, `^NAME\s+STARTTIME\s+COMPLETIONTIME\s+LASTRECONCILETIME\s+PHASE\n`, plain, "the default columns stay the seed's")

		events := runPlugin(t, bin, "events", name)
		t.Logf("$ kubectl kuscia events %s\n%s", name, events.out)
		assert.Equal(t, 0, events.code, events.errOut)
		assert.Regexp(t, `Warning\s+FailedScheduling\s+pod/bob/`+name+`-0`, events.out)
		assert.Regexp(t, `Normal\s+Scheduled\s+pod/alice/`+name+`-0`, events.out)
	})

	t.Run("seed walk-through", func(t *testing.T) {
		const name = "secretflow-task-psi"
		deleteTaskOnCleanup(t, name)
		kubectl(t, "apply", "-f", example("secretflow-task-psi.yaml"))
		r := runPlugin(t, bin, "wait", name, "--timeout", "60s")
		t.Logf("$ kubectl kuscia wait %s\n%s(exit %d)", name, r.out, r.code)
		assert.Equal(t, 0, r.code, r.errOut)
		assert.Equal(t, "kusciatask/"+name+" Succeeded\n", r.out)
		for _, args := range [][]string{{"get"}, {"get", name}, {"events", name}} {
			r := runPlugin(t, bin, args...)
			t.Logf("$ kubectl kuscia %s\n%s", strings.Join(args, " "), r.out)
			assert.Equal(t, 0, r.code, r.errOut)
			assert.Contains(t, r.out, name)
		}
		events := runPlugin(t, bin, "events", name)
		assert.Regexp(t, `(?s)Normal\s+Running\s+kusciatask/`+name+`\s+task reserved and running.*Normal\s+Succeeded\s+kusciatask/`+name, events.out,
			"the task's two Events, in order, among its pods'")
		tree := runPlugin(t, bin, "get", name)
		assert.Contains(t, tree.out, "KusciaTask "+name+"  Succeeded  Succeeded")
		assert.Contains(t, tree.out, "parties: 2/2 succeeded")
		assert.Regexp(t, `pod alice/`+name+`-0  node \S+  Succeeded  Completed  restarts 0  ready`, tree.out)

		// logs reaches the kubelet's log endpoint, which kwok does not
		// serve: the plugin says which pod failed and exits 3.
		logs := runPlugin(t, bin, "logs", name)
		t.Logf("$ kubectl kuscia logs %s\n%s%s(exit %d)", name, logs.out, logs.errOut, logs.code)
		assert.Equal(t, 3, logs.code)
		assert.Contains(t, logs.errOut, "[alice/"+name+"-0] ")
		assert.Contains(t, logs.errOut, "[bob/"+name+"-0] ")

		missing := runPlugin(t, bin, "wait", "no-such-task", "--timeout", "5s")
		assert.Equal(t, 3, missing.code)
		assert.Contains(t, missing.errOut, `KusciaTask "no-such-task" not found`)

		kubectlLikeGet(t, bin, name)
	})
}

// kubectlLikeGet checks get's kubectl flags on the finished task name:
// -o name, -o jsonpath, -l, -w, and the version verb.
func kubectlLikeGet(t *testing.T, bin, name string) {
	t.Helper()
	r := runPlugin(t, bin, "get", name, "-o", "name")
	assert.Equal(t, "kusciatask.kuscia.secretflow/"+name+"\n", r.out, r.errOut)
	r = runPlugin(t, bin, "get", name, "-o", "jsonpath={.status.phase}")
	assert.Equal(t, "Succeeded", r.out, r.errOut)

	// -w -l: the task is printed when a label brings it into the
	// selection and again when one takes it out (a watch event each).
	watchOut, err := os.Create(filepath.Join(t.TempDir(), "watch.out"))
	require.NoError(t, err)
	watch := exec.Command(bin, "--kubeconfig", env.kubeconfig, "get", "-w", "-l", "e2e-plugin-watch=yes", "-o", "name")
	watch.Stdout, watch.Stderr = watchOut, watchOut
	require.NoError(t, watch.Start())
	time.Sleep(time.Second) // the watch is open
	kubectl(t, "label", "kt", name, "e2e-plugin-watch=yes")
	kubectl(t, "label", "--overwrite", "kt", name, "e2e-plugin-watch=no")
	eventually(t, 30*time.Second, "get -w to print the task twice", func() (bool, string) {
		b, _ := os.ReadFile(watchOut.Name())
		return strings.Count(string(b), "kusciatask.kuscia.secretflow/"+name+"\n") == 2, string(b)
	})
	require.NoError(t, watch.Process.Signal(os.Interrupt))
	assert.NoError(t, watch.Wait(), "get -w exits 0 on Ctrl-C")

	r = runPlugin(t, bin, "get", "-l", "e2e-plugin-watch=no", "-o", "name")
	assert.Equal(t, "kusciatask.kuscia.secretflow/"+name+"\n", r.out, r.errOut)
	r = runPlugin(t, bin, "get", "-l", "e2e-plugin-watch=yes")
	assert.Equal(t, "No KusciaTasks found.\n", r.out, r.errOut)

	r = runPlugin(t, bin, "version")
	t.Logf("$ kubectl kuscia version\n%s", r.out)
	assert.Equal(t, 0, r.code, r.errOut)
	assert.Regexp(t, `(?m)^Client Version: .*\nServer Version: v\d+\.\d+`, r.out)
}

// partyLineOf is the tree line of a party.
func partyLineOf(tree, domain string) string {
	for _, l := range strings.Split(tree, "\n") {
		if strings.Contains(l, "party "+domain) {
			return l
		}
	}
	return ""
}
