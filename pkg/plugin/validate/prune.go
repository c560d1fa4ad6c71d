package validate

// This file holds how validate gets past a value the typed API cannot hold
// (a quantity "2 cores", a string where a list goes): the CRD's schema
// names each such field by its path, the field is taken out of the
// document, and the rest is decoded and checked as usual, so one bad value
// does not hide the task's other problems.

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// decodePruned decodes a document after taking out, deepest first, the
// fields the schema found invalid, until what remains decodes. It returns
// the object, the problems of its strict decoding (unknown fields) and the
// errors of the fields taken out; the error is what still does not decode.
func decodePruned(doc document, errs field.ErrorList) (runtime.Object, []error, field.ErrorList, error) {
	obj, err := unstructuredDocument(doc)
	if err != nil {
		return nil, nil, nil, err
	}
	deepestFirst := slices.Clone(errs)
	slices.SortStableFunc(deepestFirst, func(a, b *field.Error) int {
		return len(parseFieldPath(b.Field)) - len(parseFieldPath(a.Field))
	})
	var removed field.ErrorList
	for _, e := range deepestFirst {
		if !removeField(obj, parseFieldPath(e.Field)) {
			continue
		}
		removed = append(removed, e)
		data, err := json.Marshal(obj)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("encode the document without %s: %w", e.Field, err)
		}
		decoded, strict, err := decodeStrict(data)
		if err == nil {
			return decoded, strict, removed, nil
		}
	}
	return nil, nil, nil, fmt.Errorf("%s: no field the schema names explains why it does not decode", doc.where)
}

// parseFieldPath splits a field path as field.Path prints it
// ("spec.parties[0].template.labels[app.kubernetes.io/name]") into its
// steps: names, list indexes and map keys, each a string.
func parseFieldPath(path string) []string {
	var steps []string
	for path != "" {
		switch path[0] {
		case '.':
			path = path[1:]
		case '[':
			end := strings.IndexByte(path, ']')
			if end < 0 {
				return append(steps, path[1:])
			}
			steps = append(steps, path[1:end])
			path = path[end+1:]
		default:
			end := strings.IndexAny(path, ".[")
			if end < 0 {
				end = len(path)
			}
			steps = append(steps, path[:end])
			path = path[end:]
		}
	}
	return steps
}

// removeField takes the field at steps out of obj: a map entry is
// deleted, a list item becomes null (the indexes of the others stay). It
// says whether there was one; the document itself (no steps) is never
// taken out.
func removeField(obj any, steps []string) bool {
	if len(steps) == 0 {
		return false
	}
	for i, step := range steps {
		last := i == len(steps)-1
		switch o := obj.(type) {
		case map[string]any:
			v, ok := o[step]
			if !ok {
				return false
			}
			if last {
				delete(o, step)
				return true
			}
			obj = v
		case []any:
			n, err := strconv.Atoi(step)
			if err != nil || n < 0 || n >= len(o) {
				return false
			}
			if last {
				o[n] = nil
				return true
			}
			obj = o[n]
		default:
			return false
		}
	}
	return false
}
