package status

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
	"kusciatask.io/controller/pkg/podstate"
)

// podStatuses reports every pod the task has had. A live pod is reported as
// the classifier reads it, or as stopped when this status stops it. A pod
// that is going or gone keeps its last report when that was final (it
// finished, or the controller stopped it); otherwise it was deleted by
// someone else, and is reported so.
func podStatuses(old map[string]*kusciav1alpha1.PodStatus, pods []*corev1.Pod, stopped map[string]string) map[string]*kusciav1alpha1.PodStatus {
	out := make(map[string]*kusciav1alpha1.PodStatus, len(old)+len(pods))
	for k, v := range old {
		out[k] = v.DeepCopy()
		if !final(v) {
			out[k] = goneStatus(v)
		}
	}
	for _, pod := range pods {
		key := podKey(pod)
		st := podstate.Of(pod)
		why, stopping := stopped[key]
		if stopping && st.Phase != podstate.Failed {
			// A pod that failed on its own (a container stuck) keeps
			// its own story; any other is reported as stopped.
			st = podstate.Stopped(why)
		}
		prev := old[key]
		if pod.DeletionTimestamp != nil && prev != nil && final(prev) && samePod(prev, pod) {
			out[key] = prev.DeepCopy()
			continue
		}
		out[key] = podStatus(pod, st, prev)
		if stopping {
			// What the kubelet makes of a pod deleted before it
			// finished; the report is final from now on.
			out[key].PodPhase = corev1.PodFailed
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// final reports whether a report is of a pod that will not change: it
// finished, or it was stopped or deleted.
func final(ps *kusciav1alpha1.PodStatus) bool {
	return ps.PodPhase == corev1.PodSucceeded || ps.PodPhase == corev1.PodFailed
}

// goneStatus is the report of a pod that went away unfinished.
func goneStatus(prev *kusciav1alpha1.PodStatus) *kusciav1alpha1.PodStatus {
	ps := prev.DeepCopy()
	gone := podstate.Gone()
	ps.PodPhase, ps.Reason, ps.Message = corev1.PodFailed, gone.Reason, gone.Message
	return ps
}

// samePod tells whether a report is of this very pod: a pod recreated under
// the same name (a new reservation round) has a new creation time.
func samePod(ps *kusciav1alpha1.PodStatus, pod *corev1.Pod) bool {
	created := timeOrNil(pod.CreationTimestamp)
	return (ps.CreateTime == nil && created == nil) ||
		(ps.CreateTime != nil && created != nil && ps.CreateTime.Equal(created))
}

// podStatus reports a pod in state st. The first readiness of this very pod
// (not of an earlier pod of the same name, from a released round) is kept.
func podStatus(pod *corev1.Pod, st podstate.State, prev *kusciav1alpha1.PodStatus) *kusciav1alpha1.PodStatus {
	ps := &kusciav1alpha1.PodStatus{
		PodName:        pod.Name,
		Namespace:      pod.Namespace,
		NodeName:       pod.Spec.NodeName,
		PodPhase:       pod.Status.Phase,
		Reason:         st.Reason,
		Message:        st.Message,
		TerminationLog: st.TerminationLog,
		ExitCode:       st.ExitCode,
		CreateTime:     timeOrNil(pod.CreationTimestamp),
		StartTime:      pod.Status.StartTime.DeepCopy(),
		ReadyTime:      readyTime(pod),
	}
	if prev != nil && prev.ReadyTime != nil && samePod(prev, pod) {
		ps.ReadyTime = prev.ReadyTime.DeepCopy()
	}
	return ps
}

func readyTime(pod *corev1.Pod) *metav1.Time {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return timeOrNil(c.LastTransitionTime)
		}
	}
	return nil
}

// serviceStatuses reports every service of the task. A service is ready
// when the pod behind it is: its readyTime is that pod's report's, so a
// pod of a new round, not ready yet, makes its services not ready either.
func serviceStatuses(old map[string]*kusciav1alpha1.ServiceStatus, services []*corev1.Service, pods map[string]*kusciav1alpha1.PodStatus) map[string]*kusciav1alpha1.ServiceStatus {
	out := make(map[string]*kusciav1alpha1.ServiceStatus, len(old)+len(services))
	for k, v := range old {
		out[k] = v.DeepCopy()
	}
	for _, svc := range services {
		ss := &kusciav1alpha1.ServiceStatus{
			ServiceName: svc.Name,
			Namespace:   svc.Namespace,
			Scope:       kusciav1alpha1.PortScope(svc.Annotations[builder.AnnotationPortScope]),
			CreateTime:  timeOrNil(svc.CreationTimestamp),
		}
		if len(svc.Spec.Ports) > 0 {
			ss.PortName, ss.PortNumber = svc.Spec.Ports[0].Name, svc.Spec.Ports[0].Port
		}
		if ps := pods[svc.Namespace+"/"+svc.Labels[kusciav1alpha1.LabelPod]]; ps != nil {
			ss.ReadyTime = ps.ReadyTime.DeepCopy()
		}
		out[svc.Namespace+"/"+svc.Name] = ss
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

// WithLastPullFailures returns pods with the pull failure each reported
// last (old, the task's podStatuses as this controller computed them)
// carried over the kubelet's next attempt (see podstate.WithPullFailure),
// so the party's message, the round's lastFailure and the pod's report keep
// saying why its image is not on the node while the kubelet tries again.
// Only a report of the very same pod counts.
func WithLastPullFailures(pods []*corev1.Pod, old map[string]*kusciav1alpha1.PodStatus) []*corev1.Pod {
	var out []*corev1.Pod
	for i, pod := range pods {
		prev := old[podKey(pod)]
		if prev == nil || !podstate.IsPullFailure(prev.Reason) || !samePod(prev, pod) {
			continue
		}
		if with := podstate.WithPullFailure(pod, prev.Reason, prev.Message); with != pod {
			if out == nil {
				out = slices.Clone(pods)
			}
			out[i] = with
		}
	}
	if out == nil {
		return pods
	}
	return out
}
