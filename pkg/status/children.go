package status

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
)

func podsByKey(pods []*corev1.Pod) map[string]*corev1.Pod {
	m := make(map[string]*corev1.Pod, len(pods))
	for _, p := range pods {
		m[p.Namespace+"/"+p.Name] = p
	}
	return m
}

// podStatuses reports every pod the task has, keeping the last known entry of
// pods that are gone (so a deleted or released pod's fate stays visible).
func podStatuses(old map[string]*kusciav1alpha1.PodStatus, pods []*corev1.Pod) map[string]*kusciav1alpha1.PodStatus {
	out := make(map[string]*kusciav1alpha1.PodStatus, len(old)+len(pods))
	for k, v := range old {
		out[k] = v.DeepCopy()
	}
	for _, pod := range pods {
		key := pod.Namespace + "/" + pod.Name
		ps := podStatus(pod)
		// The first readiness of this very pod (not of an earlier pod of
		// the same name, from a released round) is kept.
		if prev := old[key]; prev != nil && prev.ReadyTime != nil && samePod(prev, ps) {
			ps.ReadyTime = prev.ReadyTime.DeepCopy()
		}
		out[key] = ps
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// samePod tells whether two reports are of the same pod object: a pod
// recreated under the same name has a new creation time.
func samePod(a, b *kusciav1alpha1.PodStatus) bool {
	return (a.CreateTime == nil && b.CreateTime == nil) ||
		(a.CreateTime != nil && b.CreateTime != nil && a.CreateTime.Equal(b.CreateTime))
}

func podStatus(pod *corev1.Pod) *kusciav1alpha1.PodStatus {
	ps := &kusciav1alpha1.PodStatus{
		PodName:    pod.Name,
		Namespace:  pod.Namespace,
		NodeName:   pod.Spec.NodeName,
		PodPhase:   pod.Status.Phase,
		CreateTime: timeOrNil(pod.CreationTimestamp),
		StartTime:  pod.Status.StartTime.DeepCopy(),
		ReadyTime:  readyTime(pod),
	}
	ps.Reason, ps.Message = podReason(pod)
	if pod.Status.Phase == corev1.PodFailed {
		_, ps.TerminationLog = terminationOf(pod)
	}
	return ps
}

// podReason is the most telling reason and message of a pod: the pod's own,
// else a failed or last container's termination or waiting state, else why
// it is not scheduled.
func podReason(pod *corev1.Pod) (string, string) {
	if pod.Status.Reason != "" {
		return pod.Status.Reason, pod.Status.Message
	}
	if pod.Status.Phase == corev1.PodFailed {
		return terminationOf(pod)
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil && w.Reason != "" {
			return w.Reason, w.Message
		}
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if t := cs.State.Terminated; t != nil {
			return t.Reason, ""
		}
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			return c.Reason, c.Message
		}
	}
	return "", ""
}

func readyTime(pod *corev1.Pod) *metav1.Time {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return timeOrNil(c.LastTransitionTime)
		}
	}
	return nil
}

// serviceStatuses reports every service of the task; a service is ready when
// its pod first became ready.
func serviceStatuses(old map[string]*kusciav1alpha1.ServiceStatus, services []*corev1.Service, pods map[string]*corev1.Pod) map[string]*kusciav1alpha1.ServiceStatus {
	out := make(map[string]*kusciav1alpha1.ServiceStatus, len(old)+len(services))
	for k, v := range old {
		out[k] = v.DeepCopy()
	}
	for _, svc := range services {
		key := svc.Namespace + "/" + svc.Name
		ss := &kusciav1alpha1.ServiceStatus{
			ServiceName: svc.Name,
			Namespace:   svc.Namespace,
			Scope:       kusciav1alpha1.PortScope(svc.Annotations[builder.AnnotationPortScope]),
			CreateTime:  timeOrNil(svc.CreationTimestamp),
		}
		if len(svc.Spec.Ports) > 0 {
			ss.PortName, ss.PortNumber = svc.Spec.Ports[0].Name, svc.Spec.Ports[0].Port
		}
		if pod := pods[svc.Namespace+"/"+svc.Labels[kusciav1alpha1.LabelPod]]; pod != nil {
			ss.ReadyTime = readyTime(pod)
		}
		if prev := old[key]; prev != nil && prev.ReadyTime != nil {
			ss.ReadyTime = prev.ReadyTime.DeepCopy()
		}
		out[key] = ss
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func timeOrNil(t metav1.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
