package examples

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// Every example decodes strictly into the typed API: the schema declares
// every field the seed page uses (restartPolicy beside replicas included).
func TestExamplesDecodeStrictly(t *testing.T) {
	for _, file := range []string{PSITaskFile, TemplateTaskFile} {
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
	require.Len(t, domains, 2)
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
