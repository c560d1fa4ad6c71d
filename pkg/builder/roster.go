package builder

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/reservation"
)

// Roster is who takes part in a task and which pods each party runs: what
// the gang reservation and the status need of a task. A task that has not
// started gets it from its plan (TaskPlan.Roster); a started one from its
// spec and the party sizes recorded on its pods (StartedRoster), without
// reading its AppImages and namespaces again.
type Roster struct {
	// Schedule is the task's scheduleConfig with defaults applied.
	Schedule reservation.Config
	// Parties in spec order.
	Parties []RosterParty
}

// RosterParty is one party of a Roster.
type RosterParty struct {
	DomainID string
	Role     string
	// Replicas is the number of pods; MinReservedPods how many must be
	// reserved and succeed.
	Replicas        int
	MinReservedPods int
	// Pods in replica order.
	Pods []PodRef
}

// PodRef names a pod.
type PodRef struct {
	Namespace string
	Name      string
}

// Key is "namespace/name", the key of the pod in status.podStatuses.
func (r PodRef) Key() string { return r.Namespace + "/" + r.Name }

// Roster is the plan's roster.
func (p *TaskPlan) Roster() *Roster {
	r := &Roster{Schedule: p.Schedule}
	for _, party := range p.Parties {
		rp := RosterParty{DomainID: party.DomainID, Role: party.Role, Replicas: party.Replicas, MinReservedPods: party.MinReservedPods}
		for _, pod := range party.Pods {
			rp.Pods = append(rp.Pods, PodRef{Namespace: pod.Namespace, Name: pod.Name})
		}
		r.Parties = append(r.Parties, rp)
	}
	return r
}

// StartedRoster is the roster of a task whose pods were created: its
// parties from the spec, each party's size from the annotation on its pods.
// A party none of whose pods is left is given the smallest size it could
// have had; its pods count as deleted. It fails with SpecChanged when a pod
// was made from another spec than the task's current one.
func StartedRoster(task *kusciav1alpha1.KusciaTask, pods []*corev1.Pod) (*Roster, error) {
	plan, err := newTaskPlan(&task.Spec, Policy{})
	if err != nil {
		return nil, err
	}
	if err := CheckSpecUnchanged(plan.SpecHash, pods); err != nil {
		return nil, err
	}
	return podRoster(task, plan, pods)
}

// FinishedRoster is the roster of a finished task, as StartedRoster but
// without comparing the spec with its pods': a finished task is cached
// without its taskInputConfig, so its SpecHash is not the pods' any more.
func FinishedRoster(task *kusciav1alpha1.KusciaTask, pods []*corev1.Pod) (*Roster, error) {
	plan, err := newTaskPlan(&task.Spec, Policy{})
	if err != nil {
		return nil, err
	}
	return podRoster(task, plan, pods)
}

// podRoster is the roster of the task's parties, sized by their pods.
func podRoster(task *kusciav1alpha1.KusciaTask, plan *TaskPlan, pods []*corev1.Pod) (*Roster, error) {
	sizes := partySizes(pods)
	r := &Roster{Schedule: plan.Schedule}
	for i := range task.Spec.Parties {
		p := &task.Spec.Parties[i]
		n, ok := sizes[p.DomainID]
		if !ok {
			n = max(1, int(ptr.Deref(p.MinReservedPods, 0)))
		}
		minPods, err := reservation.MinReservedPods(i, p, n)
		if err != nil {
			return nil, inputErrorf(kusciav1alpha1.ReasonInvalidTemplate, "party %s: %v", p.DomainID, err)
		}
		rp := RosterParty{DomainID: p.DomainID, Role: p.Role, Replicas: n, MinReservedPods: minPods}
		for j := range n {
			rp.Pods = append(rp.Pods, PodRef{Namespace: p.DomainID, Name: PodName(task.Name, p.Role, j)})
		}
		r.Parties = append(r.Parties, rp)
	}
	return r, nil
}

// partySizes reads the party sizes recorded on the pods, by domain.
func partySizes(pods []*corev1.Pod) map[string]int {
	out := map[string]int{}
	for _, pod := range pods {
		if n, err := strconv.Atoi(pod.Annotations[AnnotationPartyReplicas]); err == nil && n > 0 && n <= kusciav1alpha1.MaxReplicas {
			out[pod.Labels[kusciav1alpha1.LabelParty]] = n
		}
	}
	return out
}

// DomainIDs are the parties' domainIDs in spec order.
func (r *Roster) DomainIDs() []string {
	out := make([]string, 0, len(r.Parties))
	for _, p := range r.Parties {
		out = append(out, p.DomainID)
	}
	return out
}

// ReservationParties are the parties as the gang reservation counts them,
// each with its pods among the given ones.
func (r *Roster) ReservationParties(pods []*corev1.Pod) []reservation.Party {
	out := make([]reservation.Party, 0, len(r.Parties))
	for _, p := range r.Parties {
		rp := reservation.Party{DomainID: p.DomainID, MinReservedPods: p.MinReservedPods, Replicas: p.Replicas}
		for _, pod := range pods {
			if pod.Labels[kusciav1alpha1.LabelParty] == p.DomainID {
				rp.Pods = append(rp.Pods, pod)
			}
		}
		out = append(out, rp)
	}
	return out
}

// SpecHash is a hash of what of a task's spec shapes its pods and config
// maps: the parties and taskInputConfig. Every pod records the hash of the
// spec it was made from (AnnotationSpecHash), as a ReplicaSet's pods record
// their template's.
func SpecHash(spec *kusciav1alpha1.KusciaTaskSpec) string {
	shaping := struct {
		Parties         []kusciav1alpha1.PartyInfo `json:"parties"`
		TaskInputConfig string                     `json:"taskInputConfig"`
	}{spec.Parties, spec.TaskInputConfig}
	data, err := json.Marshal(shaping)
	if err != nil {
		return "" // cannot happen for these types; "" matches any pod
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])[:16]
}

// CheckSpecUnchanged fails with SpecChanged when one of the task's pods was
// made from another spec than the task's current one, whose SpecHash is
// want. The CRD refuses such edits; this catches them where its rules are
// not enforced. Pods without the annotation (made by an older controller)
// are taken as matching.
func CheckSpecUnchanged(want string, pods []*corev1.Pod) error {
	var other []string
	for _, pod := range pods {
		if got, ok := pod.Annotations[AnnotationSpecHash]; ok && want != "" && got != want {
			other = append(other, pod.Namespace+"/"+pod.Name)
		}
	}
	if len(other) == 0 {
		return nil
	}
	return inputErrorf(kusciav1alpha1.ReasonSpecChanged,
		"spec.parties or spec.taskInputConfig changed after pod %s was created from them; "+
			"a started task keeps its spec: create a new task instead", slices.Min(other))
}
