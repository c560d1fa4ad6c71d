package controller

import (
	"slices"
	"strconv"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// interner shares equal values among the trimmed children in the caches:
// a pod, its services and its config map carry the same labels, every
// service of a scope the same annotation, every child of a task the same
// controller reference, yet each decoded object brings a copy of its own
// (a few hundred bytes for a map even of one entry, 80 for a reference).
// Cached objects are never mutated (DeepCopy first), so sharing a map or a
// slice among them is safe.
//
// It remembers the last capacity values, first in first out: children of
// a task arrive together, and a value that fell out is only shared no more.
type interner[V any] struct {
	mu       sync.Mutex
	capacity int
	byKey    map[string]V
	order    []string // keys, oldest first; a ring of capacity
	next     int
}

func newInterner[V any](capacity int) *interner[V] {
	return &interner[V]{capacity: capacity, byKey: make(map[string]V, capacity)}
}

// internedCapacity bounds each interner: at a few hundred bytes a value,
// well under a megabyte.
const internedCapacity = 2048

// Interners of the trimmed children's metadata.
var (
	childMaps = newInterner[map[string]string](internedCapacity)
	childRefs = newInterner[[]metav1.OwnerReference](internedCapacity)
)

// share returns the value interned under key when there is one, else
// interns v under it and returns v.
func (in *interner[V]) share(key string, v V) V {
	in.mu.Lock()
	defer in.mu.Unlock()
	if shared, ok := in.byKey[key]; ok {
		return shared
	}
	if len(in.order) < in.capacity {
		in.order = append(in.order, key)
	} else {
		delete(in.byKey, in.order[in.next])
		in.order[in.next] = key
		in.next = (in.next + 1) % in.capacity
	}
	in.byKey[key] = v
	return v
}

// internMap returns a map equal to m, shared when an equal one was
// interned recently; nil for an empty map.
func internMap(in *interner[map[string]string], m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return in.share(joinKey(sortedEntries(m)...), m)
}

// internRef returns a one-element slice holding ref, shared with the
// children that have an equal controller reference.
func internRef(in *interner[[]metav1.OwnerReference], ref metav1.OwnerReference) []metav1.OwnerReference {
	block := ref.BlockOwnerDeletion != nil && *ref.BlockOwnerDeletion
	key := joinKey(ref.APIVersion, ref.Kind, ref.Name, string(ref.UID), strconv.FormatBool(block))
	return in.share(key, []metav1.OwnerReference{ref})
}

// sortedEntries are m's keys and values, in key order.
func sortedEntries(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]string, 0, 2*len(m))
	for _, k := range keys {
		out = append(out, k, m[k])
	}
	return out
}

// joinKey joins parts, each length-prefixed, so no two different lists of
// parts share a key.
func joinKey(parts ...string) string {
	var b strings.Builder
	for _, s := range parts {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	return b.String()
}
