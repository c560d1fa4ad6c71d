package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestListenHTTPFailsOnABusyAddress(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()

	_, err = listenHTTP(options{metricsBindAddress: busy.Addr().String(), healthProbeBindAddress: "127.0.0.1:0"},
		prometheus.NewRegistry(), &readiness{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "--metrics-bind-address")
	assert.Contains(t, err.Error(), "address already in use")
}

func TestListenHTTPServesMetricsAndProbes(t *testing.T) {
	ready := &readiness{}
	e, err := listenHTTP(options{metricsBindAddress: "127.0.0.1:0", healthProbeBindAddress: "127.0.0.1:0"},
		prometheus.NewRegistry(), ready)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.serve(ctx) }()

	get := func(addr, path string) int {
		resp, err := http.Get("http://" + addr + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	metrics, probes := e.servers[0].Addr, e.servers[1].Addr
	assert.Equal(t, http.StatusOK, get(metrics, "/metrics"))
	assert.Equal(t, http.StatusOK, get(probes, "/healthz"))
	assert.Equal(t, http.StatusServiceUnavailable, get(probes, "/readyz"), "not ready before the caches sync")
	ready.set(func() bool { return true })
	assert.Equal(t, http.StatusOK, get(probes, "/readyz"))

	cancel()
	assert.NoError(t, <-done)
}

func TestListenHTTPDisabled(t *testing.T) {
	e, err := listenHTTP(options{metricsBindAddress: "0", healthProbeBindAddress: "0"}, prometheus.NewRegistry(), &readiness{})
	require.NoError(t, err)
	assert.Empty(t, e.servers)
}

// The binary itself: --version prints the linked version and exits 0; a
// metrics address in use stops it at start-up with exit code 1 and says why.
func TestBinaryVersionAndBindFailure(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "kusciatask-controller")
	build := exec.Command("go", "build", "-o", bin,
		"-ldflags", "-X kusciatask.io/controller/pkg/version.version=v9.8.7 -X kusciatask.io/controller/pkg/version.commit=c0ffee", ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, string(out))

	out, err = exec.Command(bin, "--version").CombinedOutput()
	require.NoError(t, err, string(out))
	assert.True(t, strings.HasPrefix(string(out), "kusciatask-controller v9.8.7 (commit c0ffee"), string(out))

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	// A kubeconfig that points nowhere: the process must fail on the port
	// before it ever talks to an API server.
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`), 0o600))
	cmd := exec.Command(bin, "--kubeconfig", kubeconfig,
		"--metrics-bind-address", busy.Addr().String(), "--health-probe-bind-address", "127.0.0.1:0")
	out, err = cmd.CombinedOutput()
	var exitErr *exec.ExitError
	require.ErrorAs(t, err, &exitErr, string(out))
	assert.Equal(t, 1, exitErr.ExitCode())
	assert.Contains(t, string(out), "address already in use")
	assert.NotContains(t, string(out), "Serving")

	out, err = exec.Command(bin, "--workers=0").CombinedOutput()
	require.ErrorAs(t, err, &exitErr, string(out))
	assert.Equal(t, 2, exitErr.ExitCode())
}

func TestProfilingServesPprofOnTheMetricsAddressOnlyWhenAsked(t *testing.T) {
	for _, profiling := range []bool{false, true} {
		e, err := listenHTTP(options{metricsBindAddress: "127.0.0.1:0", healthProbeBindAddress: "0", profiling: profiling},
			prometheus.NewRegistry(), &readiness{})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- e.serve(ctx) }()
		for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/goroutine?debug=1"} {
			resp, err := http.Get("http://" + e.servers[0].Addr + path)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if profiling {
				assert.Equal(t, http.StatusOK, resp.StatusCode, path)
				assert.NotEmpty(t, body, path)
			} else {
				assert.Equal(t, http.StatusNotFound, resp.StatusCode, path)
			}
		}
		cancel()
		assert.NoError(t, <-done)
	}
}

func TestReadinessOfAStandby(t *testing.T) {
	assert.False(t, newReadiness(false).ready(), "without leader election: not ready before the caches sync")
	standby := newReadiness(true)
	assert.True(t, standby.ready(), "a leader-election standby is ready")
	synced := false
	standby.set(func() bool { return synced })
	assert.False(t, standby.ready(), "once leading: not ready before the caches sync")
	synced = true
	assert.True(t, standby.ready())
}
