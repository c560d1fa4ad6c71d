package validate

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	kubefake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"kusciatask.io/controller/examples"
	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	kusciafake "kusciatask.io/controller/pkg/generated/clientset/versioned/fake"
	"kusciatask.io/controller/pkg/refusal/refusaltest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// clock is the fixed time of every test: the gate deadline counts from it.
var clock = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// fakeCluster is a cluster of fake clientsets holding the example
// AppImages and domains.
type fakeCluster struct {
	kube   *kubefake.Clientset
	kuscia *kusciafake.Clientset
}

func newFakeCluster(t *testing.T) *fakeCluster {
	t.Helper()
	images, err := examples.AppImages()
	require.NoError(t, err)
	domains, err := examples.Domains()
	require.NoError(t, err)
	var kube, kuscia []runtime.Object
	for _, img := range images {
		kuscia = append(kuscia, img)
	}
	for _, ns := range domains {
		kube = append(kube, ns)
	}
	fc := &fakeCluster{kube: kubefake.NewClientset(kube...), kuscia: kusciafake.NewClientset(kuscia...)}
	fc.kube.Resources = []*metav1.APIResourceList{{
		GroupVersion: kusciav1alpha1.SchemeGroupVersion.String(),
		APIResources: []metav1.APIResource{{Name: "kusciatasks"}, {Name: "appimages"}},
	}}
	return fc
}

// result is one run of the command.
type result struct {
	stdout, stderr string
	code           int
}

// run runs validate in-process with args, against fc (nil: no cluster may
// be asked).
func run(t *testing.T, fc *fakeCluster, args ...string) result {
	t.Helper()
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	o := &options{configFlags: genericclioptions.NewConfigFlags(false), streams: streams, now: func() time.Time { return clock }}
	o.connect = func() (*cluster, error) {
		if fc == nil {
			return nil, errors.New("no cluster in this test")
		}
		return &cluster{kube: fc.kube, kuscia: fc.kuscia, server: "https://fake.test:6443"}, nil
	}
	cmd := newCommand(o)
	cmd.SetArgs(args)
	cmd.SetOut(out)
	cmd.SetErr(errOut)
	err := cmd.ExecuteContext(context.Background())
	return result{stdout: out.String(), stderr: errOut.String(), code: ExitCode(err)}
}

func exampleFile(name string) string { return filepath.Join("..", "..", "..", "examples", name) }

func testdata(name string) string { return filepath.Join("testdata", name) }

// assertGolden compares got with testdata/name, or rewrites it with -update.
func assertGolden(t *testing.T, name, got string) {
	t.Helper()
	path := testdata(name)
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to write %s", path)
	assert.Equal(t, string(want), got, "output differs from %s (go test -update rewrites it)", path)
}

// dryRunCreates are the create actions of a fake clientset, failing the
// test when one was not a dry run.
func dryRunCreates(t *testing.T, actions []k8stesting.Action) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, a := range actions {
		create, ok := a.(k8stesting.CreateActionImpl)
		if !ok {
			continue
		}
		assert.Equal(t, []string{metav1.DryRunAll}, create.CreateOptions.DryRun, "create %s must be a dry run", a.GetResource().Resource)
		out[a.GetResource().Resource]++
	}
	return out
}

// The seed task against a cluster holding its AppImage and domains: valid,
// and the summary shows what each party gets. Every object and the task
// itself go to the API server as dry runs, and nothing else is written.
func TestSeedTaskValid(t *testing.T) {
	fc := newFakeCluster(t)
	res := run(t, fc, "-f", exampleFile(examples.PSITaskFile))
	assert.Equal(t, ExitValid, res.code, res.stderr)
	assert.Empty(t, res.stderr)
	assertGolden(t, "seed-valid.golden", res.stdout)
	assert.Equal(t, map[string]int{"pods": 2, "services": 6, "configmaps": 2}, dryRunCreates(t, fc.kube.Actions()))
	assert.Equal(t, map[string]int{"kusciatasks": 1}, dryRunCreates(t, fc.kuscia.Actions()))
	for _, a := range append(fc.kube.Actions(), fc.kuscia.Actions()...) {
		assert.Contains(t, []string{"get", "create"}, a.GetVerb(), "validate only reads and dry-runs: %v", a)
	}
}

// A task with three mistakes (a missing AppImage, a config template that
// does not render, a namespace that does not exist): all three at once,
// exit code 1.
func TestThreeMistakes(t *testing.T) {
	fc := newFakeCluster(t)
	res := run(t, fc, "-f", testdata("three-mistakes.yaml"), "--appimage-file", testdata("broken-template-image.yaml"))
	assert.Equal(t, ExitProblems, res.code, res.stderr)
	assertGolden(t, "three-mistakes.golden", res.stdout)
	assert.Contains(t, res.stdout, "KusciaTask three-mistakes in testdata/three-mistakes.yaml: 3 problems\n")
	for _, want := range [][2]string{
		{"AppImageNotFound", `spec.parties[0].appImageRef: party alice: AppImage "no-such-image" not found`},
		{"DomainNotFound", `spec.parties[2].domainID: party carol: namespace "carol" does not exist`},
		{"ConfigRenderFailed", `spec.parties[1].appImageRef: party bob: config template "task-config.conf": template: task-config.conf:1:39: ` +
			`executing "task-config.conf" at <.TASK_INPUT>: map has no entry for key "TASK_INPUT"`},
	} {
		assert.Regexp(t, `(?m)^  ✗ `+want[0]+` +`+regexp.QuoteMeta(want[1])+`$`, res.stdout)
	}
	assert.Equal(t, "", res.stderr, "problems are the report, not an error")
}

// Offline, the AppImages and domains come from files only, and nothing is
// asked of a cluster.
func TestOfflineWithFiles(t *testing.T) {
	res := run(t, nil, "--offline", "-f", exampleFile(examples.PSITaskFile),
		"--appimage-file", exampleFile(examples.SecretflowImageFile), "--domain-file", exampleFile(examples.DomainsFile))
	assert.Equal(t, ExitValid, res.code, res.stderr)
	assertGolden(t, "offline.golden", res.stdout)

	res = run(t, nil, "--offline", "-f", exampleFile(examples.PSITaskFile), "--appimage-file", exampleFile(examples.SecretflowImageFile))
	assert.Equal(t, ExitProblems, res.code)
	assert.Contains(t, res.stdout, `spec.parties[0].domainID: party alice: namespace "alice" does not exist (offline: give the domain's namespace with --domain-file)`)
	assert.Contains(t, res.stdout, `spec.parties[1].domainID: party bob: namespace "bob" does not exist (offline: give the domain's namespace with --domain-file)`)
}

// Without --offline, a cluster that cannot be reached is a usage error that
// points at --offline.
func TestClusterUnreachable(t *testing.T) {
	res := run(t, nil, "-f", exampleFile(examples.PSITaskFile))
	assert.Equal(t, ExitUsage, res.code)
	assert.Equal(t, "error: no cluster in this test\n"+offlineHint+"\n", res.stderr)
}

// A cluster without the CRDs is a usage error: every AppImage would look
// missing.
func TestClusterWithoutCRDs(t *testing.T) {
	fc := newFakeCluster(t)
	fc.kube.Resources = nil
	res := run(t, fc, "-f", exampleFile(examples.PSITaskFile))
	assert.Equal(t, ExitUsage, res.code)
	assert.Contains(t, res.stderr, "error: the cluster at https://fake.test:6443 does not serve kusciatasks and appimages in kuscia.secretflow/v1alpha1: install the CRDs")
}

// A file wins over the cluster: an AppImage given with --appimage-file is
// not read from the cluster.
func TestFileWinsOverCluster(t *testing.T) {
	fc := newFakeCluster(t)
	res := run(t, fc, "-f", exampleFile(examples.PSITaskFile), "--appimage-file", testdata("broken-template-image.yaml"),
		"--appimage-file", exampleFile(examples.SecretflowImageFile))
	assert.Equal(t, ExitValid, res.code, res.stdout)
	for _, a := range fc.kuscia.Actions() {
		assert.False(t, a.GetVerb() == "get" && a.GetResource().Resource == "appimages", "AppImage read from the cluster: %v", a)
	}
}

// Strict decoding reports every field the API does not declare, and the
// task is still checked.
func TestUnknownFields(t *testing.T) {
	res := run(t, newFakeCluster(t), "-f", testdata("typos.yaml"))
	assert.Equal(t, ExitProblems, res.code)
	assert.Contains(t, res.stdout, "KusciaTask typos in testdata/typos.yaml: 2 problems")
	assert.Contains(t, res.stdout, `SchemaViolation  unknown field "spec.parties[0].replica"`)
	assert.Contains(t, res.stdout, `SchemaViolation  unknown field "spec.scheduleConfig.lifecycleSecond"`)
	assert.Contains(t, res.stdout, "pod        alice/typos-0")
}

// -o yaml prints every object the controller would create as a List, in
// its creation order; the report goes to stderr.
func TestOutputYAML(t *testing.T) {
	res := run(t, newFakeCluster(t), "-f", exampleFile(examples.PSITaskFile), "-o", "yaml")
	require.Equal(t, ExitValid, res.code, res.stderr)
	var l struct {
		APIVersion string           `json:"apiVersion"`
		Kind       string           `json:"kind"`
		Items      []map[string]any `json:"items"`
	}
	require.NoError(t, yaml.UnmarshalStrict([]byte(res.stdout), &l))
	assert.Equal(t, "List", l.Kind)
	var kinds []string
	for _, item := range l.Items {
		kinds = append(kinds, item["kind"].(string)+" "+item["metadata"].(map[string]any)["namespace"].(string))
	}
	assert.Equal(t, []string{
		"ConfigMap alice", "Service alice", "Service alice", "Service alice", "Pod alice",
		"ConfigMap bob", "Service bob", "Service bob", "Service bob", "Pod bob",
	}, kinds)
	var pod corev1.Pod
	data, err := yaml.Marshal(l.Items[4])
	require.NoError(t, err)
	require.NoError(t, yaml.UnmarshalStrict(data, &pod))
	assert.Equal(t, "secretflow-task-psi-0", pod.Name)
	require.Len(t, pod.Spec.InitContainers, 2, "the reservation gate and its install container")
	assert.Equal(t, "kuscia-gate", pod.Spec.InitContainers[1].Name)
	assert.Equal(t, pod.Spec.Containers[0].Image, pod.Spec.InitContainers[1].Image, "the gate runs from the application's image")
	assert.Contains(t, pod.Spec.InitContainers[1].Args, "--deadline=2026-11-27T12:06:00Z", "lifecycle 300s + 1m margin from the clock")
	assert.Contains(t, res.stderr, "KusciaTask secretflow-task-psi")
	assert.NotContains(t, res.stderr, "configmap", "no summary on stderr")

	res = run(t, newFakeCluster(t), "-f", exampleFile(examples.PSITaskFile), "-o", "json", "--reservation-gate=false")
	require.Equal(t, ExitValid, res.code, res.stderr)
	assert.True(t, strings.HasPrefix(res.stdout, "{\n"), res.stdout)
	assert.NotContains(t, res.stdout, "initContainers", "no gate with --reservation-gate=false")
}

// The API server's refusals of a dry run are problems, sorted as the
// controller sorts a real create's; the authorizer refusing the user is a
// note, not the task's problem.
func TestDryRunRefusals(t *testing.T) {
	podGR := schema.GroupResource{Resource: "pods"}
	tests := []struct {
		name     string
		err      error
		code     int
		want     string
		wantNote string
	}{{
		name: "pod security",
		err:  apierrors.NewForbidden(podGR, "secretflow-task-psi-0", errors.New(`violates PodSecurity "restricted:latest": runAsNonRoot != true`)),
		code: ExitProblems,
		want: `ResourceRejected  the API server would refuse pod alice/secretflow-task-psi-0: pods "secretflow-task-psi-0" is forbidden: violates PodSecurity`,
	}, {
		name: "quota",
		err:  apierrors.NewForbidden(podGR, "secretflow-task-psi-0", errors.New("exceeded quota: pods, requested: pods=1, used: pods=1, limited: pods=1")),
		code: ExitProblems,
		want: "ResourceQuotaExceeded  the API server would refuse pod alice/secretflow-task-psi-0 for now (the task waits until the quota allows it)",
	}, {
		name: "invalid",
		err: apierrors.NewInvalid(schema.GroupKind{Kind: "Pod"}, "secretflow-task-psi-0",
			field.ErrorList{field.Invalid(field.NewPath("spec", "containers").Index(0).Child("image"), "", "required")}),
		code: ExitProblems,
		want: "InvalidTemplate  the API server would reject pod alice/secretflow-task-psi-0",
	}, {
		name:     "the user may not create pods",
		err:      apierrors.NewForbidden(podGR, "secretflow-task-psi-0", errors.New(`User "dev" cannot create resource "pods" in API group "" in the namespace "alice"`)),
		code:     ExitValid,
		wantNote: "note: could not dry-run pod alice/secretflow-task-psi-0: you may not create it",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fc := newFakeCluster(t)
			fc.kube.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
				if a.GetNamespace() == "alice" {
					return true, nil, tc.err
				}
				return false, nil, nil
			})
			res := run(t, fc, "-f", exampleFile(examples.PSITaskFile))
			assert.Equal(t, tc.code, res.code, res.stdout)
			if tc.want != "" {
				assert.Contains(t, res.stdout, tc.want)
				assert.Contains(t, res.stdout, "KusciaTask secretflow-task-psi in "+exampleFile(examples.PSITaskFile)+": 1 problem\n")
			}
			if tc.wantNote != "" {
				assert.Contains(t, res.stdout, tc.wantNote)
			}
		})
	}
}

// Validate judges each refusal as the controller judges a real create's
// (refusaltest.Cases, which the controller's TestCreateError runs too): a
// refusal that does not heal is a problem with the controller's reason; one
// that heals is a problem the task waits on ("for now"), or, for
// CreateFailed, a note or an error that leaves the task to the
// controller's retry.
func TestDryRunRefusalsAgreeWithTheController(t *testing.T) {
	for _, tc := range refusaltest.Cases() {
		t.Run(tc.Name, func(t *testing.T) {
			problems, notes, err := dryRunRefused(kusciav1alpha1.ReasonInvalidTemplate, "pod alice/task-0", tc.Err)
			reason, heals := kusciav1alpha1.ReasonCreateFailed, true
			switch {
			case len(problems) == 1:
				reason = kusciav1alpha1.KusciaTaskReason(problems[0].Reason)
				heals = strings.Contains(problems[0].Message, "for now")
				assert.Contains(t, problems[0].Message, "pod alice/task-0")
			case len(notes) == 1:
				assert.Contains(t, notes[0], "could not dry-run pod alice/task-0")
			default:
				require.ErrorIs(t, err, tc.Err, "neither a problem nor a note: the cluster did not answer")
			}
			assert.Equal(t, tc.Reason, reason)
			assert.Equal(t, tc.Heals, heals)
		})
	}
}

// Pods of one party share a template: after the first refusal the others
// are not sent, and a note counts them.
func TestDryRunRefusalOncePerKind(t *testing.T) {
	fc := newFakeCluster(t)
	img, err := fc.kuscia.KusciaV1alpha1().AppImages().Get(context.Background(), "secretflow-image", metav1.GetOptions{})
	require.NoError(t, err)
	img.Spec.DeployTemplates[0].Replicas = ptr.To[int32](3)
	_, err = fc.kuscia.KusciaV1alpha1().AppImages().Update(context.Background(), img, metav1.UpdateOptions{})
	require.NoError(t, err)
	sent := 0
	fc.kube.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetNamespace() != "bob" {
			return false, nil, nil
		}
		sent++
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "p", errors.New("denied by a webhook"))
	})
	res := run(t, fc, "-f", exampleFile(examples.PSITaskFile))
	assert.Equal(t, ExitProblems, res.code)
	assert.Equal(t, 1, sent, "bob's other pods are not sent")
	assert.Contains(t, res.stdout, ": 1 problem\n")
	assert.Contains(t, res.stdout, "ResourceRejected  the API server would refuse pod bob/secretflow-task-psi-0: ")
	assert.Contains(t, res.stdout, "note: 2 more pod objects in bob were not dry-run after the first was refused")
	assert.Equal(t, 4, dryRunCreates(t, fc.kube.Actions())["pods"], "alice's three pods and bob's first")
}

// The task's own dry run lets the CRD's schema and CEL rules speak; a
// server error that is no refusal is an error (exit code 3).
func TestTaskDryRun(t *testing.T) {
	fc := newFakeCluster(t)
	fc.kuscia.PrependReactor("create", "kusciatasks", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewInvalid(schema.GroupKind{Group: kusciav1alpha1.GroupName, Kind: "KusciaTask"}, "secretflow-task-psi",
			field.ErrorList{field.Invalid(field.NewPath("spec", "initiator"), "carol", "initiator must be one of the parties")})
	})
	res := run(t, fc, "-f", exampleFile(examples.PSITaskFile))
	assert.Equal(t, ExitProblems, res.code)
	assert.Contains(t, res.stdout, "InvalidSpec  the API server would reject KusciaTask secretflow-task-psi:")
	assert.Contains(t, res.stdout, "initiator must be one of the parties")

	fc = newFakeCluster(t)
	fc.kuscia.PrependReactor("create", "kusciatasks", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewServiceUnavailable("etcd is down")
	})
	res = run(t, fc, "-f", exampleFile(examples.PSITaskFile))
	assert.Equal(t, ExitUsage, res.code)
	assert.Contains(t, res.stderr, "error: dry-run create KusciaTask secretflow-task-psi: etcd is down")
}

// A task that exists already is a note; its UID is the children's owner.
func TestTaskExists(t *testing.T) {
	fc := newFakeCluster(t)
	task, err := examples.Task(examples.PSITaskFile)
	require.NoError(t, err)
	task.UID = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
	task.Status.Phase = kusciav1alpha1.TaskRunning
	_, err = fc.kuscia.KusciaV1alpha1().KusciaTasks().Create(context.Background(), task, metav1.CreateOptions{})
	require.NoError(t, err)
	res := run(t, fc, "-f", exampleFile(examples.PSITaskFile), "-o", "yaml")
	assert.Equal(t, ExitValid, res.code, res.stderr)
	assert.Contains(t, res.stderr, `note: KusciaTask secretflow-task-psi exists already (phase "Running")`)
	assert.Contains(t, res.stdout, "uid: 1b4e28ba-2fa1-11d2-883f-0016d3cca427")
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no file", nil, "-f is required"},
		{"missing file", []string{"-f", testdata("nope.yaml")}, "read testdata/nope.yaml"},
		{"bad output", []string{"-f", exampleFile(examples.PSITaskFile), "-o", "wide"}, `--output must be yaml or json, got "wide"`},
		{"no task", []string{"-f", exampleFile(examples.DomainsFile)}, "no KusciaTask in"},
		{"bad level", []string{"-f", exampleFile(examples.PSITaskFile), "--pod-security-level", "lax"}, "--pod-security-level"},
		{"argument", []string{"task.yaml"}, `error: unexpected arguments ["task.yaml"]: the files to check go with -f`},
		{"unknown flag", []string{"--fiename", "task.yaml"}, "error: unknown flag: --fiename"},
		{"bad pod-groups", []string{"-f", exampleFile(examples.PSITaskFile), "--pod-groups", "maybe"}, `error: invalid argument "maybe" for "--pod-groups" flag`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := run(t, nil, append([]string{"--offline"}, tc.args...)...)
			assert.Equal(t, ExitUsage, res.code)
			assert.Contains(t, res.stderr, tc.want)
			assert.Empty(t, res.stdout)
		})
	}
}

func TestExitCode(t *testing.T) {
	assert.Equal(t, ExitValid, ExitCode(nil))
	assert.Equal(t, ExitProblems, ExitCode(&exitError{code: ExitProblems, err: errors.New("x")}))
	assert.Equal(t, ExitUsage, ExitCode(errors.New("unknown flag")))
}

// Stdin is read with -f -.
func TestStdin(t *testing.T) {
	data, err := os.ReadFile(exampleFile(examples.PSITaskFile))
	require.NoError(t, err)
	streams, in, out, _ := genericiooptions.NewTestIOStreams()
	in.Write(data)
	o := &options{configFlags: genericclioptions.NewConfigFlags(false), streams: streams, now: func() time.Time { return clock }}
	cmd := newCommand(o)
	cmd.SetArgs([]string{"--offline", "-f", "-", "--appimage-file", exampleFile(examples.SecretflowImageFile), "--domain-file", exampleFile(examples.DomainsFile)})
	require.NoError(t, cmd.Execute())
	assert.Contains(t, out.String(), "KusciaTask secretflow-task-psi in stdin: valid")

}

// Offline, the CRDs' own schemas run on the documents as the API server
// would run them: enums, minimums and CEL rules, for tasks and AppImages.
func TestOfflineSchema(t *testing.T) {
	res := run(t, nil, "--offline", "-f", testdata("schema-violations.yaml"), "--domain-file", exampleFile(examples.DomainsFile))
	assert.Equal(t, ExitProblems, res.code, res.stderr)
	for _, want := range []string{
		`SchemaViolation  testdata/schema-violations.yaml (document 2): spec.deployTemplates[0].spec.containers[0].ports[0].protocol: Unsupported value: "UDP"`,
		`SchemaViolation  spec.scheduleConfig.lifecycleSeconds: Invalid value: 0: spec.scheduleConfig.lifecycleSeconds in body should be greater than or equal to 1`,
		`SchemaViolation  spec.initiator: Invalid value: initiator must be the domainID of one of the parties`,
	} {
		assert.Contains(t, res.stdout, want)
	}
}

// With a cluster, the task's schema is the cluster's (its dry run), not the
// embedded CRD's; AppImages from files are still checked offline.
func TestSchemaWithClusterIsTheDryRuns(t *testing.T) {
	res := run(t, newFakeCluster(t), "-f", testdata("schema-violations.yaml"))
	assert.Equal(t, ExitProblems, res.code, res.stderr)
	assert.Contains(t, res.stdout, `(document 2): spec.deployTemplates[0].spec.containers[0].ports[0].protocol: Unsupported value: "UDP"`)
	assert.NotContains(t, res.stdout, "(document 1): spec.initiator", "the fake API server has no CEL; the embedded schema is not run on the task")
	assert.Contains(t, res.stdout, `✗ InvalidSpec  spec.initiator: "carol" is not one of the parties`, "the controller's own check still speaks")
}

// A value of the wrong type is a problem of its task, by its field path,
// and the CEL rules that cannot run on it are named in a note; a file that
// is not YAML is an I/O error.
func TestBadDocuments(t *testing.T) {
	dir := t.TempDir()
	wrongType := filepath.Join(dir, "wrong-type.yaml")
	require.NoError(t, os.WriteFile(wrongType, []byte(`# a comment-only document first
---
apiVersion: kuscia.secretflow/v1alpha1
kind: KusciaTask
metadata: {name: wrong-type}
spec:
  initiator: alice
  parties: many
`), 0o644))
	res := run(t, nil, "--offline", "-f", wrongType)
	assert.Equal(t, ExitProblems, res.code, res.stderr)
	assert.Contains(t, res.stdout, "KusciaTask wrong-type in "+wrongType+" (document 2): 1 problem\n")
	assert.Contains(t, res.stdout, `SchemaViolation  spec.parties: Invalid value: "string": spec.parties in body must be of type array`)
	assert.Contains(t, res.stdout, "note: the CRD's CEL rules were not checked")
	assert.NotContains(t, res.stdout, "Input files")

	notYAML := filepath.Join(dir, "not.yaml")
	require.NoError(t, os.WriteFile(notYAML, []byte("kind: [unclosed\n"), 0o644))
	res = run(t, nil, "--offline", "-f", notYAML)
	assert.Equal(t, ExitUsage, res.code)
	assert.Contains(t, res.stderr, "is not YAML")
}
