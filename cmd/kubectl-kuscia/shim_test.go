// Tests of kubectl_complete-kuscia, kubectl's completion shim: it calls
// the plugin's __complete with kubectl's arguments, the plugin beside it
// first, else the one on PATH.

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakePlugin writes a kubectl-kuscia into dir that prints who it is and
// its arguments.
func fakePlugin(t *testing.T, dir, who string) {
	t.Helper()
	script := "#!/bin/sh\necho " + who + " \"$@\"\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "kubectl-kuscia"), []byte(script), 0o755))
}

// shimIn copies the shim into dir.
func shimIn(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile("kubectl_complete-kuscia")
	require.NoError(t, err)
	path := filepath.Join(dir, "kubectl_complete-kuscia")
	require.NoError(t, os.WriteFile(path, b, 0o755))
	return path
}

func TestCompletionShim(t *testing.T) {
	beside, onPath := t.TempDir(), t.TempDir()
	fakePlugin(t, onPath, "on-path")
	t.Setenv("PATH", onPath+string(os.PathListSeparator)+os.Getenv("PATH"))

	shim := shimIn(t, beside)
	out, err := exec.Command(shim, "logs", "psi", "--party", "al").Output()
	require.NoError(t, err)
	assert.Equal(t, "on-path __complete logs psi --party al\n", string(out), "no plugin beside it: the one on PATH")

	fakePlugin(t, beside, "beside")
	out, err = exec.Command(shim, "get", "").Output()
	require.NoError(t, err)
	assert.Equal(t, "beside __complete get \n", string(out), "the plugin beside it first")
}
