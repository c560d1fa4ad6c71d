package plugin

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

func TestGetList(t *testing.T) {
	e := newEnv(nil, waitingTask(t), failedTask(t), succeededTask(t), psiTask(t, "psi-new"))
	out, _, err := e.run(context.Background(), "get")
	require.NoError(t, err)
	golden(t, "get-list", out)
}

func TestGetListEmpty(t *testing.T) {
	out, _, err := newEnv(nil).run(context.Background(), "get")
	require.NoError(t, err)
	assert.Equal(t, "No KusciaTasks found.\n", out)
}

func TestGetTree(t *testing.T) {
	waiting := waitingTask(t)
	failed := failedTask(t)
	tests := []struct {
		name string
		task *kusciav1alpha1.KusciaTask
		pods []runtime.Object
	}{
		// A waiting party's reason, the round and what it waits for, and
		// the last failure; the live pod adds its restarts.
		{"get-tree-waiting", waiting, []runtime.Object{taskPod(waiting, "alice", "kwok-node-0", 0)}},
		// The reason and exit code of the failed party's pod.
		{"get-tree-failed", failed, []runtime.Object{taskPod(failed, "bob", "kwok-node-1", 2)}},
		// A task the controller has not seen yet.
		{"get-tree-new", psiTask(t, "psi-new"), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(tc.pods, tc.task)
			out, _, err := e.run(context.Background(), "get", tc.task.Name)
			require.NoError(t, err)
			assert.NotContains(t, out, "\x1b[", "no colour when not on a terminal")
			golden(t, tc.name, out)
		})
	}
}

// -o yaml and -o json pass the stored task through, status included.
func TestGetOutputFormats(t *testing.T) {
	task := waitingTask(t)
	e := newEnv(nil, task)
	for _, format := range []string{"yaml", "json"} {
		t.Run(format, func(t *testing.T) {
			out, _, err := e.run(context.Background(), "get", task.Name, "-o", format)
			require.NoError(t, err)
			var got kusciav1alpha1.KusciaTask
			require.NoError(t, yaml.Unmarshal([]byte(out), &got), out)
			assert.Equal(t, "kuscia.secretflow/v1alpha1", got.APIVersion)
			assert.Equal(t, "KusciaTask", got.Kind)
			assert.True(t, equality.Semantic.DeepEqual(task.Status, got.Status), "status passed through: %s", out)
		})
	}
	out, _, err := e.run(context.Background(), "get", "-o", "yaml")
	require.NoError(t, err)
	var list kusciav1alpha1.KusciaTaskList
	require.NoError(t, yaml.Unmarshal([]byte(out), &list))
	assert.Equal(t, "KusciaTaskList", list.Kind)
	require.Len(t, list.Items, 1)
	assert.True(t, equality.Semantic.DeepEqual(task.Status, list.Items[0].Status))
}

func TestGetErrors(t *testing.T) {
	e := newEnv(nil, waitingTask(t))
	_, _, err := e.run(context.Background(), "get", "nope")
	require.Error(t, err)
	assert.Equal(t, ExitError, ExitCode(err))
	assert.Contains(t, err.Error(), `KusciaTask "nope"`)
}

func TestPalette(t *testing.T) {
	on := palette{on: true}
	assert.Equal(t, "\x1b[31mFailed\x1b[0m", on.phase(kusciav1alpha1.TaskFailed))
	assert.Equal(t, "\x1b[32mSucceeded\x1b[0m", on.phase(kusciav1alpha1.TaskSucceeded))
	assert.Equal(t, "Failed", palette{}.phase(kusciav1alpha1.TaskFailed))
	// A buffer is not a terminal.
	assert.False(t, paletteFor(&strings.Builder{}).on)
}

func TestCompletion(t *testing.T) {
	e := newEnv(nil, waitingTask(t), failedTask(t), succeededTask(t))
	out, _, err := e.run(context.Background(), "__complete", "get", "psi-f")
	require.NoError(t, err)
	assert.Equal(t, "psi-failed\n:4\n", firstLines(out, 2))
	out, _, err = e.run(context.Background(), "__complete", "wait", "")
	require.NoError(t, err)
	assert.Equal(t, "psi-done\npsi-failed\npsi-waiting\n", firstLines(out, 3))
	// wait takes several tasks: those given are not offered again.
	out, _, err = e.run(context.Background(), "__complete", "wait", "psi-done", "psi-")
	require.NoError(t, err)
	assert.Equal(t, "psi-failed\npsi-waiting\n:4\n", firstLines(out, 3))
	// get takes one.
	out, _, err = e.run(context.Background(), "__complete", "get", "psi-done", "")
	require.NoError(t, err)
	assert.Equal(t, ":4\n", firstLines(out, 1))
}

// --party completes the parties of the task named, after a comma too.
func TestCompletePartyFlag(t *testing.T) {
	e := newEnv(nil, waitingTask(t))
	cases := []struct{ typed, want string }{
		{"", "alice\nbob\n:6\n"},
		{"b", "bob\n:6\n"},
		{"alice,", "alice,bob\n:6\n"},
		{"alice,bob,", ":6\n"},
	}
	for _, tc := range cases {
		out, _, err := e.run(context.Background(), "__complete", "logs", "psi-waiting", "--party", tc.typed)
		require.NoError(t, err)
		assert.Equal(t, tc.want, firstLines(out, strings.Count(tc.want, "\n")), "typed %q", tc.typed)
	}
	out, _, err := e.run(context.Background(), "__complete", "get", "-o", "")
	require.NoError(t, err)
	assert.Contains(t, out, "wide\njson\nyaml\n")
}

func firstLines(s string, n int) string {
	lines := strings.SplitAfter(s, "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "")
}

// Bad flags and verbs are errors of exit code 3, printed by main.
func TestUsageErrors(t *testing.T) {
	e := newEnv(nil)
	for _, args := range [][]string{{"get", "--bogus"}, {"nope"}, {"get", "a", "b"}, {"logs"}} {
		_, _, err := e.run(context.Background(), args...)
		require.Error(t, err, "%v", args)
		assert.Equal(t, ExitError, ExitCode(err), "%v", args)
		assert.True(t, ShouldPrint(err), "%v", args)
	}
	assert.Equal(t, ExitOK, ExitCode(nil))
}
