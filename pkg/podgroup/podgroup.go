// Package podgroup is the per-party half of the gang: Kubernetes' own gang
// scheduling (v1.37, scheduling.k8s.io/v1beta1 PodGroup). One PodGroup per
// party, in the party's namespace, with gang.minCount = the party's
// minReservedPods; the party's pods join it through spec.schedulingGroup,
// and kube-scheduler binds none of them until minCount fit together.
// (A PodGroup never spans namespaces, so the cross-party half stays the
// controller's: the gate, package kusciatask.io/controller/pkg/gate.)
//
// The API is served only when the cluster enables it: feature gate
// GenericWorkload on kube-apiserver, kube-scheduler and
// kube-controller-manager, and --runtime-config=scheduling.k8s.io/v1beta1=true
// on kube-apiserver. Served asks discovery at start-up; Mode is the
// controller's --pod-groups flag (auto, true, false). Discovery sees the
// API server only: a scheduler without the gate ignores schedulingGroup
// and places the pods one by one, and the controller's own count remains
// the only gang.
//
// Everything here but Served is pure.
package podgroup

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	schedulingv1beta1 "k8s.io/api/scheduling/v1beta1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/discovery"
	"k8s.io/utils/ptr"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// Resource is the PodGroup resource this package uses.
var Resource = schedulingv1beta1.SchemeGroupVersion.WithResource("podgroups")

// Mode is the value of the controller's --pod-groups flag; it implements
// flag.Value.
type Mode string

const (
	// ModeAuto uses PodGroups when the API server serves them.
	ModeAuto Mode = "auto"
	// ModeOn requires PodGroups: the controller does not start without them.
	ModeOn Mode = "true"
	// ModeOff never uses PodGroups.
	ModeOff Mode = "false"
)

// ParseMode reads a --pod-groups value.
func ParseMode(value string) (Mode, error) {
	switch m := Mode(strings.TrimSpace(value)); m {
	case ModeAuto, ModeOn, ModeOff:
		return m, nil
	}
	return "", fmt.Errorf("invalid --pod-groups value %q: want auto, true or false", value)
}

// String returns the flag's value.
func (m *Mode) String() string {
	if m == nil || *m == "" {
		return string(ModeAuto)
	}
	return string(*m)
}

// Set parses a flag value into m.
func (m *Mode) Set(value string) error {
	parsed, err := ParseMode(value)
	if err != nil {
		return err
	}
	*m = parsed
	return nil
}

// Served reports whether the API server serves podgroups in
// scheduling.k8s.io/v1beta1. A group version the server does not know is
// not an error.
func Served(ctx context.Context, d discovery.ServerResourcesInterface) (bool, error) {
	gv := Resource.GroupVersion().String()
	list, err := discovery.ToServerResourcesInterfaceWithContext(d).ServerResourcesForGroupVersionWithContext(ctx, gv)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("discover %s: %w", gv, err)
	}
	for _, r := range list.APIResources {
		if r.Name == Resource.Resource {
			return true, nil
		}
	}
	return false, nil
}

// ErrNotServed says --pod-groups=true on a cluster without the API.
var ErrNotServed = errors.New("--pod-groups=true, but the API server does not serve podgroups in " +
	"scheduling.k8s.io/v1beta1: enable the feature gate GenericWorkload on kube-apiserver, kube-scheduler " +
	"and kube-controller-manager and --runtime-config=scheduling.k8s.io/v1beta1=true on kube-apiserver, " +
	"or start with --pod-groups=auto")

// Enabled decides at start-up whether the controller uses PodGroups: never
// for ModeOff (discovery is not asked), when served for ModeAuto, and for
// ModeOn only when served (ErrNotServed otherwise). A discovery error is
// returned as is: the controller cannot tell, and should not guess.
func Enabled(ctx context.Context, mode Mode, d discovery.ServerResourcesInterface) (bool, error) {
	switch mode {
	case ModeOff:
		return false, nil
	case ModeAuto, ModeOn, "":
	default:
		return false, fmt.Errorf("invalid --pod-groups mode %q", mode)
	}
	served, err := Served(ctx, d)
	if err != nil {
		return false, err
	}
	if !served && mode == ModeOn {
		return false, ErrNotServed
	}
	return served, nil
}

// New builds a party's PodGroup: gang scheduling with minCount, the given
// name, namespace and labels (copied), and owner as its one owner reference
// (the task's controller reference, from metav1.NewControllerRef). name
// must be a DNS subdomain and minCount at least 1.
func New(namespace, name string, labels map[string]string, owner metav1.OwnerReference, minCount int32) (*schedulingv1beta1.PodGroup, error) {
	if namespace == "" {
		return nil, errors.New("pod group: namespace is empty")
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return nil, fmt.Errorf("pod group name %q: %s", name, strings.Join(errs, "; "))
	}
	if minCount < 1 {
		return nil, fmt.Errorf("pod group %s/%s: minCount must be at least 1, got %d", namespace, name, minCount)
	}
	return &schedulingv1beta1.PodGroup{
		TypeMeta: metav1.TypeMeta{APIVersion: Resource.GroupVersion().String(), Kind: "PodGroup"},
		ObjectMeta: metav1.ObjectMeta{
			Name:            name,
			Namespace:       namespace,
			Labels:          maps.Clone(labels),
			OwnerReferences: []metav1.OwnerReference{owner},
		},
		Spec: schedulingv1beta1.PodGroupSpec{
			SchedulingPolicy: schedulingv1beta1.PodGroupSchedulingPolicy{
				Gang: &schedulingv1beta1.GangSchedulingPolicy{MinCount: minCount},
			},
		},
	}, nil
}

// Join makes pod a member of the PodGroup name (in the pod's namespace).
// schedulingGroup is immutable: set it before the pod is created.
func Join(pod *corev1.Pod, name string) {
	pod.Spec.SchedulingGroup = &corev1.PodSchedulingGroup{PodGroupName: ptr.To(name)}
}

// NotScheduledMessage returns why kube-scheduler cannot place the group:
// the message (else the reason) of condition PodGroupInitiallyScheduled
// when it is False; ok is false when the condition is absent, True or
// Unknown.
func NotScheduledMessage(pg *schedulingv1beta1.PodGroup) (message string, ok bool) {
	c := apimeta.FindStatusCondition(pg.Status.Conditions, schedulingv1beta1.PodGroupInitiallyScheduled)
	if c == nil || c.Status != metav1.ConditionFalse {
		return "", false
	}
	if msg := strings.TrimSpace(c.Message); msg != "" {
		return capMessage(msg), true
	}
	return c.Reason, true
}

// NotScheduledByParty maps each party (by the party label of its PodGroup)
// to why kube-scheduler cannot place its group (NotScheduledMessage), for
// the parties it said so of.
func NotScheduledByParty(groups []*schedulingv1beta1.PodGroup) map[string]string {
	out := map[string]string{}
	for _, pg := range groups {
		if msg, ok := NotScheduledMessage(pg); ok {
			out[pg.Labels[kusciav1alpha1.LabelParty]] = msg
		}
	}
	return out
}

// MaxMessageLength bounds the scheduler's message as it is copied into a
// task's status: the API lets a condition message grow to 32 KiB, and a
// task of many parties must stay far below etcd's object size limit.
const MaxMessageLength = 1024

func capMessage(msg string) string {
	if len(msg) <= MaxMessageLength {
		return msg
	}
	cut := MaxMessageLength
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + "…"
}
