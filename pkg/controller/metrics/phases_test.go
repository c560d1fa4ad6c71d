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
	kubeinformers "k8s.io/client-go/informers"
	k8sfake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2/ktesting"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/generated/clientset/versioned/fake"
	kusciainformers "kusciatask.io/controller/pkg/generated/informers/externalversions"
)

func taskIn(phase kusciav1alpha1.KusciaTaskPhase) *kusciav1alpha1.KusciaTask {
	t := &kusciav1alpha1.KusciaTask{}
	t.Name = "t-" + string(phase)
	t.Status.Phase = phase
	return t
}

func TestPhaseCountsFollowTaskEvents(t *testing.T) {
	p := newPhaseCounts()
	fresh, running, done := taskIn(""), taskIn(kusciav1alpha1.TaskRunning), taskIn(kusciav1alpha1.TaskSucceeded)
	p.move(nil, fresh)
	p.move(nil, running)
	p.move(nil, "not a task")
	p.move(running, running) // a resync
	assert.Equal(t, map[kusciav1alpha1.KusciaTaskPhase]int{
		kusciav1alpha1.TaskPending: 1, kusciav1alpha1.TaskRunning: 1, kusciav1alpha1.TaskSucceeded: 0, kusciav1alpha1.TaskFailed: 0,
	}, p.snapshot(), "a task not synced yet counts as Pending")

	p.move(running, done)
	p.move(fresh, nil)
	p.move(cache.DeletedFinalStateUnknown{Key: done.Name, Obj: done}, nil)
	assert.Equal(t, map[kusciav1alpha1.KusciaTaskPhase]int{
		kusciav1alpha1.TaskPending: 0, kusciav1alpha1.TaskRunning: 0, kusciav1alpha1.TaskSucceeded: 0, kusciav1alpha1.TaskFailed: 0,
	}, p.snapshot(), "a deleted task (tombstone or not) leaves its phase")
}

// The task informer's handler feeds the counts: a controller on running
// informers reports the tasks it listed.
func TestTaskPhaseCollectorCountsTheInformersTasks(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	kuscia := fake.NewClientset(taskIn(""), taskIn(kusciav1alpha1.TaskRunning), taskIn(kusciav1alpha1.TaskFailed))
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
