package validate

// This file holds the golden tests of what validate must accept: every
// example of examples/ and each YAML block of the seed page (copied into
// testdata/seed-page), offline.

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// invalidExamples are the examples written to fail validate (they show
// what it says); every other example must pass.
var invalidExamples = []string{"three-mistakes.yaml"}

// exampleFiles are every YAML file of examples/ (subfolders included),
// split into those holding a KusciaTask and the rest (AppImages, domains).
func exampleFiles(t *testing.T) (tasks, inputs []string) {
	t.Helper()
	root := exampleFile("")
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".yaml" {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.Contains(string(data), "\nkind: KusciaTask\n") || strings.HasPrefix(string(data), "kind: KusciaTask\n") {
			tasks = append(tasks, path)
		} else {
			inputs = append(inputs, path)
		}
		return nil
	})
	require.NoError(t, err)
	require.NotEmpty(t, tasks)
	return tasks, inputs
}

// inputArgs passes every input file with -f, which reads AppImages and
// namespaces.
func inputArgs(inputs []string) []string {
	var args []string
	for _, f := range inputs {
		args = append(args, "-f", f)
	}
	return args
}

// Every example task passes validate offline, with the examples' AppImages
// and domains: valid, exit code 0, not one problem.
func TestExamplesValidOffline(t *testing.T) {
	tasks, inputs := exampleFiles(t)
	for _, task := range tasks {
		if slices.Contains(invalidExamples, filepath.Base(task)) {
			continue
		}
		t.Run(filepath.Base(task), func(t *testing.T) {
			res := run(t, nil, append([]string{"--offline", "-f", task}, inputArgs(inputs)...)...)
			assert.Equal(t, ExitValid, res.code, res.stdout+res.stderr)
			assert.NotContains(t, res.stdout, "✗")
			assert.Regexp(t, `(?m)^KusciaTask \S+ in `+task+`: valid$`, res.stdout)
		})
	}
}

// Each YAML block of the seed page passes validate offline.
func TestSeedPageValidOffline(t *testing.T) {
	blocks, err := filepath.Glob(testdata("seed-page/*.yaml"))
	require.NoError(t, err)
	require.Len(t, blocks, 2)
	_, inputs := exampleFiles(t)
	for _, block := range blocks {
		t.Run(filepath.Base(block), func(t *testing.T) {
			res := run(t, nil, append([]string{"--offline", "-f", block}, inputArgs(inputs)...)...)
			assert.Equal(t, ExitValid, res.code, res.stdout+res.stderr)
			assert.NotContains(t, res.stdout, "✗")
		})
	}
}

// The task template offline, whole: its scheduleConfig's CEL rules (on
// integers) pass, and the summary shows each party.
func TestTaskTemplateOfflineGolden(t *testing.T) {
	res := run(t, nil, "--offline", "-f", exampleFile("task-template.yaml"),
		"--appimage-file", exampleFile("appimage-app-template.yaml"), "--domain-file", exampleFile("domains.yaml"))
	assert.Equal(t, ExitValid, res.code, res.stderr)
	assertGolden(t, "task-template-offline.golden", res.stdout)
}

// The CEL rules on integers are evaluated offline, not skipped: a
// minReservedMembers above the number of parties breaks one.
func TestOfflineIntegerRules(t *testing.T) {
	data, err := os.ReadFile(exampleFile("task-template.yaml"))
	require.NoError(t, err)
	task := filepath.Join(t.TempDir(), "task.yaml")
	require.NoError(t, os.WriteFile(task, []byte(strings.Replace(string(data), "minReservedMembers: 2", "minReservedMembers: 3", 1)), 0o644))
	res := run(t, nil, "--offline", "-f", task, "--appimage-file", exampleFile("appimage-app-template.yaml"),
		"--domain-file", exampleFile("domains.yaml"))
	assert.Equal(t, ExitProblems, res.code, res.stderr)
	assert.Contains(t, res.stdout, "minReservedMembers must not be greater than the number of parties")
	assert.NotContains(t, res.stdout, "float64")
}
