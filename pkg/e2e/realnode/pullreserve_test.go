//go:build realnode

package realnode

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	"kusciatask.io/controller/examples"
	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
	"kusciatask.io/controller/pkg/gate"
)

// The lane's controller pulls the images during the reservation (its
// default --pull-during-reservation=true): these tests give a party an
// application image that comes from the lane's registry (registry_test.go)
// instead of being imported.

// registryAppImage creates the AppImage name: the testapp one with its
// image ref, pulled Always. It is deleted when the test ends.
func (p *plane) registryAppImage(t *testing.T, name, ref string) {
	t.Helper()
	img, err := examples.AppImage(examples.TestAppImageFile)
	require.NoError(t, err)
	img.Name = name
	i := strings.LastIndex(ref, ":")
	require.Greater(t, i, strings.LastIndex(ref, "/"), "ref %s has a tag", ref)
	img.Spec.Image.Name, img.Spec.Image.Tag = ref[:i], ref[i+1:]
	for d := range img.Spec.DeployTemplates {
		for c := range img.Spec.DeployTemplates[d].Spec.Containers {
			img.Spec.DeployTemplates[d].Spec.Containers[c].ImagePullPolicy = corev1.PullAlways
		}
	}
	appImages := p.kuscia.KusciaV1alpha1().AppImages()
	_, err = appImages.Create(context.Background(), img, metav1.CreateOptions{})
	require.NoError(t, err, "create AppImage %s", name)
	t.Cleanup(func() {
		if err := appImages.Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete AppImage %s: %v", name, err)
		}
	})
}

// podTimes are when the test saw one pod of a task (its local clock, from
// a pod watch): bound, with its gate container running (every image of
// the pod on the node), with its gate annotation open, with its
// application container started.
type podTimes struct {
	bound, gateRunning, gateOpen, appStarted time.Time
}

// timeline follows every pod of a task from before the task exists.
type timeline struct {
	mu   sync.Mutex
	pods map[string]*podTimes
}

func (p *plane) followTimeline(t *testing.T, name string, namespaces ...string) *timeline {
	t.Helper()
	tl := &timeline{pods: map[string]*podTimes{}}
	sel := metav1.ListOptions{LabelSelector: kusciav1alpha1.LabelTask + "=" + builder.TaskLabelValue(name)}
	for _, ns := range namespaces {
		p.watchPods(t, ns, sel, func(pod *corev1.Pod) { tl.observe(pod, time.Now()) })
	}
	return tl
}

// observe records what is new about pod at now.
func (tl *timeline) observe(pod *corev1.Pod, now time.Time) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	key := pod.Namespace + "/" + pod.Name
	pt := tl.pods[key]
	if pt == nil {
		pt = &podTimes{}
		tl.pods[key] = pt
	}
	first := func(at *time.Time, seen bool) {
		if seen && at.IsZero() {
			*at = now
		}
	}
	first(&pt.bound, pod.Spec.NodeName != "")
	first(&pt.gateOpen, gate.IsOpen(pod.Annotations[gate.Annotation]))
	for _, s := range pod.Status.InitContainerStatuses {
		if s.Name == gate.ContainerName {
			first(&pt.gateRunning, s.State.Running != nil || s.State.Terminated != nil)
		}
	}
	for _, s := range pod.Status.ContainerStatuses {
		first(&pt.appStarted, s.State.Running != nil || s.State.Terminated != nil)
	}
}

// of is a copy of the times of the one pod of the task in namespace ns.
func (tl *timeline) of(t *testing.T, ns string) podTimes {
	t.Helper()
	tl.mu.Lock()
	defer tl.mu.Unlock()
	var out []podTimes
	for key, pt := range tl.pods {
		if strings.HasPrefix(key, ns+"/") {
			out = append(out, *pt)
		}
	}
	require.Len(t, out, 1, "one pod of the task in %s", ns)
	return out[0]
}

// TestPullDuringReservationRealNode: bob's application image (with a
// 96 MiB layer, over a 32 MiB/s link) is pulled from the lane's registry
// while the task is Pending: bob's party says which image it pulls, the
// gates open only after bob's gate runs (his image on the node), and the
// task succeeds.
func TestPullDuringReservationRealNode(t *testing.T) {
	p := taskPlane(t)
	ctx := testContext(t)

	r := startRegistry(t, withRateLimit(32<<20))
	ref := r.pushAppImage(t, "testapp-pull", "e2e", 96<<20)
	t.Cleanup(func() { p.removeImage(t, ref) }) // after the task's pods are gone: cleanups run last first
	p.registryAppImage(t, "testapp-pull", ref)

	const name = "pull-during-reservation"
	task := testAppTask(t, examples.PSITaskFile, name)
	for i := range task.Spec.Parties {
		if task.Spec.Parties[i].DomainID == "bob" {
			task.Spec.Parties[i].AppImageRef = "testapp-pull"
		}
	}
	tl := p.followTimeline(t, name, "alice", "bob")
	p.createTask(t, task)

	var pulling string
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		got, err := p.kuscia.KusciaV1alpha1().KusciaTasks().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		if got.Status.Phase == kusciav1alpha1.TaskPending {
			for _, ps := range got.Status.PartyTaskStatus {
				if ps.DomainID == "bob" && strings.Contains(ps.Message, "pulling "+ref) {
					pulling = ps.Message
				}
			}
		}
		return got.Status.Phase != "" && got.Status.Phase != kusciav1alpha1.TaskPending, nil
	})
	require.NoError(t, err, "the task left Pending\n%s", p.podsDump(name))
	assert.Contains(t, pulling, "pulling images 1/1", "bob was reported pulling %s while Pending", ref)
	done := p.waitTaskPhase(ctx, t, name, kusciav1alpha1.TaskSucceeded, 3*time.Minute)
	require.NotNil(t, done.Status.Reservation.GateOpenedTime)

	alice, bob := tl.of(t, "alice"), tl.of(t, "bob")
	for _, pt := range []podTimes{alice, bob} {
		require.False(t, pt.gateOpen.IsZero() || pt.gateRunning.IsZero() || pt.appStarted.IsZero(), "%+v", pt)
	}
	assert.False(t, alice.gateOpen.Before(bob.gateRunning), "alice's gate opened only once bob's gate ran, his image pulled")
	assert.False(t, bob.appStarted.Before(bob.gateOpen), "bob's application started after his gate opened")
	took, msg := p.pulledIn(ctx, t, "bob", podName(t, p, ctx, name, "bob"))
	t.Logf("bob's pull: %s (%s); gate running after bound %s; gates open → applications started: alice %s, bob %s",
		took, msg, bob.gateRunning.Sub(bob.bound).Round(time.Millisecond),
		alice.appStarted.Sub(alice.gateOpen).Round(time.Millisecond), bob.appStarted.Sub(bob.gateOpen).Round(time.Millisecond))
}

// podName is the name of the one pod of the task in ns.
func podName(t *testing.T, p *plane, ctx context.Context, task, ns string) string {
	t.Helper()
	pods := p.taskPods(ctx, t, task, ns)
	require.Len(t, pods, 1)
	return pods[0].Name
}

// TestPullRefusedDuringReservation: the registry refuses bob's image. The
// task is not failed for it: bob's party names the image and the kubelet's
// reason while Pending (carried over the kubelet's next attempts, during
// which the gate waits PodInitializing again), and the round is released
// only resourceReservedSeconds after alice reserved, with the image and
// the reason in its lastFailure (the next round tries again).
func TestPullRefusedDuringReservation(t *testing.T) {
	p := taskPlane(t)
	ctx := testContext(t)

	r := startRegistry(t)
	r.refuse("refused/testapp")
	ref := r.ref("refused/testapp", "1")
	p.registryAppImage(t, "testapp-refused", ref)

	const name = "pull-refused"
	// The kubelet reports a refused pull at its next sync of the pod, some
	// 10 s after the refusal: the round must hold that long.
	const reserved = 30
	task := testAppTask(t, examples.PSITaskFile, name)
	task.Spec.ScheduleConfig = &kusciav1alpha1.ScheduleConfig{
		ResourceReservedSeconds: ptr.To[int32](reserved),
		RetryIntervalSeconds:    ptr.To[int32](30),
		LifecycleSeconds:        ptr.To[int32](300),
	}
	for i := range task.Spec.Parties {
		if task.Spec.Parties[i].DomainID == "bob" {
			task.Spec.Parties[i].AppImageRef = "testapp-refused"
		}
	}
	p.createTask(t, task)
	t.Cleanup(func() {
		if t.Failed() {
			p.logControllerLines(t, name)
		}
	})

	var bobMessage string
	var got *kusciav1alpha1.KusciaTask
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		var err error
		got, err = p.kuscia.KusciaV1alpha1().KusciaTasks().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		require.Contains(t, []kusciav1alpha1.KusciaTaskPhase{"", kusciav1alpha1.TaskPending}, got.Status.Phase,
			"a refused pull fails nothing: %s: %s", got.Status.Reason, got.Status.Message)
		for _, ps := range got.Status.PartyTaskStatus {
			if ps.DomainID == "bob" && strings.Contains(ps.Message, ref) {
				bobMessage = ps.Message
			}
		}
		return got.Status.Reservation != nil && got.Status.Reservation.ReleasedTime != nil, nil
	})
	require.NoError(t, err, "round 1 released\n%s", p.podsDump(name))

	assert.Regexp(t, `pulling `+ref+`: (ErrImagePull|ImagePullBackOff): `, bobMessage, "bob's party names the image and the kubelet's reason")
	res := got.Status.Reservation
	require.NotNil(t, res.FirstReservedTime, "alice reserved")
	assert.Equal(t, []string{"alice"}, res.ReservedParties)
	assert.GreaterOrEqual(t, res.ReleasedTime.Sub(res.FirstReservedTime.Time), reserved*time.Second,
		"released resourceReservedSeconds after alice reserved, not before")
	assert.Equal(t, kusciav1alpha1.ReasonRoundReleased, got.Status.Reason)
	assert.Regexp(t, `pulling `+ref+`: (ErrImagePull|ImagePullBackOff): `, res.LastFailure)
	assert.Positive(t, r.refusals.Load(), "the registry refused the node")
}

// logControllerLines logs the lane controller's log lines that name the
// task, for a failure's story.
func (p *plane) logControllerLines(t *testing.T, task string) {
	b, err := os.ReadFile(filepath.Join(p.dir, "logs", "kusciatask-controller.log"))
	if err != nil {
		t.Logf("controller log: %v", err)
		return
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, task) {
			t.Log(l)
		}
	}
}
