// Package framework is the end-to-end harness shared by pkg/e2e (the tests)
// and pkg/e2e/bench (the benchmark): a private local control plane started
// with hack/local-up.sh (kube-apiserver, scheduler, controller-manager and
// kwok) with the CRDs, the example domains and AppImages installed, clients
// of it, and the controller binary run as a subprocess (controller.go).
//
// This file holds the plane: starting and stopping it, its clients and its
// kubectl.
package framework

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"kusciatask.io/controller/pkg/generated/clientset/versioned"
)

// Plane is a running control plane in its own state folder (_output/e2e)
// and ports (E2E_ETCD_PORT, E2E_ETCD_PEER_PORT, E2E_APISERVER_PORT), so a
// running `make demo` does not collide with it. The defaults (22379, 22380,
// 26443) lie below Linux's ephemeral port range (32768-60999), where a
// client's outgoing connection could take a port between local-up's check
// and the bind.
type Plane struct {
	// Root is the repository's root.
	Root string
	// StateDir is local-up's folder; local-up removes it on stop.
	StateDir string
	// Kubeconfig is the admin kubeconfig.
	Kubeconfig string
	// BinDir holds the control-plane binaries (kubectl).
	BinDir string
	// Kube and Kuscia are admin clients with the controller's own default
	// client limits (--kube-api-qps 100, --kube-api-burst 200).
	Kube   kubernetes.Interface
	Kuscia versioned.Interface

	// upEnv is local-up's environment for this plane.
	upEnv []string
	// controllerBin and controllerKubeconfig are what Controller runs: the
	// binary built from this tree, as the ServiceAccount of
	// deploy/base/rbac.yaml.
	controllerBin, controllerKubeconfig string
}

// Start builds the control-plane tools (hack/build-tools.sh) and the
// controller, starts a plane (stopping a leftover of an interrupted run
// first) with nodeEnv added to local-up's environment (see NodeEnv),
// installs the examples' domains and AppImages and the controller's RBAC,
// and returns the plane. On an error after the plane started, it is
// stopped again.
func Start(nodeEnv []string) (*Plane, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	p := &Plane{Root: root, StateDir: filepath.Join(root, "_output", "e2e")}
	p.Kubeconfig = filepath.Join(p.StateDir, "kubeconfig")

	binDir, err := Output(root, nil, "hack/build-tools.sh", "--print-bin-dir")
	if err != nil {
		return nil, fmt.Errorf("build control-plane tools: %w", err)
	}
	p.BinDir = strings.TrimSpace(binDir)

	p.controllerBin = filepath.Join(root, "_output", "e2e-bin", "kusciatask-controller")
	if _, err := Output(root, nil, "go", "build", "-o", p.controllerBin, "./cmd/kusciatask-controller"); err != nil {
		return nil, fmt.Errorf("build controller: %w", err)
	}

	p.upEnv = []string{
		"LOCAL_UP_DIR=" + p.StateDir,
		"LOCAL_UP_ETCD_PORT=" + EnvOr("E2E_ETCD_PORT", "22379"),
		"LOCAL_UP_ETCD_PEER_PORT=" + EnvOr("E2E_ETCD_PEER_PORT", "22380"),
		"LOCAL_UP_APISERVER_PORT=" + EnvOr("E2E_APISERVER_PORT", "26443"),
		"LOCAL_UP_CRDS=" + filepath.Join(root, "crds"),
	}
	p.upEnv = append(p.upEnv, nodeEnv...)
	// A leftover control plane of an interrupted run is stopped first.
	_, _ = Output(root, p.upEnv, "hack/local-up.sh", "stop")
	start := time.Now()
	if _, err := Output(root, p.upEnv, "hack/local-up.sh", "start"); err != nil {
		return nil, fmt.Errorf("start control plane: %w", err)
	}
	fmt.Fprintf(os.Stderr, "e2e: control plane up in %s\n", time.Since(start).Round(time.Millisecond))
	if err := p.install(); err != nil {
		if stopErr := p.Stop(); stopErr != nil {
			fmt.Fprintln(os.Stderr, "e2e:", stopErr)
		}
		return nil, err
	}
	return p, nil
}

// install makes the clients, applies the examples' domains and AppImages,
// and writes the controller's kubeconfig.
func (p *Plane) install() error {
	cfg, err := clientcmd.BuildConfigFromFlags("", p.Kubeconfig)
	if err != nil {
		return fmt.Errorf("load kubeconfig: %w", err)
	}
	// The controller's own client limits (--kube-api-qps/--kube-api-burst
	// defaults), so the bench's baseline runs under the same ones.
	cfg.QPS, cfg.Burst = 100, 200
	if p.Kube, err = kubernetes.NewForConfig(cfg); err != nil {
		return fmt.Errorf("kube client: %w", err)
	}
	if p.Kuscia, err = versioned.NewForConfig(cfg); err != nil {
		return fmt.Errorf("kuscia client: %w", err)
	}
	for _, f := range []string{"examples/domains.yaml", "examples/appimage-secretflow.yaml", "examples/appimage-app-template.yaml"} {
		if _, err := p.Kubectl(nil, "apply", "-f", filepath.Join(p.Root, f)); err != nil {
			return fmt.Errorf("apply %s: %w", f, err)
		}
	}
	// The controller runs as the ServiceAccount of deploy/base/rbac.yaml,
	// so every test also proves that role is enough.
	if p.controllerKubeconfig, err = p.serviceAccountKubeconfig(); err != nil {
		return err
	}
	return nil
}

// Stop stops the plane (local-up's stop, which removes StateDir).
func (p *Plane) Stop() error {
	if _, err := Output(p.Root, p.upEnv, "hack/local-up.sh", "stop"); err != nil {
		return fmt.Errorf("stop control plane: %w", err)
	}
	return nil
}

// Kubectl runs the control plane's own kubectl against the plane, with
// stdin when given, and returns its stdout (with stderr on failure).
func (p *Plane) Kubectl(stdin []byte, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(p.BinDir, "kubectl"), args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+p.Kubeconfig)
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
func (p *Plane) serviceAccountKubeconfig() (string, error) {
	base := filepath.Join(p.Root, "deploy", "base")
	if _, err := p.Kubectl(nil, "apply", "-f", filepath.Join(base, "namespace.yaml"), "-f", filepath.Join(base, "rbac.yaml")); err != nil {
		return "", fmt.Errorf("apply controller RBAC: %w", err)
	}
	token, err := p.Kubectl(nil, "-n", "kuscia-system", "create", "token", "kusciatask-controller", "--duration=2h")
	if err != nil {
		return "", fmt.Errorf("create controller token: %w", err)
	}
	admin, err := clientcmd.LoadFromFile(p.Kubeconfig)
	if err != nil {
		return "", fmt.Errorf("load kubeconfig: %w", err)
	}
	cluster := admin.Clusters[admin.Contexts[admin.CurrentContext].Cluster]
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["e2e"] = cluster
	cfg.AuthInfos["controller"] = &clientcmdapi.AuthInfo{Token: strings.TrimSpace(token)}
	cfg.Contexts["controller"] = &clientcmdapi.Context{Cluster: "e2e", AuthInfo: "controller"}
	cfg.CurrentContext = "controller"
	path := filepath.Join(p.StateDir, "controller.kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return "", fmt.Errorf("write controller kubeconfig: %w", err)
	}
	return path, nil
}

// NodeEnv sizes the fake nodes: E2E_NODES, E2E_NODE_CPU, E2E_NODE_MEMORY
// and E2E_NODE_PODS become local-up's LOCAL_UP_NODE* when set; unset ones
// take defaults[key] ("NODES", "NODE_CPU", ...) when there is one, else
// local-up's own default.
func NodeEnv(defaults map[string]string) []string {
	var out []string
	for _, key := range []string{"NODES", "NODE_CPU", "NODE_MEMORY", "NODE_PODS"} {
		if v := EnvOr("E2E_"+key, defaults[key]); v != "" {
			out = append(out, "LOCAL_UP_"+key+"="+v)
		}
	}
	return out
}

// repoRoot is the folder holding go.mod, from the working directory up
// (go test runs in the package's folder).
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find the repository root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("find the repository root: no go.mod above the working directory")
		}
		dir = parent
	}
}

// EnvOr is the environment variable key, or def when it is unset or empty.
func EnvOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// Output runs a command in dir with extra environment and returns its
// stdout; on failure the error carries stderr.
func Output(dir string, extraEnv []string, name string, args ...string) (string, error) {
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
