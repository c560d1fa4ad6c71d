package examples

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"kusciatask.io/controller/pkg/imagebuild"
)

// The testapp AppImage runs the image `make image` builds, by the tag it
// builds for imported images, never pulled, with the binary the image
// ships reading the config the template mounts; and it has the secretflow
// AppImage's shape, so the seed's tasks can name it instead.
func TestTestAppImage(t *testing.T) {
	img, err := AppImage(TestAppImageFile)
	require.NoError(t, err)
	assert.Equal(t, "testapp", img.Name)
	assert.Equal(t, imagebuild.TestAppName, img.Spec.Image.Name)
	assert.Equal(t, imagebuild.LocalTag, img.Spec.Image.Tag)

	sf, err := AppImage(SecretflowImageFile)
	require.NoError(t, err)
	assert.Equal(t, sf.Spec.ConfigTemplates, img.Spec.ConfigTemplates, "the same rendered task-config.conf")
	require.Len(t, img.Spec.DeployTemplates, len(sf.Spec.DeployTemplates))
	tmpl, sfTmpl := img.Spec.DeployTemplates[0], sf.Spec.DeployTemplates[0]
	assert.Equal(t, sfTmpl.Role, tmpl.Role, "one template for every party")
	assert.Equal(t, sfTmpl.Replicas, tmpl.Replicas)
	assert.Equal(t, sfTmpl.Spec.RestartPolicy, tmpl.Spec.RestartPolicy)

	require.Len(t, tmpl.Spec.Containers, 1)
	c := tmpl.Spec.Containers[0]
	assert.Equal(t, []string{imagebuild.BinDir + "/" + imagebuild.TestAppName}, c.Command)
	assert.Equal(t, corev1.PullNever, c.ImagePullPolicy)
	assert.Equal(t, sfTmpl.Spec.Containers[0].Ports, c.Ports)
	require.NotEmpty(t, c.ConfigVolumeMounts)
	for _, m := range c.ConfigVolumeMounts {
		assert.Contains(t, c.Args, m.MountPath, "the application prints every config it mounts")
	}
}
