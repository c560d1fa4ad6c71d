package v1alpha1

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

// boundCase is one bound in a generated CRD: the schema keyword at a path
// below .spec and the constant it must equal.
type boundCase struct {
	crd  string
	path []string
	key  string
	want int
}

// podSpecBounds are the bounds of the pod template found at path in crd.
func podSpecBounds(crd string, path ...string) []boundCase {
	at := func(p ...string) []string { return append(append([]string{}, path...), p...) }
	c := at("containers", "items")
	in := func(p ...string) []string { return append(append([]string{}, c...), p...) }
	return []boundCase{
		{crd, at("containers"), "maxItems", MaxContainers},
		{crd, at("tolerations"), "maxItems", MaxTolerations},
		{crd, at("nodeSelector"), "maxProperties", MaxNodeSelector},
		{crd, in("command"), "maxItems", MaxCommandArgs},
		{crd, in("args"), "maxItems", MaxCommandArgs},
		{crd, in("ports"), "maxItems", MaxPortsPerContainer},
		{crd, in("env"), "maxItems", MaxEnvPerContainer},
		{crd, in("envFrom"), "maxItems", MaxEnvFromPerContainer},
		{crd, in("configVolumeMounts"), "maxItems", MaxConfigVolumeMounts},
	}
}

const (
	taskCRD  = "kuscia.secretflow_kusciatasks.yaml"
	imageCRD = "kuscia.secretflow_appimages.yaml"
)

// The markers on the types repeat the bounds of bounds.go as literals; the
// generated CRDs must carry the same numbers the controller checks.
func TestCRDBoundsMatchConstants(t *testing.T) {
	cases := []boundCase{
		{taskCRD, []string{"taskInputConfig"}, "maxLength", MaxTaskInputConfigLength},
		{taskCRD, []string{"parties"}, "maxItems", MaxParties},
		{taskCRD, []string{"parties", "items", "minReservedPods"}, "maximum", MaxReplicas},
		{taskCRD, []string{"parties", "items", "template", "replicas"}, "maximum", MaxReplicas},
		{imageCRD, []string{"deployTemplates", "items", "replicas"}, "maximum", MaxReplicas},
		{imageCRD, []string{"deployTemplates"}, "maxItems", MaxDeployTemplates},
		{imageCRD, []string{"configTemplates"}, "maxProperties", MaxConfigTemplates},
		{imageCRD, []string{"image", "name"}, "maxLength", MaxImageNameLength},
		{imageCRD, []string{"image", "tag"}, "maxLength", MaxImageTagLength},
	}
	cases = append(cases, podSpecBounds(taskCRD, "parties", "items", "template", "spec")...)
	cases = append(cases, podSpecBounds(imageCRD, "deployTemplates", "items", "spec")...)
	schemas := map[string]map[string]any{taskCRD: crdSpecSchema(t, taskCRD), imageCRD: crdSpecSchema(t, imageCRD)}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s/%s.%s", tc.crd, strings.Join(tc.path, "."), tc.key), func(t *testing.T) {
			assert.EqualValues(t, tc.want, schemaAt(t, schemas[tc.crd], tc.path...)[tc.key])
		})
	}

	rules := schemaAt(t, schemas[imageCRD], "configTemplates")["x-kubernetes-validations"]
	assert.Contains(t, fmt.Sprint(rules), fmt.Sprintf("size(self[k]) <= %d", MaxConfigTemplateLength))
}

// crdSpecSchema reads the OpenAPI schema of .spec from a generated CRD.
func crdSpecSchema(t *testing.T, file string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "crds", file))
	require.NoError(t, err)
	var crd struct {
		Spec struct {
			Versions []struct {
				Schema struct {
					OpenAPIV3Schema map[string]any `json:"openAPIV3Schema"`
				} `json:"schema"`
			} `json:"versions"`
		} `json:"spec"`
	}
	require.NoError(t, yaml.Unmarshal(data, &crd))
	require.Len(t, crd.Spec.Versions, 1)
	return schemaAt(t, crd.Spec.Versions[0].Schema.OpenAPIV3Schema, "spec")
}

// schemaAt walks properties (and "items" for list elements) down a path.
func schemaAt(t *testing.T, s map[string]any, path ...string) map[string]any {
	t.Helper()
	for _, p := range path {
		next := s["items"]
		if p != "items" {
			props, _ := s["properties"].(map[string]any)
			next = props[p]
		}
		m, ok := next.(map[string]any)
		require.True(t, ok, "no schema at %v (missing %q)", path, p)
		s = m
	}
	return s
}
