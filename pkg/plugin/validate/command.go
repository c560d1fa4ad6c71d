// Package validate is `kubectl kuscia validate`: it checks KusciaTasks
// before they are applied, with the controller's own builder, and reports
// every problem at once and what each party would get.
package validate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
	"kusciatask.io/controller/pkg/gate"
	"kusciatask.io/controller/pkg/generated/clientset/versioned"
	"kusciatask.io/controller/pkg/plugin/flaggroups"
	"kusciatask.io/controller/pkg/podgroup"
	"kusciatask.io/controller/pkg/security"
)

// Exit codes of validate.
const (
	// ExitValid: every task is valid.
	ExitValid = 0
	// ExitProblems: validate found problems (it printed them).
	ExitProblems = 1
	// ExitUsage: bad flags, a file that cannot be read, a cluster that
	// cannot be asked.
	ExitUsage = 3 // as every verb of kubectl kuscia
)

// exitError ends the command with an exit code. The plugin's main exits
// with ExitCode(err).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// ExitCode is the code the command's error asks for.
func (e *exitError) ExitCode() int { return e.code }

// ExitCode is the process exit code for what the command returned: 0 for
// nil, the code of an error that carries one, else ExitUsage.
func ExitCode(err error) int {
	if err == nil {
		return ExitValid
	}
	var coded interface{ ExitCode() int }
	if errors.As(err, &coded) {
		return coded.ExitCode()
	}
	return ExitUsage
}

func usageErrorf(format string, args ...any) error {
	return &exitError{code: ExitUsage, err: fmt.Errorf(format, args...)}
}

// The round the controller creates a task's first objects for.
const firstRound = 1

const longHelp = `Check KusciaTasks before applying them, with the controller's own builder.

Every problem is reported at once: the schema (fields the API does not declare;
offline, the CRDs' own OpenAPI and CEL rules; with a cluster, a server-side dry
run of the task runs the cluster's), AppImages that do not exist, roles without a deploy
template, namespaces that do not exist or are not Kuscia domains, config
templates that do not render, pods the Pod Security level refuses, and - with a
cluster - every built pod, service, config map and PodGroup created with
dryRun=All, so admission (Pod Security labels, quotas, webhooks) speaks. Then
what each party would get: pods, headless services, config maps with their
rendered files. -o yaml or -o json prints the full objects instead.

Each problem is one line, led by the path of the field it is about; a value the
API cannot hold (a quantity "2 cores") does not stop the other checks. The
report ends with one line, such as "3 problems in 1 of 2 tasks"; -q prints that
line alone. Offline, the API server's admission of the built pods (Pod
Security labels, admission policies, quotas) does not run; the controller's
own checks (requests within limits, bounds, Pod Security level) do.

AppImages and namespaces come from the files given (-f may hold them too) and,
unless --offline, from the cluster; a file wins over the cluster. Nothing is
written to the cluster.

The controller's policy flags (--pod-security-level, --reservation-gate,
--gate-image, --pull-during-reservation, --max-replicas-per-party,
--max-pods-per-task, --pod-groups)
mean the same here; pass the values your controller runs with.

Exit codes: 0 valid, 1 problems found, 3 usage or I/O error (as every verb).`

const exampleHelp = `  # Check a task against the cluster's AppImages and namespaces
  kubectl kuscia validate -f task.yaml

  # Check offline, with the AppImages and domains from files
  kubectl kuscia validate --offline -f task.yaml --appimage-file appimage.yaml --domain-file domains.yaml

  # Print every object the controller would create
  kubectl kuscia validate -f task.yaml -o yaml`

// options are validate's flags and what it runs with.
type options struct {
	configFlags *genericclioptions.ConfigFlags
	streams     genericiooptions.IOStreams

	taskFiles, imageFiles, domainFiles []string
	offline                            bool
	// quiet prints the report's summary line only.
	quiet  bool
	output string
	policy policyFlags

	// now is the clock of the gate deadline; connect makes the cluster.
	// Tests replace them.
	now     func() time.Time
	connect func() (*cluster, error)
}

// policyFlags are the controller's flags that shape what it builds.
type policyFlags struct {
	podSecurityLevel      string
	reservationGate       bool
	gateImage             string
	pullDuringReservation bool
	maxReplicasPerParty   int
	maxPodsPerTask        int
	podGroups             podgroup.Mode
}

// NewCommand is `kubectl kuscia validate`. The root command registers
// configFlags' flags (--kubeconfig, --context, ...).
func NewCommand(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &options{configFlags: configFlags, streams: streams, now: time.Now}
	o.connect = o.connectCluster
	return newCommand(o)
}

func newCommand(o *options) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "validate -f FILE [-f FILE...]",
		Short:   "Check KusciaTasks before applying them: every problem at once, and what each party would get",
		Long:    longHelp,
		Example: exampleHelp,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return o.fail(usageErrorf("unexpected arguments %q: the files to check go with -f", args))
			}
			return nil
		},
		// validate prints its own report and errors (cobra would print
		// "problems found" too); the exit code says which it was.
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.fail(o.run(cmd.Context()))
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return o.fail(&exitError{code: ExitUsage, err: err})
	})
	f := cmd.Flags()
	f.StringSliceVarP(&o.taskFiles, "filename", "f", nil, "File with KusciaTasks (and AppImages or namespaces) to check; - reads stdin.")
	f.StringSliceVar(&o.imageFiles, "appimage-file", nil, "File with AppImages the tasks use; wins over the cluster's.")
	f.StringSliceVar(&o.domainFiles, "domain-file", nil, "File with the domains' namespaces; wins over the cluster's.")
	f.BoolVar(&o.offline, "offline", false, "Do not ask the cluster: AppImages and namespaces come from the files only, and nothing is dry-run.")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Print only the summary line (how many problems in how many tasks); the exit code says the rest.")
	f.StringVarP(&o.output, "output", "o", "", "yaml or json: print every object the controller would create (the report goes to stderr).")
	f.StringVar(&o.policy.podSecurityLevel, "pod-security-level", string(security.DefaultLevel), "The controller's --pod-security-level.")
	f.BoolVar(&o.policy.reservationGate, "reservation-gate", true, "The controller's --reservation-gate.")
	f.StringVar(&o.policy.gateImage, "gate-image", gate.DefaultImage(), "The controller's --gate-image.")
	f.BoolVar(&o.policy.pullDuringReservation, "pull-during-reservation", true, "The controller's --pull-during-reservation.")
	f.IntVar(&o.policy.maxReplicasPerParty, "max-replicas-per-party", builder.DefaultMaxReplicasPerParty, "The controller's --max-replicas-per-party.")
	f.IntVar(&o.policy.maxPodsPerTask, "max-pods-per-task", builder.DefaultMaxPodsPerTask, "The controller's --max-pods-per-task.")
	o.policy.podGroups = podgroup.ModeAuto
	f.Var(modeValue{&o.policy.podGroups}, "pod-groups", "The controller's --pod-groups (auto asks the cluster; offline, auto means false).")
	flaggroups.Set(f, flaggroups.Input, "filename", "appimage-file", "domain-file", "offline")
	flaggroups.Set(f, flaggroups.Policy, "pod-security-level", "reservation-gate", "gate-image", "pull-during-reservation",
		"max-replicas-per-party", "max-pods-per-task", "pod-groups")
	flaggroups.Set(f, flaggroups.Output, "output", "quiet")
	_ = cmd.MarkFlagFilename("filename", "yaml", "yml", "json")
	_ = cmd.MarkFlagFilename("appimage-file", "yaml", "yml", "json")
	_ = cmd.MarkFlagFilename("domain-file", "yaml", "yml", "json")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"yaml", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// fail prints a usage or I/O error (problems were printed as the report)
// and returns err.
func (o *options) fail(err error) error {
	if err != nil && ExitCode(err) == ExitUsage {
		fmt.Fprintf(o.streams.ErrOut, "error: %v\n", err)
	}
	return err
}

// modeValue is a --pod-groups mode as a pflag value.
type modeValue struct{ *podgroup.Mode }

func (modeValue) Type() string { return "auto|true|false" }

// run checks every task of the files and prints the report.
func (o *options) run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if len(o.taskFiles) == 0 {
		return usageErrorf("-f is required: the file of the task to check")
	}
	if o.output != "" && o.output != "yaml" && o.output != "json" {
		return usageErrorf("--output must be yaml or json, got %q", o.output)
	}
	policy, err := o.policy.resolve()
	if err != nil {
		return &exitError{code: ExitUsage, err: err}
	}
	in, err := readInputs(ctx, o.streams.In, o.taskFiles, o.imageFiles, o.domainFiles, o.offline)
	if err != nil {
		return &exitError{code: ExitUsage, err: err}
	}
	if len(in.tasks) == 0 && len(in.problems) == 0 {
		return usageErrorf("no KusciaTask in %v", o.taskFiles)
	}
	rep := &report{inputProblems: in.problems, notes: in.notes, checked: offlineChecked}
	var cl *cluster
	if !o.offline {
		if cl, err = o.connect(); err != nil {
			return usageErrorf("%w", withOfflineHint(err))
		}
		if err := cl.checkServed(ctx); err != nil {
			return usageErrorf("%w", withOfflineHint(err))
		}
		rep.checked = fmt.Sprintf("against the cluster at %s (AppImages, namespaces, server-side dry run)", cl.server)
		if policy.PodGroups, err = podgroup.Enabled(ctx, o.policy.podGroups, cl.kube.Discovery()); err != nil {
			return usageErrorf("--pod-groups: %w", withOfflineHint(err))
		}
	} else {
		policy.PodGroups = o.policy.podGroups == podgroup.ModeOn
	}
	rep.policy = policy
	for _, st := range in.tasks {
		tr, err := o.checkTask(ctx, cl, st, in, policy)
		if err != nil {
			return usageErrorf("%w", withOfflineHint(err))
		}
		rep.tasks = append(rep.tasks, tr)
	}
	if err := o.print(rep); err != nil {
		return &exitError{code: ExitUsage, err: err}
	}
	if n := rep.problemCount(); n > 0 {
		return &exitError{code: ExitProblems, err: fmt.Errorf("%s found", countProblems(n))}
	}
	return nil
}

// offlineChecked says what an offline check leaves out: the API server's
// own validation and admission of the objects built (an admission policy,
// a quota, which the controller learns from the refused create).
const offlineChecked = "offline, against the files only (the API server's admission of the built pods, " +
	"such as Pod Security labels, policies and quotas, runs only against a cluster)"

// offlineHint is what to do when no cluster answers.
const offlineHint = "no cluster answers: --offline checks against the files only " +
	"(AppImages with --appimage-file, domains' namespaces with --domain-file)"

// withOfflineHint is err, followed by offlineHint when the cluster did not
// answer at all (no configuration, a connection refused, a timeout): a
// refusal the API server sent (a 403, say) needs no other mode.
func withOfflineHint(err error) error {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return err
	}
	return fmt.Errorf("%w\n%s", err, offlineHint)
}

// resolve turns the policy flags into the controller's Policy.
func (p policyFlags) resolve() (builder.Policy, error) {
	level, err := security.ParseLevel(p.podSecurityLevel)
	if err != nil {
		return builder.Policy{}, fmt.Errorf("--pod-security-level: %w", err)
	}
	if p.maxReplicasPerParty < 1 || p.maxReplicasPerParty > kusciav1alpha1.MaxReplicas {
		return builder.Policy{}, fmt.Errorf("--max-replicas-per-party must be between 1 and %d, got %d", kusciav1alpha1.MaxReplicas, p.maxReplicasPerParty)
	}
	if p.maxPodsPerTask < 1 {
		return builder.Policy{}, fmt.Errorf("--max-pods-per-task must be at least 1, got %d", p.maxPodsPerTask)
	}
	policy := builder.Policy{PodSecurityLevel: level, MaxReplicasPerParty: p.maxReplicasPerParty, MaxPodsPerTask: p.maxPodsPerTask}
	if p.reservationGate {
		if p.gateImage == "" {
			return builder.Policy{}, errors.New("--gate-image must not be empty while --reservation-gate is on")
		}
		policy.Gate = builder.GatePolicy{Image: p.gateImage, PullImages: p.pullDuringReservation}
	}
	return policy, nil
}

// connectCluster makes the clients of the cluster the kubeconfig flags name.
func (o *options) connectCluster() (*cluster, error) {
	cfg, err := o.configFlags.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("cluster configuration: %w", err)
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	kuscia, err := versioned.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kuscia client: %w", err)
	}
	return &cluster{kube: kube, kuscia: kuscia, server: cfg.Host}, nil
}
