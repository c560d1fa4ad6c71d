//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A task as large as the controller allows (two parties of 64 pods, 640
// objects) is created in chunks; deleting it while it is being created
// stops the creation within a second.
func TestDeletingALargeTaskStopsItsCreation(t *testing.T) {
	const name = "e2e-large-delete"
	deleteTaskOnCleanup(t, name)
	pods := watchTaskPods(t, name, "alice", "bob")
	party := func(domain string) string {
		return fmt.Sprintf("  - domainID: %s\n    appImageRef: secretflow-image\n    template:\n      replicas: 64\n      spec:\n        containers:\n        - name: secretflow\n          env:\n          - {name: KWOK_OUTCOME, value: run}\n", domain)
	}
	applyYAML(t, fmt.Sprintf("apiVersion: kuscia.secretflow/v1alpha1\nkind: KusciaTask\nmetadata:\n  name: %s\nspec:\n  initiator: alice\n  taskInputConfig: '{}'\n  parties:\n%s%s",
		name, party("alice"), party("bob")))

	eventually(t, 60*time.Second, "the creation to be under way", func() (bool, string) {
		n, _ := pods.created()
		return n >= 10, fmt.Sprintf("%d pods created", n)
	})
	kubectl(t, "delete", "kt", name, "--wait=false")
	deleted := time.Now()
	atDelete, _ := pods.created()
	require.Less(t, atDelete, 128, "the task was still being created when it was deleted")

	// Give a creation that did not stop time to show itself.
	time.Sleep(3 * time.Second)
	n, last := pods.created()
	late := last.Sub(deleted)
	t.Logf("pods created: %d when deleted, %d in all; the last one %s after the delete", atDelete, n, late.Round(time.Millisecond))
	assert.Less(t, late, time.Second, "creation stops within a second of the delete")
	assert.Less(t, n, 128)
	assert.Empty(t, pods.duplicates())
	out, _ := kubectlOutput(nil, "get", "kt", name)
	assert.True(t, strings.Contains(out, "NotFound") || out == "", out)
}
