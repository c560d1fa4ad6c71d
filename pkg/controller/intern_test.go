package controller

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
)

func sameMap(a, b map[string]string) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

func TestMapInternerSharesEqualMapsOnly(t *testing.T) {
	in := newMapInterner(2)
	a := in.intern(map[string]string{"x": "1", "y": "2"})
	b := in.intern(map[string]string{"y": "2", "x": "1"})
	assert.True(t, sameMap(a, b), "equal maps are one map")
	c := in.intern(map[string]string{"x": "1", "y": "3"})
	assert.False(t, sameMap(a, c))
	assert.Equal(t, map[string]string{"x": "1", "y": "3"}, c)
	assert.Nil(t, in.intern(map[string]string{}))
	assert.Nil(t, in.intern(nil))

	// Keys and values that run together differently are different maps.
	d := in.intern(map[string]string{"ab": "c"})
	e := in.intern(map[string]string{"a": "bc"})
	assert.Equal(t, map[string]string{"a": "bc"}, e)
	assert.False(t, sameMap(d, e))

	// Capacity 2: the oldest went; an equal map then starts anew.
	assert.Len(t, in.byKey, 2)
	f := in.intern(map[string]string{"x": "1", "y": "2"})
	assert.False(t, sameMap(a, f), "a map that fell out is no longer shared")
	assert.Equal(t, a, f)
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
