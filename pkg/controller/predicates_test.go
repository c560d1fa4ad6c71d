package controller

import (
	"testing"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	schedulingv1beta1 "k8s.io/api/scheduling/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/gate"
)

func TestChildChanged(t *testing.T) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "alice", Name: "p", UID: "u", ResourceVersion: "1",
			Annotations: map[string]string{gate.Annotation: "closed"}},
		Status: corev1.PodStatus{Phase: corev1.PodPending},
	}
	with := func(change func(p *corev1.Pod)) *corev1.Pod {
		p := pod.DeepCopy()
		p.ResourceVersion = "2"
		change(p)
		return p
	}
	cond := func(t corev1.PodConditionType, s corev1.ConditionStatus) corev1.PodCondition {
		return corev1.PodCondition{Type: t, Status: s, LastTransitionTime: metav1.Time{Time: t0}}
	}
	group := &schedulingv1beta1.PodGroup{ObjectMeta: metav1.ObjectMeta{Namespace: "alice", Name: "g", ResourceVersion: "1"}}
	groupWith := func(conds ...metav1.Condition) *schedulingv1beta1.PodGroup {
		g := group.DeepCopy()
		g.ResourceVersion = "2"
		g.Status.Conditions = conds
		return g
	}
	notScheduled := func(msg string) metav1.Condition {
		return metav1.Condition{Type: schedulingv1beta1.PodGroupInitiallyScheduled, Status: metav1.ConditionFalse, Reason: "Unschedulable", Message: msg}
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "alice", Name: "s", ResourceVersion: "1"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "fed", Port: 80}}}}
	svcWith := func(change func(s *corev1.Service)) *corev1.Service {
		s := svc.DeepCopy()
		s.ResourceVersion = "2"
		change(s)
		return s
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "alice", Name: "c", ResourceVersion: "1"}}

	tests := []struct {
		name     string
		old, new any
		want     bool
	}{
		{"pod: resourceVersion only", pod, with(func(*corev1.Pod) {}), false},
		{"pod: managed fields only", pod, with(func(p *corev1.Pod) { p.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubelet"}} }), false},
		{"pod: a condition's lastProbeTime", with(func(p *corev1.Pod) {
			p.Status.Conditions = []corev1.PodCondition{cond(corev1.PodReady, corev1.ConditionTrue)}
		}),
			with(func(p *corev1.Pod) {
				c := cond(corev1.PodReady, corev1.ConditionTrue)
				c.LastProbeTime = metav1.Time{Time: t0}
				p.Status.Conditions = []corev1.PodCondition{c}
			}), false},
		{"pod: PodScheduled=True (not read; nodeName is)", pod,
			with(func(p *corev1.Pod) {
				p.Status.Conditions = []corev1.PodCondition{cond(corev1.PodScheduled, corev1.ConditionTrue)}
			}), false},
		{"pod: Ready=False (not read)", pod,
			with(func(p *corev1.Pod) {
				p.Status.Conditions = []corev1.PodCondition{cond(corev1.PodReady, corev1.ConditionFalse)}
			}), false},
		{"pod: a running container's startedAt", with(func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
		}), with(func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Time{Time: t0}}}}}
		}), false},
		{"pod: PodScheduled=False", pod,
			with(func(p *corev1.Pod) {
				p.Status.Conditions = []corev1.PodCondition{cond(corev1.PodScheduled, corev1.ConditionFalse)}
			}), true},
		{"pod: Ready=True", pod,
			with(func(p *corev1.Pod) {
				p.Status.Conditions = []corev1.PodCondition{cond(corev1.PodReady, corev1.ConditionTrue)}
			}), true},
		{"pod: bound", pod, with(func(p *corev1.Pod) { p.Spec.NodeName = "n" }), true},
		{"pod: phase", pod, with(func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }), true},
		{"pod: a container starts waiting", pod, with(func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull"}}}}
		}), true},
		{"pod: gate annotation", pod, with(func(p *corev1.Pod) { p.Annotations = map[string]string{gate.Annotation: gate.Open} }), true},
		{"pod: deletion", pod, with(func(p *corev1.Pod) { p.DeletionTimestamp = &metav1.Time{Time: t0} }), true},
		{"pod: the mark removed (forged)", pod, with(func(p *corev1.Pod) { p.Annotations = nil }), true},
		{"pod group: status without the condition read", group, groupWith(metav1.Condition{Type: "Other", Status: metav1.ConditionTrue}), false},
		{"pod group: scheduled", groupWith(notScheduled("no room")), groupWith(metav1.Condition{Type: schedulingv1beta1.PodGroupInitiallyScheduled, Status: metav1.ConditionTrue}), true},
		{"pod group: not scheduled", group, groupWith(notScheduled("no room")), true},
		{"pod group: another reason not scheduled", groupWith(notScheduled("no room")), groupWith(notScheduled("quota")), true},
		{"service: resourceVersion only", svc, svcWith(func(*corev1.Service) {}), false},
		{"service: fields not kept (cluster IP)", svc, svcWith(func(s *corev1.Service) { s.Spec.ClusterIP = "" }), false},
		{"service: ports", svc, svcWith(func(s *corev1.Service) { s.Spec.Ports[0].Port = 81 }), true},
		{"service: labels", svc, svcWith(func(s *corev1.Service) { s.Labels = map[string]string{"a": "b"} }), true},
		{"config map: resourceVersion only", cm, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "alice", Name: "c", ResourceVersion: "2"}}, false},
		{"config map: owner", cm, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "alice", Name: "c", ResourceVersion: "2",
			OwnerReferences: []metav1.OwnerReference{{Name: "t"}}}}, true},
		{"mismatched types", pod, svc, true},
		{"unknown type", "junk", "junk", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, childChanged(tc.old, tc.new))
		})
	}
}

func TestOnlyGateOpened(t *testing.T) {
	closed := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "alice", Name: "p", ResourceVersion: "1",
		Annotations: map[string]string{gate.Annotation: "closed", "other": "x"}}}
	open := closed.DeepCopy()
	open.ResourceVersion, open.Annotations[gate.Annotation] = "2", gate.Open
	openAndRunning := open.DeepCopy()
	openAndRunning.Status.Phase = corev1.PodRunning
	openAndOther := open.DeepCopy()
	openAndOther.Annotations["other"] = "y"
	tests := []struct {
		name     string
		old, new *corev1.Pod
		want     bool
	}{
		{"the gate opened alone", closed, open, true},
		{"the gate opened and the pod started", closed, openAndRunning, false},
		{"the gate opened and another annotation changed", closed, openAndOther, false},
		{"the gate was open already", open, openAndRunning, false},
		{"the gate still closed", closed, closed, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, onlyGateOpened(tc.old, tc.new))
		})
	}
}

func TestStatusOnly(t *testing.T) {
	task := &kusciav1alpha1.KusciaTask{ObjectMeta: metav1.ObjectMeta{Name: "t", UID: "u", ResourceVersion: "1"},
		Spec: kusciav1alpha1.KusciaTaskSpec{Initiator: "alice", TaskInputConfig: "{}"}}
	with := func(change func(t *kusciav1alpha1.KusciaTask)) *kusciav1alpha1.KusciaTask {
		n := task.DeepCopy()
		n.ResourceVersion = "2"
		change(n)
		return n
	}
	tests := []struct {
		name string
		new  *kusciav1alpha1.KusciaTask
		want bool
	}{
		{"status", with(func(t *kusciav1alpha1.KusciaTask) { t.Status.Phase = kusciav1alpha1.TaskRunning }), true},
		{"finished, trimmed of its input", with(func(t *kusciav1alpha1.KusciaTask) {
			t.Status.Phase, t.Spec.TaskInputConfig = kusciav1alpha1.TaskSucceeded, ""
		}), true},
		{"a resync", task, false},
		{"labels", with(func(t *kusciav1alpha1.KusciaTask) { t.Labels = map[string]string{"a": "b"} }), false},
		{"being deleted", with(func(t *kusciav1alpha1.KusciaTask) { t.DeletionTimestamp = &metav1.Time{Time: t0} }), false},
		{"spec", with(func(t *kusciav1alpha1.KusciaTask) { t.Spec.Initiator = "bob" }), false},
		{"input, unfinished", with(func(t *kusciav1alpha1.KusciaTask) { t.Spec.TaskInputConfig = "{\"a\":1}" }), false},
		{"replaced (another UID)", with(func(t *kusciav1alpha1.KusciaTask) { t.UID = "v" }), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, statusOnly(task, tc.new))
		})
	}
}
