// Tests of get as kubectl's: -o wide|name|jsonpath|custom-columns,
// --no-headers, -l, -A, -w.

package plugin

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// allTasks are a waiting, a failed, a succeeded and a new task.
func allTasks(t *testing.T) *env {
	return newEnv(nil, waitingTask(t), failedTask(t), succeededTask(t), psiTask(t, "psi-new"))
}

func TestGetWide(t *testing.T) {
	out, _, err := allTasks(t).run(context.Background(), "get", "-o", "wide")
	require.NoError(t, err)
	golden(t, "get-list-wide", out)

	// One task named with -o wide is its row, not the tree.
	out, _, err = allTasks(t).run(context.Background(), "get", "psi-failed", "-o", "wide", "--no-headers")
	require.NoError(t, err)
	assert.Equal(t, 1, strings.Count(out, "\n"), out)
	assert.Regexp(t, `^psi-failed\s+Failed\s+5m\s+1\s+2/2 failed\s+PartiesFailed\s+2\s+alice,bob\s+party bob failed`, out)
}

func TestGetMachineFormats(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"name, list", []string{"get", "-o", "name"},
			"kusciatask.kuscia.secretflow/psi-done\nkusciatask.kuscia.secretflow/psi-failed\nkusciatask.kuscia.secretflow/psi-new\nkusciatask.kuscia.secretflow/psi-waiting\n"},
		{"name, one", []string{"get", "psi-done", "-o", "name"}, "kusciatask.kuscia.secretflow/psi-done\n"},
		{"jsonpath, one", []string{"get", "psi-failed", "-o", "jsonpath={.status.phase} {.status.reason}"}, "Failed PartiesFailed"},
		{"jsonpath, list", []string{"get", "-o", "jsonpath={.items[*].metadata.name}"}, "psi-done psi-failed psi-new psi-waiting"},
		{"jsonpath with kind", []string{"get", "psi-done", "-o", "jsonpath={.kind}"}, "KusciaTask"},
		{"go-template", []string{"get", "psi-done", "-o", "go-template={{.status.phase}}"}, "Succeeded"},
		{"custom-columns", []string{"get", "-o", "custom-columns=NAME:.metadata.name,PHASE:status.phase,ROUND:{.status.reservation.round}"},
			"NAME          PHASE       ROUND\npsi-done      Succeeded   1\npsi-failed    Failed      1\npsi-new       <none>      <none>\npsi-waiting   Pending     2\n"},
		{"custom-columns, no headers", []string{"get", "psi-done", "--no-headers", "-o", "custom-columns=N:.metadata.name"}, "psi-done\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := allTasks(t).run(context.Background(), tc.args...)
			require.NoError(t, err)
			assert.Equal(t, tc.want, out)
		})
	}
}

func TestGetNoHeaders(t *testing.T) {
	out, _, err := allTasks(t).run(context.Background(), "get", "--no-headers")
	require.NoError(t, err)
	assert.NotContains(t, out, "NAME")
	assert.Equal(t, 4, strings.Count(out, "\n"))
}

// -l lists the tasks whose labels match; -A changes nothing (KusciaTasks
// are cluster-scoped).
func TestGetSelectorAndAllNamespaces(t *testing.T) {
	labelled := succeededTask(t)
	labelled.Labels = map[string]string{"team": "psi"}
	e := newEnv(nil, labelled, failedTask(t))
	out, _, err := e.run(context.Background(), "get", "-l", "team=psi", "-o", "name")
	require.NoError(t, err)
	assert.Equal(t, "kusciatask.kuscia.secretflow/psi-done\n", out)
	out, _, err = e.run(context.Background(), "get", "--selector", "team!=psi", "-o", "name")
	require.NoError(t, err)
	assert.Equal(t, "kusciatask.kuscia.secretflow/psi-failed\n", out)

	all, _, err := e.run(context.Background(), "get")
	require.NoError(t, err)
	for _, flag := range []string{"-A", "--all-namespaces", "--namespace=alice"} {
		out, _, err := e.run(context.Background(), "get", flag)
		require.NoError(t, err, flag)
		assert.Equal(t, all, out, flag)
	}
}

func TestGetPrintFlagErrors(t *testing.T) {
	e := allTasks(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"get", "-o", "xml"}, `unknown output format "xml": use wide, json, yaml,`},
		{[]string{"get", "-o", "custom-columns=NAME"}, `"NAME" is not HEADER:JSONPATH`},
		{[]string{"get", "-o", "custom-columns=N:{.metadata.name"}, "column N"},
		{[]string{"get", "-o", "jsonpath={.status"}, "-o jsonpath="},
		{[]string{"get", "psi-done", "-l", "team=psi"}, "a task name and -l/--selector cannot be used together"},
		{[]string{"get", "-l", "team in (a"}, `-l "team in (a"`},
	} {
		_, _, err := e.run(context.Background(), tc.args...)
		require.Error(t, err, "%v", tc.args)
		assert.Equal(t, ExitError, ExitCode(err), "%v", tc.args)
		assert.Contains(t, err.Error(), tc.want, "%v", tc.args)
	}
}

// lockedBuffer is an output written by a running command and read by the
// test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// getWatch runs get -w with args until stop is closed; it returns the
// output and get's error.
func (e *env) getWatch(t *testing.T, args ...string) (out *lockedBuffer, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out = &lockedBuffer{}
	done := make(chan error, 1)
	go func() { done <- e.runTo(ctx, out, &lockedBuffer{}, append([]string{"get", "-w"}, args...)...) }()
	e.watching(t, "kusciatasks", 1)
	return out, func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("get -w did not return")
			return nil
		}
	}
}

// get -w prints the table, then a row for each change; Ctrl-C (the end of
// the context) ends it with exit 0.
func TestGetWatchTable(t *testing.T) {
	waiting := waitingTask(t)
	e := newEnv(nil, waiting)
	out, stop := e.getWatch(t)
	e.setStatus(t, waiting, failedTask(t).Status)
	_, err := e.kuscia.KusciaV1alpha1().KusciaTasks().Create(context.Background(), psiTask(t, "psi-new"), metav1.CreateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "psi-new") }, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, stop())
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 4, out.String())
	assert.Regexp(t, `^NAME\s+PHASE`, lines[0])
	assert.Regexp(t, `^psi-waiting\s+Pending`, lines[1])
	assert.Regexp(t, `^psi-waiting\s+Failed\s+5m\s+1\s+2/2 failed\s+PartiesFailed`, lines[2])
	assert.Regexp(t, `^psi-new\s+<new>`, lines[3])
}

// get TASK -w -o name follows that task only.
func TestGetWatchOneTaskByName(t *testing.T) {
	waiting, other := waitingTask(t), psiTask(t, "psi-other")
	e := newEnv(nil, waiting, other)
	out, stop := e.getWatch(t, waiting.Name, "-o", "jsonpath={.metadata.name}={.status.phase}{\"\\n\"}")
	e.setStatus(t, other, failedTask(t).Status)
	e.setStatus(t, waiting, succeededTask(t).Status)
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "Succeeded") }, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, stop())
	assert.Equal(t, "psi-waiting=Pending\npsi-waiting=Succeeded\n", out.String())

	_, _, err := e.run(context.Background(), "get", "-w", "nope")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `getting KusciaTask "nope"`)
}
