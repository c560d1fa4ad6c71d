//go:build e2e

// Package e2e tests kusciatask-controller the way its users drive it: kubectl
// and the generated clientset against a real kube-apiserver, scheduler,
// controller-manager (garbage collection) and kwok (simulated nodes and
// pods), with the controller binary running as a subprocess.
//
// TestMain starts a private control plane with pkg/e2e/framework (its own
// ports and state folder under _output/e2e, so a running `make demo` does
// not collide), which installs the CRDs, the example domains and AppImages
// and builds the controller; it starts the controller, runs the tests, and
// stops everything. The benchmark (make bench) lives in pkg/e2e/bench.
package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"

	"kusciatask.io/controller/pkg/e2e/framework"
	"kusciatask.io/controller/pkg/generated/clientset/versioned"
)

// env is the control plane and controller shared by every test.
var env struct {
	plane      *framework.Plane
	root       string
	kubeconfig string
	controller *framework.Controller
	kube       kubernetes.Interface
	kuscia     versioned.Interface
}

func TestMain(m *testing.M) {
	code, err := setUpAndRun(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

func setUpAndRun(m *testing.M) (int, error) {
	plane, err := framework.Start(framework.NodeEnv(nil))
	if err != nil {
		return 1, err
	}
	defer func() {
		if err := plane.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
		}
	}()
	env.plane, env.root, env.kubeconfig = plane, plane.Root, plane.Kubeconfig
	env.kube, env.kuscia = plane.Kube, plane.Kuscia

	env.controller = plane.Controller(filepath.Join(plane.StateDir, "logs", "kusciatask-controller.log"))
	if err := env.controller.Start(); err != nil {
		return 1, err
	}
	// Tests may replace env.controller: stop the one running at the end.
	defer func() { env.controller.Stop(syscall.SIGTERM) }()
	return m.Run(), nil
}

// kubectlOutput runs the control plane's own kubectl against the e2e cluster,
// with stdin when given.
func kubectlOutput(stdin []byte, args ...string) (string, error) {
	return env.plane.Kubectl(stdin, args...)
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
