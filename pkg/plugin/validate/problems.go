package validate

// This file holds how the builder's problems are reported: with the path
// of the task's field each is about, with what to pass when a reference is
// unknown offline, and without the builder's repeats of the CRD's rules
// once the schema said the same.

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/sets"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
)

// builderProblems are the builder's problems of a task as validate lists
// them. schemaRejected: the CRD's schema (offline) or the cluster's dry
// run rejected the task, and said what the builder's InvalidSpec checks
// (repeats of the CRD's rules, for clusters that do not enforce them)
// would say again.
func builderProblems(ies []*builder.InputError, parties []kusciav1alpha1.PartyInfo, in builder.Inputs, offline, schemaRejected bool) []Problem {
	var out []Problem
	for _, ie := range ies {
		if schemaRejected && ie.Reason == kusciav1alpha1.ReasonInvalidSpec {
			continue
		}
		msg := withFieldPath(ie, parties)
		if offline {
			msg += missingInputHint(ie, parties, in)
		}
		out = append(out, Problem{Reason: string(ie.Reason), Message: msg})
	}
	return out
}

// partyOf is the index of the party a builder message is about ("party
// alice: ..."), or -1.
func partyOf(msg string, parties []kusciav1alpha1.PartyInfo) int {
	for i, p := range parties {
		if strings.HasPrefix(msg, "party "+p.DomainID+": ") {
			return i
		}
	}
	return -1
}

// partyFields are the fields of a party a reason is about; the others are
// about the party's template.
var partyFields = map[kusciav1alpha1.KusciaTaskReason]string{
	kusciav1alpha1.ReasonAppImageNotFound:       "appImageRef",
	kusciav1alpha1.ReasonDomainNotFound:         "domainID",
	kusciav1alpha1.ReasonDeployTemplateNotFound: "role",
	kusciav1alpha1.ReasonConfigRenderFailed:     "appImageRef",
	kusciav1alpha1.ReasonTooManyPods:            "template.replicas",
}

// withFieldPath is a builder message led by the path of the task's field
// it is about. A message that starts with its path already is kept; one
// about the whole task is about spec.parties.
func withFieldPath(ie *builder.InputError, parties []kusciav1alpha1.PartyInfo) string {
	if strings.HasPrefix(ie.Message, "spec.") {
		return ie.Message
	}
	i := partyOf(ie.Message, parties)
	if i < 0 {
		return "spec.parties: " + ie.Message
	}
	f, ok := partyFields[ie.Reason]
	if !ok {
		f = "template"
	}
	return fmt.Sprintf("spec.parties[%d].%s: %s", i, f, ie.Message)
}

// missingInputHint tells, offline, which flag gives a party's AppImage or
// namespace that no file gave.
func missingInputHint(ie *builder.InputError, parties []kusciav1alpha1.PartyInfo, in builder.Inputs) string {
	i := partyOf(ie.Message, parties)
	if i < 0 {
		return ""
	}
	switch ie.Reason {
	case kusciav1alpha1.ReasonAppImageNotFound:
		if _, ok := in.AppImages[parties[i].AppImageRef]; !ok {
			return " (offline: give the AppImage with --appimage-file)"
		}
	case kusciav1alpha1.ReasonDomainNotFound:
		if _, ok := in.Namespaces[parties[i].DomainID]; !ok {
			return " (offline: give the domain's namespace with --domain-file)"
		}
	}
	return ""
}

// partiesWith are the domains of the parties the builder found a problem
// of the reason with.
func partiesWith(ies []*builder.InputError, reason kusciav1alpha1.KusciaTaskReason, parties []kusciav1alpha1.PartyInfo) sets.Set[string] {
	out := sets.New[string]()
	for _, ie := range ies {
		if i := partyOf(ie.Message, parties); ie.Reason == reason && i >= 0 {
			out.Insert(parties[i].DomainID)
		}
	}
	return out
}

// withoutPodSecurityRefusals are a party's dry-run problems but Pod
// Security admission's refusals, which the builder's PodSecurityViolation
// of the party says already.
func withoutPodSecurityRefusals(problems []Problem) []Problem {
	return slices.DeleteFunc(problems, func(p Problem) bool {
		return p.Reason == string(kusciav1alpha1.ReasonResourceRejected) && strings.Contains(p.Message, "violates PodSecurity")
	})
}
