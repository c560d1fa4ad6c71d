// Pure predicates of the event handlers: which updates of a child or a
// task can change what a sync decides or reports. The informers hand the
// handlers trimmed objects (informers.Trimmer keeps only what the
// controller reads), so comparing the trimmed old and new objects with
// the bookkeeping ignored is enough for most kinds.

package controller

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	schedulingv1beta1 "k8s.io/api/scheduling/v1beta1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/gate"
	"kusciatask.io/controller/pkg/podgroup"
)

// childChanged reports whether an update of a trimmed child (old to new)
// changes anything a sync reads of it. What is ignored:
//   - resourceVersion, managed fields and generation: bookkeeping;
//   - of a pod, what readPodStatus leaves out, and every field the trim
//     drops (a condition's lastProbeTime and other heartbeat-like stamps
//     among them: only lastTransitionTime is kept);
//   - of a PodGroup, everything but its metadata and the message of a
//     False PodGroupInitiallyScheduled condition (podgroup.NotScheduledMessage):
//     the scheduler's counts and phases are not read;
//   - of a service or config map, all but its trimmed metadata and ports
//     (a config map's data is never read).
//
// Objects of other or mismatched types are reported changed: a filter
// that is unsure passes the event.
func childChanged(old, new any) bool {
	switch o := old.(type) {
	case *corev1.Pod:
		n, ok := new.(*corev1.Pod)
		return !ok || metaChanged(&o.ObjectMeta, &n.ObjectMeta) ||
			!equality.Semantic.DeepEqual(o.Spec, n.Spec) || !equality.Semantic.DeepEqual(readPodStatus(o.Status), readPodStatus(n.Status))
	case *corev1.Service:
		n, ok := new.(*corev1.Service)
		return !ok || metaChanged(&o.ObjectMeta, &n.ObjectMeta) || !equality.Semantic.DeepEqual(o.Spec, n.Spec)
	case *corev1.ConfigMap:
		n, ok := new.(*corev1.ConfigMap)
		return !ok || metaChanged(&o.ObjectMeta, &n.ObjectMeta)
	case *schedulingv1beta1.PodGroup:
		n, ok := new.(*schedulingv1beta1.PodGroup)
		return !ok || metaChanged(&o.ObjectMeta, &n.ObjectMeta) || notScheduledChanged(o, n)
	}
	return true
}

// readPodStatus is the part of a trimmed pod's status that podstate and
// status read: of its conditions only a False PodScheduled (why it is
// not placed) and a True Ready (since when it is ready; a False one's
// message is not read), neither's lastProbeTime, and of a running
// container not since when (only
// a waiting container's reason and a terminated one's end are read).
func readPodStatus(s corev1.PodStatus) corev1.PodStatus {
	out := s
	out.Conditions = nil
	for _, c := range s.Conditions {
		if (c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse) ||
			(c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue) {
			c.LastProbeTime = metav1.Time{}
			out.Conditions = append(out.Conditions, c)
		}
	}
	out.InitContainerStatuses = withoutRunningSince(s.InitContainerStatuses)
	out.ContainerStatuses = withoutRunningSince(s.ContainerStatuses)
	return out
}

// withoutRunningSince is statuses with each running state's startedAt
// cleared (a copy when one is set).
func withoutRunningSince(statuses []corev1.ContainerStatus) []corev1.ContainerStatus {
	var out []corev1.ContainerStatus
	for i, cs := range statuses {
		if cs.State.Running == nil || cs.State.Running.StartedAt.IsZero() {
			continue
		}
		if out == nil {
			out = slices.Clone(statuses)
		}
		out[i].State.Running = &corev1.ContainerStateRunning{}
	}
	if out == nil {
		return statuses
	}
	return out
}

// metaChanged compares two objects' metadata with resourceVersion,
// generation and managed fields ignored.
func metaChanged(old, new *metav1.ObjectMeta) bool {
	o, n := *old, *new
	o.ResourceVersion, n.ResourceVersion = "", ""
	o.Generation, n.Generation = 0, 0
	o.ManagedFields, n.ManagedFields = nil, nil
	return !equality.Semantic.DeepEqual(o, n)
}

// notScheduledChanged reports whether the scheduler changed what it says
// of placing the group: the only part of a PodGroup's status read.
func notScheduledChanged(old, new *schedulingv1beta1.PodGroup) bool {
	om, oOK := podgroup.NotScheduledMessage(old)
	nm, nOK := podgroup.NotScheduledMessage(new)
	return om != nm || oOK != nOK
}

// statusOnly reports whether a task update (old to new) changed its
// status alone: metadata (but the resourceVersion) and spec are the same.
// The echo of this controller's own status write is one (see ownWrites).
//
// A finished task comes trimmed without its input config
// (informers.TrimTask): the config is not compared then, as nothing reads
// it once a task has finished.
func statusOnly(old, new *kusciav1alpha1.KusciaTask) bool {
	if old.ResourceVersion == new.ResourceVersion || metaChanged(&old.ObjectMeta, &new.ObjectMeta) {
		return false
	}
	o, n := old.Spec, new.Spec
	if new.Status.Phase.IsTerminal() {
		o.TaskInputConfig, n.TaskInputConfig = "", ""
	}
	return equality.Semantic.DeepEqual(o, n)
}

// onlyGateOpened reports whether a pod update (old to new) changed nothing
// a sync reads but its reservation gate's annotation, which now reads
// open: what this controller's own gate patch does.
func onlyGateOpened(old, new *corev1.Pod) bool {
	if !gate.IsOpen(new.Annotations[gate.Annotation]) || gate.IsOpen(old.Annotations[gate.Annotation]) {
		return false
	}
	o, n := *old, *new
	o.Annotations, n.Annotations = withoutKey(old.Annotations, gate.Annotation), withoutKey(new.Annotations, gate.Annotation)
	return !childChanged(&o, &n)
}

// withoutKey is m without key (a copy when m has it).
func withoutKey(m map[string]string, key string) map[string]string {
	if _, ok := m[key]; !ok {
		return m
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if k != key {
			out[k] = v
		}
	}
	return out
}
