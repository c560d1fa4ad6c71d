package controller

import (
	"slices"
	"strconv"
	"strings"
	"sync"
)

// mapInterner shares equal label and annotation maps among the trimmed
// children in the caches: a pod, its services and its config map carry the
// same labels, and every service of a scope the same annotation, yet each
// decoded object brings a map of its own (a few hundred bytes even for
// one entry). Cached objects are never mutated (DeepCopy first), so
// sharing a map among them is safe.
//
// It remembers the last capacity maps, first in first out: children of a
// task arrive together, and a map that fell out is only shared no more.
type mapInterner struct {
	mu       sync.Mutex
	capacity int
	byKey    map[string]map[string]string
	order    []string // keys, oldest first; a ring of capacity
	next     int
}

func newMapInterner(capacity int) *mapInterner {
	return &mapInterner{capacity: capacity, byKey: make(map[string]map[string]string, capacity)}
}

// internedMapsCapacity bounds the interner: at a few hundred bytes a map,
// well under a megabyte.
const internedMapsCapacity = 2048

// childMaps interns the label and annotation maps of trimmed children.
var childMaps = newMapInterner(internedMapsCapacity)

// intern returns a map equal to m, shared when an equal one was interned
// recently; nil for an empty map.
func (in *mapInterner) intern(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	key := mapKey(m)
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
	in.byKey[key] = m
	return m
}

// mapKey is m's entries in key order, each key and value length-prefixed
// so no two different maps share a key.
func mapKey(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		for _, s := range []string{k, m[k]} {
			b.WriteString(strconv.Itoa(len(s)))
			b.WriteByte(':')
			b.WriteString(s)
		}
	}
	return b.String()
}
