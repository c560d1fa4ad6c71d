//go:build realnode

package realnode

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"kusciatask.io/controller/examples"
	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// syncBuffer is a bytes.Buffer safe to read while a process writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestPluginLogsRealPods: `kubectl kuscia logs -f` follows both parties'
// real logs while the applications wait (KWOK_DELAY), each line prefixed
// [party/pod], and ends with the task; `kubectl kuscia logs` afterwards
// prints both parties' whole logs.
func TestPluginLogsRealPods(t *testing.T) {
	p := taskPlane(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "kubectl-kuscia")
	_, err := run(lane.root, []string{"CGO_ENABLED=0"}, "go", "build", "-o", bin, "./cmd/kubectl-kuscia")
	require.NoError(t, err)
	const name = "logs-psi"

	task := testAppTask(t, examples.PSITaskFile, name)
	withEnv(task, "alice", corev1.EnvVar{Name: "KWOK_DELAY", Value: "40s"})
	withEnv(task, "bob", corev1.EnvVar{Name: "KWOK_DELAY", Value: "40s"})
	p.createTask(t, task)

	// Follow from the start: the plugin waits for the pods' containers.
	var stdout, stderr syncBuffer
	follow := exec.Command(bin, "--kubeconfig", p.kubeconfig, "logs", name, "-f")
	follow.Stdout, follow.Stderr = &stdout, &stderr
	require.NoError(t, follow.Start())
	exited := make(chan error, 1)
	waited := make(chan struct{})
	go func() { err := follow.Wait(); close(waited); exited <- err }()
	t.Cleanup(func() {
		select {
		case <-waited:
		default:
			_ = follow.Process.Kill()
			<-waited
		}
	})

	// While the applications wait, their first lines are already there.
	prefixes := map[string]string{}
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		out := stdout.String()
		for _, pod := range p.taskPods(ctx, t, name, "alice", "bob") {
			prefixes[pod.Namespace] = "[" + pod.Namespace + "/" + pod.Name + "] "
		}
		if len(prefixes) != 2 {
			return false, nil
		}
		for _, prefix := range prefixes {
			if !strings.Contains(out, prefix+"kuscia-testapp: outcome") {
				return false, nil
			}
		}
		return true, nil
	})
	require.NoError(t, err, "both parties' first lines followed:\n%s\n%s", stdout.String(), stderr.String())
	running, err := p.kuscia.KusciaV1alpha1().KusciaTasks().Get(ctx, name, metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, kusciav1alpha1.TaskRunning, running.Status.Phase, "the applications still wait while their lines are followed")
	assert.NotContains(t, stdout.String(), "kuscia-testapp: done")

	p.waitTaskPhase(ctx, t, name, kusciav1alpha1.TaskSucceeded, 5*time.Minute)
	select {
	case err := <-exited:
		assert.NoError(t, err, "logs -f: %s", stderr.String())
	case <-time.After(2 * time.Minute):
		t.Fatalf("logs -f did not end with the task:\n%s", stdout.String())
	}
	followed := stdout.String()
	for domain, prefix := range prefixes {
		assert.Contains(t, followed, prefix+"==> /etc/kuscia/task-config.conf <==", domain)
		assert.Contains(t, followed, prefix+`  "domain_id": "`+domain+`",`, domain)
		assert.Contains(t, followed, prefix+"kuscia-testapp: done", domain)
	}

	all, err := run(lane.root, nil, bin, "--kubeconfig", p.kubeconfig, "logs", name)
	require.NoError(t, err)
	for domain, prefix := range prefixes {
		assert.Contains(t, all, prefix+"==> /etc/kuscia/task-config.conf <==", domain)
		assert.Contains(t, all, prefix+"kuscia-testapp: outcome", domain)
		assert.Contains(t, all, prefix+"kuscia-testapp: done", domain)
	}
	for _, line := range strings.Split(strings.TrimSpace(all), "\n") {
		assert.True(t, strings.HasPrefix(line, prefixes["alice"]) || strings.HasPrefix(line, prefixes["bob"]), "unprefixed line %q", line)
	}
}
