//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// A task as large as the controller allows (two parties of 64 pods, 640
// objects) is created in chunks; deleting it while it is being created
// stops the creation within a second. Its 512 config maps and services
// come before its pods, so a delete sent once the first config map shows
// lands before most pods.
func TestDeletingALargeTaskStopsItsCreation(t *testing.T) {
	const name = "e2e-large-delete"
	deleteTaskOnCleanup(t, name)
	pods := watchTaskPods(t, name, "alice", "bob")
	party := func(domain string) string {
		return fmt.Sprintf("  - domainID: %s\n    appImageRef: secretflow-image\n    template:\n      replicas: 64\n      spec:\n        containers:\n        - name: secretflow\n          env:\n          - {name: KWOK_OUTCOME, value: run}\n", domain)
	}
	applyYAML(t, fmt.Sprintf("apiVersion: kuscia.secretflow/v1alpha1\nkind: KusciaTask\nmetadata:\n  name: %s\nspec:\n  initiator: alice\n  taskInputConfig: '{}'\n  parties:\n%s%s",
		name, party("alice"), party("bob")))

	// Poll tightly, and delete through the client, not kubectl: the
	// controller creates in concurrent batches, and a process start is
	// about as long as the whole creation.
	ctx := testContext(t)
	selector := metav1.ListOptions{LabelSelector: kusciav1alpha1.LabelTask + "=" + name}
	require.Eventually(t, func() bool {
		cms, err := env.kube.CoreV1().ConfigMaps("alice").List(ctx, selector)
		return err == nil && len(cms.Items) > 0
	}, 60*time.Second, 5*time.Millisecond, "the creation to be under way")
	require.NoError(t, env.kuscia.KusciaV1alpha1().KusciaTasks().Delete(ctx, name, metav1.DeleteOptions{}))
	deleted := time.Now()
	atDelete, _ := pods.created()
	require.Less(t, atDelete, 128, "the task was still being created when it was deleted")

	// Give a creation that did not stop time to show itself.
	time.Sleep(3 * time.Second)
	n, last := pods.created()
	if n > 0 {
		late := last.Sub(deleted)
		t.Logf("pods created: %d when deleted, %d in all; the last one %s after the delete", atDelete, n, late.Round(time.Millisecond))
		assert.Less(t, late, time.Second, "creation stops within a second of the delete")
	} else {
		t.Log("no pod created: the creation stopped among the config maps and services")
	}
	assert.Less(t, n, 128)
	assert.Empty(t, pods.duplicates())
	out, _ := kubectlOutput(nil, "get", "kt", name)
	assert.True(t, strings.Contains(out, "NotFound") || out == "", out)
}
