package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"k8s.io/klog/v2"
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
	klog.InitFlags(fs)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	// ExitOnError: a bad flag prints the usage and exits 2; -help exits 0.
	_ = fs.Parse(args)
	if o.workers < 1 {
		fmt.Fprintln(fs.Output(), "--workers must be at least 1")
		os.Exit(2)
	}
	return o
}
