// Package informers holds what the controller's informers list and what
// their caches keep: the factory of the child informers (only labelled
// children), the transform that trims every cached object to what the
// controller reads (Trimmer), and the interners that share equal metadata
// among the trimmed children. It knows nothing of syncing tasks.
package informers

import (
	corev1 "k8s.io/api/core/v1"
	schedulingv1beta1 "k8s.io/api/scheduling/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
	"kusciatask.io/controller/pkg/gate"
	"kusciatask.io/controller/pkg/mark"
	"kusciatask.io/controller/pkg/podstate"
)

// lastAppliedAnnotation is where `kubectl apply` keeps a whole copy of the
// object as it was last applied: as large as the object, and never read by
// the controller.
const lastAppliedAnnotation = corev1.LastAppliedConfigAnnotation

// Trimmer trims the objects of the controller's caches (Trim), sharing the
// metadata its children repeat through interners of its own.
type Trimmer struct {
	// maps interns the trimmed children's label and annotation maps, refs
	// their controller references.
	maps *interner[map[string]string]
	refs *interner[[]metav1.OwnerReference]
}

// NewTrimmer is a Trimmer with empty interners. Objects trimmed by one
// Trimmer share their metadata; give every informer of a controller the
// same one.
func NewTrimmer() *Trimmer {
	return &Trimmer{maps: mapsInterner(internedCapacity), refs: childRefsInterner(internedCapacity)}
}

// Trim is the transform of every informer of the controller: it keeps, of
// each object it receives, only what the controller reads, so the caches
// hold a few hundred bytes per child instead of the whole object with its
// managed fields. NewController sets it on the informers it is given; an
// informer shared with code that reads more must not be given to the
// controller.
//
// What each kind keeps (everything else is dropped, managed fields and the
// kubectl last-applied annotation always). A child (pod, service, config
// map, PodGroup) keeps of its metadata its identity, versions, times, its
// controller reference and only the labels and annotations the controller
// reads (childLabels, childAnnotations), their keys shared with the
// constants: thousands of finished tasks' children are mostly metadata.
//   - Pod: its metadata; spec.nodeName; status phase, reason, message,
//     startTime, the PodScheduled and Ready conditions (see
//     trimPodConditions) and, per container (init containers but once the
//     pod succeeded), name, state and last termination state: what
//     podstate classifies a pod by.
//   - Service: its metadata; the name and number of its ports.
//   - ConfigMap: its metadata only: existence, owner and labels are all
//     the controller asks of a config map, never its rendered data.
//   - PodGroup: its metadata and status conditions.
//   - Namespace: its metadata (the domain and policy labels).
//   - AppImage: everything else (the builder reads all of it).
//   - KusciaTask: everything else, except that a finished task drops
//     spec.taskInputConfig (up to 512 KiB: only planning and rendering
//     read it, and neither runs once the task has finished) and its
//     status's podStatuses and serviceStatuses (see TrimTask).
//
// Objects of other types and tombstones pass unchanged. Children and
// namespaces are rebuilt from the kept fields; tasks and AppImages are
// trimmed in place (client-go hands a transform an object no one else
// holds). Applying it twice is the same as once.
func (t *Trimmer) Trim(obj any) (any, error) {
	switch o := obj.(type) {
	case *corev1.Pod:
		return t.trimPod(o), nil
	case *corev1.Service:
		return t.trimService(o), nil
	case *corev1.ConfigMap:
		return &corev1.ConfigMap{TypeMeta: o.TypeMeta, ObjectMeta: t.childMeta(o.ObjectMeta)}, nil
	case *schedulingv1beta1.PodGroup:
		return &schedulingv1beta1.PodGroup{TypeMeta: o.TypeMeta, ObjectMeta: t.childMeta(o.ObjectMeta),
			Status: schedulingv1beta1.PodGroupStatus{Conditions: o.Status.Conditions}}, nil
	case *corev1.Namespace:
		return &corev1.Namespace{TypeMeta: o.TypeMeta, ObjectMeta: trimMeta(o.ObjectMeta)}, nil
	case *kusciav1alpha1.AppImage:
		o.ObjectMeta = trimMeta(o.ObjectMeta)
		return o, nil
	case *kusciav1alpha1.KusciaTask:
		return TrimTask(o), nil
	}
	return obj, nil
}

// trimMeta keeps the metadata the controller reads: identity, versions,
// times, labels, annotations (but kubectl's copy of the object) and owners.
func trimMeta(m metav1.ObjectMeta) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:              m.Name,
		Namespace:         m.Namespace,
		UID:               m.UID,
		ResourceVersion:   m.ResourceVersion,
		Generation:        m.Generation,
		CreationTimestamp: m.CreationTimestamp,
		DeletionTimestamp: m.DeletionTimestamp,
		Labels:            m.Labels,
		Annotations:       withoutLastApplied(m.Annotations),
		OwnerReferences:   m.OwnerReferences,
	}
}

// withoutLastApplied drops kubectl's last-applied annotation; the map is
// copied only when it holds one.
func withoutLastApplied(annotations map[string]string) map[string]string {
	if _, ok := annotations[lastAppliedAnnotation]; !ok {
		return annotations
	}
	out := make(map[string]string, len(annotations)-1)
	for k, v := range annotations {
		if k != lastAppliedAnnotation {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// childLabels are the labels the controller reads on its children: the
// task-UID index, the party of a pod (status, roster) or PodGroup, the pod
// behind a service.
var childLabels = []string{kusciav1alpha1.LabelTaskUID, kusciav1alpha1.LabelParty, kusciav1alpha1.LabelPod}

// childAnnotations are the annotations the controller reads on its
// children: a pod's round, party size, spec hash, gate and mark; a
// service's port scope.
var childAnnotations = []string{builder.AnnotationRound, builder.AnnotationPartyReplicas, builder.AnnotationSpecHash,
	gate.Annotation, mark.Annotation, builder.AnnotationPortScope}

// isTrue is the true the trimmed children's controller references share.
var isTrue = true

// childMeta is the metadata a child keeps (see Trim). What repeats is
// shared: label and annotation keys with the constants, equal label and
// annotation maps among children (t.maps), the controller reference among
// a task's children (t.refs).
func (t *Trimmer) childMeta(m metav1.ObjectMeta) metav1.ObjectMeta {
	out := metav1.ObjectMeta{
		Name:              m.Name,
		Namespace:         m.Namespace,
		UID:               m.UID,
		ResourceVersion:   m.ResourceVersion,
		CreationTimestamp: m.CreationTimestamp,
		DeletionTimestamp: m.DeletionTimestamp,
		Labels:            internMap(t.maps, pick(m.Labels, childLabels)),
		Annotations:       internMap(t.maps, pick(m.Annotations, childAnnotations)),
	}
	if ref := metav1.GetControllerOfNoCopy(&m); ref != nil {
		out.OwnerReferences = internRef(t.refs, controllerRef(*ref))
	}
	return out
}

// controllerRef is the child's controller reference, its pointers to the
// shared true.
func controllerRef(ref metav1.OwnerReference) metav1.OwnerReference {
	ref.Controller = &isTrue
	if ref.BlockOwnerDeletion != nil && *ref.BlockOwnerDeletion {
		ref.BlockOwnerDeletion = &isTrue
	}
	return ref
}

// pick copies the entries of m under keys, each key shared with keys'
// own string; nil when none is there.
func pick(m map[string]string, keys []string) map[string]string {
	var out map[string]string
	for _, k := range keys {
		if v, ok := m[k]; ok {
			if out == nil {
				out = make(map[string]string, len(keys))
			}
			out[k] = v
		}
	}
	return out
}

func (t *Trimmer) trimPod(p *corev1.Pod) *corev1.Pod {
	return &corev1.Pod{
		TypeMeta:   p.TypeMeta,
		ObjectMeta: t.childMeta(p.ObjectMeta),
		Spec:       corev1.PodSpec{NodeName: p.Spec.NodeName, InitContainers: reservationImages(p)},
		Status: corev1.PodStatus{
			Phase:                 p.Status.Phase,
			Reason:                p.Status.Reason,
			Message:               p.Status.Message,
			StartTime:             p.Status.StartTime,
			Conditions:            trimPodConditions(p.Status.Phase, p.Status.Conditions),
			InitContainerStatuses: trimInitContainerStatuses(p.Status.Phase, p.Status.InitContainerStatuses),
			ContainerStatuses:     trimContainerStatuses(p.Status.ContainerStatuses),
		},
	}
}

// reservationImages keeps, of a pending pod that pulls its images during
// the reservation, the name and image of each init container up to the
// gate (podstate.ReservationContainers): podstate says which image a pod is
// pulling with them. Nil for other pods, and once the pod runs.
func reservationImages(p *corev1.Pod) []corev1.Container {
	if p.Status.Phase != corev1.PodPending && p.Status.Phase != "" {
		return nil
	}
	var out []corev1.Container
	for _, c := range podstate.ReservationContainers(p) {
		out = append(out, corev1.Container{Name: c.Name, Image: c.Image})
	}
	return out
}

// trimInitContainerStatuses keeps a pod's init containers, but once it
// has succeeded: podstate then reads its app containers alone (why they
// ended), and every init container had to succeed before them.
func trimInitContainerStatuses(phase corev1.PodPhase, statuses []corev1.ContainerStatus) []corev1.ContainerStatus {
	if phase == corev1.PodSucceeded {
		return nil
	}
	return trimContainerStatuses(statuses)
}

// trimPodConditions keeps the conditions podstate and status read: why a
// pod is not scheduled, and since when it is ready. A terminated pod is
// read for neither (it is bound, and the kubelet marks it not ready as it
// ends), so it keeps a Ready=True only, which a real one never has.
func trimPodConditions(phase corev1.PodPhase, conds []corev1.PodCondition) []corev1.PodCondition {
	terminated := phase == corev1.PodSucceeded || phase == corev1.PodFailed
	var out []corev1.PodCondition
	for _, c := range conds {
		keep := c.Type == corev1.PodReady || c.Type == corev1.PodScheduled
		if terminated {
			keep = c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue
		}
		if keep {
			out = append(out, corev1.PodCondition{Type: c.Type, Status: c.Status, Reason: c.Reason,
				Message: c.Message, LastTransitionTime: c.LastTransitionTime})
		}
	}
	return out
}

func trimContainerStatuses(statuses []corev1.ContainerStatus) []corev1.ContainerStatus {
	if len(statuses) == 0 {
		return nil
	}
	out := make([]corev1.ContainerStatus, len(statuses))
	for i, cs := range statuses {
		out[i] = corev1.ContainerStatus{
			Name:                 cs.Name,
			State:                trimContainerState(cs.State),
			LastTerminationState: trimContainerState(cs.LastTerminationState),
		}
	}
	return out
}

// trimContainerState keeps the reasons, messages and exit code; container
// IDs and timestamps go.
func trimContainerState(s corev1.ContainerState) corev1.ContainerState {
	var out corev1.ContainerState
	if w := s.Waiting; w != nil {
		out.Waiting = &corev1.ContainerStateWaiting{Reason: w.Reason, Message: w.Message}
	}
	if s.Running != nil {
		out.Running = &corev1.ContainerStateRunning{StartedAt: s.Running.StartedAt}
	}
	if t := s.Terminated; t != nil {
		out.Terminated = &corev1.ContainerStateTerminated{ExitCode: t.ExitCode, Reason: t.Reason, Message: t.Message}
	}
	return out
}

func (t *Trimmer) trimService(s *corev1.Service) *corev1.Service {
	out := &corev1.Service{TypeMeta: s.TypeMeta, ObjectMeta: t.childMeta(s.ObjectMeta)}
	for _, p := range s.Spec.Ports {
		out.Spec.Ports = append(out.Spec.Ports, corev1.ServicePort{Name: p.Name, Port: p.Port})
	}
	return out
}

// TrimTask drops, in place, what no sync reads: managed fields, kubectl's
// copy, and of a finished task its input config and its pods' and
// services' reports; the controller caches the tasks it writes with it.
// An unfinished task's status is kept whole: a sync compares the status it
// computes with it. A finished task's never changes (handleFinished keeps
// what is stored and writes nothing), so nothing reads those reports
// again; the server keeps them, and the controller refuses to write over a
// finished task's status, which would drop them.
func TrimTask(t *kusciav1alpha1.KusciaTask) *kusciav1alpha1.KusciaTask {
	t.ObjectMeta.ManagedFields = nil
	t.ObjectMeta.Annotations = withoutLastApplied(t.ObjectMeta.Annotations)
	if t.Status.Phase.IsTerminal() {
		t.Spec.TaskInputConfig = ""
		t.Status.PodStatuses, t.Status.ServiceStatuses = nil, nil
	}
	return t
}
