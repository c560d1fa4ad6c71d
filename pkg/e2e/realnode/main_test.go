//go:build realnode

// Package realnode is the real-node lane of the end-to-end tests: a local
// control plane (hack/local-up.sh) with one real node (containerd + runc + a
// CNI bridge + kubelet, LOCAL_UP_REAL_NODES=1) and no kwok node, the CRDs
// installed and the controller binary running as a subprocess outside the
// cluster. Pods run as real containers. It needs root, cgroups and overlayfs
// (local-up refuses with one line otherwise).
//
// The plane is started on first use (sharedPlane) and stopped by TestMain;
// TestTeardown stops it to measure the host without a node, so the tests
// need no order. Ports (etcd 23379/23380, apiserver 27443, kubelet
// 21250/21248, controller 29080/29081, the tests' registry 25000 and up;
// E2E_REALNODE_*_PORT) differ from pkg/e2e's, so both lanes can run at
// once; two real nodes cannot (local-up waits, then refuses). Every default port of the lanes lies below Linux's
// ephemeral range (32768-60999): a port in it can be taken at any time by a
// client's outgoing connection, which once made etcd fail to bind mid-run.
package realnode

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"kusciatask.io/controller/pkg/e2e/framework"
	"kusciatask.io/controller/pkg/generated/clientset/versioned"
)

// The real node's name (hack/lib/realnode.sh) and the images the lane
// imports into it.
const (
	realNodeName = "real-node-0"
	pauseImage   = "localhost/kusciatask/pause:local"
	helloImage   = "localhost/kusciatask/hello:e2e"
)

var lane struct {
	root    string
	binDir  string // control-plane binaries (kubectl)
	outDir  string // the lane's binaries and image archives
	hello   string // archive of helloImage
	mu      sync.Mutex
	current *plane // the shared plane, nil when stopped
}

func TestMain(m *testing.M) {
	code, err := setUpAndRun(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "realnode:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

func setUpAndRun(m *testing.M) (int, error) {
	if os.Geteuid() != 0 && os.Getenv("CI") == "" {
		fmt.Fprintln(os.Stderr, "realnode: SKIP: a real node needs root (CI runs this lane as root)")
		return 0, nil
	}
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		return 1, err
	}
	lane.root = root
	lane.outDir = filepath.Join(root, "_output", "e2e-realnode-bin")
	binDir, err := run(root, nil, "hack/build-tools.sh", "--print-bin-dir", "kubelet")
	if err != nil {
		return 1, fmt.Errorf("build control-plane tools: %w", err)
	}
	lane.binDir = strings.TrimSpace(binDir)
	if err := buildLaneBinaries(); err != nil {
		return 1, err
	}
	// Whatever the tests do, the host must end as it began (TestTeardown
	// checks one start and stop in detail; this checks the whole run).
	before, err := snapshotHost()
	if err != nil {
		return 1, err
	}
	code := m.Run()
	stopSharedPlane()
	after, err := snapshotHost()
	if err != nil {
		return 1, err
	}
	if d := diffHost(before, after); len(d) > 0 {
		fmt.Fprintf(os.Stderr, "realnode: FAIL: the host differs after the run from before it:\n%s\n", strings.Join(d, "\n"))
		return 1, nil
	}
	return code, nil
}

// buildLaneBinaries builds the controller and the hello application, and
// wraps hello in an image archive.
func buildLaneBinaries() error {
	steps := [][]string{
		{"go", "build", "-o", filepath.Join(lane.outDir, "kusciatask-controller"), "./cmd/kusciatask-controller"},
		{"go", "build", "-o", filepath.Join(lane.outDir, "hello"), "./pkg/e2e/realnode/testdata/hello"},
		{"go", "build", "-o", filepath.Join(lane.outDir, "imagetar"), "./hack/realnode/imagetar"},
	}
	lane.hello = filepath.Join(lane.outDir, "hello.tar")
	steps = append(steps, []string{filepath.Join(lane.outDir, "imagetar"),
		"--binary", filepath.Join(lane.outDir, "hello"), "--name", helloImage, "--out", lane.hello})
	for _, s := range steps {
		if _, err := run(lane.root, []string{"CGO_ENABLED=0"}, s[0], s[1:]...); err != nil {
			return fmt.Errorf("build lane binaries: %w", err)
		}
	}
	return nil
}

// plane is one hack/local-up.sh control plane with a real node, and the
// controller running against it.
type plane struct {
	dir        string
	env        []string // LOCAL_UP_* for local-up.sh
	kubeconfig string
	kube       kubernetes.Interface
	kuscia     versioned.Interface
	controller *exec.Cmd
	imagesOnce sync.Once
	imagesErr  error
	setupOnce  sync.Once
	setupErr   error
}

// planeEnv is local-up's environment for a plane in _output/e2e-realnode/<name>,
// with extra settings last (they win).
func planeEnv(name string, extra ...string) []string {
	dir := filepath.Join(lane.root, "_output", "e2e-realnode", name)
	env := []string{
		"LOCAL_UP_DIR=" + dir,
		"LOCAL_UP_ETCD_PORT=" + envOr("E2E_REALNODE_ETCD_PORT", "23379"),
		"LOCAL_UP_ETCD_PEER_PORT=" + envOr("E2E_REALNODE_ETCD_PEER_PORT", "23380"),
		"LOCAL_UP_APISERVER_PORT=" + envOr("E2E_REALNODE_APISERVER_PORT", "27443"),
		"LOCAL_UP_KUBELET_PORT=" + envOr("E2E_REALNODE_KUBELET_PORT", "21250"),
		"LOCAL_UP_KUBELET_HEALTHZ_PORT=" + envOr("E2E_REALNODE_KUBELET_HEALTHZ_PORT", "21248"),
		"LOCAL_UP_BRIDGE=kt-e2e0",
		"LOCAL_UP_REAL_POD_CIDR=10.88.0.0/24",
		"LOCAL_UP_NODES=0",
		"LOCAL_UP_REAL_NODES=1",
		"LOCAL_UP_CRDS=" + filepath.Join(lane.root, "crds"),
		// Another run's real node (a developer's demo, a CI job still
		// finishing) frees the host within minutes; wait for it.
		"LOCAL_UP_REAL_NODE_WAIT=" + envOr("E2E_REALNODE_WAIT", "600"),
	}
	return append(env, extra...)
}

// startPlane starts a plane (stopping a leftover of an interrupted run in
// the same folder first), imports the hello image and starts the controller.
func startPlane(name string, extra ...string) (*plane, error) {
	p := &plane{env: planeEnv(name, extra...)}
	p.dir = strings.TrimPrefix(p.env[0], "LOCAL_UP_DIR=")
	p.kubeconfig = filepath.Join(p.dir, "kubeconfig")
	_, _ = run(lane.root, p.env, "hack/local-up.sh", "stop")
	start := time.Now()
	if _, err := run(lane.root, p.env, "hack/local-up.sh", "start"); err != nil {
		return nil, fmt.Errorf("start plane: %w", err)
	}
	fmt.Fprintf(os.Stderr, "realnode: plane %s with a Ready real node up in %s\n", name, time.Since(start).Round(time.Millisecond))
	if _, err := run(lane.root, p.env, "hack/local-up.sh", "load-image", lane.hello); err != nil {
		p.stop()
		return nil, fmt.Errorf("load hello image: %w", err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", p.kubeconfig)
	if err == nil {
		p.kube, err = kubernetes.NewForConfig(cfg)
	}
	if err == nil {
		p.kuscia, err = versioned.NewForConfig(cfg)
	}
	if err == nil {
		// The controller keeps its mark key Secret in kuscia-system and
		// stops at start-up without that namespace: the one deploy/ ships.
		_, err = p.kubectl(nil, "apply", "-f", filepath.Join(lane.root, "deploy", "base", "namespace.yaml"))
	}
	if err == nil {
		err = p.startController()
	}
	if err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// startController runs the controller binary outside the cluster with the
// admin kubeconfig and ports of its own, and extra flags last.
func (p *plane) startController(extra ...string) error {
	logFile, err := os.OpenFile(filepath.Join(p.dir, "logs", "kusciatask-controller.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("controller log: %w", err)
	}
	args := append([]string{
		"--kubeconfig", p.kubeconfig,
		"--metrics-bind-address", "127.0.0.1:" + envOr("E2E_REALNODE_METRICS_PORT", "29080"),
		"--health-probe-bind-address", "127.0.0.1:" + envOr("E2E_REALNODE_PROBE_PORT", "29081"),
		"--gate-image", controllerImage,
	}, extra...)
	cmd := exec.Command(filepath.Join(lane.outDir, "kusciatask-controller"), args...)
	cmd.Env = append(os.Environ(), "POD_NAMESPACE=kuscia-system")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return fmt.Errorf("start controller: %w", err)
	}
	_ = logFile.Close()
	p.controller = cmd
	// Ready (caches synced) before a test relies on it; one that exited at
	// start-up (an address in use, no kuscia-system) never is.
	probe := "http://127.0.0.1:" + envOr("E2E_REALNODE_PROBE_PORT", "29081") + "/readyz"
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if resp, err := http.Get(probe); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return fmt.Errorf("the controller was not ready within a minute (see %s)", filepath.Join(p.dir, "logs", "kusciatask-controller.log"))
}

// stop ends the controller and stops the plane (local-up's teardown of the
// real node included).
func (p *plane) stop() error {
	p.stopController()
	start := time.Now()
	out, err := run(lane.root, p.env, "hack/local-up.sh", "stop")
	if err != nil {
		return fmt.Errorf("stop plane: %w", err)
	}
	fmt.Fprintf(os.Stderr, "realnode: plane stopped in %s %s\n", time.Since(start).Round(time.Millisecond), strings.TrimSpace(out))
	return nil
}

// restartController runs the lane's controller with extra flags until the
// test ends, then as usual again.
func (p *plane) restartController(t *testing.T, extra ...string) {
	t.Helper()
	p.stopController()
	t.Cleanup(func() {
		p.stopController()
		if err := p.startController(); err != nil {
			t.Errorf("restart the lane's controller: %v", err)
		}
	})
	require.NoError(t, p.startController(extra...), "controller with %v", extra)
}

// stopController ends the subprocess controller when it runs.
func (p *plane) stopController() {
	if p.controller == nil || p.controller.Process == nil {
		return
	}
	framework.StopProcess(p.controller, syscall.SIGTERM)
	p.controller = nil
}

// kubectl runs the plane's kubectl with stdin when given.
func (p *plane) kubectl(stdin []byte, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(lane.binDir, "kubectl"), args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+p.kubeconfig)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// sharedPlane starts the lane's shared plane on first use.
func sharedPlane(t *testing.T) *plane {
	t.Helper()
	lane.mu.Lock()
	defer lane.mu.Unlock()
	if lane.current == nil {
		p, err := startPlane("shared")
		if err != nil {
			t.Fatal(err)
		}
		lane.current = p
	}
	return lane.current
}

// taskPlane is the shared plane ready for tasks: the lane's images on its
// node, the domains set up and the lane's controller running.
func taskPlane(t *testing.T) *plane {
	t.Helper()
	p := sharedPlane(t)
	p.loadImages(t)
	p.setUpDomains(t)
	p.requireController(t)
	return p
}

// stopSharedPlane stops the shared plane when it runs.
func stopSharedPlane() {
	lane.mu.Lock()
	defer lane.mu.Unlock()
	if lane.current == nil {
		return
	}
	if err := lane.current.stop(); err != nil {
		fmt.Fprintln(os.Stderr, "realnode:", err)
	}
	lane.current = nil
}

// envOr and run are the e2e harness's (pkg/e2e/framework).
var (
	envOr = framework.EnvOr
	run   = framework.Output
)

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// requireController fails the test unless the lane's subprocess controller
// runs (a test that stopped it restarts it in its cleanup).
func (p *plane) requireController(t *testing.T) {
	t.Helper()
	if p.controller == nil {
		t.Fatal("the lane's controller does not run")
	}
}
