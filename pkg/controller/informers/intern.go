// The interners that share equal metadata among the trimmed children.

package informers

import (
	"hash/maphash"
	"maps"
	"slices"
	"strconv"
	"sync"

	"k8s.io/apimachinery/pkg/api/equality"
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
// Values are found by a 64-bit hash of their content and shared only when
// equal (a collision shares nothing). The interner remembers the last
// capacity values, first in first out. The capacity must cover the
// distance between a task's children as they arrive: a controller that
// starts among thousands of tasks lists its pods, services and config maps
// in parallel, each in name order, so the config map of a task arrives
// thousands of values after its pod.
type interner[V any] struct {
	mu       sync.Mutex
	capacity int
	equal    func(a, b V) bool
	// seed seeds the hashes of the values.
	seed  maphash.Seed
	byKey map[uint64]V
	order []uint64 // keys, oldest first; a ring of capacity
	next  int
}

func newInterner[V any](capacity int, equal func(a, b V) bool) *interner[V] {
	return &interner[V]{capacity: capacity, equal: equal, seed: maphash.MakeSeed(), byKey: make(map[uint64]V)}
}

// internedCapacity bounds each interner: 16,384 values, a few MB at most,
// of which the values still in the caches are no cost at all.
const internedCapacity = 16384

// mapsInterner interns label and annotation maps.
func mapsInterner(capacity int) *interner[map[string]string] {
	return newInterner(capacity, maps.Equal[map[string]string])
}

// childRefsInterner interns controller references (as one-element
// slices).
func childRefsInterner(capacity int) *interner[[]metav1.OwnerReference] {
	return newInterner(capacity, func(a, b []metav1.OwnerReference) bool { return equality.Semantic.DeepEqual(a, b) })
}

// share returns the value interned under key when it equals v, else
// interns v (unless another value holds the key) and returns v.
func (in *interner[V]) share(key uint64, v V) V {
	in.mu.Lock()
	defer in.mu.Unlock()
	if shared, ok := in.byKey[key]; ok {
		if in.equal(shared, v) {
			return shared
		}
		return v
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
	return in.share(in.hashOf(sortedEntries(m)...), m)
}

// internRef returns a one-element slice holding ref, shared with the
// children that have an equal controller reference.
func internRef(in *interner[[]metav1.OwnerReference], ref metav1.OwnerReference) []metav1.OwnerReference {
	block := ref.BlockOwnerDeletion != nil && *ref.BlockOwnerDeletion
	key := in.hashOf(ref.APIVersion, ref.Kind, ref.Name, string(ref.UID), strconv.FormatBool(block))
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

// hashOf hashes parts, each length-prefixed, so that lists of parts that
// run together differently hash apart.
func (in *interner[V]) hashOf(parts ...string) uint64 {
	var h maphash.Hash
	h.SetSeed(in.seed)
	for _, s := range parts {
		h.WriteString(strconv.Itoa(len(s)))
		h.WriteByte(':')
		h.WriteString(s)
	}
	return h.Sum64()
}
