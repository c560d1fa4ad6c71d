package controller

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kubeinformers "k8s.io/client-go/informers"
	k8sfake "k8s.io/client-go/kubernetes/fake"
	core "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2/ktesting"
	clocktesting "k8s.io/utils/clock/testing"

	"kusciatask.io/controller/examples"
	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/controller/informers"
	"kusciatask.io/controller/pkg/generated/clientset/versioned/fake"
	kusciainformers "kusciatask.io/controller/pkg/generated/informers/externalversions"
	"kusciatask.io/controller/pkg/mark"
	"kusciatask.io/controller/pkg/podgroup"
)

// testMarkKey is the mark key of the fixture's controller.
var testMarkKey = bytes.Repeat([]byte("k"), mark.KeySize)

// t0 is the fixture's starting time, on a whole second as the API stores it.
var t0 = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

// fixture is a controller on fake clientsets whose informer caches are
// filled from the fakes' trackers, never by running informers: each sync
// sees exactly the objects the test put there, trimmed by an
// informers.Trimmer as a running informer would store them.
type fixture struct {
	// conflicts counts the task writes refused for a stale resourceVersion.
	conflicts int
	t         *testing.T
	ctx       context.Context
	kube      *k8sfake.Clientset
	kuscia    *fake.Clientset
	clock     *clocktesting.FakeClock
	recorder  *record.FakeRecorder
	// trimmer trims what the fixture puts in the informer caches.
	trimmer *informers.Trimmer
	c       *Controller
	kubeInf kubeinformers.SharedInformerFactory
	kInf    kusciainformers.SharedInformerFactory
}

// newFixture seeds the fakes with objects (Kuscia and Kubernetes objects
// mixed) and builds a controller over them.
func newFixture(t *testing.T, objects ...runtime.Object) *fixture {
	return newFixtureServing(t, false, objects...)
}

// newFixtureServing is newFixture on an API server that serves podgroups in
// scheduling.k8s.io/v1beta1 when servesPodGroups, as the fake discovery
// says; the controller then uses PodGroups, decided as at start-up
// (--pod-groups=auto).
func newFixtureServing(t *testing.T, servesPodGroups bool, objects ...runtime.Object) *fixture {
	_, ctx := ktesting.NewTestContext(t)
	var kubeObjs, kusciaObjs []runtime.Object
	for _, o := range objects {
		switch o := o.(type) {
		case *kusciav1alpha1.KusciaTask:
			if o.ResourceVersion == "" {
				o.ResourceVersion = "1"
			}
			kusciaObjs = append(kusciaObjs, o)
		case *kusciav1alpha1.AppImage:
			kusciaObjs = append(kusciaObjs, o)
		default:
			kubeObjs = append(kubeObjs, o)
		}
	}
	f := &fixture{
		t:        t,
		ctx:      ctx,
		kube:     k8sfake.NewClientset(kubeObjs...),
		kuscia:   fake.NewClientset(kusciaObjs...),
		clock:    clocktesting.NewFakeClock(t0),
		recorder: record.NewFakeRecorder(100),
		trimmer:  informers.NewTrimmer(),
	}
	f.kuscia.PrependReactor("update", "kusciatasks", f.updateTask)
	f.kubeInf = kubeinformers.NewSharedInformerFactory(f.kube, 0)
	f.kInf = kusciainformers.NewSharedInformerFactory(f.kuscia, 0)
	inf := Informers{
		Tasks:      f.kInf.Kuscia().V1alpha1().KusciaTasks(),
		AppImages:  f.kInf.Kuscia().V1alpha1().AppImages(),
		Namespaces: f.kubeInf.Core().V1().Namespaces(),
		Pods:       f.kubeInf.Core().V1().Pods(),
		Services:   f.kubeInf.Core().V1().Services(),
		ConfigMaps: f.kubeInf.Core().V1().ConfigMaps(),
	}
	if servesPodGroups {
		f.kube.Resources = []*metav1.APIResourceList{{
			GroupVersion: podgroup.Resource.GroupVersion().String(),
			APIResources: []metav1.APIResource{{Name: podgroup.Resource.Resource, Namespaced: true, Kind: "PodGroup"}},
		}}
	}
	use, err := podgroup.Enabled(ctx, podgroup.ModeAuto, f.kube.Discovery())
	require.NoError(t, err)
	if use {
		inf.PodGroups = f.kubeInf.Scheduling().V1beta1().PodGroups()
	}
	// One create at a time, so tests can compare writes in order;
	// concurrent_test.go covers the concurrent batches.
	c, err := NewController(ctx, f.kube, f.kuscia, inf, Options{Clock: f.clock, Recorder: f.recorder, MaxCreateBatch: 1, MarkKey: testMarkKey})
	require.NoError(t, err)
	f.c = c
	f.refresh()
	return f
}

// updateTask stores task updates as the API server does and the fake does
// not: a write with a stale resourceVersion is a Conflict, every write gets
// a new resourceVersion, and a status write changes only the status.
func (f *fixture) updateTask(action core.Action) (bool, runtime.Object, error) {
	update := action.(core.UpdateAction)
	task := update.GetObject().(*kusciav1alpha1.KusciaTask).DeepCopy()
	gvr := kusciav1alpha1.SchemeGroupVersion.WithResource("kusciatasks")
	obj, err := f.kuscia.Tracker().Get(gvr, "", task.Name)
	if err != nil {
		return true, nil, err
	}
	stored := obj.(*kusciav1alpha1.KusciaTask)
	if task.ResourceVersion != stored.ResourceVersion {
		f.conflicts++
		return true, nil, apierrors.NewConflict(gvr.GroupResource(), task.Name, errors.New("the object has been modified"))
	}
	rv, _ := strconv.Atoi(stored.ResourceVersion)
	task.ResourceVersion = strconv.Itoa(rv + 1)
	if action.GetSubresource() == "status" {
		task.Spec = stored.Spec
	} else {
		task.Status = stored.Status
	}
	return true, task, f.kuscia.Tracker().Update(gvr, task, "")
}

// refresh makes the informer caches hold exactly what the fakes hold, as
// running informers would after catching up.
func (f *fixture) refresh() {
	f.t.Helper()
	f.refreshExcept()
}

// refreshExcept refreshes every informer cache but the lagging ones, which
// keep what they had: informers that have not caught up yet.
func (f *fixture) refreshExcept(lagging ...string) {
	f.t.Helper()
	fill := func(inf cache.SharedIndexInformer, tracker core.ObjectTracker, gvr schema.GroupVersionResource, gvk schema.GroupVersionKind) {
		if slices.Contains(lagging, gvr.Resource) {
			return
		}
		list, err := tracker.List(gvr, gvk, "")
		require.NoError(f.t, err)
		items, err := metaList(list)
		require.NoError(f.t, err)
		for i, item := range items {
			// What a running informer stores: the controller's
			// transform of the object the API server sent.
			items[i], err = f.trimmer.Trim(item.(runtime.Object).DeepCopyObject())
			require.NoError(f.t, err)
		}
		require.NoError(f.t, inf.GetIndexer().Replace(items, ""))
	}
	v1 := corev1.SchemeGroupVersion
	k := kusciav1alpha1.SchemeGroupVersion
	fill(f.kubeInf.Core().V1().Pods().Informer(), f.kube.Tracker(), v1.WithResource("pods"), v1.WithKind("Pod"))
	fill(f.kubeInf.Core().V1().Services().Informer(), f.kube.Tracker(), v1.WithResource("services"), v1.WithKind("Service"))
	fill(f.kubeInf.Core().V1().ConfigMaps().Informer(), f.kube.Tracker(), v1.WithResource("configmaps"), v1.WithKind("ConfigMap"))
	fill(f.kubeInf.Core().V1().Namespaces().Informer(), f.kube.Tracker(), v1.WithResource("namespaces"), v1.WithKind("Namespace"))
	fill(f.kInf.Kuscia().V1alpha1().KusciaTasks().Informer(), f.kuscia.Tracker(), k.WithResource("kusciatasks"), k.WithKind("KusciaTask"))
	fill(f.kInf.Kuscia().V1alpha1().AppImages().Informer(), f.kuscia.Tracker(), k.WithResource("appimages"), k.WithKind("AppImage"))
	if f.c != nil && f.c.podGroupIndexer != nil {
		s := podgroup.Resource.GroupVersion()
		fill(f.kubeInf.Scheduling().V1beta1().PodGroups().Informer(), f.kube.Tracker(), podgroup.Resource, s.WithKind("PodGroup"))
	}
}

func metaList(list runtime.Object) ([]any, error) {
	objs, err := apimeta.ExtractList(list)
	if err != nil {
		return nil, err
	}
	out := make([]any, len(objs))
	for i, o := range objs {
		out[i] = o
	}
	return out, nil
}

// sync refreshes the caches, clears recorded actions and syncs the task.
func (f *fixture) sync(name string) (syncResult, error) {
	f.t.Helper()
	f.refresh()
	f.kube.ClearActions()
	f.kuscia.ClearActions()
	return f.c.syncHandler(f.ctx, cache.ObjectName{Name: name})
}

// mustSync syncs and fails the test on an error.
func (f *fixture) mustSync(name string) syncResult {
	f.t.Helper()
	res, err := f.sync(name)
	require.NoError(f.t, err)
	return res
}

// writes are the recorded actions that change something, as
// "verb resource[/subresource] namespace/name".
func (f *fixture) writes() []string {
	var out []string
	for _, a := range append(f.kube.Actions(), f.kuscia.Actions()...) {
		switch a.GetVerb() {
		case "get", "list", "watch":
			continue
		}
		out = append(out, describeAction(a))
	}
	return out
}

func describeAction(a core.Action) string {
	res := a.GetResource().Resource
	if sub := a.GetSubresource(); sub != "" {
		res += "/" + sub
	}
	name := ""
	switch act := a.(type) {
	case core.CreateAction:
		if m, err := apimeta.Accessor(act.GetObject()); err == nil {
			name = m.GetName()
		}
	case core.UpdateAction:
		if m, err := apimeta.Accessor(act.GetObject()); err == nil {
			name = m.GetName()
		}
	case core.DeleteAction:
		name = act.GetName()
	case core.PatchAction:
		name = act.GetName()
	}
	return strings.TrimSpace(a.GetVerb() + " " + res + " " + a.GetNamespace() + "/" + name)
}

// task returns the task as stored in the fake.
func (f *fixture) task(name string) *kusciav1alpha1.KusciaTask {
	f.t.Helper()
	task, err := f.kuscia.KusciaV1alpha1().KusciaTasks().Get(f.ctx, name, metav1.GetOptions{})
	require.NoError(f.t, err)
	return task
}

// pods returns the pods stored in the fake, by "namespace/name".
func (f *fixture) pods() map[string]*corev1.Pod {
	f.t.Helper()
	list, err := f.kube.CoreV1().Pods("").List(f.ctx, metav1.ListOptions{})
	require.NoError(f.t, err)
	out := map[string]*corev1.Pod{}
	for i := range list.Items {
		out[list.Items[i].Namespace+"/"+list.Items[i].Name] = &list.Items[i]
	}
	return out
}

// startRunning takes a fresh task through its first syncs with every pod
// bound, to Running.
func (f *fixture) startRunning(name string) {
	f.t.Helper()
	f.mustSync(name)
	f.updatePods(bind("node-0"))
	f.mustSync(name)
	require.Equal(f.t, kusciav1alpha1.TaskRunning, f.task(name).Status.Phase)
}

// updatePods changes the stored pods, as a scheduler or kubelet would.
func (f *fixture) updatePods(mutate func(p *corev1.Pod)) {
	f.t.Helper()
	for _, p := range f.pods() {
		p = p.DeepCopy()
		mutate(p)
		_, err := f.kube.CoreV1().Pods(p.Namespace).UpdateStatus(f.ctx, p, metav1.UpdateOptions{})
		require.NoError(f.t, err)
	}
}

// updatePod changes one stored pod.
func (f *fixture) updatePod(key string, mutate func(p *corev1.Pod)) {
	f.t.Helper()
	p, ok := f.pods()[key]
	require.True(f.t, ok, "pod %s not found", key)
	mutate(p)
	_, err := f.kube.CoreV1().Pods(p.Namespace).UpdateStatus(f.ctx, p, metav1.UpdateOptions{})
	require.NoError(f.t, err)
}

// events drains the recorded events.
func (f *fixture) events() []string {
	var out []string
	for {
		select {
		case e := <-f.recorder.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

// seedTask loads an example task as the API server stores it.
func seedTask(t testing.TB, file string) *kusciav1alpha1.KusciaTask {
	t.Helper()
	task, err := examples.Task(file)
	require.NoError(t, err)
	return task
}

// appImage loads an example AppImage.
func appImage(t testing.TB, file string) *kusciav1alpha1.AppImage {
	t.Helper()
	img, err := examples.AppImage(file)
	require.NoError(t, err)
	return img
}

func domain(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: name, Labels: map[string]string{kusciav1alpha1.LabelDomain: name},
	}}
}

// psiObjects are the seed's PSI task with its AppImage and domains.
func psiObjects(t *testing.T) []runtime.Object {
	return []runtime.Object{
		seedTask(t, "secretflow-task-psi.yaml"),
		appImage(t, examples.SecretflowImageFile),
		domain("alice"), domain("bob"),
	}
}

// Pod state changes, as kube-scheduler and a kubelet would make them.
func bind(node string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Spec.NodeName = node
		p.Status.Phase = corev1.PodPending
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}}
	}
}

func runPod(p *corev1.Pod) {
	if p.Spec.NodeName == "" {
		p.Spec.NodeName = "node-0"
	}
	p.Status.Phase = corev1.PodRunning
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(t0)}}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: p.Spec.Containers[0].Name, State: corev1.ContainerState{
		Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(t0)},
	}}}
}

func succeedPod(p *corev1.Pod) {
	runPod(p)
	p.Status.Phase = corev1.PodSucceeded
	p.Status.ContainerStatuses[0].State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed"}}
}

func failPod(msg string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		runPod(p)
		p.Status.Phase = corev1.PodFailed
		p.Status.ContainerStatuses[0].State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 1, Reason: "Error", Message: msg,
		}}
	}
}

func waitPod(reason string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		runPod(p)
		p.Status.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}
	}
}

func unschedulable(msg string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Spec.NodeName = ""
		p.Status.Phase = corev1.PodPending
		p.Status.Conditions = []corev1.PodCondition{{
			Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable", Message: msg,
		}}
	}
}

func keyOf(name string) cache.ObjectName { return cache.ObjectName{Name: name} }
