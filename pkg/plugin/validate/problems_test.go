package validate

// This file holds the tests of how problems are reported: field paths, a
// bad value that does not hide the others, one line per rule, the flags
// to pass offline, no internal names.

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"

	"kusciatask.io/controller/examples"
)

// runOffline checks a file offline with the example AppImages and domains.
func runOffline(t *testing.T, file string) result {
	t.Helper()
	return run(t, nil, "--offline", "-f", file, "--appimage-file", exampleFile(examples.AppTemplateImageFile),
		"--domain-file", exampleFile(examples.DomainsFile))
}

// writeTask writes a task manifest to a file of the test's own.
func writeTask(t *testing.T, manifest string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "task.yaml")
	require.NoError(t, os.WriteFile(path, []byte(manifest), 0o644))
	return path
}

// problemLines are the ✗ lines of a report.
func problemLines(out string) []string {
	return regexp.MustCompile(`(?m)^  ✗ .*$`).FindAllString(out, -1)
}

// A quantity that is not one is reported by its field path, under its
// task, and the task's other problems are all reported beside it.
func TestBadQuantityHidesNothing(t *testing.T) {
	res := runOffline(t, testdata("mistakes-offline.yaml"))
	assert.Equal(t, ExitProblems, res.code, res.stderr)
	assertGolden(t, "mistakes-offline.golden", res.stdout)
	assert.NotContains(t, res.stdout, "Input files")
	assert.Contains(t, res.stdout, "KusciaTask fine in testdata/mistakes-offline.yaml (document 1): valid\n")
	assert.Contains(t, res.stdout, "KusciaTask three-mistakes in testdata/mistakes-offline.yaml (document 2): 3 problems\n")
	lines := problemLines(res.stdout)
	require.Len(t, lines, 3, res.stdout)
	assert.Contains(t, lines[0], `SchemaViolation  spec.parties[0].template.spec.containers[0].resources.requests.cpu: Invalid value: "2 cores"`)
	assert.Contains(t, lines[1], `SchemaViolation  spec.initiator: Invalid value: initiator must be the domainID of one of the parties`)
	assert.Contains(t, lines[2], `DomainNotFound   spec.parties[1].domainID: party carol: namespace "carol" does not exist (offline: give the domain's namespace with --domain-file)`)
}

// A rule both the CRD and the builder state is listed once, by the
// schema; offline and against a cluster whose dry run states it.
func TestOneLinePerRule(t *testing.T) {
	data, err := os.ReadFile(exampleFile(examples.TemplateTaskFile))
	require.NoError(t, err)
	for _, tc := range []struct{ name, from, to, want string }{
		{"initiator", "initiator: alice", "initiator: dave", "initiator must be the domainID of one of the parties"},
		{"minReservedMembers", "minReservedMembers: 2", "minReservedMembers: 3", "minReservedMembers must not be greater than the number of parties"},
		{"duplicate domain", "- domainID: bob", "- domainID: alice", "each party must have a distinct domainID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := writeTask(t, strings.Replace(string(data), tc.from, tc.to, 1))
			res := runOffline(t, file)
			assert.Equal(t, ExitProblems, res.code, res.stderr)
			lines := problemLines(res.stdout)
			require.Len(t, lines, 1, res.stdout)
			assert.Contains(t, lines[0], "SchemaViolation")
			assert.Contains(t, lines[0], tc.want)
		})
	}
}

// Without a schema that states the rule (a cluster without CEL), the
// builder's own check still speaks.
func TestBuilderRulesWithoutSchema(t *testing.T) {
	res := run(t, newFakeCluster(t), "-f", testdata("schema-violations.yaml"))
	assert.Contains(t, res.stdout, `✗ InvalidSpec  spec.initiator: "carol" is not one of the parties`)
}

// Offline, an AppImage or domain no file gives names the flag that gives
// it.
func TestOfflineNamesTheFlags(t *testing.T) {
	res := run(t, nil, "--offline", "-f", exampleFile(examples.PSITaskFile))
	assert.Equal(t, ExitProblems, res.code, res.stderr)
	assert.Contains(t, res.stdout, `spec.parties[0].appImageRef: party alice: AppImage "secretflow-image" not found (offline: give the AppImage with --appimage-file)`)
	assert.Contains(t, res.stdout, `spec.parties[0].domainID: party alice: namespace "alice" does not exist (offline: give the domain's namespace with --domain-file)`)

	// A namespace that exists but is not a domain is not a missing file.
	domains := filepath.Join(t.TempDir(), "domains.yaml")
	require.NoError(t, os.WriteFile(domains, []byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: alice}\n"), 0o644))
	res = run(t, nil, "--offline", "-f", exampleFile(examples.PSITaskFile), "--domain-file", domains,
		"--appimage-file", exampleFile(examples.SecretflowImageFile))
	assert.Contains(t, res.stdout, `party alice: namespace "alice" is not a Kuscia domain`)
	assert.NotContains(t, res.stdout, `is not a Kuscia domain (it lacks the label kuscia.secretflow/domain) (offline`)
}

// A wrong apiVersion is a problem of the task by its field, in the API's
// words, without the decoder's internals.
func TestWrongAPIVersion(t *testing.T) {
	data, err := os.ReadFile(exampleFile(examples.TemplateTaskFile))
	require.NoError(t, err)
	file := writeTask(t, strings.Replace(string(data), "kuscia.secretflow/v1alpha1", "kuscia.secretflow/v1", 1))
	res := runOffline(t, file)
	assert.Equal(t, ExitProblems, res.code, res.stderr)
	assert.Contains(t, res.stdout, `KusciaTask task-template in `+file+`: 1 problem`)
	assert.Contains(t, res.stdout, `✗ SchemaViolation  apiVersion: Unsupported value: "kuscia.secretflow/v1": supported values: "kuscia.secretflow/v1alpha1"`)
	assert.NotContains(t, res.stdout, "scheme.go")
}

func TestParseFieldPath(t *testing.T) {
	for path, want := range map[string][]string{
		"spec.parties[0].template.spec.containers[1].resources.requests.cpu": {"spec", "parties", "0", "template", "spec", "containers", "1", "resources", "requests", "cpu"},
		"metadata.labels[app.kubernetes.io/name]":                            {"metadata", "labels", "app.kubernetes.io/name"},
		"spec": {"spec"},
		"":     nil,
	} {
		assert.Equal(t, want, parseFieldPath(path), path)
	}
}

func TestRemoveField(t *testing.T) {
	obj := map[string]any{"spec": map[string]any{"parties": []any{map[string]any{"cpu": "2 cores", "keep": 1}}}}
	assert.True(t, removeField(obj, []string{"spec", "parties", "0", "cpu"}))
	assert.Equal(t, map[string]any{"spec": map[string]any{"parties": []any{map[string]any{"keep": 1}}}}, obj)
	assert.False(t, removeField(obj, []string{"spec", "parties", "3"}), "no such item")
	assert.False(t, removeField(obj, []string{"spec", "nothing", "x"}), "no such field")
	assert.False(t, removeField(obj, nil), "the document itself stays")
	assert.True(t, removeField(obj, []string{"spec", "parties", "0"}))
	assert.Equal(t, []any{nil}, obj["spec"].(map[string]any)["parties"], "a list item becomes null, the others keep their index")
}

func TestSummary(t *testing.T) {
	task := func(problems int) *taskReport { return &taskReport{problems: make([]Problem, problems)} }
	for _, tc := range []struct {
		rep  report
		want string
	}{
		{report{tasks: []*taskReport{task(0), task(3)}}, "3 problems in 1 of 2 tasks"},
		{report{tasks: []*taskReport{task(1)}}, "1 problem in 1 task"},
		{report{tasks: []*taskReport{task(0), task(0)}}, "no problems in 2 tasks"},
		{report{tasks: []*taskReport{task(2), task(0)}, inputProblems: make([]Problem, 1)}, "3 problems: 2 in 1 of 2 tasks, 1 in the input files"},
	} {
		assert.Equal(t, tc.want, tc.rep.summary())
	}
}

// The report ends with its summary; -q prints the summary alone, and with
// -o the objects still go to stdout, the summary to stderr.
func TestQuiet(t *testing.T) {
	res := runOffline(t, testdata("mistakes-offline.yaml"))
	assert.True(t, strings.HasSuffix(res.stdout, "\n\n3 problems in 1 of 2 tasks\n"), res.stdout)

	res = run(t, nil, "--offline", "-q", "-f", testdata("mistakes-offline.yaml"), "--appimage-file", exampleFile(examples.AppTemplateImageFile),
		"--domain-file", exampleFile(examples.DomainsFile))
	assert.Equal(t, ExitProblems, res.code)
	assert.Equal(t, "3 problems in 1 of 2 tasks\n", res.stdout)
	assert.Empty(t, res.stderr)

	res = run(t, nil, "--offline", "-q", "-o", "yaml", "-f", exampleFile(examples.TemplateTaskFile),
		"--appimage-file", exampleFile(examples.AppTemplateImageFile), "--domain-file", exampleFile(examples.DomainsFile))
	assert.Equal(t, ExitValid, res.code, res.stderr)
	assert.Contains(t, res.stdout, "kind: List")
	assert.Equal(t, "no problems in 1 task\n", res.stderr)
}

// A cluster that does not answer suggests --offline and the flags that
// replace the cluster's objects; one that answers with a refusal does not.
func TestNoAnswerSuggestsOffline(t *testing.T) {
	for _, tc := range []struct {
		name     string
		err      error
		wantHint bool
	}{
		{"connection refused", errors.New(`Get "https://127.0.0.1:6443/apis/kuscia.secretflow/v1alpha1": dial tcp 127.0.0.1:6443: connect: connection refused`), true},
		{"forbidden", apierrors.NewForbidden(schema.GroupResource{}, "", errors.New("no")), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fc := newFakeCluster(t)
			fc.kube.PrependReactor("get", "resource", func(k8stesting.Action) (bool, runtime.Object, error) { return true, nil, tc.err })
			res := run(t, fc, "-f", exampleFile(examples.PSITaskFile))
			assert.Equal(t, ExitUsage, res.code)
			assert.Contains(t, res.stderr, "error: discover kuscia.secretflow/v1alpha1: ")
			assert.Equal(t, tc.wantHint, strings.Contains(res.stderr, "--offline checks against the files only (AppImages with --appimage-file, domains' namespaces with --domain-file)"), res.stderr)
		})
	}
}

// The controller's policy bounds apply offline, with the flags the
// controller runs with.
func TestOfflinePolicyBounds(t *testing.T) {
	data, err := os.ReadFile(exampleFile(examples.TemplateTaskFile))
	require.NoError(t, err)
	file := writeTask(t, strings.Replace(string(data), "replicas: 1", "replicas: 3", 1))
	res := run(t, nil, "--offline", "-f", file, "--max-replicas-per-party", "2", "--appimage-file", exampleFile(examples.AppTemplateImageFile),
		"--domain-file", exampleFile(examples.DomainsFile))
	assert.Equal(t, ExitProblems, res.code, res.stderr)
	assert.Equal(t, []string{"  ✗ TooManyPods  spec.parties[0].template.replicas: party alice: 3 replicas, more than the 2 per party " +
		"this controller allows (--max-replicas-per-party)"}, problemLines(res.stdout))
	assert.Contains(t, res.stdout, "Checked "+offlineChecked+".\n", "what offline leaves to the cluster is said")
}

// A pod Pod Security refuses is one line: the builder's, which runs the
// same check as admission; the dry run's refusal of the same pod is not
// listed again.
func TestPodSecurityOnce(t *testing.T) {
	fc := newFakeCluster(t)
	ctx := t.Context()
	ns, err := fc.kube.CoreV1().Namespaces().Get(ctx, "alice", metav1.GetOptions{})
	require.NoError(t, err)
	ns.Labels["pod-security.kubernetes.io/enforce"] = "restricted"
	_, err = fc.kube.CoreV1().Namespaces().Update(ctx, ns, metav1.UpdateOptions{})
	require.NoError(t, err)
	fc.kube.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetNamespace() != "alice" {
			return false, nil, nil
		}
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "secretflow-task-psi-0",
			errors.New(`violates PodSecurity "restricted:latest": runAsNonRoot != true`))
	})
	res := run(t, fc, "-f", exampleFile(examples.PSITaskFile))
	assert.Equal(t, ExitProblems, res.code, res.stderr)
	lines := problemLines(res.stdout)
	require.Len(t, lines, 1, res.stdout)
	assert.Regexp(t, `^  ✗ PodSecurityViolation  spec.parties\[0\].template: party alice: pod secretflow-task-psi-0 violates PodSecurity "restricted:latest"`, lines[0])
}

// A document without a CRD schema (a namespace) that does not decode is a
// problem of the input files, by the document it is in.
func TestUndecodableNamespace(t *testing.T) {
	domains := filepath.Join(t.TempDir(), "domains.yaml")
	require.NoError(t, os.WriteFile(domains, []byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: alice, labels: 5}\n"), 0o644))
	res := run(t, nil, "--offline", "-f", exampleFile(examples.PSITaskFile), "--domain-file", domains,
		"--appimage-file", exampleFile(examples.SecretflowImageFile))
	assert.Equal(t, ExitProblems, res.code, res.stderr)
	assert.Contains(t, res.stdout, "\nInput files: 1 problem\n  ✗ SchemaViolation  "+domains+": ")
	assert.True(t, strings.HasSuffix(res.stdout, "\n3 problems: 2 in 1 task, 1 in the input files\n"), res.stdout)
}

// A request above its limit is the controller's own check, so it is
// reported offline too, with the party's template as its path.
func TestRequestAboveLimitOffline(t *testing.T) {
	data, err := os.ReadFile(exampleFile(examples.TemplateTaskFile))
	require.NoError(t, err)
	from := "                requests:\n                  cpu: 100m\n"
	task := strings.Replace(string(data), from, "                requests:\n                  cpu: \"2\"\n", 1)
	require.NotEqual(t, string(data), task, "alice's template asks for 100m within a 100m limit")
	res := runOffline(t, writeTask(t, task))
	assert.Equal(t, ExitProblems, res.code, res.stderr)
	lines := problemLines(res.stdout)
	require.Len(t, lines, 1, res.stdout)
	assert.Contains(t, lines[0], `InvalidTemplate  spec.parties[0].template: party alice: container "app": the cpu request 2 is above its limit 100m`)
}
