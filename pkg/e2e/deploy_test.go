//go:build e2e

package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"
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
