// Command kusciatask-controller runs the KusciaTask controller against a
// Kubernetes cluster: it turns each KusciaTask into its parties' pods,
// services and config maps, gang-reserves them and reports their state in
// the task's status.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	kubeinformers "k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/record"
	logsapi "k8s.io/component-base/logs/api/v1"
	"k8s.io/klog/v2"

	corev1 "k8s.io/api/core/v1"

	"kusciatask.io/controller/pkg/controller"
	"kusciatask.io/controller/pkg/controller/informers"
	"kusciatask.io/controller/pkg/controller/metrics"
	"kusciatask.io/controller/pkg/generated/clientset/versioned"
	kusciascheme "kusciatask.io/controller/pkg/generated/clientset/versioned/scheme"
	kusciainformers "kusciatask.io/controller/pkg/generated/informers/externalversions"
	"kusciatask.io/controller/pkg/mark"
	"kusciatask.io/controller/pkg/podgroup"
	"kusciatask.io/controller/pkg/version"
)

const usage = `kusciatask-controller runs the SecretFlow Kuscia KusciaTask controller.

It watches KusciaTasks (kuscia.secretflow/v1alpha1, cluster-scoped) and
AppImages, creates each party's ConfigMaps, headless Services and Pods in the
party's namespace (a namespace labelled kuscia.secretflow/domain), reserves
them as a gang and reports parties, pods and services in .status.

Whoever may create a KusciaTask or an AppImage borrows the controller's right
to create pods in every domain, so each task is held to a policy before
anything of it is created: its pods must meet a Pod Security Standards level
(--pod-security-level, made stricter by a domain's own
pod-security.kubernetes.io/enforce label), may read a domain's Secrets only
where the namespace is labelled kuscia.secretflow/allow-secret-refs=true, and
its size is bounded (--max-replicas-per-party, --max-pods-per-task). Config
templates render under a fixed budget of steps, bytes and time per task.

Usage:
  kusciatask-controller [flags]
`

func main() {
	opts, err := parseFlags(os.Args[1:], os.Stderr)
	switch {
	case errors.Is(err, errHelp):
		os.Exit(0)
	case err != nil:
		os.Exit(2) // already printed, with the usage for an unknown flag
	case opts.printVersion:
		fmt.Println("kusciatask-controller", version.Get())
		os.Exit(0)
	}
	// Validated by parseFlags; applying sets klog's logger, -v and --vmodule.
	if err := logsapi.ValidateAndApply(opts.logs, nil); err != nil {
		fmt.Fprintln(os.Stderr, "kusciatask-controller:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	logger := klog.FromContext(ctx)
	if err := run(ctx, opts); err != nil {
		logger.Error(err, "Controller stopped")
		klog.FlushAndExit(klog.ExitFlushTimeout, 1)
	}
	klog.Flush()
}

func run(ctx context.Context, opts options) error {
	logger := klog.FromContext(ctx)
	cfg, err := clientcmd.BuildConfigFromFlags(opts.master, opts.kubeconfig)
	if err != nil {
		return fmt.Errorf("build client config: %w", err)
	}
	cfg.QPS, cfg.Burst = float32(opts.qps), opts.burst
	cfg.UserAgent = rest.DefaultKubernetesUserAgent() + " " + controller.ControllerName
	kubeClient, err := kubernetes.NewForConfig(builtInTypesConfig(cfg))
	if err != nil {
		return fmt.Errorf("build kubernetes client: %w", err)
	}
	warnUnlessAdmissionPolicy(ctx, kubeClient)
	// Gate opening, Events and the Lease have clients of their own, each
	// with its own --kube-api-qps budget (kube-scheduler and
	// kube-controller-manager split theirs the same way): a gang that
	// formed waits for its gates with its nodes held idle, so opening them
	// never queues behind other tasks' creates; a burst of creates never
	// delays the Lease's renewal; and recording what happened never slows
	// down making it happen.
	gateClient, err := kubernetes.NewForConfig(builtInTypesConfig(cfg))
	if err != nil {
		return fmt.Errorf("build gate client: %w", err)
	}
	eventClient, err := kubernetes.NewForConfig(builtInTypesConfig(cfg))
	if err != nil {
		return fmt.Errorf("build event client: %w", err)
	}
	leaseClient, err := kubernetes.NewForConfig(builtInTypesConfig(cfg))
	if err != nil {
		return fmt.Errorf("build lease client: %w", err)
	}
	kusciaClient, err := versioned.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("build kuscia client: %w", err)
	}
	if opts.reservationGate {
		// Before leader election: a standby with no usable gate image
		// says so at start-up, not when it takes over.
		if opts.gateImage, err = resolveGateImage(ctx, opts.gateImage, os.Getenv, kubeClient.CoreV1()); err != nil {
			return err
		}
		logger.Info("Gate image", "image", opts.gateImage)
	}

	registry := prometheus.NewRegistry()
	registry.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	registerWorkqueueMetrics(registry)
	registerRestClientMetrics(registry)
	// Registered before leader election, so a standby's /metrics shows
	// zero syncs rather than nothing.
	syncMetrics := metrics.New(registry)

	ready := newReadiness(opts.leaderElect)
	web, err := listenHTTP(opts, registry, ready)
	if err != nil {
		return err
	}
	run := func(ctx context.Context) error {
		return runController(ctx, opts, clients{kube: kubeClient, kuscia: kusciaClient, gate: gateClient, events: eventClient}, registry, syncMetrics, ready)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- web.serve(ctx) }()
	var runErr error
	if opts.leaderElect {
		runErr = runWithLeaderElection(ctx, opts, leaseClient, run)
	} else {
		runErr = run(ctx)
	}
	logger.Info("Shut down")
	if runErr != nil {
		return runErr
	}
	select {
	case err := <-serveErr:
		return err
	case <-time.After(5 * time.Second):
		return nil
	}
}

// clients are the controller's API clients, each with its own rate limiter.
type clients struct {
	kube   kubernetes.Interface
	kuscia versioned.Interface
	gate   kubernetes.Interface
	events kubernetes.Interface
}

func runController(ctx context.Context, opts options, cs clients, registry *prometheus.Registry, syncMetrics *metrics.Metrics, ready *readiness) error {
	kubeClient, kusciaClient := cs.kube, cs.kuscia
	utilMust(kusciascheme.AddToScheme(scheme.Scheme))
	policy, err := opts.policy()
	if err != nil {
		return err
	}
	// Children are only watched when they carry the task-UID label: the
	// controller never needs the rest of the cluster's pods in memory.
	children := informers.NewChildInformerFactory(kubeClient, opts.resync)
	cluster := kubeinformers.NewSharedInformerFactory(kubeClient, opts.resync)
	kuscia := kusciainformers.NewSharedInformerFactory(kusciaClient, opts.resync)

	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartStructuredLogging(3)
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: cs.events.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	recorder := broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: controller.ControllerName})

	inf := controller.Informers{
		Tasks:      kuscia.Kuscia().V1alpha1().KusciaTasks(),
		AppImages:  kuscia.Kuscia().V1alpha1().AppImages(),
		Namespaces: cluster.Core().V1().Namespaces(),
		Pods:       children.Core().V1().Pods(),
		Services:   children.Core().V1().Services(),
		ConfigMaps: children.Core().V1().ConfigMaps(),
	}
	usePodGroups, err := podgroup.Enabled(ctx, opts.podGroups, kubeClient.Discovery())
	if err != nil {
		return fmt.Errorf("--pod-groups=%s: %w", opts.podGroups.String(), err)
	}
	klog.FromContext(ctx).Info("Co-scheduling parties", "podGroups", usePodGroups, "mode", opts.podGroups.String())
	if usePodGroups {
		inf.PodGroups = children.Scheduling().V1beta1().PodGroups()
	}
	ns, name, err := splitSecretName(opts.markKeySecret)
	if err != nil {
		return err
	}
	markKey, err := mark.LoadOrCreateKey(ctx, kubeClient, ns, name)
	if err != nil {
		return err
	}
	c, err := controller.NewController(ctx, kubeClient, kusciaClient, inf, controller.Options{Recorder: recorder, Metrics: syncMetrics, Policy: policy,
		GateClient: cs.gate, StatusBatchDelay: opts.statusBatchDelay, MarkKey: markKey})
	if err != nil {
		return fmt.Errorf("build controller: %w", err)
	}
	c.RegisterTaskPhaseCollector(registry)
	ready.set(c.HasSynced)

	children.Start(ctx.Done())
	cluster.Start(ctx.Done())
	kuscia.Start(ctx.Done())
	defer func() {
		children.Shutdown()
		cluster.Shutdown()
		kuscia.Shutdown()
	}()
	return c.Run(ctx, opts.workers)
}

// Content types of the client of built-in types.
const (
	protobufContentType = "application/vnd.kubernetes.protobuf"
	jsonContentType     = "application/json"
)

// builtInTypesConfig is cfg for the client of Kubernetes' own types (pods,
// services, config maps, namespaces, PodGroups, Events, Leases): it speaks
// protobuf, which the API server encodes and decodes for a fraction of
// JSON's cost, and accepts JSON for anything that has no protobuf. The
// client of KusciaTasks and AppImages keeps cfg's JSON: custom resources
// have no protobuf encoding.
func builtInTypesConfig(cfg *rest.Config) *rest.Config {
	out := rest.CopyConfig(cfg)
	out.ContentType = protobufContentType
	out.AcceptContentTypes = protobufContentType + "," + jsonContentType
	return out
}

func utilMust(err error) {
	if err != nil {
		panic(err)
	}
}
