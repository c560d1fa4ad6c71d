package status

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
	"kusciatask.io/controller/pkg/podstate"
	"kusciatask.io/controller/pkg/reservation"
)

// notReservedMessage is the message of a party the gang went without.
const notReservedMessage = "not reserved when the task started; its pods were deleted"

// partyResult is the phase of one party and why.
type partyResult struct {
	phase   kusciav1alpha1.KusciaTaskPhase
	message string
}

// running derives the phase of a running task from its parties. The
// parties the gang went without have their pods stopped and count as
// failed.
func (n *next) running() {
	s, roster := n.s, n.in.Roster
	dropped := reservation.Dropped(s.Reservation, roster.DomainIDs())
	var succeeded, failed int
	var failures []string
	s.PartyTaskStatus = s.PartyTaskStatus[:0:0]
	for _, party := range roster.Parties {
		var r partyResult
		if slices.Contains(dropped, party.DomainID) {
			r = partyResult{phase: kusciav1alpha1.TaskFailed, message: notReservedMessage}
			n.stopParty(party, fmt.Sprintf("party %s was not reserved when the task started", party.DomainID))
		} else {
			r = runningParty(party, n.pods)
		}
		s.PartyTaskStatus = append(s.PartyTaskStatus, kusciav1alpha1.PartyTaskStatus{
			DomainID: party.DomainID, Role: party.Role, Phase: r.phase, Message: r.message,
		})
		switch r.phase {
		case kusciav1alpha1.TaskSucceeded:
			succeeded++
		case kusciav1alpha1.TaskFailed:
			failed++
			failures = append(failures, fmt.Sprintf("party %s failed: %s", party.DomainID, r.message))
		}
	}
	need := roster.Schedule.MinReservedMembers
	switch {
	case succeeded >= need:
		n.finish(kusciav1alpha1.TaskSucceeded, kusciav1alpha1.ReasonSucceeded, fmt.Sprintf("%d of %d parties succeeded", succeeded, len(roster.Parties)))
	case len(roster.Parties)-failed < need:
		n.finish(kusciav1alpha1.TaskFailed, kusciav1alpha1.ReasonPartiesFailed, strings.Join(failures, "; "))
	default:
		s.Reason, s.Message = kusciav1alpha1.ReasonRunning, ""
	}
}

// stopParty stops the live pods of a party.
func (n *next) stopParty(party builder.RosterParty, why string) {
	for _, ref := range party.Pods {
		if pod := n.pods[ref.Key()]; pod != nil {
			n.stop(pod, why)
		}
	}
}

// runningParty derives a running party's phase from its pods: Succeeded once
// minReservedPods pods succeeded, Failed once fewer than that can still
// succeed (a pod failed, is stuck, is being deleted or was deleted), Running
// while any pod runs, else Pending.
func runningParty(party builder.RosterParty, pods map[string]*corev1.Pod) partyResult {
	var succeeded, running int
	var failures []string
	for _, ref := range party.Pods {
		st := podstate.Gone()
		if pod := pods[ref.Key()]; pod != nil {
			st = podstate.Of(pod)
		}
		switch st.Phase {
		case podstate.Failed:
			failures = append(failures, "pod "+ref.Key()+" "+st.Summary())
		case podstate.Succeeded:
			succeeded++
		case podstate.Running:
			running++
		}
	}
	switch {
	case succeeded >= party.MinReservedPods:
		return partyResult{phase: kusciav1alpha1.TaskSucceeded}
	case party.Replicas-len(failures) < party.MinReservedPods:
		return partyResult{phase: kusciav1alpha1.TaskFailed, message: strings.Join(failures, "; ")}
	case running > 0:
		return partyResult{phase: kusciav1alpha1.TaskRunning}
	default:
		return partyResult{phase: kusciav1alpha1.TaskPending}
	}
}

// reservingParties reports each party of a Pending task, with the reason of
// the parties that have not reserved yet.
func reservingParties(roster *builder.Roster, d reservation.Decision, pods map[string]*corev1.Pod, groups map[string]string) []kusciav1alpha1.PartyTaskStatus {
	out := make([]kusciav1alpha1.PartyTaskStatus, 0, len(roster.Parties))
	for _, party := range roster.Parties {
		ps := kusciav1alpha1.PartyTaskStatus{DomainID: party.DomainID, Role: party.Role, Phase: kusciav1alpha1.TaskPending}
		switch {
		case d.State.ReleasedTime != nil:
			ps.Message = fmt.Sprintf("round %d released; waiting for the next round", d.State.Round)
		case !slices.Contains(d.ReservedParties, party.DomainID):
			ps.Message = fmt.Sprintf("not reserved (%s, needs %d): %s", reservedCount(party, pods), party.MinReservedPods, partyReasons(party, pods, groups))
		default:
			ps.Message = heldMessage(roster, party, d, pods, groups)
		}
		out = append(out, ps)
	}
	return out
}

// reservedCount is "reserved 1/2 pods": how many of a party's pods are
// reserved, of how many; while some of them are bound but still pulling
// their images (see podstate.Pulling), "bound 2/2, pulling images 1/2".
func reservedCount(party builder.RosterParty, pods map[string]*corev1.Pod) string {
	var reserved, pulling int
	for _, ref := range party.Pods {
		pod := pods[ref.Key()]
		if pod == nil {
			continue
		}
		switch st := podstate.Of(pod); {
		case st.Reserved():
			reserved++
		case st.Phase == podstate.Pulling:
			pulling++
		}
	}
	if pulling > 0 {
		return fmt.Sprintf("bound %d/%d, pulling images %d/%d", reserved+pulling, len(party.Pods), pulling, len(party.Pods))
	}
	return fmt.Sprintf("reserved %d/%d pods", reserved, len(party.Pods))
}

// heldMessage is the message of a reserved party of a task still waiting:
// what it holds, whether its gates hold it, and whom it waits for and why,
// e.g. "reserved 2/2 pods, gate closed; waiting for [bob]: bob/…-0:
// 0/2 nodes are available: 2 Insufficient cpu.". Each waiting party gives
// its first reason, so the message stays short however many pods wait.
func heldMessage(roster *builder.Roster, party builder.RosterParty, d reservation.Decision, pods map[string]*corev1.Pod, groups map[string]string) string {
	msg := reservedCount(party, pods)
	if partyGated(party, pods) {
		msg += ", gate closed"
	}
	if len(d.UnreservedParties) == 0 {
		return msg
	}
	var reasons []string
	for _, other := range roster.Parties {
		if slices.Contains(d.UnreservedParties, other.DomainID) {
			reasons = append(reasons, firstReason(partyReasons(other, pods, groups)))
		}
	}
	return fmt.Sprintf("%s; waiting for %v: %s", msg, d.UnreservedParties, strings.Join(reasons, "; "))
}

// firstReason is the first of the "; "-joined reasons of a party, with how
// many more there are.
func firstReason(reasons string) string {
	first, rest, more := strings.Cut(reasons, "; ")
	if !more {
		return first
	}
	return fmt.Sprintf("%s (and %d more)", first, strings.Count(rest, "; ")+1)
}

// partyGated reports whether any pod of the party carries a gate.
func partyGated(party builder.RosterParty, pods map[string]*corev1.Pod) bool {
	for _, ref := range party.Pods {
		if pod := pods[ref.Key()]; pod != nil && anyGated([]*corev1.Pod{pod}) {
			return true
		}
	}
	return false
}

// partyReasons says why a party is not reserved: its pods' reasons, then
// its PodGroup's scheduling message (prefixed with the domain), when there
// is one.
func partyReasons(party builder.RosterParty, pods map[string]*corev1.Pod, groups map[string]string) string {
	reasons := schedulingReasons(party, pods)
	if msg := groups[party.DomainID]; msg != "" {
		return reasons + "; " + party.DomainID + ": pod group: " + msg
	}
	return reasons
}

// schedulingReasons says why the pods of a party are not reserved.
func schedulingReasons(party builder.RosterParty, pods map[string]*corev1.Pod) string {
	var reasons []string
	for _, ref := range party.Pods {
		pod := pods[ref.Key()]
		if pod == nil {
			continue
		}
		if st := podstate.Of(pod); !st.Reserved() {
			reasons = append(reasons, ref.Key()+": "+st.Summary())
		}
	}
	if len(reasons) == 0 {
		return "pods not created yet"
	}
	return strings.Join(reasons, "; ")
}

// failedParties are the parties of a task that fails at once: those of its
// roster; when it could not be resolved, those its last status reported
// (the parties that ran, even if the spec was edited since), else its
// spec's. A party that had already succeeded keeps its report; the others
// are left unfinished for finish to fail with the task.
func failedParties(in Input, old []kusciav1alpha1.PartyTaskStatus) []kusciav1alpha1.PartyTaskStatus {
	var out []kusciav1alpha1.PartyTaskStatus
	add := func(domainID, role string) {
		ps := kusciav1alpha1.PartyTaskStatus{DomainID: domainID, Role: role}
		for _, o := range old {
			if o.DomainID == domainID && o.Phase == kusciav1alpha1.TaskSucceeded {
				ps = o
			}
		}
		out = append(out, ps)
	}
	if in.Roster != nil {
		for _, p := range in.Roster.Parties {
			add(p.DomainID, p.Role)
		}
		return out
	}
	for _, p := range old {
		add(p.DomainID, p.Role)
	}
	if len(old) > 0 {
		return out
	}
	for _, p := range in.Task.Spec.Parties {
		add(p.DomainID, p.Role)
	}
	return out
}

// podKey names a pod as "namespace/name".
func podKey(pod *corev1.Pod) string {
	return pod.Namespace + "/" + pod.Name
}

func podsByKey(pods []*corev1.Pod) map[string]*corev1.Pod {
	m := make(map[string]*corev1.Pod, len(pods))
	for _, p := range pods {
		m[podKey(p)] = p
	}
	return m
}
