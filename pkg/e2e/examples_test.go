//go:build e2e

package e2e

// The walk-through examples of examples/, applied as they are (kubectl apply
// -f examples/<file>) and followed to their end. Each example's comment
// shows what `kubectl kuscia get` (or `wait`, or `validate`) prints at the
// end; the tests hold the real output to those lines, so the comments stay
// true.

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"kusciatask.io/controller/examples"
	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
	"kusciatask.io/controller/pkg/plugin"
	"kusciatask.io/controller/pkg/plugin/validate"
)

// applyExample applies an example file as it is and deletes its task when
// the test ends; it returns the task's name.
func applyExample(t *testing.T, file string) string {
	t.Helper()
	task, err := examples.Task(file)
	require.NoError(t, err)
	deleteTaskOnCleanup(t, task.Name)
	out := kubectl(t, "apply", "-f", example(file))
	require.Contains(t, out, "kusciatask.kuscia.secretflow/"+task.Name+" created")
	return task.Name
}

// runKuscia runs `kubectl kuscia <args>` in-process against the e2e plane,
// as cmd/kubectl-kuscia does; an error main would print is appended to
// errOut.
func runKuscia(t *testing.T, args ...string) pluginRun {
	t.Helper()
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	cmd := plugin.NewCommand(genericclioptions.NewConfigFlags(false), streams)
	cmd.SetArgs(append([]string{"--kubeconfig", env.kubeconfig}, args...))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := cmd.ExecuteContext(ctx)
	if plugin.ShouldPrint(err) {
		errOut.WriteString("error: " + err.Error() + "\n")
	}
	return pluginRun{out: out.String(), errOut: errOut.String(), code: plugin.ExitCode(err), exited: time.Now()}
}

// promisedLines are the lines an example's comment shows under
// "$ <command>": what the command prints, "…" standing for what varies
// (ages, node names, the rest of a long message).
func promisedLines(t *testing.T, file, command string) []string {
	t.Helper()
	data, err := os.ReadFile(example(file))
	require.NoError(t, err)
	var lines []string
	in := false
	for _, l := range strings.Split(string(data), "\n") {
		switch {
		case l == "#   $ "+command:
			in = true
		case in && strings.HasPrefix(l, "#   ") && !strings.HasPrefix(l, "#   $ "):
			lines = append(lines, strings.TrimPrefix(l, "#   "))
		case in:
			require.NotEmpty(t, lines, "%s shows no output under $ %s", file, command)
			return lines
		}
	}
	require.NotEmpty(t, lines, "%s shows no output under $ %s", file, command)
	return lines
}

// assertPromised checks that every line an example's comment promises for
// command is a line of out: "…" matches anything, runs of spaces any
// number of spaces (column padding).
func assertPromised(t *testing.T, file, command, out string) {
	t.Helper()
	spaces := regexp.MustCompile(` {2,}`)
	for _, promised := range promisedLines(t, file, command) {
		parts := strings.Split(promised, "…")
		for i, p := range parts {
			parts[i] = spaces.ReplaceAllString(regexp.QuoteMeta(p), ` +`)
		}
		assert.Regexp(t, `(?m)^`+strings.Join(parts, `.*`)+`$`, out, "%s promises this line of `%s`", file, command)
	}
}

// getTree is `kubectl kuscia get <task>`, checked against what the example
// promises.
func getTree(t *testing.T, file, name string) string {
	t.Helper()
	r := runKuscia(t, "get", name)
	require.Equal(t, plugin.ExitOK, r.code, r.errOut)
	t.Logf("$ kubectl kuscia get %s\n%s", name, r.out)
	assertPromised(t, file, "kubectl kuscia get "+name, r.out)
	return r.out
}

// partyStatus is the status of one party of a task.
func partyStatus(t *testing.T, task *kusciav1alpha1.KusciaTask, domainID string) kusciav1alpha1.PartyTaskStatus {
	t.Helper()
	for _, ps := range task.Status.PartyTaskStatus {
		if ps.DomainID == domainID {
			return ps
		}
	}
	t.Fatalf("task %s has no party %s in status: %+v", task.Name, domainID, task.Status.PartyTaskStatus)
	return kusciav1alpha1.PartyTaskStatus{}
}

// taskConfig is the part of a rendered task-config.conf (the
// secretflow-image AppImage's template) the tests read.
type taskConfig struct {
	TaskID         string                `json:"task_id"`
	DomainID       string                `json:"domain_id"`
	TaskClusterDef builder.ClusterDefine `json:"task_cluster_def"`
}

// three-parties.yaml: three domains, one gang; every pod's cluster
// definition lists all three parties with the endpoints of their served
// ports and its own index.
func TestExampleThreeParties(t *testing.T) {
	name := applyExample(t, examples.ThreePartiesFile)
	task := waitPhase(t, name, kusciav1alpha1.TaskSucceeded, 90*time.Second)
	assert.Equal(t, kusciav1alpha1.ReasonSucceeded, task.Status.Reason)
	assert.Equal(t, "3 of 3 parties succeeded", task.Status.Message)
	assert.Equal(t, "3/3 succeeded", task.Status.PartiesSummary)
	assert.Equal(t, []string{"alice", "bob", "charlie"}, task.Status.Reservation.ReservedParties)

	domains := []string{"alice", "bob", "charlie"}
	for i, domain := range domains {
		assert.Equal(t, kusciav1alpha1.TaskSucceeded, partyStatus(t, task, domain).Phase, domain)
		cm, err := env.kube.CoreV1().ConfigMaps(domain).Get(testContext(t), name+"-0-config", metav1GetOptions)
		require.NoError(t, err, domain)
		var conf taskConfig
		require.NoError(t, json.Unmarshal([]byte(cm.Data["task-config.conf"]), &conf), cm.Data["task-config.conf"])
		assert.Equal(t, domain, conf.DomainID)
		def := conf.TaskClusterDef
		assert.Equal(t, i, def.SelfPartyIdx, "%s's own index", domain)
		require.Len(t, def.Parties, 3, domain)
		portNumbers := map[string]string{"spu": "32000", "fed": "32001", "global": "32002"}
		for j, p := range def.Parties {
			assert.Equal(t, domains[j], p.Name)
			var ports []string
			for _, s := range p.Services {
				ports = append(ports, s.PortName)
				assert.Equal(t, []string{name + "-0-" + s.PortName + "." + p.Name + ".svc:" + portNumbers[s.PortName]}, s.Endpoints)
			}
			assert.Equal(t, []string{"spu", "fed", "global"}, ports, "the served ports %s sees of %s", domain, p.Name)
		}
	}
	getTree(t, examples.ThreePartiesFile, name)
}

// partial-gang.yaml: two of three parties are enough; charlie can never be
// placed, is left out when alice and bob reserve, and is reported Failed
// with why, while the task succeeds.
func TestExamplePartialGang(t *testing.T) {
	name := applyExample(t, examples.PartialGangFile)
	task := waitPhase(t, name, kusciav1alpha1.TaskSucceeded, 90*time.Second)
	assert.Equal(t, kusciav1alpha1.ReasonSucceeded, task.Status.Reason)
	assert.Equal(t, "2 of 3 parties succeeded", task.Status.Message)
	assert.Equal(t, "2/3 succeeded, 1/3 failed", task.Status.PartiesSummary)
	assert.Equal(t, []string{"alice", "bob"}, task.Status.Reservation.ReservedParties)
	require.NotNil(t, task.Status.Reservation.GateOpenedTime)
	assert.Equal(t, kusciav1alpha1.TaskSucceeded, partyStatus(t, task, "alice").Phase)
	assert.Equal(t, kusciav1alpha1.TaskSucceeded, partyStatus(t, task, "bob").Phase)
	charlie := partyStatus(t, task, "charlie")
	assert.Equal(t, kusciav1alpha1.TaskFailed, charlie.Phase)
	assert.Equal(t, "not reserved when the task started; its pods were deleted", charlie.Message)

	ps := task.Status.PodStatuses["charlie/"+name+"-0"]
	require.NotNil(t, ps, "charlie's pod is reported")
	assert.Equal(t, kusciav1alpha1.PodReasonStopped, ps.Reason)
	assert.Contains(t, ps.Message, "party charlie was not reserved when the task started")
	assert.Empty(t, ps.NodeName, "charlie's pod was never placed")
	eventually(t, 30*time.Second, "charlie's pod to be deleted", func() (bool, string) {
		left := taskPods(t, task, "charlie")
		return len(left) == 0, itoa(len(left)) + " pods left"
	})
	getTree(t, examples.PartialGangFile, name)
}

// party-fails.yaml: bob's application exits 1; the task fails with bob's
// exit code and termination message, alice's running pod is stopped, bob's
// failed pod stays for its logs.
func TestExamplePartyFails(t *testing.T) {
	const message = "psi: bob-table has no column id2"
	name := applyExample(t, examples.PartyFailsFile)
	task := waitPhase(t, name, kusciav1alpha1.TaskFailed, 90*time.Second)
	assert.Equal(t, kusciav1alpha1.ReasonPartiesFailed, task.Status.Reason)
	assert.Contains(t, task.Status.Message, "party bob failed: pod bob/"+name+"-0")
	assert.Contains(t, task.Status.Message, "exited with code 1")
	assert.Contains(t, task.Status.Message, message)

	bob := partyStatus(t, task, "bob")
	assert.Equal(t, kusciav1alpha1.TaskFailed, bob.Phase)
	assert.Contains(t, bob.Message, "bob/"+name+"-0")
	assert.Contains(t, bob.Message, message)
	bobPod := task.Status.PodStatuses["bob/"+name+"-0"]
	require.NotNil(t, bobPod)
	assert.Equal(t, message, bobPod.TerminationLog)
	alicePod := task.Status.PodStatuses["alice/"+name+"-0"]
	require.NotNil(t, alicePod)
	assert.Equal(t, kusciav1alpha1.PodReasonStopped, alicePod.Reason, "alice's running pod is stopped with the task")

	eventually(t, 30*time.Second, "alice's running pod to be deleted", func() (bool, string) {
		_, err := env.kube.CoreV1().Pods("alice").Get(testContext(t), name+"-0", metav1GetOptions)
		return isNotFound(err), "alice's pod still there"
	})
	_, err := env.kube.CoreV1().Pods("bob").Get(testContext(t), name+"-0", metav1GetOptions)
	assert.NoError(t, err, "bob's failed pod stays for its logs")
	assert.Equal(t, message, kubectl(t, "get", "kt", name, "-o", "jsonpath={.status.podStatuses.bob/"+name+"-0.terminationLog}"))
	assert.Regexp(t, `Warning\s+PartiesFailed`, kubectl(t, "describe", "kt", name))

	wait := runKuscia(t, "wait", name, "--timeout", "30s")
	assert.Equal(t, 1, wait.code, "kubectl kuscia wait exits 1 for a failed task: %s%s", wait.out, wait.errOut)
	getTree(t, examples.PartyFailsFile, name)
}

// psi-too-big.yaml: bob can never be placed. While Pending, alice is held
// and get says the task waits for bob; rounds are released; the task
// expires naming bob and the scheduler's reason.
func TestExamplePSITooBig(t *testing.T) {
	name := applyExample(t, examples.TooBigFile)
	eventually(t, 60*time.Second, "the task to hold alice and wait for bob", func() (bool, string) {
		task := getTask(t, name)
		r := task.Status.Reservation
		if task.Status.Phase != kusciav1alpha1.TaskPending || r == nil || len(r.ReservedParties) != 1 || r.ReleasedTime != nil {
			return false, "phase " + string(task.Status.Phase) + ", message " + task.Status.Message
		}
		out := runKuscia(t, "get", name).out
		return strings.Contains(out, "waiting for: bob") && strings.Contains(out, "reserved alice"), out
	})

	task := waitPhase(t, name, kusciav1alpha1.TaskFailed, 120*time.Second)
	assert.Equal(t, kusciav1alpha1.ReasonReservationExpired, task.Status.Reason)
	assert.Contains(t, task.Status.Message, "parties [bob] did not reserve within 40s")
	assert.Contains(t, task.Status.Message, "Insufficient cpu")
	assert.Contains(t, task.Status.Message, "Insufficient memory")
	assert.Contains(t, task.Status.Reservation.LastFailure, "parties [bob] did not reserve within 10s of the first reserved party")
	assert.Nil(t, task.Status.Reservation.GateOpenedTime, "no gate ever opened")
	assert.Regexp(t, `Warning\s+RoundReleased`, kubectl(t, "describe", "kt", name), "a round was released and retried")

	wait := runKuscia(t, "wait", name, "--timeout", "30s")
	assert.Equal(t, 1, wait.code, wait.out+wait.errOut)
	assertPromised(t, examples.TooBigFile, "kubectl kuscia wait "+name, wait.out+wait.errOut)
	getTree(t, examples.TooBigFile, name)
}

// three-mistakes.yaml: validate against the cluster lists the three
// mistakes its comment names, one line each, and exits 1; fixed, the task
// is valid; applied anyway, it fails at once and creates nothing.
func TestExampleThreeMistakes(t *testing.T) {
	file := example(examples.ThreeMistakesFile)
	res := runKuscia(t, "validate", "-f", file)
	require.Equal(t, validate.ExitProblems, res.code, res.out+res.errOut)
	t.Logf("$ kubectl kuscia validate -f %s\n%s", file, res.out)
	lines := regexp.MustCompile(`(?m)^  ✗ .*$`).FindAllString(res.out, -1)
	require.Len(t, lines, 3, res.out)
	assert.Contains(t, res.out, "KusciaTask three-mistakes in "+file+": 3 problems\n")
	for _, promised := range promisedLines(t, examples.ThreeMistakesFile, "kubectl kuscia validate -f examples/three-mistakes.yaml") {
		if strings.HasPrefix(promised, "  ✗ ") {
			assert.Contains(t, lines, promised, "the comment's line is validate's, as it prints it")
		}
	}
	assert.True(t, strings.HasSuffix(res.out, "\n3 problems in 1 task\n"), res.out)

	data, err := os.ReadFile(file)
	require.NoError(t, err)
	fixed := strings.NewReplacer(
		"appImageRef: secretflow-imgae", "appImageRef: secretflow-image",
		"{mountPath: /root/kuscia/task.conf, subPath: task.conf}", "{mountPath: /root/kuscia/task-config.conf, subPath: task-config.conf}",
		"domainID: carol", "domainID: charlie",
	).Replace(string(data))
	require.NotEqual(t, string(data), fixed)
	res = runKuscia(t, "validate", "-f", writeTemp(t, "fixed.yaml", fixed))
	assert.Equal(t, validate.ExitValid, res.code, res.out+res.errOut)
	assert.True(t, strings.HasSuffix(res.out, "\nno problems in 1 task\n"), res.out)

	name := applyExample(t, examples.ThreeMistakesFile)
	task := waitPhase(t, name, kusciav1alpha1.TaskFailed, 30*time.Second)
	assert.Equal(t, kusciav1alpha1.ReasonAppImageNotFound, task.Status.Reason)
	for _, want := range []string{`AppImage "secretflow-imgae" not found`, `mounts config file "task.conf"`, `namespace "carol" does not exist`} {
		assert.Contains(t, task.Status.Message, want)
	}
	assert.Zero(t, childCount(t, string(task.UID), "alice", "bob"), "nothing is created for a task that fails its input")
}
