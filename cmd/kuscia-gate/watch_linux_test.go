package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// downwardAPIDir lays out a folder as the kubelet writes a downward-API
// volume: the data in a timestamped folder, a ..data symlink to it, and the
// file a symlink through ..data.
func downwardAPIDir(t *testing.T, content string) (dir string, update func(content string)) {
	t.Helper()
	dir = t.TempDir()
	version := 0
	write := func(content string) {
		version++
		data := filepath.Join(dir, "..v"+string(rune('0'+version)))
		require.NoError(t, os.Mkdir(data, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(data, "gate"), []byte(content), 0o644))
		tmp := filepath.Join(dir, "..data_tmp")
		require.NoError(t, os.Symlink(filepath.Base(data), tmp))
		require.NoError(t, os.Rename(tmp, filepath.Join(dir, "..data")))
	}
	write(content)
	require.NoError(t, os.Symlink(filepath.Join("..data", "gate"), filepath.Join(dir, "gate")))
	return dir, write
}

// The kubelet's symlink swap wakes the gate: with a poll interval of a
// minute, only the watch can open it before the test's own limit.
func TestOpensOnTheKubeletsSwapWithoutWaitingForAPoll(t *testing.T) {
	dir, update := downwardAPIDir(t, "closed")
	_, termLog := files(t, "")
	done := make(chan int, 1)
	go func() {
		code, _ := runGate(t, context.Background(), "--termination-log="+termLog, "--file="+filepath.Join(dir, "gate"),
			"--deadline=1h", "--poll-interval=1m")
		done <- code
	}()
	// A first swap that keeps it closed, then the opening one: whichever
	// the watch is registered in time for, the second one opens the gate.
	update("closed")
	update("open")
	select {
	case code := <-done:
		assert.Equal(t, 0, code)
	case <-time.After(30 * time.Second):
		t.Fatal("the gate did not open on the symlink swap within 30s (poll interval 1m)")
	}
}

func TestWatchDirSignalsARenameAndStops(t *testing.T) {
	dir, update := downwardAPIDir(t, "closed")
	changed, stop, err := watchDir(dir)
	require.NoError(t, err)
	update("open")
	select {
	case <-changed:
	case <-time.After(30 * time.Second):
		t.Fatal("no signal for a rename into the watched folder")
	}
	stop()
	stop() // a second stop is harmless
}

func TestWatchDirRefusesAMissingFolder(t *testing.T) {
	_, _, err := watchDir(filepath.Join(t.TempDir(), "missing"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "missing")
}
