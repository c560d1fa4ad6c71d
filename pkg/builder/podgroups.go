package builder

import (
	schedulingv1beta1 "k8s.io/api/scheduling/v1beta1"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/podgroup"
)

// PodGroupName is the name of a party's PodGroup: <task>-<role>, or <task>
// when the party has no role (one group per party, in its namespace).
func PodGroupName(task, role string) string {
	if role == "" {
		return DNSLabel(task)
	}
	return DNSLabel(task + "-" + role)
}

// buildPodGroup is a party's PodGroup when the policy uses PodGroups
// (--pod-groups), else nil: gang minCount = the party's minReservedPods,
// owned by the task and labelled like the party's other objects. The
// party's pods join it (see joinPodGroup).
func buildPodGroup(task *kusciav1alpha1.KusciaTask, plan *TaskPlan, party *PartyPlan) (*schedulingv1beta1.PodGroup, error) {
	if !plan.Policy.PodGroups || len(party.Pods) == 0 {
		return nil, nil
	}
	pg, err := podgroup.New(party.Pods[0].Namespace, PodGroupName(task.Name, party.Role), Labels(task, party),
		*OwnerReference(task), int32(party.MinReservedPods))
	if err != nil {
		return nil, inputErrorf(kusciav1alpha1.ReasonInvalidTemplate, "party %s: %v", party.DomainID, err)
	}
	return pg, nil
}
