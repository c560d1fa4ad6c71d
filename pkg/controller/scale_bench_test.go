package controller

import (
	"encoding/json"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	apiruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
	"kusciatask.io/controller/pkg/controller/informers"
)

// finishedTask is one Succeeded seed PSI task and its children as the API
// server returns them: managed fields of each writer, kubectl's
// last-applied copy on the task, what the kubelet and the service
// controller fill in. Copies of it, renamed, fill the caches of the scale
// benchmarks.
type finishedTask struct {
	task     *kusciav1alpha1.KusciaTask
	children []apiruntime.Object // pods, services, config maps
}

// newFinishedTask runs the seed PSI task to Succeeded on the fixture and
// dresses what it stored.
func newFinishedTask(b *testing.B) finishedTask {
	t := &testing.T{}
	f := newFixture(t, psiObjects(t)...)
	f.startRunning(psi)
	f.updatePods(succeedPod)
	f.mustSync(psi)
	task := f.task(psi)
	if task.Status.Phase != kusciav1alpha1.TaskSucceeded {
		b.Fatalf("the seed task is %s, not Succeeded", task.Status.Phase)
	}
	spec, err := json.Marshal(task.Spec)
	if err != nil {
		b.Fatal(err)
	}
	task.Annotations = map[string]string{corev1.LastAppliedConfigAnnotation: `{"apiVersion":"kuscia.secretflow/v1alpha1","kind":"KusciaTask","metadata":{"name":"` + task.Name + `"},"spec":` + string(spec) + `}`}
	task.ManagedFields = []metav1.ManagedFieldsEntry{
		managedEntry(b, "kubectl-client-side-apply", "", map[string]any{"metadata": task.ObjectMeta, "spec": task.Spec}),
		managedEntry(b, ControllerName, "status", map[string]any{"status": task.Status}),
	}
	out := finishedTask{task: task}
	for _, p := range f.pods() {
		p.Status.HostIP, p.Status.PodIP, p.Status.QOSClass = "10.0.0.7", "10.1.0.7", corev1.PodQOSBurstable
		p.Status.HostIPs, p.Status.PodIPs = []corev1.HostIP{{IP: "10.0.0.7"}}, []corev1.PodIP{{IP: "10.1.0.7"}}
		for i := range p.Status.ContainerStatuses {
			cs := &p.Status.ContainerStatuses[i]
			cs.Image, cs.ImageID = p.Spec.Containers[0].Image, "docker.io/"+p.Spec.Containers[0].Image+"@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
			cs.ContainerID = "containerd://0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
		}
		p.ManagedFields = []metav1.ManagedFieldsEntry{
			managedEntry(b, ControllerName, "", map[string]any{"metadata": p.ObjectMeta, "spec": p.Spec}),
			managedEntry(b, "kubelet", "status", map[string]any{"status": p.Status}),
		}
		out.children = append(out.children, p)
	}
	svcs, err := f.kube.CoreV1().Services("").List(f.ctx, metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	for i := range svcs.Items {
		s := &svcs.Items[i]
		s.Spec.ClusterIPs, s.Spec.IPFamilies = []string{"None"}, []corev1.IPFamily{corev1.IPv4Protocol}
		s.ManagedFields = []metav1.ManagedFieldsEntry{managedEntry(b, ControllerName, "", map[string]any{"metadata": s.ObjectMeta, "spec": s.Spec})}
		out.children = append(out.children, s)
	}
	cms, err := f.kube.CoreV1().ConfigMaps("").List(f.ctx, metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	for i := range cms.Items {
		c := &cms.Items[i]
		c.ManagedFields = []metav1.ManagedFieldsEntry{managedEntry(b, ControllerName, "", map[string]any{"metadata": c.ObjectMeta, "data": c.Data})}
		out.children = append(out.children, c)
	}
	return out
}

// managedEntry is a managed fields entry of manager over the fields of v,
// in the API server's fieldsV1 shape ("f:name" for each field, "i:N" for
// list items): about the size the API server stores.
func managedEntry(b *testing.B, manager, subresource string, v any) metav1.ManagedFieldsEntry {
	raw, err := json.Marshal(v)
	if err != nil {
		b.Fatal(err)
	}
	var tree any
	if err := json.Unmarshal(raw, &tree); err != nil {
		b.Fatal(err)
	}
	fields, err := json.Marshal(fieldSet(tree))
	if err != nil {
		b.Fatal(err)
	}
	now := metav1.NewTime(t0)
	return metav1.ManagedFieldsEntry{Manager: manager, Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1",
		Time: &now, FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: fields}, Subresource: subresource}
}

func fieldSet(v any) map[string]any {
	out := map[string]any{}
	switch v := v.(type) {
	case map[string]any:
		out["."] = map[string]any{}
		for k, x := range v {
			out["f:"+k] = fieldSet(x)
		}
	case []any:
		for i, x := range v {
			out["i:"+strconv.Itoa(i)] = fieldSet(x)
		}
	}
	return out
}

// copyN is the i-th copy of the finished task: another name and UID, its
// children renamed and owned by it.
func (ft finishedTask) copyN(i int) (*kusciav1alpha1.KusciaTask, []apiruntime.Object) {
	task := ft.task.DeepCopy()
	task.Name = fmt.Sprintf("done-%05d", i)
	task.UID = types.UID(fmt.Sprintf("00000000-0000-0000-0000-%012d", i))
	task.ResourceVersion = strconv.Itoa(1000 + i)
	children := make([]apiruntime.Object, len(ft.children))
	for j, c := range ft.children {
		obj := c.DeepCopyObject()
		m := obj.(metav1.Object)
		m.SetName(fmt.Sprintf("%s-%d", task.Name, j))
		m.SetUID(types.UID(fmt.Sprintf("%s-%d", task.UID, j)))
		m.SetResourceVersion(strconv.Itoa(100000 + 20*i + j))
		labels := map[string]string{}
		for k, v := range m.GetLabels() {
			labels[k] = v
		}
		labels[kusciav1alpha1.LabelTaskUID] = string(task.UID)
		labels[kusciav1alpha1.LabelTask] = task.Name
		m.SetLabels(labels)
		owners := m.GetOwnerReferences()
		for k := range owners {
			owners[k].UID, owners[k].Name = task.UID, task.Name
		}
		children[j] = decoded(obj)
	}
	return decoded(task).(*kusciav1alpha1.KusciaTask), children
}

// decoded is obj encoded and decoded again, as an informer receives it:
// every string and map its own allocation, none shared with the prototype.
func decoded(obj apiruntime.Object) apiruntime.Object {
	raw, err := json.Marshal(obj)
	if err != nil {
		panic(err)
	}
	out := obj.DeepCopyObject()
	reflect.ValueOf(out).Elem().SetZero()
	if err := json.Unmarshal(raw, out); err != nil {
		panic(err)
	}
	return out
}

// fill adds n copies of the finished task to the controller's caches, each
// object through transform first (as an informer stores it). With kinds,
// only children of those kinds are added.
func (ft finishedTask) fill(b *testing.B, c *Controller, n int, transform cache.TransformFunc, kinds ...string) {
	indexers := map[string]cache.Indexer{kindPod: c.podIndexer, kindService: c.serviceIndexer, kindConfigMap: c.configMapIndexer}
	store := func(indexer cache.Indexer, obj any) {
		obj, err := transform(obj)
		if err == nil {
			err = indexer.Add(obj)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	for i := range n {
		task, children := ft.copyN(i)
		store(c.taskIndexer, task)
		c.phases.Move(nil, task)
		for _, child := range children {
			kind := builder.KindOf(child.(metav1.Object))
			if len(kinds) == 0 || slices.Contains(kinds, kind) {
				store(indexers[kind], child)
			}
		}
	}
}

func whole(obj any) (any, error) { return obj, nil }

// BenchmarkSyncAtScale syncs one running task while the caches hold 100 or
// 10,000 finished tasks with their children (trimmed, as the controller's
// informers store them), and reports µs per sync; the two must be about
// the same: no sync, event or scrape does work proportional to all tasks.
// It also times the namespace event (every running task of the domain is
// enqueued, none of the finished) and a scrape of kusciatask_tasks.
func BenchmarkSyncAtScale(b *testing.B) {
	ft := newFinishedTask(b)
	for _, n := range []int{100, 10000} {
		f := newFixture(&testing.T{}, psiObjects(&testing.T{})...)
		f.startRunning(psi)
		f.updatePods(runPod)
		f.mustSync(psi)
		ft.fill(b, f.c, n, f.trimmer.Trim)
		runtime.GC() // the fill's garbage is no part of a sync's cost
		f.kube.ClearActions()
		f.kuscia.ClearActions()
		b.Run(fmt.Sprintf("sync/finished=%d", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := f.c.syncHandler(f.ctx, keyOf(psi)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/sync")
			if w := f.writes(); len(w) != 0 {
				b.Fatalf("a steady sync wrote: %v", w)
			}
		})
		ns := domain("alice")
		newer := ns.DeepCopy()
		newer.ResourceVersion = "2"
		b.Run(fmt.Sprintf("namespace-event/finished=%d", n), func(b *testing.B) {
			for b.Loop() {
				f.c.enqueueReferrersIfChanged(informers.IndexByDomain, ns, newer)
			}
			if got := queued(f.c); len(got) != 1 || got[0] != psi {
				b.Fatalf("queued %v, want only the running task", got)
			}
		})
		reg := prometheus.NewRegistry()
		f.c.RegisterTaskPhaseCollector(reg)
		b.Run(fmt.Sprintf("scrape/finished=%d", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := reg.Gather(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMemoryPerFinishedTask reports the heap a finished task (the
// seed PSI task: 2 pods, 6 services, 2 config maps) holds in the
// controller's caches, whole as the API server sends it and trimmed by
// informers.Trimmer, measured in one run: the live heap after a GC with 1,000
// of them cached, less the live heap before. The kinds rows say how much
// of the trimmed figure each kind of object is, to weigh deleting services
// and config maps when a task finishes.
func BenchmarkMemoryPerFinishedTask(b *testing.B) {
	const n = 1000
	ft := newFinishedTask(b)
	measure := func(fill func(c *Controller)) float64 {
		f := newFixture(&testing.T{}, psiObjects(&testing.T{})...)
		before := liveHeap()
		fill(f.c)
		after := liveHeap()
		runtime.KeepAlive(f)
		return float64(after-before) / n
	}
	for b.Loop() {
		wholeB := measure(func(c *Controller) { ft.fill(b, c, n, whole) })
		trimmedB := measure(func(c *Controller) { ft.fill(b, c, n, informers.NewTrimmer().Trim) })
		taskOnly := measure(func(c *Controller) { ft.fill(b, c, n, informers.NewTrimmer().Trim, "none") })
		withPods := measure(func(c *Controller) { ft.fill(b, c, n, informers.NewTrimmer().Trim, kindPod) })
		b.ReportMetric(wholeB, "B/task-whole")
		b.ReportMetric(trimmedB, "B/task-trimmed")
		b.ReportMetric(taskOnly, "B/task-trimmed-task-only")
		b.ReportMetric(withPods-taskOnly, "B/task-trimmed-pods")
		b.ReportMetric(trimmedB-withPods, "B/task-trimmed-services+configmaps")
	}
}

// liveHeap is the heap in use after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
