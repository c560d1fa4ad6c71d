package mark

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	core "k8s.io/client-go/testing"
	"k8s.io/klog/v2/ktesting"
)

const uid = "0b8e5a4c-1111-4c3b-9f5e-000000000001"

func testMarker(t *testing.T, fill byte) *Marker {
	t.Helper()
	m, err := New(bytes.Repeat([]byte{fill}, KeySize))
	require.NoError(t, err)
	return m
}

func pod(ns, name, round string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
		Annotations: map[string]string{RoundAnnotation: round}}}
}

func TestNewRefusesShortKeys(t *testing.T) {
	_, err := New(make([]byte, KeySize-1))
	assert.ErrorContains(t, err, "needs at least 32")
}

func TestValid(t *testing.T) {
	m := testMarker(t, 1)
	real := pod("bob", "task-0", "1")
	m.Stamp(real, uid)
	copyMark := func(p *corev1.Pod) *corev1.Pod {
		p.Annotations[Annotation] = real.Annotations[Annotation]
		return p
	}
	stamped := func(mm *Marker, p *corev1.Pod) *corev1.Pod { mm.Stamp(p, uid); return p }
	tests := []struct {
		name string
		pod  *corev1.Pod
		task string
		want bool
	}{
		{"its own mark", real, uid, true},
		{"no mark", pod("bob", "task-0", "1"), uid, false},
		{"garbage", func() *corev1.Pod { p := pod("bob", "task-0", "1"); p.Annotations[Annotation] = "%%%"; return p }(), uid, false},
		{"copied to another name", copyMark(pod("bob", "fake-task", "1")), uid, false},
		{"copied to another namespace", copyMark(pod("alice", "task-0", "1")), uid, false},
		{"copied with another round", copyMark(pod("bob", "task-0", "2")), uid, false},
		{"another task's UID", real, "0b8e5a4c-1111-4c3b-9f5e-000000000002", false},
		{"signed with another key", stamped(testMarker(t, 2), pod("bob", "task-0", "1")), uid, false},
		{"no round annotation", func() *corev1.Pod {
			p := copyMark(pod("bob", "task-0", "1"))
			delete(p.Annotations, RoundAnnotation)
			return p
		}(), uid, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, m.Valid(tt.pod, types.UID(tt.task)))
		})
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	existing := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "kuscia-system", Name: DefaultSecretName},
		Data: map[string][]byte{SecretKey: bytes.Repeat([]byte{7}, KeySize)}}
	short := existing.DeepCopy()
	short.Data[SecretKey] = []byte("short")

	t.Run("reads an existing key", func(t *testing.T) {
		client := fake.NewClientset(existing.DeepCopy())
		key, err := LoadOrCreateKey(ctx, client, "kuscia-system", DefaultSecretName)
		require.NoError(t, err)
		assert.Equal(t, existing.Data[SecretKey], key)
	})
	t.Run("creates a random key once", func(t *testing.T) {
		client := fake.NewClientset()
		key, err := LoadOrCreateKey(ctx, client, "kuscia-system", DefaultSecretName)
		require.NoError(t, err)
		assert.Len(t, key, KeySize)
		again, err := LoadOrCreateKey(ctx, client, "kuscia-system", DefaultSecretName)
		require.NoError(t, err)
		assert.Equal(t, key, again, "a restart reads the key it made")
	})
	t.Run("loses the race to another replica", func(t *testing.T) {
		client := fake.NewClientset()
		gets := 0
		client.PrependReactor("get", "secrets", func(core.Action) (bool, runtime.Object, error) {
			gets++
			if gets == 1 {
				return true, nil, apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, DefaultSecretName)
			}
			return true, existing.DeepCopy(), nil
		})
		client.PrependReactor("create", "secrets", func(core.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewAlreadyExists(schema.GroupResource{Resource: "secrets"}, DefaultSecretName)
		})
		key, err := LoadOrCreateKey(ctx, client, "kuscia-system", DefaultSecretName)
		require.NoError(t, err)
		assert.Equal(t, existing.Data[SecretKey], key, "the winner's key")
	})
	t.Run("refuses a short key", func(t *testing.T) {
		client := fake.NewClientset(short)
		_, err := LoadOrCreateKey(ctx, client, "kuscia-system", DefaultSecretName)
		assert.ErrorContains(t, err, "needs at least 32")
	})
}
