package informers

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	schedulingv1beta1 "k8s.io/api/scheduling/v1beta1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"kusciatask.io/controller/examples"
	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
	"kusciatask.io/controller/pkg/gate"
	"kusciatask.io/controller/pkg/gate/gatepod"
	"kusciatask.io/controller/pkg/podgroup"
	"kusciatask.io/controller/pkg/podstate"
	"kusciatask.io/controller/pkg/status"
)

// asServed dresses an object the way the API server returns it: managed
// fields, kubectl's last-applied copy and a finalizer.
func asServed(m metav1.Object) {
	m.SetManagedFields([]metav1.ManagedFieldsEntry{{
		Manager: "kubectl-client-side-apply", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1",
		FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{"f:labels":{}}}`)},
	}})
	a := map[string]string{}
	for k, v := range m.GetAnnotations() {
		a[k] = v
	}
	a[lastAppliedAnnotation] = `{"apiVersion":"v1","kind":"Whatever","metadata":{}}`
	m.SetAnnotations(a)
	m.SetFinalizers([]string{"example.com/keep"})
	labels := map[string]string{"team": "psi"}
	for k, v := range m.GetLabels() {
		labels[k] = v
	}
	m.SetLabels(labels)
	m.SetOwnerReferences(append(m.GetOwnerReferences(), metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: "other", UID: "other-uid"}))
}

// trim applies testTrimmer and checks it is idempotent.
func trim[T runtime.Object](t *testing.T, obj T) T {
	t.Helper()
	out, err := testTrimmer.Trim(obj.DeepCopyObject())
	require.NoError(t, err)
	again, err := testTrimmer.Trim(out.(runtime.Object).DeepCopyObject())
	require.NoError(t, err)
	assert.Equal(t, out, again, "trimming twice is trimming once")
	return out.(T)
}

// assertMetaTrimmed checks what an object of a kind the controller does
// not create (task, AppImage, namespace) loses and keeps of its metadata:
// managed fields and kubectl's copy go, every other label and annotation
// stays.
func assertMetaTrimmed(t *testing.T, full, trimmed metav1.Object) {
	t.Helper()
	want := map[string]string{}
	for k, v := range full.GetAnnotations() {
		if k != lastAppliedAnnotation {
			want[k] = v
		}
	}
	if len(want) == 0 {
		want = nil
	}
	assert.Equal(t, want, trimmed.GetAnnotations(), "every other annotation is kept")
	assert.Equal(t, full.GetLabels(), trimmed.GetLabels())
	assert.Equal(t, full.GetOwnerReferences(), trimmed.GetOwnerReferences())
	assertIdentityKept(t, full, trimmed)
}

// assertChildMetaTrimmed checks what a child keeps of its metadata: the
// labels and annotations the controller reads, its controller reference.
func assertChildMetaTrimmed(t *testing.T, full, trimmed metav1.Object) {
	t.Helper()
	assert.Equal(t, pick(full.GetLabels(), childLabels), trimmed.GetLabels())
	assert.Equal(t, pick(full.GetAnnotations(), childAnnotations), trimmed.GetAnnotations())
	assert.Nil(t, trimmed.GetFinalizers())
	if ref := metav1.GetControllerOf(full); ref != nil {
		assert.Equal(t, []metav1.OwnerReference{*ref}, trimmed.GetOwnerReferences(), "the controller reference, and only it")
		assert.True(t, metav1.IsControlledBy(trimmed, &metav1.ObjectMeta{UID: ref.UID}))
	} else {
		assert.Empty(t, trimmed.GetOwnerReferences())
	}
	assertIdentityKept(t, full, trimmed)
}

func assertIdentityKept(t *testing.T, full, trimmed metav1.Object) {
	t.Helper()
	assert.Nil(t, trimmed.GetManagedFields())
	assert.NotContains(t, trimmed.GetAnnotations(), lastAppliedAnnotation)
	for what, pair := range map[string][2]any{
		"name":              {full.GetName(), trimmed.GetName()},
		"namespace":         {full.GetNamespace(), trimmed.GetNamespace()},
		"uid":               {full.GetUID(), trimmed.GetUID()},
		"resourceVersion":   {full.GetResourceVersion(), trimmed.GetResourceVersion()},
		"creationTimestamp": {full.GetCreationTimestamp(), trimmed.GetCreationTimestamp()},
		"deletionTimestamp": {full.GetDeletionTimestamp(), trimmed.GetDeletionTimestamp()},
	} {
		assert.Equal(t, pair[0], pair[1], what)
	}
}

// podStates are pods in every state podstate tells apart, with the fields
// a kubelet fills that the controller never reads.
func podStates(base *corev1.Pod) map[string]*corev1.Pod {
	kubelet := func(p *corev1.Pod) {
		p.Status.HostIP, p.Status.PodIP, p.Status.QOSClass = "10.0.0.1", "10.1.0.1", corev1.PodQOSBurstable
		for i := range p.Status.ContainerStatuses {
			cs := &p.Status.ContainerStatuses[i]
			cs.Image, cs.ImageID, cs.ContainerID = "img:1", "sha256:abc", "containerd://0123"
			cs.RestartCount, cs.Ready = 3, true
		}
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: corev1.PodInitialized, Status: corev1.ConditionTrue})
	}
	with := func(mutations ...func(*corev1.Pod)) *corev1.Pod {
		p := base.DeepCopy()
		for _, m := range mutations {
			m(p)
		}
		kubelet(p)
		asServed(p)
		return p
	}
	stuck := func(p *corev1.Pod) {
		p.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "gate", State: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed", ContainerID: "containerd://1"}}}}
		p.Status.ContainerStatuses[0].LastTerminationState = corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "OOMKilled", Message: "killed"}}
	}
	deleting := func(p *corev1.Pod) {
		now := metav1.NewTime(t0)
		p.DeletionTimestamp = &now
	}
	evicted := func(p *corev1.Pod) {
		p.Status.Reason, p.Status.Message = "Evicted", "The node was low on resource: memory."
	}
	gateDone := func(p *corev1.Pod) {
		p.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "kuscia-gate", State: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed"}}}}
	}
	readyEnded := func(p *corev1.Pod) {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "PodCompleted"}}
	}
	return map[string]*corev1.Pod{
		"succeeded, as a kubelet ends it": with(succeedPod, gateDone, readyEnded),
		"failed, as a kubelet ends it":    with(failPod("boom"), gateDone, readyEnded),
		"created":                         with(),
		"unschedulable":                   with(unschedulable("0/3 nodes are available: 3 Insufficient cpu.")),
		"bound":                           with(bound("node-0")),
		"running":                         with(runPod),
		"succeeded":                       with(succeedPod),
		"failed":                          with(failPod("out of\nmemory")),
		"evicted":                         with(failPod("x"), evicted),
		"stuck":                           with(waitPod("CrashLoopBackOff"), stuck),
		"deleting":                        with(runPod, deleting),
	}
}

func TestTrimmedPodKeepsWhatTheControllerReads(t *testing.T) {
	task, pods, svcs, _ := builtChildren(t)
	require.NotEmpty(t, pods[0].Spec.Containers, "a built pod has a spec worth dropping")
	for name, full := range podStates(pods[0]) {
		t.Run(name, func(t *testing.T) {
			trimmed := trim(t, full)
			assertChildMetaTrimmed(t, full, trimmed)
			assert.Equal(t, podstate.Of(full), podstate.Of(trimmed), "the classifier reads the same pod")
			for _, a := range []string{gate.Annotation, builder.AnnotationRound, builder.AnnotationSpecHash, builder.AnnotationPartyReplicas} {
				assert.Equal(t, full.Annotations[a], trimmed.Annotations[a], a)
			}
			assert.Equal(t, full.Spec.NodeName, trimmed.Spec.NodeName)

			// The status computed from trimmed pods is the status computed
			// from whole ones.
			roster, err := builder.StartedRoster(task, []*corev1.Pod{full})
			require.NoError(t, err)
			in := status.Input{Task: task, Roster: roster, Pods: []*corev1.Pod{full}, Services: svcs, Now: t0}
			want := status.Running(in)
			in.Pods = []*corev1.Pod{trimmed}
			in.Services = nil
			for _, s := range svcs {
				in.Services = append(in.Services, trim(t, s))
			}
			got := status.Running(in)
			assert.Equal(t, want.Status, got.Status)

			assert.Empty(t, trimmed.Spec.Containers, "containers go")
			assert.Empty(t, trimmed.Spec.Volumes, "volumes go")
			assert.Empty(t, trimmed.Status.PodIP)
			assert.Empty(t, trimmed.Status.QOSClass)
			for _, cs := range append(trimmed.Status.ContainerStatuses, trimmed.Status.InitContainerStatuses...) {
				assert.Empty(t, cs.Image+cs.ImageID+cs.ContainerID, "container identities go")
				if term := cs.State.Terminated; term != nil {
					assert.Empty(t, term.ContainerID)
				}
			}
			for _, c := range trimmed.Status.Conditions {
				assert.Contains(t, []corev1.PodConditionType{corev1.PodScheduled, corev1.PodReady}, c.Type)
			}
			if phase := full.Status.Phase; phase == corev1.PodSucceeded || phase == corev1.PodFailed {
				for _, c := range trimmed.Status.Conditions {
					assert.Equal(t, corev1.ConditionTrue, c.Status, "a terminated pod keeps a Ready=True only")
				}
			}
			if full.Status.Phase == corev1.PodSucceeded {
				assert.Nil(t, trimmed.Status.InitContainerStatuses, "a succeeded pod's init containers go")
			}
		})
	}
}

func TestTrimmedServicesAndConfigMapsKeepTheirMetadata(t *testing.T) {
	_, _, svcs, cms := builtChildren(t)
	for _, full := range svcs {
		full = full.DeepCopy()
		asServed(full)
		full.Spec.ClusterIP, full.Spec.Selector = "None", map[string]string{"a": "b"}
		trimmed := trim(t, full)
		assertChildMetaTrimmed(t, full, trimmed)
		require.Len(t, trimmed.Spec.Ports, len(full.Spec.Ports))
		for i, p := range full.Spec.Ports {
			assert.Equal(t, corev1.ServicePort{Name: p.Name, Port: p.Port}, trimmed.Spec.Ports[i])
		}
		assert.Empty(t, trimmed.Spec.ClusterIP)
		assert.Nil(t, trimmed.Spec.Selector)
		assert.Equal(t, full.Annotations[builder.AnnotationPortScope], trimmed.Annotations[builder.AnnotationPortScope])
	}
	for _, full := range cms {
		full = full.DeepCopy()
		asServed(full)
		require.NotEmpty(t, full.Data, "a built config map carries its rendered files")
		full.BinaryData = map[string][]byte{"x": {1}}
		trimmed := trim(t, full)
		assertChildMetaTrimmed(t, full, trimmed)
		assert.Nil(t, trimmed.Data, "the rendered data goes")
		assert.Nil(t, trimmed.BinaryData)
		assert.Nil(t, trimmed.Finalizers)
	}
}

func TestTrimmedPodGroupNamespaceAndAppImage(t *testing.T) {
	pg := &schedulingv1beta1.PodGroup{
		ObjectMeta: metav1.ObjectMeta{Name: "g", Namespace: "alice", Labels: map[string]string{kusciav1alpha1.LabelParty: "alice"}},
		Status: schedulingv1beta1.PodGroupStatus{Conditions: []metav1.Condition{{
			Type: schedulingv1beta1.PodGroupInitiallyScheduled, Status: metav1.ConditionFalse, Reason: "Unschedulable", Message: "no room",
		}}},
	}
	asServed(pg)
	trimmedPG := trim(t, pg)
	assertChildMetaTrimmed(t, pg, trimmedPG)
	assert.Equal(t, podgroup.NotScheduledByParty([]*schedulingv1beta1.PodGroup{pg}), podgroup.NotScheduledByParty([]*schedulingv1beta1.PodGroup{trimmedPG}))

	ns := domain("alice")
	ns.Labels["pod-security.kubernetes.io/enforce"] = "restricted"
	ns.Spec.Finalizers = []corev1.FinalizerName{corev1.FinalizerKubernetes}
	asServed(ns)
	trimmedNS := trim(t, ns)
	assertMetaTrimmed(t, ns, trimmedNS)
	assert.Empty(t, trimmedNS.Spec.Finalizers)

	img, err := examples.AppImage(examples.SecretflowImageFile)
	require.NoError(t, err)
	asServed(img)
	trimmedImg := trim(t, img)
	assertMetaTrimmed(t, img, trimmedImg)
	assert.Equal(t, img.Spec, trimmedImg.Spec, "the builder reads all of an AppImage's spec")
}

func TestTrimmedTaskDropsTheInputOfAFinishedTaskOnly(t *testing.T) {
	task := psiTask(t)
	require.NotEmpty(t, task.Spec.TaskInputConfig)
	task.Annotations = map[string]string{"team": "psi"}
	asServed(task)
	task.Status.Phase = kusciav1alpha1.TaskRunning
	task.Status.PodStatuses = map[string]*kusciav1alpha1.PodStatus{"alice/p": {PodName: "p", Namespace: "alice"}}
	task.Status.ServiceStatuses = map[string]*kusciav1alpha1.ServiceStatus{"alice/s": {ServiceName: "s", Namespace: "alice"}}
	task.Status.Reason, task.Status.Message = "Why", "what happened"

	running := trim(t, task)
	assertMetaTrimmed(t, task, running)
	assert.Equal(t, task.Spec, running.Spec, "an unfinished task keeps its spec: a new round renders it again")
	assert.Equal(t, task.Status, running.Status)

	for _, phase := range []kusciav1alpha1.KusciaTaskPhase{kusciav1alpha1.TaskSucceeded, kusciav1alpha1.TaskFailed} {
		task.Status.Phase = phase
		done := trim(t, task)
		assert.Empty(t, done.Spec.TaskInputConfig, phase)
		want := task.Spec.DeepCopy()
		want.TaskInputConfig = ""
		assert.Equal(t, *want, done.Spec, "the rest of the spec stays (parties feed the indexes and events)")
		wantStatus := task.Status.DeepCopy()
		wantStatus.PodStatuses, wantStatus.ServiceStatuses = nil, nil
		assert.Equal(t, *wantStatus, done.Status, "a finished task keeps its status but its pods' and services' reports")
	}
}

func TestTrimPassesOtherObjectsThrough(t *testing.T) {
	secret := &corev1.Secret{Data: map[string][]byte{"k": []byte("v")}}
	out, err := testTrimmer.Trim(secret)
	require.NoError(t, err)
	assert.Same(t, secret, out)
	q := resource.MustParse("1")
	out, err = testTrimmer.Trim(q)
	require.NoError(t, err)
	assert.Equal(t, q, out)
}

// TestTrimmedPullingPodKeepsItsReservationImages: of a pending pod that
// pulls during its reservation the trim keeps the name and image of each
// init container up to the gate, so podstate tells the same story (which
// image it pulls) from the cache; a running pod, and a pod gated the old way,
// keep none.
func TestTrimmedPullingPodKeepsItsReservationImages(t *testing.T) {
	_, pods, _, _ := builtChildren(t)
	full := pods[0].DeepCopy()
	full.Spec.Containers = append(full.Spec.Containers, corev1.Container{Name: "side", Image: "side:1"})
	require.NoError(t, gatepod.AddTo(full, gatepod.Options{Image: "gate:v1", Deadline: t0.Add(time.Hour), PullImages: true}))
	full.Spec.NodeName = "node-0"
	full.Status.Phase = corev1.PodPending
	full.Status.InitContainerStatuses = []corev1.ContainerStatus{
		{Name: gate.InstallContainerName, Image: "gate:v1", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed"}}},
		{Name: "kuscia-pull-1", Image: "side:1", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed"}}},
		{Name: gate.ContainerName, Image: full.Spec.Containers[0].Image, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
			Reason: "ImagePullBackOff", Message: "Back-off pulling image"}}},
	}

	trimmed := trim(t, full)
	assert.Equal(t, []corev1.Container{
		{Name: gate.InstallContainerName, Image: "gate:v1"},
		{Name: "kuscia-pull-1", Image: "side:1"},
		{Name: gate.ContainerName, Image: full.Spec.Containers[0].Image},
	}, trimmed.Spec.InitContainers)
	assert.Equal(t, podstate.Pulling, podstate.Of(trimmed).Phase)
	assert.Equal(t, podstate.Of(full), podstate.Of(trimmed))
	assert.Contains(t, podstate.Of(trimmed).Summary(), "pulling "+full.Spec.Containers[0].Image)

	full.Status.Phase = corev1.PodRunning
	assert.Nil(t, trim(t, full).Spec.InitContainers, "a running pod pulls nothing more")

	old := pods[0].DeepCopy()
	require.NoError(t, gatepod.AddTo(old, gatepod.Options{Image: "gate:v1", Deadline: t0.Add(time.Hour)}))
	old.Status.Phase = corev1.PodPending
	assert.Nil(t, trim(t, old).Spec.InitContainers, "a pod gated without pulling keeps no spec")
}
