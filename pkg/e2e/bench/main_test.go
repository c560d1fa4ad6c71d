//go:build e2e && bench

// Package bench is the benchmark harness of `make bench`: issue 10's
// figures T1–T4 (TestBench, bench_test.go) measured on a private local
// control plane with kwok nodes, the controller running as a subprocess.
//
// This file holds TestMain: it starts the plane with pkg/e2e/framework (the
// same state folder, _output/e2e, and ports, E2E_*_PORT, as pkg/e2e's
// tests, so the two do not run at once), with fake nodes sized for the
// run's tasks, runs the bench, and stops the plane and whichever controller
// the bench left running.
package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"kusciatask.io/controller/pkg/e2e/framework"
)

// env is the plane and the controller under test; each phase of the bench
// replaces the controller with one of its own settings (benchController).
var env struct {
	plane      *framework.Plane
	root       string
	controller *framework.Controller
}

func TestMain(m *testing.M) {
	code, err := setUpAndRun(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

func setUpAndRun(m *testing.M) (int, error) {
	plane, err := framework.Start(nodeEnv())
	if err != nil {
		return 1, err
	}
	defer func() {
		if err := plane.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
	}()
	env.plane, env.root = plane, plane.Root
	// Not started: every phase starts its own (benchController).
	env.controller = plane.Controller(filepath.Join(plane.Root, "_output", "bench", "controller.log"))
	defer func() { env.controller.Stop(syscall.SIGTERM) }()
	return m.Run(), nil
}

// nodeEnv sizes the fake nodes so the run's tasks fit (see
// benchNodeSizing); E2E_NODES, E2E_NODE_CPU, E2E_NODE_MEMORY and
// E2E_NODE_PODS, when set, win.
func nodeEnv() []string {
	var sizing map[string]string
	if n, err := strconv.Atoi(os.Getenv("BENCH_N")); err == nil && n > 0 {
		k, err := strconv.Atoi(os.Getenv("BENCH_K"))
		if err != nil || k <= 0 {
			k = benchDefaultK(n)
		}
		sizing = benchNodeSizing(max(n, k))
	}
	return framework.NodeEnv(sizing)
}

// benchDefaultK is how many finished tasks the benchmark's T3 holds by
// default for N tasks: 10×N, at most 10,000.
func benchDefaultK(n int) int { return min(10*n, 10000) }

// Each pod of a seed PSI task requests 100m CPU and 128Mi memory (see
// examples/appimage-secretflow.yaml; the gate asks no more than the app).
const (
	benchPodMilliCPU  = 100
	benchPodMemoryMiB = 128
	// benchPodsPerNode is each fake node's pod capacity in a benchmark run.
	benchPodsPerNode = 1000
)

// benchNodeSizing sizes the fake nodes so the 2n pods of n two-party tasks
// all fit at once with 25% headroom: enough nodes of benchPodsPerNode pods,
// each with the CPU and memory those pods request. Room for every task the
// benchmark creates, not only those running at once, because a gated pod
// holds its node while the other party waits for room: with too little,
// half-reserved tasks could fill the nodes and wait for their deadline.
func benchNodeSizing(n int) map[string]string {
	pods := (2*n*5 + 3) / 4
	nodes := max(2, (pods+benchPodsPerNode-1)/benchPodsPerNode)
	return map[string]string{
		"NODES":       strconv.Itoa(nodes),
		"NODE_CPU":    fmt.Sprintf("%dm", benchPodsPerNode*benchPodMilliCPU),
		"NODE_MEMORY": fmt.Sprintf("%dMi", benchPodsPerNode*benchPodMemoryMiB),
		"NODE_PODS":   strconv.Itoa(benchPodsPerNode),
	}
}
