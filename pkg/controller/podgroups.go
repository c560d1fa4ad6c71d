package controller

import (
	schedulingv1beta1 "k8s.io/api/scheduling/v1beta1"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/podgroup"
)

// groupMessages maps each party (by the domainID label of its PodGroup) to
// why kube-scheduler cannot place its group, for the parties it said so
// of (condition PodGroupInitiallyScheduled=False).
func groupMessages(groups []*schedulingv1beta1.PodGroup) map[string]string {
	out := map[string]string{}
	for _, pg := range groups {
		if msg, ok := podgroup.NotScheduledMessage(pg); ok {
			out[pg.Labels[kusciav1alpha1.LabelParty]] = msg
		}
	}
	return out
}
