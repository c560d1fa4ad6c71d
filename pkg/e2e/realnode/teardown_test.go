//go:build realnode

package realnode

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// TestTeardown checks that hack/local-up.sh stop leaves the host as it was
// before the real node started (see snapshotHost for what is compared), with
// a container still running at stop and one finished; then that a start
// failing after containerd and the kubelet ran cleans up the same way.
func TestTeardown(t *testing.T) {
	stopSharedPlane() // measure a host without any node
	before, err := snapshotHost()
	if err != nil {
		t.Fatal(err)
	}

	p, err := startPlane("teardown")
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = p.stop()
		}
	})
	ctx := testContext(t)
	runPod(ctx, t, p, realPod("done", helloImage, corev1.RestartPolicyNever), corev1.PodSucceeded)
	runPod(ctx, t, p, realPod("running", pauseImage, corev1.RestartPolicyAlways), corev1.PodRunning)

	during, err := snapshotHost()
	if err != nil {
		t.Fatal(err)
	}
	// The snapshot must see the node, or comparing after stop proves nothing.
	for _, c := range []struct{ category, substr string }{
		{"processes", "kubelet"},
		{"processes", "containerd"},
		{"processes", "containerd-shim"},
		{"processes", "pause"},
		{"links", "kt-e2e0"},
		{"cgroups", "kubepods"},
		{"mounts", p.dir},
		{"sysctls", "vm.overcommit_memory"},
		{"iptables", "KUBE-"},
		{"paths", "/var/lib/kubelet"},
	} {
		if !changed(before, during, c.category, c.substr) {
			t.Errorf("while the node runs, the host snapshot shows no change in %s matching %q", c.category, c.substr)
		}
	}

	stopped = true
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
	after, err := snapshotHost()
	if err != nil {
		t.Fatal(err)
	}
	if d := diffHost(before, after); len(d) > 0 {
		t.Errorf("after stop the host differs from before start:\n%s", strings.Join(d, "\n"))
	}

	// A start that fails once the kubelet runs: it cannot serve on a node
	// address the host does not have, and exits.
	failing := planeEnv("teardown-failed", "LOCAL_UP_REAL_NODE_IP=192.0.2.254")
	_, _ = run(lane.root, failing, "hack/local-up.sh", "stop")
	out, err := run(lane.root, failing, "hack/local-up.sh", "start")
	if err == nil {
		_, _ = run(lane.root, failing, "hack/local-up.sh", "stop")
		t.Fatalf("start with a node IP the host lacks succeeded: %s", out)
	}
	if !strings.Contains(err.Error(), "kubelet") {
		t.Errorf("start failed, but not at the kubelet: %v", err)
	}
	afterFailure, serr := snapshotHost()
	if serr != nil {
		t.Fatal(serr)
	}
	if d := diffHost(before, afterFailure); len(d) > 0 {
		t.Errorf("after a failed start the host differs from before:\n%s", strings.Join(d, "\n"))
	}
	if _, err := run(lane.root, failing, "hack/local-up.sh", "stop"); err != nil {
		t.Errorf("stop after a failed start: %v", err)
	}
}
