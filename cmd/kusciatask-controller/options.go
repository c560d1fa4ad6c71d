// The controller's settings: the options struct its flags fill (flags.go
// defines them), their validation, and the task policy they make.

package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	logsapi "k8s.io/component-base/logs/api/v1"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
	"kusciatask.io/controller/pkg/gate"
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
	help                   bool
	podSecurityLevel       string
	maxReplicasPerParty    int
	maxPodsPerTask         int
	reservationGate        bool
	gateImage              string
	pullDuringReservation  bool
	podGroups              podgroup.Mode
	profiling              bool
	statusBatchDelay       time.Duration
	markKeySecret          string
	// logs is the Logging section (-v, --vmodule, --logging-format),
	// applied by main once the flags are valid.
	logs *logsapi.LoggingConfiguration
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
	if _, err := probe.policy(); err != nil {
		return err
	}
	if errs := logsapi.Validate(o.logs, nil, nil); len(errs) > 0 {
		return fmt.Errorf("logging flags: %w", errs.ToAggregate())
	}
	return nil
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
		p.Gate = builder.GatePolicy{Image: o.gateImage, PullImages: o.pullDuringReservation}
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
