//go:build realnode && bench

package realnode

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"kusciatask.io/controller/examples"
	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// TestBenchPullDuringReservation measures what pulling the images during
// the reservation buys on a real kubelet. Each run: a two-party task whose
// parties each have an application image of their own in the lane's
// registry, with a fresh random layer of BENCH_PULL_MIB MiB (default 200)
// served over a BENCH_PULL_RATE_MIB MiB/s link (default 100), so no run
// finds an image on the node; bob is placed late (his pods select a node
// label the node gets once alice is reserved). Reported, from the gates
// seen opening (the gang formed) to both applications seen started, and
// the spread between the two applications' starts:
//   - pull during the reservation (--pull-during-reservation=true);
//   - pull after it (--pull-during-reservation=false).
//
// BENCH_PULL_RUNS runs of each (default 3). It writes
// _output/bench/realnode-pull.txt. Run by `make bench-realnode`.
func TestBenchPullDuringReservation(t *testing.T) {
	p := taskPlane(t)
	runs := benchInt(t, "BENCH_PULL_RUNS", 3)
	layer := int64(benchInt(t, "BENCH_PULL_MIB", 200)) << 20
	rate := int64(benchInt(t, "BENCH_PULL_RATE_MIB", 100)) << 20
	r := startRegistry(t, withRateLimit(rate))

	var rows []string
	for _, during := range []bool{true, false} {
		mode := map[bool]string{true: "during the reservation", false: "after the reservation"}[during]
		var formed, spread, pulls []time.Duration
		t.Run(fmt.Sprintf("pull %s", mode), func(t *testing.T) {
			p.restartController(t, "--pull-during-reservation="+strconv.FormatBool(during))
			for i := range runs {
				f, s, pull := p.benchPullRun(t, r, fmt.Sprintf("bench-pull-%t-%d", during, i), layer)
				t.Logf("run %d: gates open → both applications started %s, spread %s, bob's pull %s", i, f, s, pull)
				formed, spread, pulls = append(formed, f), append(spread, s), append(pulls, pull)
			}
		})
		rows = append(rows, fmt.Sprintf("| pull %s | %d | %s | %s | %s |", mode, len(formed), median(formed), median(spread), median(pulls)))
	}
	report := fmt.Sprintf(`Pulling during the reservation, real node (%s)
two parties, each its own image with a fresh %d MiB layer over a %d MiB/s link; bob placed late

| mode | runs | gates open → both applications started (median) | spread between the two starts (median) | bob's pull (kubelet, median) |
|---|---|---|---|---|
%s
`, time.Now().UTC().Format(time.RFC3339), layer>>20, rate>>20, strings.Join(rows, "\n"))
	out := filepath.Join(lane.root, "_output", "bench")
	require.NoError(t, os.MkdirAll(out, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(out, "realnode-pull.txt"), []byte(report), 0o644))
	t.Log("\n" + report)
}

// benchPullRun runs one task of the bench (its name is also the value of
// the node label bob waits for) and returns, from its pods' timeline, the
// time from the first gate seen open to the later application start, the
// spread between the two starts, and the kubelet's time pulling bob's
// application image.
func (p *plane) benchPullRun(t *testing.T, r *testRegistry, name string, layer int64) (formed, spread, pull time.Duration) {
	const lateLabel = "kusciatask.io/bench-late"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	images := map[string]string{}
	for _, domain := range []string{"alice", "bob"} {
		ref := r.pushAppImage(t, name+"-"+domain, "1", layer)
		images[domain] = name + "-" + domain
		p.registryAppImage(t, images[domain], ref)
		defer p.removeImage(t, ref) // deferred: after the task and its pods are gone
	}
	task := testAppTask(t, examples.PSITaskFile, name)
	for i := range task.Spec.Parties {
		party := &task.Spec.Parties[i]
		party.AppImageRef = images[party.DomainID]
		if party.DomainID == "bob" {
			party.Template = &kusciav1alpha1.PartyTemplate{Spec: kusciav1alpha1.PodSpec{NodeSelector: map[string]string{lateLabel: name}}}
		}
	}
	tl := p.followTimeline(t, name, "alice", "bob")
	tasks := p.kuscia.KusciaV1alpha1().KusciaTasks()
	_, err := tasks.Create(ctx, task, metav1.CreateOptions{})
	require.NoError(t, err)
	defer p.deleteTaskAndPods(ctx, t, name)

	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 5*time.Minute, true, func(ctx context.Context) (bool, error) {
		got, err := tasks.Get(ctx, name, metav1.GetOptions{})
		return err == nil && got.Status.Reservation != nil && len(got.Status.Reservation.ReservedParties) == 1, nil
	})
	require.NoError(t, err, "alice reserved\n%s", p.podsDump(name))
	_, err = p.kubectl(nil, "label", "node", realNodeName, "--overwrite", lateLabel+"="+name)
	require.NoError(t, err)
	defer func() { _, _ = p.kubectl(nil, "label", "node", realNodeName, lateLabel+"-") }()
	p.waitTaskPhase(ctx, t, name, kusciav1alpha1.TaskSucceeded, 5*time.Minute)

	alice, bob := tl.of(t, "alice"), tl.of(t, "bob")
	open := minTime(alice.gateOpen, bob.gateOpen)
	last, first := maxTime(alice.appStarted, bob.appStarted), minTime(alice.appStarted, bob.appStarted)
	pull, _ = p.pulledIn(ctx, t, "bob", podName(t, p, ctx, name, "bob"))
	return last.Sub(open).Round(time.Millisecond), last.Sub(first).Round(time.Millisecond), pull
}

// deleteTaskAndPods deletes the task and waits until its pods are gone.
func (p *plane) deleteTaskAndPods(ctx context.Context, t *testing.T, name string) {
	t.Helper()
	_ = p.kuscia.KusciaV1alpha1().KusciaTasks().Delete(ctx, name, metav1.DeleteOptions{})
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		return len(p.taskPods(ctx, t, name, "alice", "bob")) == 0, nil
	})
	require.NoError(t, err, "the pods of %s gone", name)
}

func benchInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	require.NoError(t, err, "%s", name)
	require.Positive(t, n, "%s", name)
	return n
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	return pct(d, 50)
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
