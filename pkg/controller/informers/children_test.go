package informers

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

func TestChildInformersHoldLabelledChildrenWithoutANamespaceIndex(t *testing.T) {
	labelled := func(name string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "alice",
			Labels: map[string]string{kusciav1alpha1.LabelTaskUID: "uid-1"}}}
	}
	other := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: "alice"}}
	kube := fake.NewClientset(labelled("a"), labelled("b"), other)
	f := NewChildInformerFactory(kube, 0)
	informers := map[string]cache.SharedIndexInformer{
		"pods":       f.Core().V1().Pods().Informer(),
		"services":   f.Core().V1().Services().Informer(),
		"configmaps": f.Core().V1().ConfigMaps().Informer(),
		"podgroups":  f.Scheduling().V1beta1().PodGroups().Informer(),
	}
	for what, inf := range informers {
		assert.NotContains(t, inf.GetIndexer().GetIndexers(), cache.NamespaceIndex, what)
	}
	require.NoError(t, informers["pods"].AddIndexers(ChildIndexers()))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	f.Start(ctx.Done())
	defer func() {
		cancel()
		f.Shutdown()
	}()
	for what, synced := range f.WaitForCacheSync(ctx.Done()) {
		require.True(t, synced, what)
	}
	keys := informers["pods"].GetStore().ListKeys()
	assert.ElementsMatch(t, []string{"alice/a", "alice/b"}, keys, "only the children are listed")
	byTask, err := informers["pods"].GetIndexer().ByIndex(IndexByTaskUID, "uid-1")
	require.NoError(t, err)
	assert.Len(t, byTask, 2, "the task-UID index finds them")
}
