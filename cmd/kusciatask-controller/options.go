package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"k8s.io/klog/v2"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
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
	podSecurityLevel       string
	maxReplicasPerParty    int
	maxPodsPerTask         int
}

func parseFlags(fs *flag.FlagSet, args []string) options {
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
	fs.StringVar(&o.leaderElectNamespace, "leader-elect-namespace", "default", "Namespace of the leader election Lease.")
	fs.StringVar(&o.leaderElectID, "leader-elect-id", "kusciatask-controller", "Name of the leader election Lease.")
	fs.StringVar(&o.metricsBindAddress, "metrics-bind-address", "127.0.0.1:8080",
		"Address of the Prometheus /metrics endpoint; \"0\" disables it.")
	fs.StringVar(&o.healthProbeBindAddress, "health-probe-bind-address", "127.0.0.1:8081",
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
	klog.InitFlags(fs)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	// ExitOnError: a bad flag prints the usage and exits 2; -help exits 0.
	_ = fs.Parse(args)
	if err := o.validate(); err != nil {
		fmt.Fprintln(fs.Output(), err)
		os.Exit(2)
	}
	return o
}

// validate checks the flags that have a range.
func (o options) validate() error {
	if o.workers < 1 {
		return fmt.Errorf("--workers must be at least 1")
	}
	if _, err := o.policy(); err != nil {
		return err
	}
	return nil
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
	return builder.Policy{
		PodSecurityLevel:    level,
		MaxReplicasPerParty: o.maxReplicasPerParty,
		MaxPodsPerTask:      o.maxPodsPerTask,
	}, nil
}
