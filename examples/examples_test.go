package examples

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// Every example decodes strictly into the typed API: the schema declares
// every field the seed page uses (restartPolicy beside replicas included).
func TestExamplesDecodeStrictly(t *testing.T) {
	tasks, _, err := Files()
	require.NoError(t, err)
	for _, file := range tasks {
		task, err := Task(file)
		require.NoError(t, err, file)
		assert.NotEmpty(t, task.Spec.Parties, file)
		assert.Empty(t, task.Status.Phase, "the seed's status block is dropped")
	}
	tmpl, err := Task(TemplateTaskFile)
	require.NoError(t, err)
	assert.Equal(t, "Never", string(tmpl.Spec.Parties[0].Template.RestartPolicy))
	images, err := AppImages()
	require.NoError(t, err)
	require.Len(t, images, 2)
	for name, img := range images {
		assert.NotEmpty(t, img.Spec.DeployTemplates, name)
	}
	domains, err := Domains()
	require.NoError(t, err)
	require.Len(t, domains, 3)
	for name, ns := range domains {
		assert.Equal(t, name, ns.Labels[kusciav1alpha1.LabelDomain])
	}

	var unknown kusciav1alpha1.KusciaTask
	assert.Error(t, Decode("no-such-file.yaml", &unknown))
}

// Files splits the examples into tasks and what they use.
func TestFiles(t *testing.T) {
	tasks, inputs, err := Files()
	require.NoError(t, err)
	assert.Contains(t, tasks, PSITaskFile)
	assert.Contains(t, tasks, TemplateTaskFile)
	assert.Contains(t, inputs, DomainsFile)
	assert.Contains(t, inputs, TestAppImageFile)
	assert.NotContains(t, inputs, PSITaskFile)
}

// Each walk-through starts with a comment that names its task and says how
// to apply (or check) it and how it ends; the README's table lists every
// example task.
func TestWalkThroughsSayWhatTheyShow(t *testing.T) {
	tasks, _, err := Files()
	require.NoError(t, err)
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	for _, file := range WalkThroughs {
		require.Contains(t, tasks, file)
		data, err := files.ReadFile(file)
		require.NoError(t, err)
		task, err := Task(file)
		require.NoError(t, err)
		assert.Equal(t, file, task.Name+".yaml", "the file is named for its task")
		assert.True(t, strings.HasPrefix(string(data), "# "+task.Name+": "), "%s starts with a comment naming its task", file)
		assert.Contains(t, string(data), "\n#   kubectl ", "%s says how to apply or check it", file)
	}
	for _, file := range tasks {
		assert.Contains(t, string(readme), "| ["+file+"]("+file+") |", "README.md's table lists %s", file)
	}
}
