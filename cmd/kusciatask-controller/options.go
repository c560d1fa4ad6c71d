package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"k8s.io/klog/v2"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
	"kusciatask.io/controller/pkg/controller"
	"kusciatask.io/controller/pkg/gate"
	"kusciatask.io/controller/pkg/mark"
	"kusciatask.io/controller/pkg/podgroup"
	"kusciatask.io/controller/pkg/security"
)

// options are the command-line flags.
type options struct {
	kubeconfig             string
	master                 string
	workers                int
	qps                    float64
	burst                  int
	resync                 time.Duration
	leaderElect            bool
	leaderElectNamespace   string
	leaderElectID          string
	metricsBindAddress     string
	healthProbeBindAddress string
	printVersion           bool
	podSecurityLevel       string
	maxReplicasPerParty    int
	maxPodsPerTask         int
	reservationGate        bool
	gateImage              string
	podGroups              podgroup.Mode
	profiling              bool
	statusBatchDelay       time.Duration
	markKeySecret          string
}

// Defaults that depend on where the controller runs.
const (
	// defaultLeaseNamespace is the Lease's namespace when the controller
	// cannot tell which namespace it runs in (out of cluster).
	defaultLeaseNamespace = "kuscia-system"
	// serviceAccountNamespaceFile names the namespace of a pod's
	// ServiceAccount, mounted by the kubelet in every pod with a token.
	serviceAccountNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
)

// errHelp is returned by parseFlags for -h/--help: print usage, exit 0.
var errHelp = flag.ErrHelp

// parseFlags parses args into options. It never exits: main decides what an
// error means (errHelp: exit 0; anything else has been printed: exit 2).
func parseFlags(fs *flag.FlagSet, args []string) (options, error) {
	var o options
	fs.StringVar(&o.kubeconfig, "kubeconfig", os.Getenv("KUBECONFIG"),
		"Path to a kubeconfig. Defaults to $KUBECONFIG; empty means in-cluster configuration.")
	fs.StringVar(&o.master, "master", "",
		"Address of the Kubernetes API server. Overrides the server in the kubeconfig.")
	fs.IntVar(&o.workers, "workers", 4, "Number of tasks synced in parallel.")
	fs.Float64Var(&o.qps, "kube-api-qps", 100, "Queries per second to the API server.")
	fs.IntVar(&o.burst, "kube-api-burst", 200, "Burst of queries to the API server.")
	fs.DurationVar(&o.resync, "resync-period", 10*time.Minute,
		"How often every task is synced again even without a change (a safety net; 0 disables).")
	fs.BoolVar(&o.leaderElect, "leader-elect", false,
		"Hold a Lease before syncing, so only one of several replicas works at a time.")
	fs.StringVar(&o.leaderElectNamespace, "leader-elect-namespace", "",
		"Namespace of the leader election Lease. Empty means the namespace the controller runs in ($POD_NAMESPACE, else its ServiceAccount's), else "+defaultLeaseNamespace+".")
	fs.StringVar(&o.leaderElectID, "leader-elect-id", "kusciatask-controller", "Name of the leader election Lease.")
	fs.StringVar(&o.metricsBindAddress, "metrics-bind-address", ":8080",
		"Address of the Prometheus /metrics endpoint (host:port; \":8080\" is every interface); \"0\" disables it.")
	fs.StringVar(&o.healthProbeBindAddress, "health-probe-bind-address", ":8081",
		"Address of the /healthz and /readyz endpoints; \"0\" disables them.")
	fs.StringVar(&o.podSecurityLevel, "pod-security-level", string(security.DefaultLevel),
		"Pod Security Standards level (privileged, baseline or restricted) every pod the controller builds must meet, "+
			"checked before anything of a task is created. A domain namespace's own pod-security.kubernetes.io/enforce "+
			"label can only make it stricter. A violating task fails with reason PodSecurityViolation.")
	fs.IntVar(&o.maxReplicasPerParty, "max-replicas-per-party", builder.DefaultMaxReplicasPerParty,
		fmt.Sprintf("Most pods one party of a task may ask for (1 to %d, the CRD's own limit); more fails the task with reason TooManyPods.",
			kusciav1alpha1.MaxReplicas))
	fs.IntVar(&o.maxPodsPerTask, "max-pods-per-task", builder.DefaultMaxPodsPerTask,
		"Most pods one task may ask for over all its parties; more fails the task with reason TooManyPods.")
	fs.BoolVar(&o.reservationGate, "reservation-gate", true,
		"Hold every task pod behind an init container (the gate) until the task is reserved, so a reserved party holds "+
			"its nodes without running anything. false: a bound pod starts at once, as without a reservation.")
	fs.StringVar(&o.gateImage, "gate-image", "",
		"Image of the gate init container, which must ship "+gate.BinaryPath+" (the controller's own image does). "+
			"Empty: in a pod ($POD_NAME and $POD_NAMESPACE set through the downward API), the image of the controller's own "+
			"container (the one named "+ownContainerName+", or the pod's only container), read from its Pod at start-up, so one "+
			"kustomize images: override moves both; outside a cluster, "+gate.ImageName+":<version>, the image \"make image\" builds.")
	o.podGroups = podgroup.ModeAuto
	fs.Var(&o.podGroups, "pod-groups",
		"Co-schedule each party with Kubernetes' gang scheduling (a scheduling.k8s.io/v1beta1 PodGroup per party, "+
			"minCount = minReservedPods): auto uses it when the API server serves podgroups, true requires it "+
			"(the controller does not start otherwise), false never uses it.")
	fs.BoolVar(&o.profiling, "profiling", false,
		"Serve Go's pprof profiles (heap, CPU, goroutines, ...) under /debug/pprof/ on the metrics address "+
			"(--metrics-bind-address). Off by default: a profile shows the process's internals to whoever can reach that address.")
	fs.DurationVar(&o.statusBatchDelay, "status-batch-delay", controller.DefaultStatusBatchDelay,
		"How long a task's status may lag its pods' progress (created, scheduled, started), so a burst of changes is one "+
			"write: a task whose gang forms within it is written twice, Running and its end. Phase changes, releases, "+
			"create failures and the end are written at once. 0 writes every change at once.")
	fs.StringVar(&o.markKeySecret, "mark-key-secret", "",
		"Secret (namespace/name) holding the key the controller marks its pods with; created with a random key when "+
			"missing. Only a pod with a valid mark counts for a task. Empty means "+mark.DefaultSecretName+
			" in the namespace the controller runs in ($POD_NAMESPACE, else its ServiceAccount's, else "+defaultLeaseNamespace+
			"). No domain user may read Secrets there.")
	fs.BoolVar(&o.printVersion, "version", false, "Print the version, commit and build date, then exit.")
	klog.InitFlags(fs)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	// The flag package reports its own errors (and the usage) on fs.Output().
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if err := o.validate(fs.Args()); err != nil {
		fmt.Fprintln(fs.Output(), "kusciatask-controller:", err)
		return o, err
	}
	if o.leaderElectNamespace == "" {
		o.leaderElectNamespace = ownNamespace(os.Getenv, os.ReadFile)
	}
	if o.markKeySecret == "" {
		o.markKeySecret = ownNamespace(os.Getenv, os.ReadFile) + "/" + mark.DefaultSecretName
	}
	return o, nil
}

// validate checks what the flag package cannot: no positional arguments,
// and the flags that have a range.
func (o *options) validate(args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("unexpected arguments %q: every setting is a flag", strings.Join(args, " "))
	}
	if o.workers < 1 {
		return errors.New("--workers must be at least 1")
	}
	if o.profiling && o.metricsBindAddress == "0" {
		return errors.New("--profiling serves on the metrics address, which --metrics-bind-address=0 disables")
	}
	if o.statusBatchDelay < 0 {
		return errors.New("--status-batch-delay must not be negative")
	}
	if o.markKeySecret != "" {
		if _, _, err := splitSecretName(o.markKeySecret); err != nil {
			return err
		}
	}
	// An empty --gate-image is resolved at start-up (resolveGateImage);
	// everything else of the policy is checked now.
	probe := *o
	if probe.gateImage == "" {
		probe.gateImage = gate.DefaultImage()
	}
	_, err := probe.policy()
	return err
}

// ownNamespace is the namespace the controller runs in: $POD_NAMESPACE (the
// Deployment sets it through the downward API), else the ServiceAccount's
// namespace file, else defaultLeaseNamespace.
func ownNamespace(getenv func(string) string, readFile func(string) ([]byte, error)) string {
	if ns := strings.TrimSpace(getenv("POD_NAMESPACE")); ns != "" {
		return ns
	}
	if b, err := readFile(serviceAccountNamespaceFile); err == nil {
		if ns := strings.TrimSpace(string(b)); ns != "" {
			return ns
		}
	}
	return defaultLeaseNamespace
}

// policy is what the flags let tasks do.
func (o options) policy() (builder.Policy, error) {
	level, err := security.ParseLevel(o.podSecurityLevel)
	if err != nil {
		return builder.Policy{}, fmt.Errorf("--pod-security-level: %w", err)
	}
	if o.maxReplicasPerParty < 1 || o.maxReplicasPerParty > kusciav1alpha1.MaxReplicas {
		return builder.Policy{}, fmt.Errorf("--max-replicas-per-party must be between 1 and %d, got %d", kusciav1alpha1.MaxReplicas, o.maxReplicasPerParty)
	}
	if o.maxPodsPerTask < 1 {
		return builder.Policy{}, fmt.Errorf("--max-pods-per-task must be at least 1, got %d", o.maxPodsPerTask)
	}
	p := builder.Policy{
		PodSecurityLevel:    level,
		MaxReplicasPerParty: o.maxReplicasPerParty,
		MaxPodsPerTask:      o.maxPodsPerTask,
	}
	if o.reservationGate {
		if o.gateImage == "" {
			return builder.Policy{}, errors.New("no gate image: --gate-image is empty and the controller's own image was not resolved")
		}
		if strings.TrimSpace(o.gateImage) != o.gateImage || strings.ContainsAny(o.gateImage, " \t\n\r\f\v") {
			return builder.Policy{}, fmt.Errorf("--gate-image must be an image reference without white space, got %q", o.gateImage)
		}
		p.Gate = builder.GatePolicy{Image: o.gateImage}
	}
	return p, nil
}

// splitSecretName splits --mark-key-secret's "namespace/name".
func splitSecretName(s string) (namespace, name string, err error) {
	namespace, name, ok := strings.Cut(s, "/")
	if !ok || namespace == "" || name == "" || strings.Contains(name, "/") {
		return "", "", fmt.Errorf("--mark-key-secret %q: want namespace/name", s)
	}
	return namespace, name, nil
}
