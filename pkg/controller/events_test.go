package controller

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubeinformers "k8s.io/client-go/informers"
	k8sfake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2/ktesting"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
	"kusciatask.io/controller/pkg/controller/informers"
	"kusciatask.io/controller/pkg/generated/clientset/versioned/fake"
	kusciainformers "kusciatask.io/controller/pkg/generated/informers/externalversions"
)

func TestChildEventsMapToTheControllingTask(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	task := seedTask(t, "secretflow-task-psi.yaml")
	owned := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Namespace: "alice", Name: "p", ResourceVersion: "1",
		OwnerReferences: []metav1.OwnerReference{*builder.OwnerReference(task)},
	}}
	notController := owned.DeepCopy()
	notController.OwnerReferences[0].Controller = nil
	otherKind := owned.DeepCopy()
	otherKind.OwnerReferences[0].Kind = "ReplicaSet"

	cases := []struct {
		name string
		send func(c *Controller)
		want []string
	}{
		{"add", func(c *Controller) { c.enqueueOwner(logger, owned) }, []string{psi}},
		{"tombstone", func(c *Controller) {
			c.enqueueOwner(logger, cache.DeletedFinalStateUnknown{Key: "alice/p", Obj: owned})
		}, []string{psi}},
		{"update that changed the pod's phase", func(c *Controller) {
			newer := owned.DeepCopy()
			newer.ResourceVersion, newer.Status.Phase = "2", corev1.PodRunning
			c.enqueueOwnerIfChanged(logger, owned, newer)
		}, []string{psi}},
		{"update with a new resourceVersion only", func(c *Controller) {
			newer := owned.DeepCopy()
			newer.ResourceVersion = "2"
			c.enqueueOwnerIfChanged(logger, owned, newer)
		}, nil},
		{"resync (same resourceVersion)", func(c *Controller) { c.enqueueOwnerIfChanged(logger, owned, owned) }, nil},
		{"owner is not the controller", func(c *Controller) { c.enqueueOwner(logger, notController) }, nil},
		{"controller of another kind", func(c *Controller) { c.enqueueOwner(logger, otherKind) }, nil},
		{"not an object", func(c *Controller) { c.enqueueOwner(logger, "junk") }, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			tc.send(f.c)
			assert.Equal(t, tc.want, queued(f.c))
		})
	}
}

func TestAppImageAndNamespaceEventsEnqueueUnfinishedReferrers(t *testing.T) {
	running := seedTask(t, "secretflow-task-psi.yaml")
	done := seedTask(t, "task-template.yaml")
	done.Spec.Parties[0].AppImageRef = "secretflow-image"
	done.Status.Phase = kusciav1alpha1.TaskSucceeded
	f := newFixture(t, running, done)
	img := &kusciav1alpha1.AppImage{ObjectMeta: metav1.ObjectMeta{Name: "secretflow-image"}}
	f.c.enqueueReferrers(informers.IndexByAppImage, img)
	assert.Equal(t, []string{psi}, queued(f.c), "finished tasks are left alone")

	f.c.enqueueReferrers(informers.IndexByDomain, domain("bob"))
	assert.Equal(t, []string{psi}, queued(f.c))
	f.c.enqueueReferrers(informers.IndexByDomain, domain("carol"))
	assert.Empty(t, queued(f.c))

	bob := domain("bob")
	bob.ResourceVersion = "7"
	f.c.enqueueReferrersIfChanged(informers.IndexByDomain, bob, bob)
	assert.Empty(t, queued(f.c), "a resync of the namespace brings nothing new")
	newer := bob.DeepCopy()
	newer.ResourceVersion = "8"
	f.c.enqueueReferrersIfChanged(informers.IndexByDomain, bob, newer)
	assert.Equal(t, []string{psi}, queued(f.c))

	keys, err := f.c.taskIndexer.IndexKeys(informers.IndexByAppImage, "secretflow-image")
	require.NoError(t, err)
	assert.Equal(t, []string{psi}, keys, "a finished task is not in the index at all")
}

// queued drains the queue's names.
func queued(c *Controller) []string {
	var out []string
	for c.queue.Len() > 0 {
		key, _ := c.queue.Get()
		out = append(out, key.Name)
		c.queue.Done(key)
	}
	return out
}

// taskInPhase is a task named after its phase.
func taskInPhase(phase kusciav1alpha1.KusciaTaskPhase) *kusciav1alpha1.KusciaTask {
	return &kusciav1alpha1.KusciaTask{ObjectMeta: metav1.ObjectMeta{Name: "t-" + string(phase)},
		Status: kusciav1alpha1.KusciaTaskStatus{Phase: phase}}
}

// The task informer's handler feeds the counts: a controller on running
// informers reports the tasks it listed.
func TestTaskPhaseCollectorCountsTheInformersTasks(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	kuscia := fake.NewClientset(taskInPhase(""), taskInPhase(kusciav1alpha1.TaskRunning), taskInPhase(kusciav1alpha1.TaskFailed))
	kube := k8sfake.NewClientset()
	kInf := kusciainformers.NewSharedInformerFactory(kuscia, 0)
	kubeInf := kubeinformers.NewSharedInformerFactory(kube, 0)
	c, err := NewController(ctx, kube, kuscia, Informers{
		Tasks: kInf.Kuscia().V1alpha1().KusciaTasks(), AppImages: kInf.Kuscia().V1alpha1().AppImages(),
		Namespaces: kubeInf.Core().V1().Namespaces(), Pods: kubeInf.Core().V1().Pods(),
		Services: kubeInf.Core().V1().Services(), ConfigMaps: kubeInf.Core().V1().ConfigMaps(),
	}, Options{MarkKey: testMarkKey})
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	c.RegisterTaskPhaseCollector(reg)
	kInf.Start(ctx.Done())
	kubeInf.Start(ctx.Done())
	require.True(t, cache.WaitForCacheSync(ctx.Done(), c.synced...))
	want := `
# HELP kusciatask_tasks Number of KusciaTasks by phase.
# TYPE kusciatask_tasks gauge
kusciatask_tasks{phase="Failed"} 1
kusciatask_tasks{phase="Pending"} 1
kusciatask_tasks{phase="Running"} 1
kusciatask_tasks{phase="Succeeded"} 0
`
	assert.Eventually(t, func() bool {
		return testutil.GatherAndCompare(reg, strings.NewReader(want), "kusciatask_tasks") == nil
	}, 5*time.Second, 10*time.Millisecond)
	assert.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want), "kusciatask_tasks"))
	cancel()
	kInf.Shutdown()
	kubeInf.Shutdown()
}
