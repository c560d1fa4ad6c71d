// The indexes the controller adds to its informers.

package informers

import (
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// Index names.
const (
	// IndexByTaskUID indexes children by the task UID label they carry.
	IndexByTaskUID = "byTaskUID"
	// IndexByAppImage indexes tasks by the AppImages their parties use.
	IndexByAppImage = "byAppImage"
	// IndexByDomain indexes tasks by their parties' domains (namespaces).
	IndexByDomain = "byDomain"
)

// ChildIndexers are the indexes of a child informer (pods, services,
// config maps, PodGroups): by task UID, so a task's children are found
// without scanning other tasks' objects or other namespaces.
func ChildIndexers() cache.Indexers {
	return cache.Indexers{IndexByTaskUID: taskUIDOf}
}

// TaskIndexers are the indexes of the task informer: by AppImage and by
// domain, so an AppImage or namespace event finds the tasks it concerns.
func TaskIndexers() cache.Indexers {
	return cache.Indexers{
		IndexByAppImage: byParty(func(p kusciav1alpha1.PartyInfo) string { return p.AppImageRef }),
		IndexByDomain:   byParty(func(p kusciav1alpha1.PartyInfo) string { return p.DomainID }),
	}
}

func taskUIDOf(obj any) ([]string, error) {
	m, err := MetaOf(obj)
	if err != nil {
		return nil, err
	}
	if uid, ok := m.GetLabels()[kusciav1alpha1.LabelTaskUID]; ok {
		return []string{uid}, nil
	}
	return nil, nil
}

// byParty makes a task indexer from one string field of each party. Only
// unfinished tasks are indexed: an AppImage or namespace change concerns
// no finished task, and an event must cost the same however many tasks
// have finished.
func byParty(field func(kusciav1alpha1.PartyInfo) string) cache.IndexFunc {
	return func(obj any) ([]string, error) {
		task, ok := obj.(*kusciav1alpha1.KusciaTask)
		if !ok || task.Status.Phase.IsTerminal() {
			return nil, nil
		}
		values := make([]string, 0, len(task.Spec.Parties))
		for _, p := range task.Spec.Parties {
			values = append(values, field(p))
		}
		return values, nil
	}
}

// MetaOf is the metadata of an object an informer hands out, tombstones
// unwrapped.
func MetaOf(obj any) (metav1.Object, error) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	return apimeta.Accessor(obj)
}
