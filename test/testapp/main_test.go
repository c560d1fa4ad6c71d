package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

func TestPlanFromEnv(t *testing.T) {
	cases := []struct {
		name     string
		vars     map[string]string
		want     plan
		warnings int
	}{
		{"nothing set: succeed after 2s", nil, plan{outcome: outcomeSucceed, delay: 2 * time.Second}, 0},
		{"delay", map[string]string{"KWOK_DELAY": "500ms"}, plan{outcome: outcomeSucceed, delay: 500 * time.Millisecond}, 0},
		{"empty delay: none", map[string]string{"KWOK_DELAY": ""}, plan{outcome: outcomeSucceed}, 0},
		{"negative delay: none", map[string]string{"KWOK_DELAY": "-1s"}, plan{outcome: outcomeSucceed}, 0},
		{"unparsable delay: the default", map[string]string{"KWOK_DELAY": "soon"}, plan{outcome: outcomeSucceed, delay: 2 * time.Second}, 1},
		{"fail: exit 1 by default", map[string]string{"KWOK_OUTCOME": "fail"}, plan{outcome: outcomeFail, delay: 2 * time.Second, exitCode: 1}, 0},
		{"fail with code, message and delay",
			map[string]string{"KWOK_OUTCOME": "fail", "KWOK_EXIT_CODE": "3", "KWOK_MESSAGE": "boom", "KWOK_DELAY": "1s"},
			plan{outcome: outcomeFail, delay: time.Second, exitCode: 3, message: "boom"}, 0},
		{"fail, empty exit code: 1", map[string]string{"KWOK_OUTCOME": "fail", "KWOK_EXIT_CODE": ""}, plan{outcome: outcomeFail, delay: 2 * time.Second, exitCode: 1}, 0},
		{"fail, exit code 0: 1", map[string]string{"KWOK_OUTCOME": "fail", "KWOK_EXIT_CODE": "0"}, plan{outcome: outcomeFail, delay: 2 * time.Second, exitCode: 1}, 1},
		{"fail, exit code 256: 1", map[string]string{"KWOK_OUTCOME": "fail", "KWOK_EXIT_CODE": "256"}, plan{outcome: outcomeFail, delay: 2 * time.Second, exitCode: 1}, 1},
		{"fail, exit code not a number: 1", map[string]string{"KWOK_OUTCOME": "fail", "KWOK_EXIT_CODE": "x"}, plan{outcome: outcomeFail, delay: 2 * time.Second, exitCode: 1}, 1},
		{"exit code and message without fail: ignored", map[string]string{"KWOK_EXIT_CODE": "3", "KWOK_MESSAGE": "boom"}, plan{outcome: outcomeSucceed, delay: 2 * time.Second}, 0},
		{"run", map[string]string{"KWOK_OUTCOME": "run"}, plan{outcome: outcomeRun, delay: 2 * time.Second}, 0},
		{"any other outcome: run", map[string]string{"KWOK_OUTCOME": "succeed"}, plan{outcome: outcomeRun, delay: 2 * time.Second}, 0},
		{"empty outcome: run (set, and not fail)", map[string]string{"KWOK_OUTCOME": ""}, plan{outcome: outcomeRun, delay: 2 * time.Second}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, warnings := planFromEnv(env(tc.vars))
			assert.Equal(t, tc.want, got)
			assert.Len(t, warnings, tc.warnings, warnings)
		})
	}
}

// recordWait records the waits instead of waiting.
type recordWait struct{ waits []time.Duration }

func (r *recordWait) wait(_ context.Context, d time.Duration) { r.waits = append(r.waits, d) }

func TestRun(t *testing.T) {
	cases := []struct {
		name        string
		vars        map[string]string
		wantCode    int
		wantWaits   []time.Duration
		wantMessage string // "" means no termination log written
	}{
		{"succeed", map[string]string{"KWOK_DELAY": "1s"}, 0, []time.Duration{time.Second}, ""},
		{"fail", map[string]string{"KWOK_OUTCOME": "fail", "KWOK_EXIT_CODE": "7", "KWOK_MESSAGE": "psi broke", "KWOK_DELAY": ""}, 7, []time.Duration{0}, "psi broke"},
		{"fail without a message", map[string]string{"KWOK_OUTCOME": "fail"}, 1, []time.Duration{2 * time.Second}, ""},
		{"run until stopped", map[string]string{"KWOK_OUTCOME": "run"}, 0, []time.Duration{-1}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := filepath.Join(dir, "task-config.conf")
			require.NoError(t, os.WriteFile(cfg, []byte(`{"task_id": "psi"}`), 0o644))
			var out, errOut bytes.Buffer
			w := &recordWait{}
			log := filepath.Join(dir, "termination-log")
			app := testApp{stdout: &out, stderr: &errOut, terminationLog: log, wait: w.wait}

			code := app.run(context.Background(), []string{cfg}, env(tc.vars))

			assert.Equal(t, tc.wantCode, code)
			assert.Equal(t, tc.wantWaits, w.waits)
			assert.Contains(t, out.String(), "==> "+cfg+" <==\n{\"task_id\": \"psi\"}\n", "the rendered config is printed")
			msg, err := os.ReadFile(log)
			if tc.wantMessage == "" {
				assert.ErrorIs(t, err, os.ErrNotExist)
			} else {
				require.NoError(t, err)
				assert.Equal(t, tc.wantMessage, string(msg))
			}
			assert.Empty(t, errOut.String())
		})
	}
}

// A ConfigMap volume as the kubelet lays it out: keys are symlinks into
// ..data, a symlink to a timestamped folder. Each key prints once.
func TestPrintConfigFolderAsMountedFromAConfigMap(t *testing.T) {
	dir := t.TempDir()
	ts := filepath.Join(dir, "..2026_12_02_12_00_00.000")
	require.NoError(t, os.Mkdir(ts, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(ts, "a.conf"), []byte("A"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(ts, "b.conf"), []byte("B\n"), 0o644))
	require.NoError(t, os.Symlink(filepath.Base(ts), filepath.Join(dir, "..data")))
	for _, k := range []string{"a.conf", "b.conf"} {
		require.NoError(t, os.Symlink(filepath.Join("..data", k), filepath.Join(dir, k)))
	}
	var out bytes.Buffer
	require.NoError(t, printConfig(&out, dir))
	assert.Equal(t, "==> "+dir+"/a.conf <==\nA\n==> "+dir+"/b.conf <==\nB\n", out.String())

	assert.ErrorContains(t, printConfig(&out, filepath.Join(dir, "missing")), "no such file")
}

func TestWaitForEndsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	done := make(chan struct{})
	go func() { waitFor(ctx, -1); waitFor(ctx, time.Hour); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("waitFor did not return once the context ended")
	}
}
