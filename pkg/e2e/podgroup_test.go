//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	schedulingv1beta1 "k8s.io/api/scheduling/v1beta1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"kusciatask.io/controller/pkg/podgroup"
)

// The local plane runs Kubernetes' gang scheduling: PodGroups are served,
// kube-scheduler binds a group all-or-nothing and says why in the group's
// status, and kube-controller-manager lets a PodGroup be deleted once no
// active pod uses it.
func TestPodGroups(t *testing.T) {
	served, err := podgroup.Served(testContext(t), env.kube.Discovery())
	require.NoError(t, err)
	require.True(t, served, "scheduling.k8s.io/v1beta1 podgroups are served")
	assert.Contains(t, kubectl(t, "api-resources", "--api-group=scheduling.k8s.io"), "podgroups")

	ns := scratchNamespace(t, "e2e-podgroup")
	// The owner stands in for the task: a real object, so the garbage
	// collector keeps its dependents until it goes.
	owner, err := env.kube.CoreV1().ConfigMaps(ns).Create(testContext(t),
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "owner"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	ownerRef := *metav1.NewControllerRef(owner, corev1.SchemeGroupVersion.WithKind("ConfigMap"))

	t.Run("a group that cannot fit binds none", func(t *testing.T) { testPodGroupUnschedulable(t, ns, ownerRef) })
	t.Run("a group that fits binds all", func(t *testing.T) { testPodGroupFits(t, ns, ownerRef, owner.Name) })
}

// createGroup creates a PodGroup and its pods together (the gang plugin
// queues none until minCount members exist), each pod requesting cpu.
func createGroup(t *testing.T, ns, name string, owner metav1.OwnerReference, minCount int32, pods int, cpu string) *schedulingv1beta1.PodGroup {
	t.Helper()
	ctx := testContext(t)
	pg, err := podgroup.New(ns, name, map[string]string{"e2e": name}, owner, minCount)
	require.NoError(t, err)
	created, err := env.kube.SchedulingV1beta1().PodGroups(ns).Create(ctx, pg, metav1.CreateOptions{})
	require.NoError(t, err)
	assert.Contains(t, created.Finalizers, "scheduling.k8s.io/podgroup-protection", "admission protects the group")
	for i := range pods {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", name, i), Namespace: ns, Labels: map[string]string{"e2e": name}},
			Spec: corev1.PodSpec{
				RestartPolicy:                corev1.RestartPolicyNever,
				AutomountServiceAccountToken: new(bool),
				Containers: []corev1.Container{{Name: "app", Image: "app", Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)},
				}}},
			},
		}
		podgroup.Join(pod, name)
		got, err := env.kube.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
		require.NoError(t, err)
		require.NotNil(t, got.Spec.SchedulingGroup, "the API server kept schedulingGroup (GenericWorkload is on)")
		assert.Equal(t, name, *got.Spec.SchedulingGroup.PodGroupName)
	}
	return created
}

// bindings records every pod of a label selector that is ever bound, from a
// watch (not samples).
type bindings struct {
	mu    sync.Mutex
	bound map[string]string
}

func watchBindings(t *testing.T, ns, selector string) *bindings {
	t.Helper()
	w, err := env.kube.CoreV1().Pods(ns).Watch(testContext(t), metav1.ListOptions{LabelSelector: selector})
	require.NoError(t, err)
	t.Cleanup(w.Stop)
	b := &bindings{bound: map[string]string{}}
	go func() {
		for ev := range w.ResultChan() {
			if pod, ok := ev.Object.(*corev1.Pod); ok && ev.Type != watch.Error && pod.Spec.NodeName != "" {
				b.mu.Lock()
				b.bound[pod.Name] = pod.Spec.NodeName
				b.mu.Unlock()
			}
		}
	}()
	return b
}

func (b *bindings) get() map[string]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[string]string{}
	for k, v := range b.bound {
		out[k] = v
	}
	return out
}

// Three pods of 3 cpu each on two 4-cpu nodes, minCount 3: two would fit
// one by one, the gang does not, so none is bound.
func testPodGroupUnschedulable(t *testing.T, ns string, owner metav1.OwnerReference) {
	ctx := testContext(t)
	b := watchBindings(t, ns, "e2e=big")
	createGroup(t, ns, "big", owner, 3, 3, "3")

	var pg *schedulingv1beta1.PodGroup
	eventually(t, 60*time.Second, "PodGroupInitiallyScheduled=False", func() (bool, string) {
		got, err := env.kube.SchedulingV1beta1().PodGroups(ns).Get(ctx, "big", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		pg = got
		_, ok := podgroup.NotScheduledMessage(got)
		return ok, fmt.Sprintf("conditions %v", got.Status.Conditions)
	})
	msg, _ := podgroup.NotScheduledMessage(pg)
	t.Logf("scheduler: %s", msg)
	assert.Contains(t, msg, "minCount (3) cannot be satisfied")
	assert.False(t, groupScheduled(pg))
	cond := apimeta.FindStatusCondition(pg.Status.Conditions, schedulingv1beta1.PodGroupInitiallyScheduled)
	assert.Equal(t, schedulingv1beta1.PodGroupReasonUnschedulable, cond.Reason)

	time.Sleep(3 * time.Second) // the scheduler retries meanwhile; the watch sees any binding
	assert.Empty(t, b.get(), "no pod of an unschedulable gang is ever bound")
	pods, err := env.kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "e2e=big"})
	require.NoError(t, err)
	// Each pod is unschedulable; the scheduler explains the gang on the pods
	// it tried as a group (the others carry their own reason).
	gangReasons := 0
	for _, pod := range pods.Items {
		c := podCondition(&pod, corev1.PodScheduled)
		require.NotNil(t, c, pod.Name)
		assert.Equal(t, corev1.ConditionFalse, c.Status, pod.Name)
		t.Logf("%s: %s", pod.Name, c.Message)
		if strings.Contains(c.Message, "minCount (3) cannot be satisfied") {
			gangReasons++
		}
	}
	assert.Positive(t, gangReasons, "some pod's PodScheduled message names the gang")

	// Deleting the group while its pods live leaves it Terminating (the
	// protection finalizer); once they are gone, kcm lets it go.
	require.NoError(t, env.kube.SchedulingV1beta1().PodGroups(ns).Delete(ctx, "big", metav1.DeleteOptions{}))
	terminating, err := env.kube.SchedulingV1beta1().PodGroups(ns).Get(ctx, "big", metav1.GetOptions{})
	require.NoError(t, err)
	assert.NotNil(t, terminating.DeletionTimestamp)
	require.NoError(t, env.kube.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "e2e=big"}))
	eventually(t, 30*time.Second, "the PodGroup to be deleted", func() (bool, string) {
		got, err := env.kube.SchedulingV1beta1().PodGroups(ns).Get(ctx, "big", metav1.GetOptions{})
		if isNotFound(err) {
			return true, ""
		}
		if err != nil {
			return false, err.Error()
		}
		return false, fmt.Sprintf("finalizers %v", got.Finalizers)
	})
}

// Two small pods, minCount 2: bound together, the group Scheduled; deleting
// the owner collects the group once its pods finished.
func testPodGroupFits(t *testing.T, ns string, owner metav1.OwnerReference, ownerName string) {
	ctx := testContext(t)
	createGroup(t, ns, "small", owner, 2, 2, "100m")
	eventually(t, 60*time.Second, "both pods to succeed and the group to be scheduled", func() (bool, string) {
		pg, err := env.kube.SchedulingV1beta1().PodGroups(ns).Get(ctx, "small", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		pods, err := env.kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "e2e=small"})
		if err != nil {
			return false, err.Error()
		}
		done := 0
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodSucceeded {
				done++
			}
		}
		return groupScheduled(pg) && done == 2, fmt.Sprintf("scheduled %v, %d/2 pods succeeded", groupScheduled(pg), done)
	})

	require.NoError(t, env.kube.CoreV1().ConfigMaps(ns).Delete(ctx, ownerName, metav1.DeleteOptions{}))
	eventually(t, 90*time.Second, "the owner's PodGroup to be collected", func() (bool, string) {
		got, err := env.kube.SchedulingV1beta1().PodGroups(ns).Get(context.Background(), "small", metav1.GetOptions{})
		if isNotFound(err) {
			return true, ""
		}
		if err != nil {
			return false, err.Error()
		}
		return false, fmt.Sprintf("deletionTimestamp %v finalizers %v", got.DeletionTimestamp, got.Finalizers)
	})
}

func podCondition(pod *corev1.Pod, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == t {
			return &pod.Status.Conditions[i]
		}
	}
	return nil
}

// groupScheduled reports whether kube-scheduler placed the group:
// condition PodGroupInitiallyScheduled True (it then stays True).
func groupScheduled(pg *schedulingv1beta1.PodGroup) bool {
	return apimeta.IsStatusConditionTrue(pg.Status.Conditions, schedulingv1beta1.PodGroupInitiallyScheduled)
}
