//go:build e2e

// Package e2e tests kusciatask-controller the way its users drive it: kubectl
// and the generated clientset against a real kube-apiserver, scheduler,
// controller-manager (garbage collection) and kwok (simulated nodes and
// pods), with the controller binary running as a subprocess.
//
// TestMain starts a private control plane with hack/local-up.sh (its own
// ports and state folder under _output/e2e, so a running `make demo` does not
// collide), installs the CRDs, the example domains and AppImages, builds and
// starts the controller, runs the tests, and stops everything.
package e2e

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/yaml"

	"kusciatask.io/controller/pkg/generated/clientset/versioned"
)

// env is the control plane and controller shared by every test.
var env struct {
	root       string
	stateDir   string
	kubeconfig string
	binDir     string
	controller *controllerProcess
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
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return 1, err
	}
	env.root = root
	env.stateDir = filepath.Join(root, "_output", "e2e")
	env.kubeconfig = filepath.Join(env.stateDir, "kubeconfig")

	binDir, err := output(root, nil, "hack/build-tools.sh", "--print-bin-dir")
	if err != nil {
		return 1, fmt.Errorf("build control-plane tools: %w", err)
	}
	env.binDir = strings.TrimSpace(binDir)

	controllerBin := filepath.Join(root, "_output", "e2e-bin", "kusciatask-controller")
	if _, err := output(root, nil, "go", "build", "-o", controllerBin, "./cmd/kusciatask-controller"); err != nil {
		return 1, fmt.Errorf("build controller: %w", err)
	}

	upEnv := []string{
		"LOCAL_UP_DIR=" + env.stateDir,
		"LOCAL_UP_ETCD_PORT=" + envOr("E2E_ETCD_PORT", "32379"),
		"LOCAL_UP_ETCD_PEER_PORT=" + envOr("E2E_ETCD_PEER_PORT", "32380"),
		"LOCAL_UP_APISERVER_PORT=" + envOr("E2E_APISERVER_PORT", "36443"),
		"LOCAL_UP_CRDS=" + filepath.Join(root, "crds"),
	}
	upEnv = append(upEnv, nodeEnv()...)
	// A leftover control plane of an interrupted run is stopped first.
	_, _ = output(root, upEnv, "hack/local-up.sh", "stop")
	start := time.Now()
	if _, err := output(root, upEnv, "hack/local-up.sh", "start"); err != nil {
		return 1, fmt.Errorf("start control plane: %w", err)
	}
	fmt.Fprintf(os.Stderr, "e2e: control plane up in %s\n", time.Since(start).Round(time.Millisecond))
	defer func() {
		if _, err := output(root, upEnv, "hack/local-up.sh", "stop"); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: stop control plane:", err)
		}
	}()

	cfg, err := clientcmd.BuildConfigFromFlags("", env.kubeconfig)
	if err != nil {
		return 1, fmt.Errorf("load kubeconfig: %w", err)
	}
	// The controller's own client limits (--kube-api-qps/--kube-api-burst
	// defaults), so BenchmarkThroughput's baseline runs under the same ones.
	cfg.QPS, cfg.Burst = 100, 200
	if env.kube, err = kubernetes.NewForConfig(cfg); err != nil {
		return 1, err
	}
	if env.kuscia, err = versioned.NewForConfig(cfg); err != nil {
		return 1, err
	}
	for _, f := range []string{"examples/domains.yaml", "examples/appimage-secretflow.yaml", "examples/appimage-app-template.yaml"} {
		if _, err := kubectlOutput(nil, "apply", "-f", filepath.Join(root, f)); err != nil {
			return 1, fmt.Errorf("apply %s: %w", f, err)
		}
	}

	// The controller runs as the ServiceAccount of deploy/base/rbac.yaml,
	// so every test also proves that role is enough.
	controllerKubeconfig, err := serviceAccountKubeconfig(root)
	if err != nil {
		return 1, err
	}
	env.controller = &controllerProcess{
		bin:        controllerBin,
		kubeconfig: controllerKubeconfig,
		log:        filepath.Join(env.stateDir, "logs", "kusciatask-controller.log"),
	}
	if err := env.controller.start(); err != nil {
		return 1, err
	}
	// Tests may replace env.controller: stop the one running at the end.
	defer func() { env.controller.stop(syscall.SIGTERM) }()
	return m.Run(), nil
}

// nodeEnv sizes the fake nodes: E2E_NODES, E2E_NODE_CPU, E2E_NODE_MEMORY
// and E2E_NODE_PODS become local-up's LOCAL_UP_NODE* when set; unset ones
// keep local-up's defaults, except that a benchmark run (BENCH_N set) sizes
// them so its tasks fit (see benchNodeSizing).
func nodeEnv() []string {
	sizing := map[string]string{}
	if n, err := strconv.Atoi(os.Getenv("BENCH_N")); err == nil && n > 0 {
		k, err := strconv.Atoi(os.Getenv("BENCH_K"))
		if err != nil || k <= 0 {
			k = benchDefaultK(n)
		}
		sizing = benchNodeSizing(max(n, k))
	}
	var out []string
	for _, key := range []string{"NODES", "NODE_CPU", "NODE_MEMORY", "NODE_PODS"} {
		if v := envOr("E2E_"+key, sizing[key]); v != "" {
			out = append(out, "LOCAL_UP_"+key+"="+v)
		}
	}
	return out
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

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// output runs a command in dir with extra environment and returns its
// stdout; on failure the error carries stderr.
func output(dir string, extraEnv []string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), extraEnv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// kubectlOutput runs the control plane's own kubectl against the e2e cluster,
// with stdin when given.
func kubectlOutput(stdin []byte, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(env.binDir, "kubectl"), args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+env.kubeconfig)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String() + stderr.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// serviceAccountKubeconfig applies deploy/base/rbac.yaml and writes a
// kubeconfig with a token of its ServiceAccount.
func serviceAccountKubeconfig(root string) (string, error) {
	if _, err := kubectlOutput(nil, "apply", "-f", filepath.Join(root, "deploy", "base", "namespace.yaml"), "-f", filepath.Join(root, "deploy", "base", "rbac.yaml")); err != nil {
		return "", fmt.Errorf("apply controller RBAC: %w", err)
	}
	token, err := kubectlOutput(nil, "-n", "kuscia-system", "create", "token", "kusciatask-controller", "--duration=2h")
	if err != nil {
		return "", fmt.Errorf("create controller token: %w", err)
	}
	admin, err := clientcmd.LoadFromFile(env.kubeconfig)
	if err != nil {
		return "", fmt.Errorf("load kubeconfig: %w", err)
	}
	cluster := admin.Clusters[admin.Contexts[admin.CurrentContext].Cluster]
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["e2e"] = cluster
	cfg.AuthInfos["controller"] = &clientcmdapi.AuthInfo{Token: strings.TrimSpace(token)}
	cfg.Contexts["controller"] = &clientcmdapi.Context{Cluster: "e2e", AuthInfo: "controller"}
	cfg.CurrentContext = "controller"
	path := filepath.Join(env.stateDir, "controller.kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return "", fmt.Errorf("write controller kubeconfig: %w", err)
	}
	return path, nil
}

// Where the controller under test serves metrics and probes.
var (
	metricsAddress = "127.0.0.1:" + envOr("E2E_METRICS_PORT", "38080")
	probeAddress   = "127.0.0.1:" + envOr("E2E_PROBE_PORT", "38081")
)

// controllerProcess is the controller binary running as a subprocess.
type controllerProcess struct {
	bin        string
	kubeconfig string
	log        string
	// metrics and probes are its addresses; empty means metricsAddress and
	// probeAddress.
	metrics, probes string
	// extraArgs come after every other flag (later flags win).
	extraArgs []string
	cmd       *exec.Cmd
}

func (p *controllerProcess) start() error {
	if err := os.MkdirAll(filepath.Dir(p.log), 0o755); err != nil {
		return err
	}
	logFile, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	args, podEnv, err := deploymentArgs(env.root)
	if err != nil {
		return err
	}
	// The Deployment's arguments, then the two things a process outside the
	// cluster needs: the API server to talk to and ports of its own (later
	// flags win), and its profiles.
	metrics, probes := cmp.Or(p.metrics, metricsAddress), cmp.Or(p.probes, probeAddress)
	args = append(args, "--kubeconfig", p.kubeconfig, "--metrics-bind-address", metrics, "--health-probe-bind-address", probes,
		"--profiling") // heap profiles for the memory test and the bench
	args = append(args, p.extraArgs...)
	p.cmd = exec.Command(p.bin, args...)
	p.cmd.Env = append(os.Environ(), podEnv...)
	if v := os.Getenv("E2E_CONTROLLER_GODEBUG"); v != "" {
		// e.g. memprofilerate=1: exact heap profiles of the controller
		// alone, not of the control plane.
		p.cmd.Env = append(p.cmd.Env, "GODEBUG="+v)
	}
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("start controller: %w", err)
	}
	return nil
}

// stop sends sig and waits for the process to exit.
func (p *controllerProcess) stop(sig syscall.Signal) {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(sig)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
	p.cmd = nil
}

// deploymentArgs reads the controller container's arguments from
// deploy/base/deployment.yaml, and its environment with the downward-API
// POD_NAMESPACE resolved to the Deployment's namespace.
func deploymentArgs(root string) (args, podEnv []string, err error) {
	data, err := os.ReadFile(filepath.Join(root, "deploy", "base", "deployment.yaml"))
	if err != nil {
		return nil, nil, err
	}
	var d appsv1.Deployment
	if err := yaml.UnmarshalStrict(data, &d); err != nil {
		return nil, nil, fmt.Errorf("decode deploy/base/deployment.yaml: %w", err)
	}
	if len(d.Spec.Template.Spec.Containers) != 1 {
		return nil, nil, fmt.Errorf("deploy/base/deployment.yaml: want one container, got %d", len(d.Spec.Template.Spec.Containers))
	}
	c := d.Spec.Template.Spec.Containers[0]
	for _, e := range c.Env {
		if e.Name == "POD_NAMESPACE" {
			podEnv = append(podEnv, "POD_NAMESPACE="+d.Namespace)
		}
	}
	return c.Args, podEnv, nil
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// leading reports whether this controller process holds the Lease and is
// ready (its caches synced). /readyz alone does not say it leads: a
// leader-election standby reports ready too.
func (p *controllerProcess) leading(ctx context.Context) bool {
	if p.cmd == nil || p.cmd.Process == nil {
		return false
	}
	host, err := os.Hostname()
	if err != nil {
		return false
	}
	lease, err := env.kube.CoordinationV1().Leases("kuscia-system").Get(ctx, "kusciatask-controller", metav1.GetOptions{})
	if err != nil || lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity != fmt.Sprintf("%s_%d", host, p.cmd.Process.Pid) {
		return false
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+cmp.Or(p.probes, probeAddress)+"/readyz", nil)
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
