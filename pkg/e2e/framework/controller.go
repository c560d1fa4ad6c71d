// This file holds the controller under test: the binary built from this
// tree, run as a subprocess outside the cluster with the Deployment's
// arguments, and how to tell that it is ready or leads.

package framework

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// Where a controller serves metrics and probes unless told otherwise
// (E2E_METRICS_PORT, E2E_PROBE_PORT).
var (
	MetricsAddress = "127.0.0.1:" + EnvOr("E2E_METRICS_PORT", "28080")
	ProbeAddress   = "127.0.0.1:" + EnvOr("E2E_PROBE_PORT", "28081")
)

// Controller is the controller binary as a subprocess of the harness.
type Controller struct {
	plane *Plane
	// Log is the file its output is appended to.
	Log string
	// Metrics and Probes are its addresses; empty means MetricsAddress and
	// ProbeAddress.
	Metrics, Probes string
	// ExtraArgs come after every other flag (later flags win).
	ExtraArgs []string
	cmd       *exec.Cmd
}

// Controller is a controller of this plane, not started, that logs to log.
func (p *Plane) Controller(log string) *Controller {
	return &Controller{plane: p, Log: log}
}

// MetricsAddr is where it serves metrics.
func (c *Controller) MetricsAddr() string { return cmp.Or(c.Metrics, MetricsAddress) }

// ProbesAddr is where it serves /healthz and /readyz.
func (c *Controller) ProbesAddr() string { return cmp.Or(c.Probes, ProbeAddress) }

// Start starts the process with the arguments and environment of
// deploy/base/deployment.yaml, then what a process outside the cluster
// needs: the plane's API server, its own addresses, --profiling, and
// ExtraArgs. E2E_CONTROLLER_GODEBUG, when set, is its GODEBUG.
func (c *Controller) Start() error {
	if err := os.MkdirAll(filepath.Dir(c.Log), 0o755); err != nil {
		return fmt.Errorf("controller log folder: %w", err)
	}
	logFile, err := os.OpenFile(c.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("controller log: %w", err)
	}
	// The child has its own descriptor of the log.
	defer logFile.Close()
	args, podEnv, err := deploymentArgs(c.plane.Root)
	if err != nil {
		return err
	}
	// The Deployment's arguments, then the two things a process outside the
	// cluster needs: the API server to talk to and ports of its own (later
	// flags win), and its profiles.
	args = append(args, "--kubeconfig", c.plane.controllerKubeconfig,
		"--metrics-bind-address", c.MetricsAddr(), "--health-probe-bind-address", c.ProbesAddr(),
		"--profiling") // heap profiles for the memory test and the bench
	args = append(args, c.ExtraArgs...)
	c.cmd = exec.Command(c.plane.controllerBin, args...)
	c.cmd.Env = append(os.Environ(), podEnv...)
	if v := os.Getenv("E2E_CONTROLLER_GODEBUG"); v != "" {
		// e.g. memprofilerate=1: exact heap profiles of the controller
		// alone, not of the control plane.
		c.cmd.Env = append(c.cmd.Env, "GODEBUG="+v)
	}
	c.cmd.Stdout, c.cmd.Stderr = logFile, logFile
	if err := c.cmd.Start(); err != nil {
		return fmt.Errorf("start controller: %w", err)
	}
	return nil
}

// Stop sends sig and waits for the process to exit (killing it after 15
// s). A controller that does not run is left as it is.
func (c *Controller) Stop(sig syscall.Signal) {
	if !c.Running() {
		return
	}
	StopProcess(c.cmd, sig)
	c.cmd = nil
}

// StopProcess sends sig to a started command and waits for it to exit,
// killing it after 15 s.
func StopProcess(cmd *exec.Cmd, sig syscall.Signal) {
	_ = cmd.Process.Signal(sig)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// Running reports whether it was started and not stopped since.
func (c *Controller) Running() bool { return c.cmd != nil && c.cmd.Process != nil }

// Pid is its process ID; 0 when it does not run.
func (c *Controller) Pid() int {
	if !c.Running() {
		return 0
	}
	return c.cmd.Process.Pid
}

// Ready reports whether it runs and its /readyz answers 200: its caches
// synced, or, under leader election, that it is up (a standby is ready
// too; see Leading).
func (c *Controller) Ready(ctx context.Context) bool {
	if !c.Running() {
		return false
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.ProbesAddr()+"/readyz", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Leading reports whether this process holds the Lease and is ready (its
// caches synced). /readyz alone does not say it leads: a leader-election
// standby reports ready too.
func (c *Controller) Leading(ctx context.Context) bool {
	if !c.Running() {
		return false
	}
	host, err := os.Hostname()
	if err != nil {
		return false
	}
	lease, err := c.plane.Kube.CoordinationV1().Leases("kuscia-system").Get(ctx, "kusciatask-controller", metav1.GetOptions{})
	if err != nil || lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity != fmt.Sprintf("%s_%d", host, c.cmd.Process.Pid) {
		return false
	}
	return c.Ready(ctx)
}

// deploymentArgs reads the controller container's arguments from
// deploy/base/deployment.yaml, and its environment with the downward-API
// POD_NAMESPACE resolved to the Deployment's namespace.
func deploymentArgs(root string) (args, podEnv []string, err error) {
	data, err := os.ReadFile(filepath.Join(root, "deploy", "base", "deployment.yaml"))
	if err != nil {
		return nil, nil, fmt.Errorf("read the controller's Deployment: %w", err)
	}
	var d appsv1.Deployment
	if err := yaml.UnmarshalStrict(data, &d); err != nil {
		return nil, nil, fmt.Errorf("decode deploy/base/deployment.yaml: %w", err)
	}
	if len(d.Spec.Template.Spec.Containers) != 1 {
		return nil, nil, fmt.Errorf("deploy/base/deployment.yaml: want one container, got %d", len(d.Spec.Template.Spec.Containers))
	}
	ctr := d.Spec.Template.Spec.Containers[0]
	for _, e := range ctr.Env {
		if e.Name == "POD_NAMESPACE" {
			podEnv = append(podEnv, "POD_NAMESPACE="+d.Namespace)
		}
	}
	return ctr.Args, podEnv, nil
}
