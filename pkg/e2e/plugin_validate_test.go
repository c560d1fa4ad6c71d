//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/yaml"

	"kusciatask.io/controller/examples"
	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/gate"
	"kusciatask.io/controller/pkg/plugin/validate"
)

// validateResult is one in-process run of `kubectl kuscia validate`.
type validateResult struct {
	stdout, stderr string
	code           int
}

// runValidate runs `kubectl kuscia validate` in-process with the e2e
// plane's kubeconfig, as the plugin's root command would.
func runValidate(t *testing.T, args ...string) validateResult {
	t.Helper()
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	flags := genericclioptions.NewConfigFlags(false)
	cmd := validate.NewCommand(flags, streams)
	flags.AddFlags(cmd.PersistentFlags()) // as the plugin's root command does
	cmd.SetArgs(append([]string{"--kubeconfig", env.kubeconfig}, args...))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := cmd.ExecuteContext(ctx)
	return validateResult{stdout: out.String(), stderr: errOut.String(), code: validate.ExitCode(err)}
}

func validateTestdata(name string) string {
	return filepath.Join(env.root, "pkg", "plugin", "validate", "testdata", name)
}

// writeTemp writes a manifest to a file of the test's own.
func writeTemp(t *testing.T, name, manifest string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(manifest), 0o644))
	return path
}

// A task with three mistakes, checked against the cluster: a missing
// AppImage, a config template that does not render, a namespace that does
// not exist, all in one run, where kubectl apply --dry-run=server accepts
// the task.
func TestValidateListsEveryMistake(t *testing.T) {
	task := validateTestdata("three-mistakes.yaml")
	out := kubectl(t, "apply", "--dry-run=server", "-f", task)
	require.Contains(t, out, "created (server dry run)", "the API server alone sees nothing wrong")

	res := runValidate(t, "-f", task, "--appimage-file", validateTestdata("broken-template-image.yaml"))
	require.Equal(t, validate.ExitProblems, res.code, res.stdout+res.stderr)
	assert.Contains(t, res.stdout, "KusciaTask three-mistakes in "+task+": 3 problems\n")
	for _, want := range [][2]string{
		{"AppImageNotFound", `spec.parties[0].appImageRef: party alice: AppImage "no-such-image" not found`},
		{"DomainNotFound", `spec.parties[2].domainID: party carol: namespace "carol" does not exist`},
		{"ConfigRenderFailed", `spec.parties[1].appImageRef: party bob: config template "task-config.conf": `},
	} {
		assert.Regexp(t, `(?m)^  ✗ `+want[0]+` +`+regexp.QuoteMeta(want[1]), res.stdout)
	}
	_, err := env.kuscia.KusciaV1alpha1().KusciaTasks().Get(testContext(t), "three-mistakes", metav1.GetOptions{})
	assert.True(t, isNotFound(err), "validate writes nothing: %v", err)
}

// What validate renders for the seed task is what the controller then
// creates: every pod, service, config map and PodGroup, compared on every
// field validate sets, once the task's UID (given at create) and the gate's
// deadline (counted from the task's start) are told apart.
func TestValidateRendersWhatTheControllerCreates(t *testing.T) {
	const name = "e2e-validate-psi"
	deleteTaskOnCleanup(t, name)
	seed, err := os.ReadFile(example("secretflow-task-psi.yaml"))
	require.NoError(t, err)
	manifest := strings.Replace(string(seed), "name: secretflow-task-psi", "name: "+name, 1)
	file := writeTemp(t, "task.yaml", manifest)

	res := runValidate(t, "-f", file, "-o", "yaml")
	require.Equal(t, validate.ExitValid, res.code, res.stderr)
	var rendered struct {
		Items []map[string]any `json:"items"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(res.stdout), &rendered))
	require.NotEmpty(t, rendered.Items)

	applyYAML(t, manifest)
	task := getTask(t, name)
	eventually(t, 60*time.Second, "every rendered object to exist", func() (bool, string) {
		for _, item := range rendered.Items {
			if _, err := getObject(t, item); err != nil {
				return false, err.Error()
			}
		}
		return true, ""
	})
	renderedUID := metaOf(rendered.Items[0])["labels"].(map[string]any)[kusciav1alpha1.LabelTaskUID].(string)
	require.NotEqual(t, string(task.UID), renderedUID, "a dry run's UID is its own")
	kinds := map[string]int{}
	for _, item := range rendered.Items {
		created, err := getObject(t, item)
		require.NoError(t, err)
		key := fmt.Sprintf("%s %s/%s", item["kind"], metaOf(item)["namespace"], metaOf(item)["name"])
		if item["kind"] == "Pod" {
			// The controller opens the gate once the task is reserved.
			assert.Equal(t, gate.Closed, annotations(item)[gate.Annotation], "%s is created with its gate closed", key)
			delete(annotations(item), gate.Annotation)
			delete(annotations(created), gate.Annotation)
		}
		want := normalize(t, item, renderedUID, "UID")
		got := normalize(t, created, string(task.UID), "UID")
		kinds[item["kind"].(string)]++
		for _, diff := range subsetDiff("", want, got) {
			t.Errorf("%s: %s", key, diff)
		}
	}
	assert.Equal(t, map[string]int{"ConfigMap": 2, "Service": 6, "PodGroup": 2, "Pod": 2}, kinds)
}

// getObject reads the object a rendered item names, as JSON-like maps.
func getObject(t *testing.T, item map[string]any) (map[string]any, error) {
	t.Helper()
	resource := map[string]string{"ConfigMap": "configmap", "Service": "service", "Pod": "pod", "PodGroup": "podgroups.v1beta1.scheduling.k8s.io"}[item["kind"].(string)]
	meta := metaOf(item)
	out, err := kubectlOutput(nil, "-n", meta["namespace"].(string), "get", resource, meta["name"].(string), "-o", "json")
	if err != nil {
		return nil, err
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(out), &obj); err != nil {
		return nil, fmt.Errorf("decode %s: %w", out, err)
	}
	return obj, nil
}

func metaOf(obj map[string]any) map[string]any { return obj["metadata"].(map[string]any) }

func annotations(obj map[string]any) map[string]any {
	a, _ := metaOf(obj)["annotations"].(map[string]any)
	return a
}

// gateDeadline is the gate's --deadline argument: counted from the task's
// start, which validate can only guess.
var gateDeadline = regexp.MustCompile(`--deadline=[^"]*`)

// normalize replaces the task's UID and the gate deadline with
// placeholders, through the object's JSON.
func normalize(t *testing.T, obj map[string]any, uid, placeholder string) map[string]any {
	t.Helper()
	data, err := json.Marshal(obj)
	require.NoError(t, err)
	data = bytes.ReplaceAll(data, []byte(uid), []byte(placeholder))
	data = gateDeadline.ReplaceAll(data, []byte("--deadline=DEADLINE"))
	var out map[string]any
	require.NoError(t, json.Unmarshal(data, &out))
	return out
}

// subsetDiff lists where got differs from want on the fields want sets:
// maps may have more keys in got (defaults the API server adds, the gate's
// annotation), lists must have the same length and match item by item.
func subsetDiff(path string, want, got any) []string {
	switch w := want.(type) {
	case nil:
		return nil
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: want an object, got %v", path, got)}
		}
		var diffs []string
		for k, v := range w {
			diffs = append(diffs, subsetDiff(path+"."+k, v, g[k])...)
		}
		return diffs
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{fmt.Sprintf("%s: want %d items %v, got %v", path, len(w), w, got)}
		}
		var diffs []string
		for i := range w {
			diffs = append(diffs, subsetDiff(fmt.Sprintf("%s[%d]", path, i), w[i], g[i])...)
		}
		return diffs
	}
	if !reflect.DeepEqual(want, got) {
		return []string{fmt.Sprintf("%s: want %v, got %v", path, want, got)}
	}
	return nil
}

// The dry run lets admission speak: a ResourceQuota holds a pod back, which
// no offline check can see. A pod the restricted namespace's Pod Security
// refuses is one line, the builder's (the same check admission runs).
func TestValidateDryRunReportsRefusedPods(t *testing.T) {
	const restricted, quota = "e2e-validate-restricted", "e2e-validate-quota"
	applyYAML(t, fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n  labels: {%s: %s, pod-security.kubernetes.io/enforce: restricted}\n",
		restricted, kusciav1alpha1.LabelDomain, restricted))
	t.Cleanup(func() { _, _ = kubectlOutput(nil, "delete", "namespace", restricted, "--wait=false") })
	domainNamespace(t, quota)
	applyYAML(t, "apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: no-pods, namespace: "+quota+"}\nspec: {hard: {pods: \"0\"}}\n")
	eventually(t, 30*time.Second, "the quota to be in force", func() (bool, string) {
		out, err := probePod(quota)
		return err != nil && strings.Contains(out, "exceeded quota"), out
	})

	const name = "e2e-validate-refused"
	file := writeTemp(t, "task.yaml", psiTask(name, "", partyOpts{domainID: restricted}, partyOpts{domainID: quota}))
	res := runValidate(t, "-f", file)
	require.Equal(t, validate.ExitProblems, res.code, res.stdout+res.stderr)
	assert.Regexp(t, `(?m)^  ✗ ResourceQuotaExceeded +the API server would refuse pod `+quota+`/`+name+`-0 for now \(the task waits until the quota allows it\): .*exceeded quota`, res.stdout)
	assert.Regexp(t, `(?m)^  ✗ PodSecurityViolation +spec.parties\[0\].template: party `+restricted+`: pod `+name+`-0 violates PodSecurity "restricted:latest"`, res.stdout,
		"the builder's own check says it, as the controller would")
	assert.NotRegexp(t, `(?m)^  ✗ ResourceRejected +the API server would refuse pod `+restricted+`/`, res.stdout,
		"admission's refusal of the same pod is not listed again")
	_, err := env.kuscia.KusciaV1alpha1().KusciaTasks().Get(testContext(t), name, metav1.GetOptions{})
	assert.True(t, isNotFound(err), "validate writes nothing: %v", err)
}

// Every example task and each YAML block of the seed page passes validate
// against the cluster: the API server's own schema and CEL rules, the
// dry runs of every object built, the controller's builder. The example
// AppImages and domains are the cluster's (and given as files too).
func TestValidateExamplesOnline(t *testing.T) {
	taskFiles, inputFiles, err := examples.Files()
	require.NoError(t, err)
	var tasks, inputs []string
	for _, f := range taskFiles {
		if !slices.Contains(examples.FailsValidate, f) {
			tasks = append(tasks, example(f))
		}
	}
	for _, f := range inputFiles {
		inputs = append(inputs, example(f))
	}
	blocks, err := filepath.Glob(validateTestdata("seed-page/*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, blocks)
	for _, task := range append(tasks, blocks...) {
		t.Run(strings.TrimPrefix(task, env.root+"/"), func(t *testing.T) {
			args := []string{"-f", task}
			for _, in := range inputs {
				args = append(args, "-f", in)
			}
			res := runValidate(t, args...)
			assert.Equal(t, validate.ExitValid, res.code, res.stdout+res.stderr)
			assert.NotContains(t, res.stdout, "✗")
			assert.Regexp(t, `(?m)^no problems in 1 task$`, res.stdout)
		})
	}
}

// The same three mistakes are three lines against the cluster as offline:
// a quantity that is not one (by its field path, the rest still checked),
// an initiator that is not a party (the API server's CEL rule, once), a
// namespace that does not exist.
func TestValidateThreeMistakesOnline(t *testing.T) {
	res := runValidate(t, "-f", validateTestdata("mistakes-offline.yaml"), "-f", example("appimage-app-template.yaml"))
	require.Equal(t, validate.ExitProblems, res.code, res.stdout+res.stderr)
	lines := regexp.MustCompile(`(?m)^  ✗ .*$`).FindAllString(res.stdout, -1)
	require.Len(t, lines, 3, res.stdout)
	assert.Contains(t, lines[0], `SchemaViolation  spec.parties[0].template.spec.containers[0].resources.requests.cpu: Invalid value: "2 cores"`)
	assert.Contains(t, lines[1], "InvalidSpec")
	assert.Contains(t, lines[1], "initiator must be the domainID of one of the parties")
	assert.Contains(t, lines[2], `DomainNotFound   spec.parties[1].domainID: party carol: namespace "carol" does not exist`)
	assert.NotContains(t, lines[2], "--domain-file", "against a cluster, the namespace is the cluster's")
	assert.True(t, strings.HasSuffix(res.stdout, "\n3 problems in 1 of 2 tasks\n"), res.stdout)
}
