// The controller's command line: its flags in named sections, as
// Kubernetes' own components print them (Generic, Task policy,
// Reservation, Leader election, Metrics & probes, Logging), parsing, and
// the help.

package main

import (
	"bytes"
	goflag "flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/term"
	cliflag "k8s.io/component-base/cli/flag"
	"k8s.io/component-base/logs"
	logsapi "k8s.io/component-base/logs/api/v1"
	"k8s.io/klog/v2"

	// --logging-format=json, as Kubernetes' components offer it.
	_ "k8s.io/component-base/logs/json/register"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
	"kusciatask.io/controller/pkg/controller"
	"kusciatask.io/controller/pkg/gate"
	"kusciatask.io/controller/pkg/mark"
	"kusciatask.io/controller/pkg/podgroup"
	"kusciatask.io/controller/pkg/security"
)

// errHelp is returned by parseFlags for -h/--help: the usage has been
// printed, exit 0.
var errHelp = pflag.ErrHelp

// parseFlags parses args into options, printing errors and the help on
// out. It never exits: main decides what an error means (errHelp: exit 0;
// anything else has been printed: exit 2).
func parseFlags(args []string, out io.Writer) (options, error) {
	o := options{podGroups: podgroup.ModeAuto, logs: logs.NewOptions()}
	fss := o.flagSets()
	fs := pflag.NewFlagSet("kusciatask-controller", pflag.ContinueOnError)
	for _, name := range fss.Order {
		fs.AddFlagSet(fss.FlagSets[name])
	}
	fs.SetOutput(out)
	fs.Usage = func() { printUsage(out, fss) }
	if err := fs.Parse(doubleDash(args, fs)); err != nil {
		// pflag leaves a bad value or an unknown flag to its caller.
		fmt.Fprintln(out, "kusciatask-controller:", err)
		fs.Usage()
		return o, err
	}
	if o.help {
		fs.Usage()
		return o, errHelp
	}
	if err := o.validate(fs.Args()); err != nil {
		fmt.Fprintln(out, "kusciatask-controller:", err)
		return o, err
	}
	o.fillOwnNamespace()
	return o, nil
}

// fillOwnNamespace resolves the flags whose empty value means "the
// namespace the controller runs in".
func (o *options) fillOwnNamespace() {
	if o.leaderElectNamespace == "" {
		o.leaderElectNamespace = ownNamespace(os.Getenv, os.ReadFile)
	}
	if o.markKeySecret == "" {
		o.markKeySecret = ownNamespace(os.Getenv, os.ReadFile) + "/" + mark.DefaultSecretName
	}
}

// flagSets defines every flag on o, in the sections --help prints.
func (o *options) flagSets() cliflag.NamedFlagSets {
	var fss cliflag.NamedFlagSets
	o.addGenericFlags(fss.FlagSet("generic"))
	o.addPolicyFlags(fss.FlagSet("task policy"))
	o.addReservationFlags(fss.FlagSet("reservation"))
	o.addLeaderElectionFlags(fss.FlagSet("leader election"))
	o.addServingFlags(fss.FlagSet("metrics & probes"))
	addLoggingFlags(o.logs, fss.FlagSet("logging"))
	for _, fs := range fss.FlagSets {
		fs.VisitAll(showZeroDefault)
	}
	return fss
}

func (o *options) addGenericFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.kubeconfig, "kubeconfig", os.Getenv("KUBECONFIG"),
		"Path to a kubeconfig. Defaults to $KUBECONFIG; empty means in-cluster configuration.")
	fs.StringVar(&o.master, "master", "",
		"Address of the Kubernetes API server. Overrides the server in the kubeconfig; empty keeps it.")
	fs.Float64Var(&o.qps, "kube-api-qps", 100, "Queries per second to the API server.")
	fs.IntVar(&o.burst, "kube-api-burst", 200, "Burst of queries to the API server.")
	fs.IntVar(&o.workers, "workers", 4, "Number of tasks synced in parallel.")
	fs.DurationVar(&o.resync, "resync-period", 10*time.Minute,
		"How often every task is synced again even without a change (a safety net; 0 disables).")
	fs.DurationVar(&o.statusBatchDelay, "status-batch-delay", controller.DefaultStatusBatchDelay,
		"How long a task's status may lag its pods' progress (created, scheduled, started), so a burst of changes is one "+
			"write: a task whose gang forms within it is written twice, Running and its end. Phase changes, releases, "+
			"create failures and the end are written at once. 0 writes every change at once.")
	fs.BoolVar(&o.printVersion, "version", false, "Print the version, commit and build date, then exit.")
	fs.BoolVarP(&o.help, "help", "h", false, "Print this help, then exit.")
}

func (o *options) addPolicyFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.podSecurityLevel, "pod-security-level", string(security.DefaultLevel),
		"Pod Security Standards level (privileged, baseline or restricted) every pod the controller builds must meet, "+
			"checked before anything of a task is created. A domain namespace's own pod-security.kubernetes.io/enforce "+
			"label can only make it stricter. A violating task fails with reason PodSecurityViolation.")
	fs.IntVar(&o.maxReplicasPerParty, "max-replicas-per-party", builder.DefaultMaxReplicasPerParty,
		fmt.Sprintf("Most pods one party of a task may ask for (1 to %d, the CRD's own limit); more fails the task with reason TooManyPods.",
			kusciav1alpha1.MaxReplicas))
	fs.IntVar(&o.maxPodsPerTask, "max-pods-per-task", builder.DefaultMaxPodsPerTask,
		"Most pods one task may ask for over all its parties; more fails the task with reason TooManyPods.")
	fs.StringVar(&o.markKeySecret, "mark-key-secret", "",
		"Secret (namespace/name) holding the key the controller marks its pods with; created with a random key when "+
			"missing. Only a pod with a valid mark counts for a task. Empty means "+mark.DefaultSecretName+
			" in the namespace the controller runs in ($POD_NAMESPACE, else its ServiceAccount's, else "+defaultLeaseNamespace+
			"). No domain user may read Secrets there.")
}

func (o *options) addReservationFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.reservationGate, "reservation-gate", true,
		"Hold every task pod behind an init container (the gate) until the task is reserved, so a reserved party holds "+
			"its nodes without running anything. false: a bound pod starts at once, as without a reservation.")
	fs.StringVar(&o.gateImage, "gate-image", "",
		"Image of the gate init container, which must ship "+gate.BinaryPath+" (the controller's own image does). "+
			"Empty: in a pod ($POD_NAME and $POD_NAMESPACE set through the downward API), the image of the controller's own "+
			"container (the one named "+ownContainerName+", or the pod's only container), read from its Pod at start-up, so one "+
			"kustomize images: override moves both; outside a cluster, "+gate.ImageName+":<version>, the image \"make image\" builds.")
	fs.BoolVar(&o.pullDuringReservation, "pull-during-reservation", true,
		"With the gate: run it from the application's own image, after one pull-only init container per other image of "+
			"the pod, so a party counts as reserved only once the kubelet has pulled every image and the gate waits; the "+
			"task then starts the moment its gates open, and a failing pull (ErrImagePull, ImagePullBackOff) keeps the "+
			"party unreserved instead of failing the task after the gang formed. false: the gate runs from --gate-image, a "+
			"bound pod counts as reserved, and its images are pulled once the gate opens.")
	fs.Var(podGroupsValue{&o.podGroups}, "pod-groups",
		"Co-schedule each party with Kubernetes' gang scheduling (a scheduling.k8s.io/v1beta1 PodGroup per party, "+
			"minCount = minReservedPods): auto uses it when the API server serves podgroups, true requires it "+
			"(the controller does not start otherwise), false never uses it.")
}

func (o *options) addLeaderElectionFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.leaderElect, "leader-elect", false,
		"Hold a Lease before syncing, so only one of several replicas works at a time.")
	fs.StringVar(&o.leaderElectNamespace, "leader-elect-namespace", "",
		"Namespace of the leader election Lease. Empty means the namespace the controller runs in ($POD_NAMESPACE, else its ServiceAccount's), else "+defaultLeaseNamespace+".")
	fs.StringVar(&o.leaderElectID, "leader-elect-id", "kusciatask-controller", "Name of the leader election Lease.")
}

func (o *options) addServingFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.metricsBindAddress, "metrics-bind-address", ":8080",
		"Address of the Prometheus /metrics endpoint (host:port; \":8080\" is every interface); \"0\" disables it.")
	fs.StringVar(&o.healthProbeBindAddress, "health-probe-bind-address", ":8081",
		"Address of the /healthz and /readyz endpoints; \"0\" disables them.")
	fs.BoolVar(&o.profiling, "profiling", false,
		"Serve Go's pprof profiles (heap, CPU, goroutines, ...) under /debug/pprof/ on the metrics address "+
			"(--metrics-bind-address). Off by default: a profile shows the process's internals to whoever can reach that address.")
}

// alphaLoggingFlags need the LoggingAlphaOptions feature gate, which the
// controller has no flag for: they would only ever be rejected, so --help
// leaves them out.
var alphaLoggingFlags = []string{"log-text-split-stream", "log-text-info-buffer-size", "log-json-split-stream", "log-json-info-buffer-size"}

// addLoggingFlags adds component-base's logging flags (-v, --vmodule,
// --logging-format, --log-flush-frequency) and, hidden, klog's legacy
// flags, which Kubernetes' components dropped: they are still accepted, so
// a command line that has one keeps starting, but say they do nothing.
func addLoggingFlags(c *logsapi.LoggingConfiguration, fs *pflag.FlagSet) {
	logsapi.AddFlags(c, fs)
	for _, name := range alphaLoggingFlags {
		if fs.Lookup(name) != nil {
			_ = fs.MarkHidden(name)
		}
	}
	var legacy pflag.FlagSet
	legacy.AddGoFlagSet(klogLegacyFlags())
	legacy.VisitAll(func(f *pflag.Flag) {
		if fs.Lookup(f.Name) != nil {
			return // -v and --vmodule are component-base's
		}
		f.Deprecated = "it has no effect; use -v, --vmodule and --logging-format, and redirect stderr to keep logs in a file"
		f.Hidden = true
		f.Value = ignoredValue{f.Value}
		fs.AddFlag(f)
	})
}

// klogLegacyFlags are klog's own flags, for their names, usages and
// types; addLoggingFlags swaps their values for ignoredValue.
func klogLegacyFlags() *goflag.FlagSet {
	gofs := goflag.NewFlagSet("klog", goflag.ContinueOnError)
	klog.InitFlags(gofs)
	return gofs
}

// showZeroDefault adds the default pflag leaves out of a flag's usage
// when it is a zero value (false, 0, ""), so --help shows every flag's.
func showZeroDefault(f *pflag.Flag) {
	switch {
	case strings.Contains(f.Usage, "(default "):
	case f.DefValue == "false" || f.DefValue == "0":
		f.Usage += " (default " + f.DefValue + ")"
	case f.DefValue == "":
		f.Usage += ` (default "")`
	}
}

// printUsage prints the help: what the controller does, then the flags by
// section.
func printUsage(out io.Writer, fss cliflag.NamedFlagSets) {
	var sections bytes.Buffer
	cliflag.PrintSections(&sections, fss, helpColumns(out))
	fmt.Fprint(out, usage)
	// PrintSections pads each flag's name to the width of the widest.
	for _, line := range strings.SplitAfter(sections.String(), "\n") {
		fmt.Fprint(out, strings.TrimRight(line, " \n"), strings.Repeat("\n", strings.Count(line, "\n")))
	}
}

// helpColumns is the width --help wraps at: the terminal's, else 100.
func helpColumns(out io.Writer) int {
	if f, ok := out.(*os.File); ok {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 40 {
			return w
		}
	}
	return 100
}

// doubleDash rewrites "-name" and "-name=value" to their "--" forms for
// fs's long flags, as the flag package the controller used before pflag
// accepted them: command lines written then keep working. Single-letter
// shorthands (-v 2, -h) and everything after "--" are left alone.
func doubleDash(args []string, fs *pflag.FlagSet) []string {
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		name, _, _ := strings.Cut(strings.TrimPrefix(a, "-"), "=")
		if strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && len(name) > 1 && fs.Lookup(name) != nil {
			a = "-" + a
		}
		out = append(out, a)
	}
	return out
}

// podGroupsValue is --pod-groups as a pflag.Value.
type podGroupsValue struct{ mode *podgroup.Mode }

func (v podGroupsValue) String() string     { return v.mode.String() }
func (v podGroupsValue) Set(s string) error { return v.mode.Set(s) }
func (v podGroupsValue) Type() string       { return "auto|true|false" }

// ignoredValue accepts any value and keeps none: klog's legacy flags no
// longer reach klog (component-base's logger writes the logs).
type ignoredValue struct{ pflag.Value }

func (ignoredValue) Set(string) error { return nil }
