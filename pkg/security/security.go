// Package security decides whether a pod the controller built may run in a
// party's namespace. Whoever can create a KusciaTask or an AppImage borrows
// the controller's right to create pods in every domain, so every pod is
// held to the Pod Security Standards, evaluated by the upstream evaluator
// (k8s.io/pod-security-admission/policy, the code behind the PodSecurity
// admission plugin), and may not read the domain's Secrets unless the domain
// allows it. Everything here is pure.
package security

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// DefaultLevel is the controller's level unless --pod-security-level says
// otherwise: baseline forbids the known privilege escalations (privileged
// containers, added capabilities beyond the default set, host namespaces,
// host paths and ports, ...) and runs every ordinary workload.
const DefaultLevel = psapi.LevelBaseline

// evaluator holds the upstream checks of every level and version.
var evaluator = mustEvaluator()

func mustEvaluator() policy.Evaluator {
	e, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		panic(fmt.Sprintf("pod security evaluator: %v", err))
	}
	return e
}

// ParseLevel parses a --pod-security-level value.
func ParseLevel(s string) (psapi.Level, error) {
	level := psapi.Level(s)
	if !level.Valid() {
		return "", fmt.Errorf("pod security level %q: must be one of privileged, baseline, restricted", s)
	}
	return level, nil
}

// Requirement is one Pod Security Standards level a pod must meet, and who
// asks for it (for messages).
type Requirement struct {
	psapi.LevelVersion
	Source string
}

// Requirements are what every pod of a party must satisfy in its namespace.
type Requirements struct {
	// Levels, strictest first; a pod must meet all of them.
	Levels []Requirement
	// AllowSecretRefs lets containers read Secrets of the namespace.
	AllowSecretRefs bool
}

// For resolves the requirements of pods in ns: the stricter of the
// controller's level and the namespace's pod-security.kubernetes.io/enforce
// label (with its enforce-version) - in fact both, so neither can be
// loosened by the other. A label the PodSecurity admission plugin cannot
// parse is read as that plugin reads it: restricted, latest.
func For(controllerLevel psapi.Level, ns *corev1.Namespace) Requirements {
	if !controllerLevel.Valid() {
		controllerLevel = DefaultLevel
	}
	controller := Requirement{
		LevelVersion: psapi.LevelVersion{Level: controllerLevel, Version: psapi.LatestVersion()},
		Source:       "the controller's --pod-security-level",
	}
	req := Requirements{Levels: []Requirement{controller}}
	if ns == nil {
		return req
	}
	privileged := psapi.LevelVersion{Level: psapi.LevelPrivileged, Version: psapi.LatestVersion()}
	p, errs := psapi.PolicyToEvaluate(ns.Labels, psapi.Policy{Enforce: privileged, Audit: privileged, Warn: privileged})
	source := fmt.Sprintf("label %s of namespace %s", psapi.EnforceLevelLabel, ns.Name)
	if len(errs) > 0 {
		source = fmt.Sprintf("namespace %s, whose pod-security labels are invalid (%v) and read as %s, as the PodSecurity admission plugin does",
			ns.Name, errs.ToAggregate(), p.Enforce)
	}
	if p.Enforce.Level != psapi.LevelPrivileged && !p.Enforce.Equivalent(&controller.LevelVersion) {
		req.Levels = append(req.Levels, Requirement{LevelVersion: p.Enforce, Source: source})
	}
	slices.SortStableFunc(req.Levels, func(a, b Requirement) int { return -psapi.CompareLevels(a.Level, b.Level) })
	req.AllowSecretRefs = ns.Labels[kusciav1alpha1.LabelAllowSecretRefs] == "true"
	return req
}

// Violation is why a pod may not run.
type Violation struct {
	Reason  kusciav1alpha1.KusciaTaskReason
	Message string
}

func (v *Violation) Error() string { return string(v.Reason) + ": " + v.Message }

// Check returns nil when the pod meets req, else the first violation: the
// strictest Pod Security level it breaks (the upstream evaluator's message
// names each container and field), then any Secret it reads.
func Check(req Requirements, pod *corev1.Pod) *Violation {
	for _, r := range req.Levels {
		result := policy.AggregateCheckResults(evaluator.EvaluatePod(r.LevelVersion, &pod.ObjectMeta, &pod.Spec))
		if !result.Allowed {
			return &Violation{
				Reason: kusciav1alpha1.ReasonPodSecurityViolation,
				Message: fmt.Sprintf("pod %s violates PodSecurity %q (required by %s): %s",
					pod.Name, r.LevelVersion.String(), r.Source, result.ForbiddenDetail()),
			}
		}
	}
	if refs := SecretRefs(&pod.Spec); len(refs) > 0 && !req.AllowSecretRefs {
		return &Violation{
			Reason: kusciav1alpha1.ReasonSecretRefForbidden,
			Message: fmt.Sprintf("pod %s reads Secrets of namespace %s: %s; the namespace allows that only with the label %s=true",
				pod.Name, pod.Namespace, strings.Join(refs, ", "), kusciav1alpha1.LabelAllowSecretRefs),
		}
	}
	return nil
}

// SecretRefs lists, for messages, every place a container of spec reads a
// Secret through its environment: envFrom[].secretRef and
// env[].valueFrom.secretKeyRef.
func SecretRefs(spec *corev1.PodSpec) []string {
	var refs []string
	for _, c := range allContainers(spec) {
		for i, from := range c.EnvFrom {
			if from.SecretRef != nil {
				refs = append(refs, fmt.Sprintf("container %q envFrom[%d].secretRef (Secret %q)", c.Name, i, from.SecretRef.Name))
			}
		}
		for i, env := range c.Env {
			if env.ValueFrom != nil && env.ValueFrom.SecretKeyRef != nil {
				refs = append(refs, fmt.Sprintf("container %q env[%d] %s valueFrom.secretKeyRef (Secret %q)",
					c.Name, i, env.Name, env.ValueFrom.SecretKeyRef.Name))
			}
		}
	}
	return refs
}

// allContainers are the init and app containers of a pod, with their names
// and environments (ephemeral containers are never built by the controller).
func allContainers(spec *corev1.PodSpec) []corev1.Container {
	return slices.Concat(spec.InitContainers, spec.Containers)
}
