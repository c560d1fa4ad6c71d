//go:build e2e

package e2e

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kusciatask.io/controller/pkg/e2e/framework"
)

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

// The binary as operators see it: leader election Lease, probes, metrics.
func TestBinaryServesProbesMetricsAndHoldsTheLease(t *testing.T) {
	eventually(t, 60*time.Second, "the controller to hold the lease and be ready", func() (bool, string) {
		code, body := httpGet(t, "http://"+framework.ProbeAddress+"/readyz")
		return code == http.StatusOK, body
	})
	code, _ := httpGet(t, "http://"+framework.ProbeAddress+"/healthz")
	assert.Equal(t, http.StatusOK, code)

	lease, err := env.kube.CoordinationV1().Leases("kuscia-system").Get(testContext(t), "kusciatask-controller", metav1.GetOptions{})
	require.NoError(t, err)
	require.NotNil(t, lease.Spec.HolderIdentity)
	assert.NotEmpty(t, *lease.Spec.HolderIdentity)

	code, metrics := httpGet(t, "http://"+framework.MetricsAddress+"/metrics")
	require.Equal(t, http.StatusOK, code)
	for _, m := range []string{
		`kusciatask_tasks{phase="Succeeded"}`,
		`kusciatask_sync_duration_seconds_count{result="success"}`,
		`workqueue_adds_total{name="kusciatask-controller"}`,
		`workqueue_depth{name="kusciatask-controller"}`,
	} {
		assert.Contains(t, metrics, m)
	}
}

// The CRDs as kubectl users see them: the kuscia category and field docs.
func TestKubectlCategoryAndExplain(t *testing.T) {
	out := kubectl(t, "get", "kuscia")
	assert.Contains(t, out, "appimage.kuscia.secretflow/secretflow-image")
	out = kubectl(t, "explain", "kt.spec.scheduleConfig.resourceReservedSeconds")
	assert.Contains(t, out, "how long reserved parties hold their")
	out = kubectl(t, "get", "aimg", "secretflow-image")
	assert.Regexp(t, `secretflow-image\s+secretflow/secretflow-lite-anolis8\s+1.11.0b1`, out)
}
