//go:build realnode

package realnode

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
)

// realPod is a pod pinned to the real node by its label, running image with
// args, never pulling (the image was imported), restricted and without a
// ServiceAccount token.
func realPod(name, image string, restart corev1.RestartPolicy, args ...string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: metav1.NamespaceDefault},
		Spec: corev1.PodSpec{
			NodeSelector:                  map[string]string{"type": "real"},
			RestartPolicy:                 restart,
			AutomountServiceAccountToken:  ptr.To(false),
			TerminationGracePeriodSeconds: ptr.To[int64](1),
			Containers: []corev1.Container{{
				Name:            "app",
				Image:           image,
				ImagePullPolicy: corev1.PullNever,
				Args:            args,
				Env:             []corev1.EnvVar{{Name: "HELLO_POD", Value: name}},
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: ptr.To(false),
					RunAsNonRoot:             ptr.To(true),
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
					SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
				},
			}},
		},
	}
}

// runPod creates the pod and waits until its phase is want, failing early
// when it reaches another final phase.
func runPod(ctx context.Context, t *testing.T, p *plane, pod *corev1.Pod, want corev1.PodPhase) *corev1.Pod {
	t.Helper()
	start := time.Now()
	if _, err := p.kube.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod %s: %v", pod.Name, err)
	}
	var got *corev1.Pod
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		var err error
		got, err = p.kube.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if got.Status.Phase == want {
			return true, nil
		}
		if got.Status.Phase == corev1.PodFailed || got.Status.Phase == corev1.PodSucceeded {
			return false, fmt.Errorf("pod %s is %s, want %s: %+v", pod.Name, got.Status.Phase, want, got.Status.ContainerStatuses)
		}
		return false, nil
	})
	if err != nil {
		status := ""
		if got != nil {
			status = fmt.Sprintf("phase %s, conditions %+v, containers %+v", got.Status.Phase, got.Status.Conditions, got.Status.ContainerStatuses)
		}
		t.Fatalf("pod %s never %s: %v (%s)", pod.Name, want, err, status)
	}
	t.Logf("pod %s %s after %s", pod.Name, want, time.Since(start).Round(time.Millisecond))
	return got
}

// TestRealPodLogs runs a real container on the real node and reads its output
// back with kubectl logs (apiserver → kubelet with client certificates).
func TestRealPodLogs(t *testing.T) {
	p := sharedPlane(t)
	ctx := testContext(t)
	pod := runPod(ctx, t, p, realPod("hello", helloImage, corev1.RestartPolicyNever, "real", "node"), corev1.PodSucceeded)

	if pod.Spec.NodeName != realNodeName {
		t.Errorf("pod ran on %q, want %q", pod.Spec.NodeName, realNodeName)
	}
	_, cidr, _ := net.ParseCIDR("10.88.0.0/24")
	if ip := net.ParseIP(pod.Status.PodIP); ip == nil || !cidr.Contains(ip) {
		t.Errorf("pod IP %q is not in the real node's pod CIDR %s", pod.Status.PodIP, cidr)
	}
	if n := len(pod.Status.ContainerStatuses); n != 1 {
		t.Fatalf("want 1 container status, got %d", n)
	}
	term := pod.Status.ContainerStatuses[0].State.Terminated
	if term == nil || term.ExitCode != 0 {
		t.Errorf("container state %+v, want terminated with exit code 0", pod.Status.ContainerStatuses[0].State)
	}

	start := time.Now()
	out, err := p.kubectl(nil, "logs", "hello")
	if err != nil {
		t.Fatal(err)
	}
	if want := "hello from hello: real node\n"; out != want {
		t.Errorf("kubectl logs = %q, want %q", out, want)
	}
	t.Logf("kubectl logs answered in %s", time.Since(start).Round(time.Millisecond))
}

// TestPodReachesAPIServer: a pod on the real node opens a connection to the
// apiserver's node address (local-up's apiserver-node-url), the address an
// in-cluster controller would be given (no kube-proxy runs here).
func TestPodReachesAPIServer(t *testing.T) {
	p := sharedPlane(t)
	ctx := testContext(t)
	data, err := os.ReadFile(filepath.Join(p.dir, "apiserver-node-url"))
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(strings.TrimSpace(string(data)))
	if err != nil || u.Host == "" {
		t.Fatalf("apiserver-node-url %q: %v", data, err)
	}
	pod := realPod("dial", helloImage, corev1.RestartPolicyNever)
	pod.Spec.Containers[0].Env = append(pod.Spec.Containers[0].Env, corev1.EnvVar{Name: "HELLO_DIAL", Value: u.Host})
	runPod(ctx, t, p, pod, corev1.PodSucceeded)
	out, err := p.kubectl(nil, "logs", "dial")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "dialed "+u.Host) {
		t.Errorf("kubectl logs dial = %q, want it to say it dialed %s", out, u.Host)
	}
}
