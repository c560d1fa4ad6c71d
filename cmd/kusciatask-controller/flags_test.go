// Tests of the command line: sections and defaults in --help, the flag
// forms deploy/, hack/ and pkg/e2e use, klog's legacy flags.

package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kusciatask.io/controller/pkg/podgroup"
)

// --help prints the sections in order, each flag in its section.
func TestHelpSections(t *testing.T) {
	_, out, err := parse(t, "--help")
	require.ErrorIs(t, err, errHelp)
	sections := []struct{ title, flag string }{
		{"Generic flags:", "--kubeconfig"},
		{"Task policy flags:", "--max-pods-per-task"},
		{"Reservation flags:", "--pod-groups"},
		{"Leader election flags:", "--leader-elect-namespace"},
		{"Metrics & probes flags:", "--metrics-bind-address"},
		{"Logging flags:", "--vmodule"},
	}
	at := 0
	for i, s := range sections {
		start := strings.Index(out, s.title)
		require.Greater(t, start, at, "section %q after the previous one", s.title)
		end := len(out)
		if i+1 < len(sections) {
			end = strings.Index(out, sections[i+1].title)
		}
		assert.Contains(t, out[start:end], s.flag, "%s in %q", s.flag, s.title)
		at = start
	}
	assert.NotRegexp(t, `(?m) +$`, out, "no trailing spaces")
}

// Every flag's usage in --help ends with its default, a zero one too; the
// Logging section has component-base's flags, not klog's legacy ones.
func TestHelpShowsEveryDefault(t *testing.T) {
	_, out, err := parse(t, "-h")
	require.ErrorIs(t, err, errHelp)
	flagLine := regexp.MustCompile(`(?m)^\s+(-\w, )?--([\w-]+)`)
	blocks := flagLine.Split(out, -1)[1:]
	names := flagLine.FindAllStringSubmatch(out, -1)
	require.Len(t, names, len(blocks))
	for i, block := range blocks {
		assert.Contains(t, block, "(default ", "--%s shows its default", names[i][2])
	}
	for _, want := range []string{"(default auto)", "-v, --v Level", "--logging-format", "(default 0)"} {
		assert.Contains(t, out, want)
	}
	for _, legacy := range []string{"log_file", "logtostderr", "add_dir_header", "log-text-split-stream"} {
		assert.NotContains(t, out, legacy)
	}
}

// The forms of every command line in deploy/, hack/, the Makefile and
// pkg/e2e parse, and so do the single-dash long flags the flag package
// took before.
func TestFlagForms(t *testing.T) {
	cases := []struct {
		name  string
		args  []string
		check func(*testing.T, options)
	}{
		{"deploy/base", []string{"--leader-elect", "--metrics-bind-address=:8080", "--health-probe-bind-address=:8081"},
			func(t *testing.T, o options) { assert.True(t, o.leaderElect) }},
		{"hack/demo.sh", []string{"--kubeconfig", "/k", "--metrics-bind-address", "127.0.0.1:1", "-v", "2", "--gate-image=g:1"},
			func(t *testing.T, o options) {
				assert.Equal(t, "/k", o.kubeconfig)
				assert.Equal(t, "127.0.0.1:1", o.metricsBindAddress)
				assert.EqualValues(t, 2, o.logs.Verbosity)
			}},
		{"bench", []string{"--leader-elect=false", "--workers=4", "--kube-api-qps=50", "--reservation-gate=false", "-v=4", "--profiling"},
			func(t *testing.T, o options) {
				assert.Equal(t, 50.0, o.qps)
				assert.False(t, o.reservationGate)
				assert.EqualValues(t, 4, o.logs.Verbosity)
			}},
		{"single dash", []string{"-workers=7", "-pod-groups", "false", "-kubeconfig=/k", "-leader-elect"},
			func(t *testing.T, o options) {
				assert.Equal(t, 7, o.workers)
				assert.Equal(t, podgroup.ModeOff, o.podGroups)
				assert.Equal(t, "/k", o.kubeconfig)
				assert.True(t, o.leaderElect)
			}},
		{"vmodule", []string{"--vmodule=sync=4", "--log-flush-frequency=1s"},
			func(t *testing.T, o options) {
				assert.Equal(t, "sync", o.logs.VModule[0].FilePattern)
				assert.EqualValues(t, 4, o.logs.VModule[0].Verbosity)
			}},
		{"json", []string{"--logging-format=json"},
			func(t *testing.T, o options) { assert.Equal(t, "json", o.logs.Format) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o, out, err := parse(t, tc.args...)
			require.NoError(t, err, out)
			tc.check(t, o)
		})
	}
}

// klog's legacy flags still parse (a command line that has one starts),
// say they are deprecated, and change nothing.
func TestKlogLegacyFlagsAccepted(t *testing.T) {
	o, out, err := parse(t, "--logtostderr=false", "--log_file=/tmp/x.log", "--skip_headers")
	require.NoError(t, err)
	assert.Contains(t, out, "Flag --logtostderr has been deprecated, it has no effect")
	assert.Equal(t, "text", o.logs.Format)
}

func TestDoubleDash(t *testing.T) {
	_, out, err := parse(t, "--", "-workers=2")
	require.Error(t, err, "after -- nothing is a flag")
	assert.Contains(t, out, `unexpected arguments "-workers=2"`)
}
