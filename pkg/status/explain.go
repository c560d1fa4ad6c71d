package status

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
	"kusciatask.io/controller/pkg/podstate"
)

// Explains reports whether the terminal phase in the task's status is one
// the controller itself reaches from what it can check: the task's own
// pods (in.Pods: only pods carrying its mark), its spec, its creation time
// and the clock, never the rest of its status (anyone with write access to
// kusciatasks/status can write that). When not, it says why. The
// controller checks it before it acts on a terminal phase (stopping the
// pods still live); the rule is correct for every way it ends a task
// itself, including when it restarts between writing the end and
// stopping the pods:
//
//   - Succeeded: at least minReservedMembers parties have at least
//     minReservedPods succeeded pods (running: the end of a task's own
//     pods; succeeded pods are never stopped, so they are still there).
//   - Failed: fewer than minReservedMembers parties can still succeed. A
//     pod can still succeed when it exists, has not failed (podstate) and
//     its reservation gate is not closed: a finished task's gates never
//     open, so a pod still held behind one will never run. This covers a
//     party failing, its pods deleted, a reservation that expired or a
//     task that failed on its input while its pods were still held (their
//     gates closed), and the parties a partial gang went without (their
//     gates stayed closed). Pods made without a gate
//     (--reservation-gate=false) run as soon as they are bound; for them
//     an expired reservation is explained by the clock alone: the task is
//     older than lifecycleSeconds (its creation, which status cannot
//     move, is no later than its startTime).
//
// A task whose spec no longer resolves to a roster fails on its input, so
// Failed is then explained and Succeeded is not.
func Explains(in Input) (bool, string) {
	phase := in.Task.Status.Phase
	if in.Roster == nil {
		return phase == kusciav1alpha1.TaskFailed, "the task's spec does not resolve to its parties"
	}
	need := in.Roster.Schedule.MinReservedMembers
	pods := podsByKey(in.Pods)
	switch phase {
	case kusciav1alpha1.TaskSucceeded:
		n := countParties(in.Roster, pods, podSucceeded)
		return n >= need, fmt.Sprintf("%d of %d parties have succeeded pods (%d needed)", n, len(in.Roster.Parties), need)
	case kusciav1alpha1.TaskFailed:
		n := countParties(in.Roster, pods, mayStillSucceed)
		if n < need || (!anyGated(in.Pods) && expired(in)) {
			return true, ""
		}
		return false, fmt.Sprintf("%d of %d parties can still succeed (%d needed)", n, len(in.Roster.Parties), need)
	}
	return true, ""
}

// countParties counts the parties with at least minReservedPods pods that
// satisfy ok.
func countParties(roster *builder.Roster, pods map[string]*corev1.Pod, ok func(*corev1.Pod) bool) int {
	n := 0
	for _, party := range roster.Parties {
		good := 0
		for _, ref := range party.Pods {
			if pod := pods[ref.Key()]; pod != nil && ok(pod) {
				good++
			}
		}
		if good >= party.MinReservedPods {
			n++
		}
	}
	return n
}

func podSucceeded(pod *corev1.Pod) bool {
	return podstate.Of(pod).Phase == podstate.Succeeded
}

// mayStillSucceed: the pod has not failed and no closed gate holds it.
func mayStillSucceed(pod *corev1.Pod) bool {
	return podstate.Of(pod).Phase != podstate.Failed && !gateClosed(pod)
}

// expired reports whether the task is older than its lifecycle.
func expired(in Input) bool {
	created := in.Task.CreationTimestamp.Time
	return !created.IsZero() && !in.Now.Before(created.Add(in.Roster.Schedule.Lifecycle))
}

// Tampered is the status of a finished task whose phase the controller
// does not explain (Explains): the phase and completionTime stay (they
// cannot change), reason StatusTampered and a message say what happened,
// and the parties and pods are reported as observed now. It is written
// once; the pods are not stopped.
func Tampered(in Input, why string) kusciav1alpha1.KusciaTaskStatus {
	n := begin(in)
	s := n.s
	s.Reason = kusciav1alpha1.ReasonStatusTampered
	s.Message = fmt.Sprintf(msgTampered, s.Phase, why)
	if in.Roster != nil {
		s.PartyTaskStatus = s.PartyTaskStatus[:0:0]
		for _, party := range in.Roster.Parties {
			r := runningParty(party, n.pods)
			s.PartyTaskStatus = append(s.PartyTaskStatus, kusciav1alpha1.PartyTaskStatus{
				DomainID: party.DomainID, Role: party.Role, Phase: r.phase, Message: r.message,
			})
		}
	}
	// Reported afresh: what the forged status says of them is no evidence.
	s.PodStatuses = podStatuses(nil, in.Pods, nil)
	s.ServiceStatuses = serviceStatuses(nil, in.Services, s.PodStatuses)
	s.PartiesSummary = PartiesSummary(s, len(in.Task.Spec.Parties))
	s.LastReconcileTime = &n.now
	return *s
}

// msgTampered is the message of a tampered status: the claimed phase and
// what the pods show.
const msgTampered = "status.phase was set to %s by someone other than the controller: %s. " +
	"No pod was stopped: they run to their own end. A finished task's phase cannot change, so it stays; " +
	"install the admission policy of crds/ so that only the controller may write a task's status"
