//go:build realnode

package realnode

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// realNodeLock is the host-wide lock of hack/lib/realnode.sh.
const realNodeLock = "/run/kusciatask-controller-realnode.lock"

// TestRealNodeLock: while another run's plane is alive, a second real node
// refuses to start and names the command that frees the host; once nothing
// of that run is alive (a run killed without a stop, as a CI job cut off at
// its time limit), the next start stops the leftover itself and goes on.
func TestRealNodeLock(t *testing.T) {
	stopSharedPlane() // the lock must be free for the forged holder below
	if _, err := os.Stat(realNodeLock); err == nil {
		t.Fatalf("%s exists with no plane of this lane running", realNodeLock)
	}

	// A leftover of another run, as local-up leaves it when killed.
	other := filepath.Join(lane.root, "_output", "e2e-realnode", "killed-run")
	if err := os.MkdirAll(filepath.Join(other, "realnode"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, ".local-up"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(realNodeLock, []byte(other+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if b, err := os.ReadFile(realNodeLock); err == nil && strings.TrimSpace(string(b)) == other {
			_ = os.Remove(realNodeLock)
		}
		_ = os.RemoveAll(other)
	})

	// Alive: a process names the holder's folder.
	holder := exec.Command("sh", "-c", "sleep 120", filepath.Join(other, "realnode", "holder"))
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	_, err := run(lane.root, planeEnv("refused", "LOCAL_UP_REAL_NODE_WAIT=0"), "hack/local-up.sh", "start")
	_ = holder.Process.Kill()
	_ = holder.Wait()
	if err == nil {
		_, _ = run(lane.root, planeEnv("refused"), "hack/local-up.sh", "stop")
		t.Fatal("a second real node started while another run's plane held the host")
	}
	want := "a real node of " + other + " holds this host"
	if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "LOCAL_UP_DIR="+other) {
		t.Fatalf("start refused, but the error does not say %q and how to free it:\n%v", want, err)
	}

	// Dead: nothing names the folder any more; the next start reclaims it.
	p := sharedPlane(t)
	if _, err := os.Stat(other); !os.IsNotExist(err) {
		t.Errorf("the leftover run's folder %s is still there after the lock was reclaimed (stat: %v)", other, err)
	}
	b, err := os.ReadFile(realNodeLock)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(b)); got != p.dir {
		t.Errorf("the lock names %q, want the plane that reclaimed it, %q", got, p.dir)
	}
}
