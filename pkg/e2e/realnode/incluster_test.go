//go:build realnode

package realnode

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"kusciatask.io/controller/examples"
	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/gate"
)

// TestInClusterController runs the controller as deploy/overlays/local
// deploys it, from the image `make image` builds, on the real node: two
// replicas Ready behind their probes in the restricted kuscia-system
// namespace, one of them the leader, and the seed's PSI task (on the test
// application) runs to Succeeded with the gate from the controller's own
// image. The lane's subprocess controller is stopped meanwhile (it does no
// leader election) and started again after.
func TestInClusterController(t *testing.T) {
	p := sharedPlane(t)
	p.loadImages(t)
	p.setUpDomains(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	p.stopController()
	t.Cleanup(func() {
		if err := p.startController(); err != nil {
			t.Errorf("restart the subprocess controller: %v", err)
		}
	})

	data, err := os.ReadFile(filepath.Join(p.dir, "apiserver-node-url"))
	require.NoError(t, err)
	u, err := url.Parse(strings.TrimSpace(string(data)))
	require.NoError(t, err)
	overlay := localOverlay(t, u.Hostname(), u.Port())
	_, err = p.kubectl(nil, "apply", "-k", overlay)
	require.NoError(t, err)
	t.Cleanup(func() {
		// The overlay's own objects; the CRDs and the namespace stay (the
		// plane installed them and later tests use them).
		if _, err := p.kubectl(nil, "-n", "kuscia-system", "delete", "--ignore-not-found", "--wait=true",
			"deployment/kusciatask-controller", "service/kusciatask-controller"); err != nil {
			t.Errorf("clean up: %v", err)
		}
		cms, err := p.kube.CoreV1().ConfigMaps("kuscia-system").List(context.Background(), metav1.ListOptions{})
		if err == nil {
			for _, cm := range cms.Items {
				if strings.HasPrefix(cm.Name, "kusciatask-controller-apiserver") {
					_ = p.kube.CoreV1().ConfigMaps("kuscia-system").Delete(context.Background(), cm.Name, metav1.DeleteOptions{})
				}
			}
		}
		_, _ = p.kubectl(nil, "-n", "kuscia-system", "wait", "--for=delete", "pod", "-l", "app.kubernetes.io/name=kusciatask-controller", "--timeout=2m")
	})

	ns, err := p.kube.CoreV1().Namespaces().Get(ctx, "kuscia-system", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "restricted", ns.Labels["pod-security.kubernetes.io/enforce"])

	start := time.Now()
	err = wait.PollUntilContextTimeout(ctx, time.Second, 5*time.Minute, true, func(ctx context.Context) (bool, error) {
		d, err := p.kube.AppsV1().Deployments("kuscia-system").Get(ctx, "kusciatask-controller", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		return d.Status.ReadyReplicas == 2 && d.Status.UpdatedReplicas == 2, nil
	})
	if err != nil {
		out, _ := p.kubectl(nil, "-n", "kuscia-system", "describe", "pods")
		logs, _ := p.kubectl(nil, "-n", "kuscia-system", "logs", "-l", "app.kubernetes.io/name=kusciatask-controller", "--tail=50")
		t.Fatalf("the Deployment never had 2 Ready replicas: %v\n%s\n%s", err, out, logs)
	}
	t.Logf("2 replicas Ready after %s", time.Since(start).Round(time.Millisecond))

	pods, err := p.kube.CoreV1().Pods("kuscia-system").List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=kusciatask-controller"})
	require.NoError(t, err)
	names := map[string]bool{}
	for _, pod := range pods.Items {
		if pod.DeletionTimestamp == nil {
			names[pod.Name] = true
			assert.Equal(t, realNodeName, pod.Spec.NodeName)
			assert.Equal(t, controllerImage, pod.Spec.Containers[0].Image)
		}
	}
	require.Len(t, names, 2)
	var holder string
	err = wait.PollUntilContextTimeout(ctx, time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		lease, err := p.kube.CoordinationV1().Leases("kuscia-system").Get(ctx, "kusciatask-controller", metav1.GetOptions{})
		if err != nil || lease.Spec.HolderIdentity == nil {
			return false, nil
		}
		holder = *lease.Spec.HolderIdentity
		for n := range names {
			if strings.HasPrefix(holder, n) {
				return true, nil
			}
		}
		return false, nil
	})
	require.NoError(t, err, "the Lease is held by one of the replicas %v, holder %q", names, holder)

	task := p.createTask(t, testAppTask(t, examples.PSITaskFile, "incluster-psi"))
	done := p.waitTaskPhase(ctx, t, task.Name, kusciav1alpha1.TaskSucceeded, 5*time.Minute)
	require.Len(t, done.Status.PartyTaskStatus, 2)

	taskPods := p.taskPods(ctx, t, task.Name, "alice", "bob")
	require.Len(t, taskPods, 2)
	for _, pod := range taskPods {
		assert.Equal(t, realNodeName, pod.Spec.NodeName, pod.Name)
		// The controller's own image (read from its Pod) ships the gate
		// binary, which the install container copies; the gate then waits
		// in the application's image (--pull-during-reservation).
		images := map[string]string{}
		for _, c := range pod.Spec.InitContainers {
			images[c.Name] = c.Image
		}
		assert.Equal(t, controllerImage, images[gate.InstallContainerName], "gate image of %s/%s", pod.Namespace, pod.Name)
		assert.Equal(t, pod.Spec.Containers[0].Image, images[gate.ContainerName], "the gate of %s/%s waits in the application's image", pod.Namespace, pod.Name)
		require.Len(t, pod.Status.ContainerStatuses, 1, pod.Name)
		term := pod.Status.ContainerStatuses[0].State.Terminated
		if assert.NotNil(t, term, pod.Name) {
			assert.EqualValues(t, 0, term.ExitCode, pod.Name)
		}
	}
}
