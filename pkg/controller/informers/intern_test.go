package informers

import (
	"fmt"
	"maps"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func sameMap(a, b map[string]string) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

func TestMapInternerSharesEqualMapsOnly(t *testing.T) {
	in := newInterner(2, maps.Equal[map[string]string])
	a := internMap(in, map[string]string{"x": "1", "y": "2"})
	b := internMap(in, map[string]string{"y": "2", "x": "1"})
	assert.True(t, sameMap(a, b), "equal maps are one map")
	c := internMap(in, map[string]string{"x": "1", "y": "3"})
	assert.False(t, sameMap(a, c))
	assert.Equal(t, map[string]string{"x": "1", "y": "3"}, c)
	assert.Nil(t, internMap(in, map[string]string{}))
	assert.Nil(t, internMap(in, nil))

	// Keys and values that run together differently are different maps.
	d := internMap(in, map[string]string{"ab": "c"})
	e := internMap(in, map[string]string{"a": "bc"})
	assert.Equal(t, map[string]string{"a": "bc"}, e)
	assert.False(t, sameMap(d, e))

	// Capacity 2: the oldest went; an equal map then starts anew.
	assert.Len(t, in.byKey, 2)
	f := internMap(in, map[string]string{"x": "1", "y": "2"})
	assert.False(t, sameMap(a, f), "a map that fell out is no longer shared")
	assert.Equal(t, a, f)
}

func TestRefInternerSharesEqualReferencesOnly(t *testing.T) {
	in := childRefsInterner(8)
	ref := metav1.OwnerReference{APIVersion: "kuscia.secretflow/v1alpha1", Kind: "KusciaTask", Name: "psi", UID: "u1",
		Controller: new(true), BlockOwnerDeletion: new(true)}
	a := internRef(in, ref)
	b := internRef(in, *ref.DeepCopy())
	assert.Equal(t, []metav1.OwnerReference{ref}, a)
	assert.Same(t, &a[0], &b[0], "equal references are one slice")
	for name, other := range map[string]func(*metav1.OwnerReference){
		"uid":       func(r *metav1.OwnerReference) { r.UID = "u2" },
		"name":      func(r *metav1.OwnerReference) { r.Name = "other" },
		"kind":      func(r *metav1.OwnerReference) { r.Kind = "Other" },
		"version":   func(r *metav1.OwnerReference) { r.APIVersion = "kuscia.secretflow/v1" },
		"unblocked": func(r *metav1.OwnerReference) { r.BlockOwnerDeletion = nil },
	} {
		r := *ref.DeepCopy()
		other(&r)
		c := internRef(in, r)
		assert.NotSame(t, &a[0], &c[0], name)
		assert.Equal(t, []metav1.OwnerReference{r}, c, name)
	}
}

func TestTrimmedChildrenOfOnePodShareTheirLabels(t *testing.T) {
	_, pods, svcs, cms := builtChildren(t)
	byPod := map[string][]map[string]string{}
	for _, p := range pods {
		trimmed := trim(t, p)
		byPod[p.Namespace+"/"+p.Name] = append(byPod[p.Namespace+"/"+p.Name], trimmed.Labels)
	}
	for _, s := range svcs {
		trimmed := trim(t, s)
		key := s.Namespace + "/" + s.Labels["kuscia.secretflow/pod"]
		byPod[key] = append(byPod[key], trimmed.Labels)
	}
	for _, c := range cms {
		trimmed := trim(t, c)
		key := c.Namespace + "/" + c.Labels["kuscia.secretflow/pod"]
		byPod[key] = append(byPod[key], trimmed.Labels)
	}
	assert.Len(t, byPod, len(pods))
	for pod, maps := range byPod {
		assert.Greater(t, len(maps), 2, pod)
		for i, m := range maps {
			assert.True(t, sameMap(maps[0], m), fmt.Sprintf("%s: labels %d are the pod's own", pod, i))
		}
	}
}

func TestInternerSharesNothingOnACollision(t *testing.T) {
	in := newInterner(4, maps.Equal[map[string]string])
	a := map[string]string{"x": "1"}
	b := map[string]string{"y": "2"}
	assert.True(t, sameMap(a, in.share(7, a)))
	assert.True(t, sameMap(b, in.share(7, b)), "another map under the same hash is its own")
	assert.True(t, sameMap(a, in.share(7, map[string]string{"x": "1"})), "the first keeps its key")
	assert.Len(t, in.byKey, 1)
}
