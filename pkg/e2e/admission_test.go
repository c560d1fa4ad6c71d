//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const twoParties = `
  - {domainID: alice, appImageRef: secretflow-image}
  - {domainID: bob, appImageRef: secretflow-image}`

// Malformed tasks are refused by `kubectl apply` (schema, CEL and kubectl's
// strict field validation), each with a message that names the field.
func TestAdmissionRejectsMalformedTasks(t *testing.T) {
	cases := []struct {
		name string
		spec string // everything under spec:
		want []string
	}{{
		name: "no parties",
		spec: "initiator: alice\n  parties: []",
		want: []string{"spec.parties", "at least 1 items"},
	}, {
		name: "parties missing",
		spec: "initiator: alice",
		want: []string{"spec.parties", "Required value"},
	}, {
		name: "duplicate domain",
		spec: "initiator: alice\n  parties:\n  - {domainID: alice, appImageRef: a}\n  - {domainID: alice, appImageRef: b}",
		want: []string{"spec.parties", "each party must have a distinct domainID"},
	}, {
		name: "initiator not a party",
		spec: "initiator: carol\n  parties:" + twoParties,
		want: []string{"spec.initiator", "initiator must be the domainID of one of the parties"},
	}, {
		name: "minReservedMembers above parties",
		spec: "initiator: alice\n  scheduleConfig: {minReservedMembers: 3}\n  parties:" + twoParties,
		want: []string{"spec.scheduleConfig.minReservedMembers", "must not be greater than the number of parties"},
	}, {
		name: "negative resourceReservedSeconds",
		spec: "initiator: alice\n  scheduleConfig: {resourceReservedSeconds: -1}\n  parties:" + twoParties,
		want: []string{"spec.scheduleConfig.resourceReservedSeconds", "greater than or equal to 1"},
	}, {
		name: "zero lifecycleSeconds",
		spec: "initiator: alice\n  scheduleConfig: {lifecycleSeconds: 0}\n  parties:" + twoParties,
		want: []string{"spec.scheduleConfig.lifecycleSeconds", "greater than or equal to 1"},
	}, {
		name: "zero retryIntervalSeconds",
		spec: "initiator: alice\n  scheduleConfig: {retryIntervalSeconds: 0}\n  parties:" + twoParties,
		want: []string{"spec.scheduleConfig.retryIntervalSeconds", "greater than or equal to 1"},
	}, {
		name: "bad domain name",
		spec: "initiator: Alice_1\n  parties:\n  - {domainID: Alice_1, appImageRef: a}",
		want: []string{"spec.parties[0].domainID", "should match"},
	}, {
		name: "domain name too long",
		spec: fmt.Sprintf("initiator: a\n  parties:\n  - {domainID: %s, appImageRef: a}", strings.Repeat("a", 64)),
		want: []string{"spec.parties[0].domainID", "may not be more than 63"},
	}, {
		name: "unknown field (typo)",
		spec: "initiator: alice\n  parties:\n  - {domainID: alice, appImageRf: a}",
		want: []string{`unknown field "spec.parties[0].appImageRf"`},
	}, {
		name: "wrong field type",
		spec: "initiator: alice\n  parties:\n  - {domainID: alice, appImageRef: a, minReservedPods: two}",
		want: []string{"spec.parties[0].minReservedPods"},
	}, {
		name: "zero minReservedPods",
		spec: "initiator: alice\n  parties:\n  - {domainID: alice, appImageRef: a, minReservedPods: 0}",
		want: []string{"spec.parties[0].minReservedPods", "greater than or equal to 1"},
	}, {
		name: "negative replicas",
		spec: "initiator: alice\n  parties:\n  - {domainID: alice, appImageRef: a, template: {replicas: -1}}",
		want: []string{"spec.parties[0].template.replicas", "greater than or equal to 1"},
	}, {
		name: "zero replicas",
		spec: "initiator: alice\n  parties:\n  - {domainID: alice, appImageRef: a, template: {replicas: 0}}",
		want: []string{"spec.parties[0].template.replicas", "greater than or equal to 1"},
	}, {
		name: "unknown port scope",
		spec: "initiator: alice\n  parties:\n  - domainID: alice\n    appImageRef: a\n    template: {spec: {containers: [{name: c, ports: [{name: p, port: 80, scope: Public}]}]}}",
		want: []string{"spec.parties[0].template.spec.containers[0].ports[0].scope", "Unsupported value"},
	}, {
		name: "too many parties",
		spec: "initiator: p0\n  parties:" + manyParties(65),
		want: []string{"spec.parties", "must have at most 64 items"},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			manifest := "apiVersion: kuscia.secretflow/v1alpha1\nkind: KusciaTask\nmetadata:\n  name: e2e-malformed\nspec:\n  " + tc.spec + "\n"
			out, err := kubectlOutput([]byte(manifest), "apply", "-f", "-")
			require.Error(t, err, "accepted:\n%s", manifest)
			for _, w := range tc.want {
				assert.Contains(t, out, w)
			}
		})
	}
	_, err := kubectlOutput(nil, "get", "kt", "e2e-malformed")
	assert.Error(t, err, "no malformed task may have been stored")
}

func manyParties(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "\n  - {domainID: p%d, appImageRef: a}", i)
	}
	return b.String()
}

// An AppImage whose template runs no pod is refused too.
func TestAdmissionRejectsAnAppImageOfZeroReplicas(t *testing.T) {
	manifest := `apiVersion: kuscia.secretflow/v1alpha1
kind: AppImage
metadata: {name: e2e-zero}
spec:
  image: {name: x}
  deployTemplates:
  - {replicas: 0, spec: {containers: [{name: c}]}}
`
	out, err := kubectlOutput([]byte(manifest), "apply", "-f", "-")
	require.Error(t, err, "accepted:\n%s", manifest)
	assert.Contains(t, out, "spec.deployTemplates[0].replicas")
	assert.Contains(t, out, "greater than or equal to 1")
}
