package builder

import (
	"fmt"
	"maps"
	"slices"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// validateSpec repeats the CRD's admission rules, for clusters that do not
// enforce them (no CEL, or objects stored before the CRD was updated). It
// returns every problem it finds; with too few or too many parties it looks
// no further.
func validateSpec(spec *kusciav1alpha1.KusciaTaskSpec) problems {
	var probs problems
	invalid := func(format string, args ...any) {
		_ = probs.add(inputErrorf(kusciav1alpha1.ReasonInvalidSpec, format, args...))
	}
	switch n := len(spec.Parties); {
	case n == 0:
		invalid("spec.parties: at least one party is required")
		return probs
	case n > kusciav1alpha1.MaxParties:
		invalid("spec.parties: at most %d parties are allowed, got %d", kusciav1alpha1.MaxParties, n)
		return probs
	}
	seen := sets.New[string]()
	for i, p := range spec.Parties {
		if errs := validation.IsDNS1123Label(p.DomainID); len(errs) > 0 {
			invalid("spec.parties[%d].domainID: %q is not a valid domain name: %s", i, p.DomainID, errs[0])
		} else if seen.Has(p.DomainID) {
			invalid("spec.parties[%d].domainID: domain %q is listed more than once", i, p.DomainID)
		}
		seen.Insert(p.DomainID)
		if p.Role != "" {
			if errs := validation.IsDNS1123Label(p.Role); len(errs) > 0 {
				invalid("spec.parties[%d].role: %q is not a valid role: %s", i, p.Role, errs[0])
			}
		}
	}
	if !seen.Has(spec.Initiator) {
		invalid("spec.initiator: %q is not one of the parties", spec.Initiator)
	}
	return probs
}

// checkTaskInputConfig bounds the input every pod's config carries. Only
// tasks about to create pods are checked: a running task keeps running.
func checkTaskInputConfig(spec *kusciav1alpha1.KusciaTaskSpec) error {
	if n := utf8.RuneCountInString(spec.TaskInputConfig); n > kusciav1alpha1.MaxTaskInputConfigLength {
		return inputErrorf(kusciav1alpha1.ReasonInvalidSpec, "spec.taskInputConfig: %d characters, more than the %d allowed",
			n, kusciav1alpha1.MaxTaskInputConfigLength)
	}
	return nil
}

// checkDomain fails a party whose namespace is missing or not a Kuscia
// domain: a KusciaTask must not become a way to start pods in any namespace.
func checkDomain(domainID string, ns *corev1.Namespace) error {
	if ns == nil {
		return inputErrorf(kusciav1alpha1.ReasonDomainNotFound,
			"party %s: namespace %q does not exist", domainID, domainID)
	}
	if _, ok := ns.Labels[kusciav1alpha1.LabelDomain]; !ok {
		return inputErrorf(kusciav1alpha1.ReasonDomainNotFound,
			"party %s: namespace %q is not a Kuscia domain (it lacks the label %s)", domainID, domainID, kusciav1alpha1.LabelDomain)
	}
	return nil
}

// validatePodSpec checks what the merged template needs to make a pod: at
// least one container and no more lists than the schema allows, unique
// container and port names, requests within limits (the API server
// refuses a pod otherwise), mounts of config files that exist.
func validatePodSpec(domainID string, spec *kusciav1alpha1.PodSpec, configFiles sets.Set[string]) error {
	invalid := func(format string, args ...any) error {
		return inputErrorf(kusciav1alpha1.ReasonInvalidTemplate, "party %s: "+format, append([]any{domainID}, args...)...)
	}
	if len(spec.Containers) == 0 {
		return invalid("the deploy template has no containers")
	}
	if err := checkCounts(domainID, spec); err != nil {
		return err
	}
	containers, ports := sets.New[string](), sets.New[string]()
	for _, c := range spec.Containers {
		if errs := validation.IsDNS1123Label(c.Name); len(errs) > 0 {
			return invalid("container name %q: %s", c.Name, errs[0])
		}
		if containers.Has(c.Name) {
			return invalid("container name %q is used twice", c.Name)
		}
		containers.Insert(c.Name)
		for _, p := range c.Ports {
			if errs := validation.IsValidPortName(p.Name); len(errs) > 0 {
				return invalid("container %q port name %q: %s", c.Name, p.Name, errs[0])
			}
			if ports.Has(p.Name) {
				return invalid("port name %q is used twice", p.Name)
			}
			ports.Insert(p.Name)
		}
		if err := checkRequestsWithinLimits(c.Resources); err != nil {
			return invalid("container %q: %v", c.Name, err)
		}
		for _, m := range c.ConfigVolumeMounts {
			if !configFiles.Has(m.SubPath) {
				return invalid("container %q mounts config file %q, which the AppImage does not define (known: %v)",
					c.Name, m.SubPath, sets.List(configFiles))
			}
		}
	}
	return nil
}

// checkRequestsWithinLimits refuses a request above the limit of the same
// resource, in resource name order, as the API server's pod validation
// does.
func checkRequestsWithinLimits(r corev1.ResourceRequirements) error {
	for _, name := range slices.Sorted(maps.Keys(r.Requests)) {
		req := r.Requests[name]
		if limit, ok := r.Limits[name]; ok && req.Cmp(limit) > 0 {
			return fmt.Errorf("the %s request %s is above its limit %s", name, req.String(), limit.String())
		}
	}
	return nil
}
