package validate

// This file holds the golden tests of what validate must accept: every
// example of examples/ and each YAML block of the seed page (copied into
// testdata/seed-page), offline.

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kusciatask.io/controller/examples"
)

// exampleFiles are the example files holding a KusciaTask and the others,
// as paths from this folder.
func exampleFiles(t *testing.T) (tasks, inputs []string) {
	t.Helper()
	taskFiles, inputFiles, err := examples.Files()
	require.NoError(t, err)
	require.NotEmpty(t, taskFiles)
	for _, f := range taskFiles {
		if !slices.Contains(examples.FailsValidate, f) {
			tasks = append(tasks, exampleFile(f))
		}
	}
	for _, f := range inputFiles {
		inputs = append(inputs, exampleFile(f))
	}
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

// Every example task and each YAML block of the seed page pass validate
// offline, with the examples' AppImages and domains: valid, exit code 0,
// not one problem.
func TestExamplesAndSeedPageValidOffline(t *testing.T) {
	tasks, inputs := exampleFiles(t)
	blocks, err := filepath.Glob(testdata("seed-page/*.yaml"))
	require.NoError(t, err)
	require.Len(t, blocks, 2)
	for _, task := range append(tasks, blocks...) {
		t.Run(task, func(t *testing.T) {
			res := run(t, nil, append([]string{"--offline", "-f", task}, inputArgs(inputs)...)...)
			assert.Equal(t, ExitValid, res.code, res.stdout+res.stderr)
			assert.NotContains(t, res.stdout, "✗")
			assert.Regexp(t, `(?m)^KusciaTask \S+ in `+regexp.QuoteMeta(task)+`: valid$`, res.stdout)
			assert.True(t, strings.HasSuffix(res.stdout, "\nno problems in 1 task\n"), res.stdout)
		})
	}
}

// The task template offline, whole: its scheduleConfig's CEL rules (on
// integers) pass, and the summary shows each party.
func TestTaskTemplateOfflineGolden(t *testing.T) {
	res := runOffline(t, exampleFile(examples.TemplateTaskFile))
	assert.Equal(t, ExitValid, res.code, res.stderr)
	assertGolden(t, "task-template-offline.golden", res.stdout)
}

// The CEL rules on integers are evaluated offline, not skipped: a
// minReservedMembers above the number of parties breaks one.
func TestOfflineIntegerRules(t *testing.T) {
	data, err := os.ReadFile(exampleFile(examples.TemplateTaskFile))
	require.NoError(t, err)
	res := runOffline(t, writeTask(t, strings.Replace(string(data), "minReservedMembers: 2", "minReservedMembers: 3", 1)))
	assert.Equal(t, ExitProblems, res.code, res.stderr)
	assert.Contains(t, res.stdout, "minReservedMembers must not be greater than the number of parties")
	assert.NotContains(t, res.stdout, "float64")
}
