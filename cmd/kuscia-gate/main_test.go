package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/utils/clock"

	"kusciatask.io/controller/pkg/gate"
)

// files makes a gate file with content and an empty termination log.
func files(t *testing.T, content string) (gateFile, terminationLog string) {
	t.Helper()
	dir := t.TempDir()
	gateFile = filepath.Join(dir, "gate")
	terminationLog = filepath.Join(dir, "termination-log")
	require.NoError(t, os.WriteFile(gateFile, []byte(content), 0o644))
	require.NoError(t, os.WriteFile(terminationLog, nil, 0o644))
	return gateFile, terminationLog
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

func runGate(t *testing.T, ctx context.Context, args ...string) (int, string) {
	t.Helper()
	var stderr bytes.Buffer
	code := run(ctx, args, &stderr, clock.RealClock{})
	return code, stderr.String()
}

func TestOpenExitsZero(t *testing.T) {
	for _, content := range []string{"open", "open\n"} {
		file, termLog := files(t, content)
		code, _ := runGate(t, context.Background(), "--termination-log="+termLog, "--file="+file, "--deadline=1h")
		assert.Equal(t, 0, code)
		assert.Empty(t, readFile(t, termLog), "nothing to report")
	}
}

func TestOpensWhenTheFileChanges(t *testing.T) {
	file, termLog := files(t, "closed")
	done := make(chan int, 1)
	go func() {
		code, _ := runGate(t, context.Background(), "--termination-log="+termLog, "--file="+file,
			"--deadline="+gate.FormatDeadline(time.Now().Add(time.Hour)), "--poll-interval=10ms")
		done <- code
	}()
	// The kubelet swaps the projected file atomically; a rename does the same.
	tmp := file + ".new"
	require.NoError(t, os.WriteFile(tmp, []byte("open"), 0o644))
	require.NoError(t, os.Rename(tmp, file))
	assert.Equal(t, 0, <-done)
	assert.Empty(t, readFile(t, termLog))
}

func TestDeadlineExitsOneWithTheMessage(t *testing.T) {
	deadline := time.Now().Add(-time.Minute) // already passed: fails after one more look
	for _, content := range []string{"", "closed", "OPEN"} {
		file, termLog := files(t, content)
		code, _ := runGate(t, context.Background(), "--termination-log="+termLog, "--file="+file,
			"--deadline="+gate.FormatDeadline(deadline), "--poll-interval=10ms")
		assert.Equal(t, gate.ExitClosed, code, "content %q", content)
		assert.Equal(t, gate.DeadlineMessage(deadline), readFile(t, termLog))
	}
}

func TestDeadlineAsADuration(t *testing.T) {
	file, termLog := files(t, "closed")
	code, _ := runGate(t, context.Background(), "--termination-log="+termLog, "--file="+file,
		"--deadline=20ms", "--poll-interval=10ms")
	assert.Equal(t, gate.ExitClosed, code)
	assert.Contains(t, readFile(t, termLog), "passed with the gate closed")
}

func TestMissingFileIsReportedAtTheDeadline(t *testing.T) {
	_, termLog := files(t, "")
	code, _ := runGate(t, context.Background(), "--termination-log="+termLog, "--file=/nonexistent/gate",
		"--deadline=20ms", "--poll-interval=10ms")
	assert.Equal(t, gate.ExitClosed, code)
	msg := readFile(t, termLog)
	assert.Contains(t, msg, "passed with the gate closed")
	assert.Contains(t, msg, "last read error: open /nonexistent/gate: no such file or directory")
}

func TestStoppedBySignal(t *testing.T) {
	file, termLog := files(t, "closed")
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // as SIGTERM would
	code, _ := runGate(t, ctx, "--termination-log="+termLog, "--file="+file, "--deadline=1h", "--poll-interval=10ms")
	assert.Equal(t, gate.ExitClosed, code)
	assert.Equal(t, "kuscia-gate: stopped with the gate closed: context canceled", readFile(t, termLog))
}

func TestBadFlagsExitTwo(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "no deadline", want: "kuscia-gate: --deadline: deadline is empty"},
		{name: "bad deadline", args: []string{"--deadline=soon"}, want: `deadline "soon" is neither`},
		{name: "negative duration", args: []string{"--deadline=-1s"}, want: "a duration must be positive"},
		{name: "interval too short", args: []string{"--deadline=1h", "--poll-interval=1ms"}, want: "poll interval 1ms is outside"},
		{name: "interval too long", args: []string{"--deadline=1h", "--poll-interval=1h"}, want: "poll interval 1h0m0s is outside"},
		{name: "unknown flag", args: []string{"--nope"}, want: "flag provided but not defined: -nope"},
		{name: "positional argument", args: []string{"--deadline=1h", "sh", "-c", "true"}, want: `unexpected arguments ["sh" "-c" "true"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file, termLog := files(t, "open")
			args := append([]string{"--termination-log=" + termLog, "--file=" + file}, tt.args...)
			code, _ := runGate(t, context.Background(), args...)
			assert.Equal(t, exitUsage, code)
			assert.Contains(t, readFile(t, termLog), tt.want)
		})
	}
}

func TestHelpExitsZero(t *testing.T) {
	code, stderr := runGate(t, context.Background(), "--help")
	assert.Equal(t, 0, code)
	assert.Contains(t, stderr, "kuscia-gate waits for its pod's gate to open")
	assert.Contains(t, stderr, "-deadline")
}

// The termination log is only ever written, never created: a gate run by
// hand leaves no /dev/termination-log behind.
func TestTerminationLogIsNotCreated(t *testing.T) {
	file, _ := files(t, "closed")
	absent := filepath.Join(t.TempDir(), "absent")
	code, _ := runGate(t, context.Background(), "--termination-log="+absent, "--file="+file, "--deadline=-1s")
	assert.Equal(t, exitUsage, code)
	_, err := os.Stat(absent)
	assert.True(t, os.IsNotExist(err))
}

// Long messages are cut to what the kubelet keeps.
func TestTerminationMessageIsBounded(t *testing.T) {
	_, termLog := files(t, "")
	long := "/" + strings.Repeat("x", 5000)
	code, _ := runGate(t, context.Background(), "--termination-log="+termLog, "--file="+long,
		"--deadline=10ms", "--poll-interval=10ms")
	assert.Equal(t, gate.ExitClosed, code)
	assert.Len(t, readFile(t, termLog), maxTerminationMessage)
}

// TestInstallCopiesTheBinary: --install copies the running binary (here the
// test binary) to the path, executable by all, and needs no --deadline.
func TestInstallCopiesTheBinary(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "kuscia-gate")
	code, stderr := runGate(t, context.Background(), "--install="+dst, "--termination-log=")
	require.Equal(t, 0, code, stderr)
	info, err := os.Stat(dst)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o555), info.Mode().Perm())
	self, err := os.Executable()
	require.NoError(t, err)
	want, err := os.ReadFile(self)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(want, []byte(readFile(t, dst))), "the copy is the binary itself")
	_, err = os.Stat(dst + ".tmp")
	assert.True(t, os.IsNotExist(err), "no temporary file left")
}

// TestInstallIntoAMissingFolderFails: the volume must be mounted; without
// it the install fails with the path in its message.
func TestInstallIntoAMissingFolderFails(t *testing.T) {
	_, termLog := files(t, "")
	dst := filepath.Join(t.TempDir(), "missing", "kuscia-gate")
	code, _ := runGate(t, context.Background(), "--install="+dst, "--termination-log="+termLog)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, readFile(t, termLog), dst)
}

// TestPullOnlyExitsAtOnce: --pull-only needs no gate file and no deadline.
func TestPullOnlyExitsAtOnce(t *testing.T) {
	code, stderr := runGate(t, context.Background(), "--pull-only", "--file=/nonexistent", "--termination-log=")
	assert.Equal(t, 0, code, stderr)
	code, _ = runGate(t, context.Background(), "--pull-only", "--install=/tmp/x", "--termination-log=")
	assert.Equal(t, exitUsage, code, "the two modes exclude each other")
}
