//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"kusciatask.io/controller/examples"
	"kusciatask.io/controller/pkg/imagebuild"
)

// deploy/ applies as a whole on a real API server (server-side dry run:
// schema, RBAC objects, the Deployment's pod template under the namespace's
// Pod Security label), and the ServiceMonitor overlay renders.
func TestDeployKustomizationValidates(t *testing.T) {
	out := kubectl(t, "apply", "-k", filepath.Join(env.root, "deploy"), "--dry-run=server")
	for _, want := range []string{
		"namespace/kuscia-system",
		"customresourcedefinition.apiextensions.k8s.io/kusciatasks.kuscia.secretflow",
		"customresourcedefinition.apiextensions.k8s.io/appimages.kuscia.secretflow",
		"serviceaccount/kusciatask-controller",
		"clusterrole.rbac.authorization.k8s.io/kusciatask-controller",
		"role.rbac.authorization.k8s.io/kusciatask-controller-leader-election",
		"role.rbac.authorization.k8s.io/kusciatask-controller-mark-key",
		"deployment.apps/kusciatask-controller",
		"service/kusciatask-controller-metrics",
		"configmap/kusciatask-controller-policy",
		"validatingadmissionpolicy.admissionregistration.k8s.io/kusciatask-controller",
		"validatingadmissionpolicybinding.admissionregistration.k8s.io/kusciatask-controller",
	} {
		assert.Contains(t, out, want)
	}

	rendered := kubectl(t, "kustomize", filepath.Join(env.root, "deploy", "overlays", "servicemonitor"))
	assert.Contains(t, rendered, "kind: ServiceMonitor")
	assert.Contains(t, rendered, "kind: Deployment")
}

// The Deployment runs the way operators expect: two replicas electing a
// leader, probes on the probe port, a restricted security context.
func TestDeployDeploymentShape(t *testing.T) {
	rendered := kubectl(t, "kustomize", filepath.Join(env.root, "deploy"))
	var d *appsv1.Deployment
	for _, doc := range splitYAML(rendered) {
		var obj appsv1.Deployment
		if yaml.Unmarshal([]byte(doc), &obj) == nil && obj.Kind == "Deployment" {
			d = &obj
		}
	}
	require.NotNil(t, d, "the kustomization has a Deployment")
	assert.EqualValues(t, 2, *d.Spec.Replicas)
	c := d.Spec.Template.Spec.Containers[0]
	assert.Contains(t, c.Args, "--leader-elect")
	assert.Contains(t, c.Args, "--metrics-bind-address=:8080")
	require.NotNil(t, c.LivenessProbe)
	require.NotNil(t, c.ReadinessProbe)
	assert.Equal(t, "/readyz", c.ReadinessProbe.HTTPGet.Path)
	sc := c.SecurityContext
	require.NotNil(t, sc)
	assert.True(t, *sc.ReadOnlyRootFilesystem)
	assert.False(t, *sc.AllowPrivilegeEscalation)
	assert.True(t, *d.Spec.Template.Spec.SecurityContext.RunAsNonRoot)
	assert.NotEmpty(t, c.Resources.Requests)
}

// splitYAML splits a multi-document YAML stream into its documents.
func splitYAML(s string) []string {
	var docs []string
	for _, doc := range strings.Split(s, "\n---\n") {
		if strings.TrimSpace(doc) != "" {
			docs = append(docs, doc)
		}
	}
	return docs
}

// renderedDeployment renders a kustomization and returns its Deployment and
// ConfigMaps (by name).
func renderedDeployment(t *testing.T, dir string) (*appsv1.Deployment, map[string]corev1.ConfigMap) {
	t.Helper()
	var d *appsv1.Deployment
	cms := map[string]corev1.ConfigMap{}
	for _, doc := range splitYAML(kubectl(t, "kustomize", dir)) {
		var meta metav1.TypeMeta
		require.NoError(t, yaml.Unmarshal([]byte(doc), &meta))
		switch meta.Kind {
		case "Deployment":
			d = &appsv1.Deployment{}
			require.NoError(t, yaml.UnmarshalStrict([]byte(doc), d))
		case "ConfigMap":
			var cm corev1.ConfigMap
			require.NoError(t, yaml.UnmarshalStrict([]byte(doc), &cm))
			cms[cm.Name] = cm
		}
	}
	require.NotNil(t, d, "%s has a Deployment", dir)
	require.Len(t, d.Spec.Template.Spec.Containers, 1)
	return d, cms
}

// envVar returns the container's variable name, or nil.
func envVar(c corev1.Container, name string) *corev1.EnvVar {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i]
		}
	}
	return nil
}

// The controller tells its own Pod from the downward API, so the gate
// follows its image; the base runs the tag `make image` builds for nodes
// that import it.
func TestDeployBaseNamesItsOwnPod(t *testing.T) {
	d, _ := renderedDeployment(t, filepath.Join(env.root, "deploy"))
	c := d.Spec.Template.Spec.Containers[0]
	assert.Equal(t, "controller", c.Name, "the container the controller looks for in its own Pod")
	assert.Equal(t, imagebuild.ControllerName+":"+imagebuild.LocalTag, c.Image)
	for name, field := range map[string]string{"POD_NAME": "metadata.name", "POD_NAMESPACE": "metadata.namespace"} {
		v := envVar(c, name)
		require.NotNil(t, v, name)
		require.NotNil(t, v.ValueFrom, name)
		assert.Equal(t, field, v.ValueFrom.FieldRef.FieldPath, name)
	}
	assert.NotContains(t, c.Args, "--gate-image", "the gate follows the controller's image")
}

// deploy/overlays/local validates on a real API server with the API
// server's address written to its one file, and runs the locally built
// image without ever pulling it.
func TestDeployLocalOverlay(t *testing.T) {
	overlay := localOverlay(t, "10.1.2.3", "56443")
	out := kubectl(t, "apply", "-k", overlay, "--dry-run=server")
	for _, want := range []string{
		"namespace/kuscia-system",
		"configmap/kusciatask-controller-apiserver-",
		"deployment.apps/kusciatask-controller",
		"clusterrole.rbac.authorization.k8s.io/kusciatask-controller",
	} {
		assert.Contains(t, out, want)
	}

	d, cms := renderedDeployment(t, overlay)
	c := d.Spec.Template.Spec.Containers[0]
	assert.Equal(t, "kusciatask-controller:local", c.Image)
	assert.Equal(t, imagebuild.ControllerName+":"+imagebuild.LocalTag, c.Image, "the tag make image builds")
	assert.Equal(t, corev1.PullNever, c.ImagePullPolicy)
	assert.EqualValues(t, 2, *d.Spec.Replicas)
	assert.Contains(t, c.Args, "--leader-elect")
	require.NotNil(t, envVar(c, "POD_NAME"), "the base's variables are kept")
	for key, want := range map[string]string{"KUBERNETES_SERVICE_HOST": "10.1.2.3", "KUBERNETES_SERVICE_PORT": "56443"} {
		v := envVar(c, key)
		require.NotNil(t, v, key)
		ref := v.ValueFrom.ConfigMapKeyRef
		require.NotNil(t, ref, key)
		assert.True(t, *ref.Optional, "%s: an unset key leaves the kubelet's value", key)
		cm, ok := cms[ref.Name]
		require.True(t, ok, "%s names the generated ConfigMap %s", key, ref.Name)
		assert.Equal(t, want, cm.Data[ref.Key], key)
	}

	// As shipped, the file is empty: no address overrides the kubelet's.
	// (The other ConfigMap rendered is the admission policy's parameter.)
	_, shipped := renderedDeployment(t, filepath.Join(env.root, "deploy", "overlays", "local"))
	generated := 0
	for name, cm := range shipped {
		if strings.HasPrefix(name, "kusciatask-controller-apiserver-") {
			generated++
			assert.Empty(t, cm.Data)
		}
	}
	assert.Equal(t, 1, generated, "one generated apiserver ConfigMap among %d", len(shipped))
}

// The manifests name exactly the images `make image` builds: the
// controller's for deploy/ and its local overlay, the test application's
// for examples/realnode's AppImage; and both archives hold static
// binaries stamped with the version.
func TestDeployImagesAreTheBuiltOnes(t *testing.T) {
	archives := buildImages(t)
	require.Len(t, archives, 2)
	d, _ := renderedDeployment(t, localOverlay(t, "", ""))
	assert.Contains(t, archives[0].Refs, d.Spec.Template.Spec.Containers[0].Image)
	assert.Contains(t, archives[0].Refs, "kusciatask-controller:e2e")
	img, err := examples.AppImage(examples.TestAppImageFile)
	require.NoError(t, err)
	assert.Contains(t, archives[1].Refs, img.Spec.Image.Name+":"+img.Spec.Image.Tag)
	for _, a := range archives {
		info, err := os.Stat(a.Path)
		require.NoError(t, err)
		assert.NotZero(t, info.Size(), a.Path)
	}
	bin := filepath.Join(filepath.Dir(archives[0].Path), "bin")
	for _, b := range append(imagebuild.ControllerBinaries, imagebuild.TestAppName) {
		require.NoError(t, imagebuild.CheckStatic(filepath.Join(bin, b)), b)
	}
	v, err := exec.Command(filepath.Join(bin, "kusciatask-controller"), "--version").Output()
	require.NoError(t, err)
	assert.Contains(t, string(v), "kusciatask-controller e2e (commit ")
}
