package builder

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/util/validation"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// The bounds here repeat the CRD schema's (for clusters that do not enforce
// it) and add the operator's policy: a task may be refused for its size
// before any of its objects is planned, built or created.

// checkReplicas bounds one party's pods.
func checkReplicas(domainID string, replicas int, policy Policy) error {
	switch {
	case replicas < 1:
		// A party that runs no pod would count as done without doing
		// anything, and a task of such parties would "succeed".
		return inputErrorf(kusciav1alpha1.ReasonInvalidTemplate,
			"party %s: replicas must be at least 1, got %d: a party without pods cannot take part", domainID, replicas)
	case replicas > policy.MaxReplicasPerParty:
		return inputErrorf(kusciav1alpha1.ReasonTooManyPods,
			"party %s: %d replicas, more than the %d per party this controller allows (--max-replicas-per-party)",
			domainID, replicas, policy.MaxReplicasPerParty)
	}
	return nil
}

// checkTaskSize bounds the pods of the whole task and their size together.
func checkTaskSize(plan *TaskPlan) error {
	pods, bytes := 0, 0
	for _, party := range plan.Parties {
		pods += party.Replicas
		bytes += party.Replicas * party.podBytes
	}
	if pods > plan.Policy.MaxPodsPerTask {
		return inputErrorf(kusciav1alpha1.ReasonTooManyPods,
			"the parties ask for %d pods in all, more than the %d per task this controller allows (--max-pods-per-task)",
			pods, plan.Policy.MaxPodsPerTask)
	}
	if bytes > plan.Policy.MaxPodBytesPerTask {
		return inputErrorf(kusciav1alpha1.ReasonTaskTooLarge,
			"the task's %d pods would take %d bytes (pod templates times replicas), more than the %d one task may build",
			pods, bytes, plan.Policy.MaxPodBytesPerTask)
	}
	return nil
}

// podTemplateBytes is the size of a merged pod template as JSON: what each
// of the party's pods copies.
func podTemplateBytes(spec *kusciav1alpha1.PodSpec) (int, error) {
	b, err := json.Marshal(spec)
	if err != nil {
		return 0, fmt.Errorf("encode pod template: %w", err)
	}
	return len(b), nil
}

// countBound is one list or map of the input and its bound.
type countBound struct {
	container string // empty for the pod
	field     string
	n, max    int
}

// checkCounts refuses lists and maps of a pod template longer than the
// schema allows.
func checkCounts(domainID string, spec *kusciav1alpha1.PodSpec) error {
	bounds := []countBound{
		{"", "containers", len(spec.Containers), kusciav1alpha1.MaxContainers},
		{"", "tolerations", len(spec.Tolerations), kusciav1alpha1.MaxTolerations},
		{"", "nodeSelector", len(spec.NodeSelector), kusciav1alpha1.MaxNodeSelector},
	}
	for _, c := range spec.Containers {
		bounds = append(bounds,
			countBound{c.Name, "command", len(c.Command), kusciav1alpha1.MaxCommandArgs},
			countBound{c.Name, "args", len(c.Args), kusciav1alpha1.MaxCommandArgs},
			countBound{c.Name, "ports", len(c.Ports), kusciav1alpha1.MaxPortsPerContainer},
			countBound{c.Name, "env", len(c.Env), kusciav1alpha1.MaxEnvPerContainer},
			countBound{c.Name, "envFrom", len(c.EnvFrom), kusciav1alpha1.MaxEnvFromPerContainer},
			countBound{c.Name, "configVolumeMounts", len(c.ConfigVolumeMounts), kusciav1alpha1.MaxConfigVolumeMounts},
		)
	}
	for _, b := range bounds {
		if b.n <= b.max {
			continue
		}
		where := b.field
		if b.container != "" {
			where = fmt.Sprintf("container %q %s", b.container, b.field)
		}
		return inputErrorf(kusciav1alpha1.ReasonInvalidTemplate,
			"party %s: %s has %d entries, more than the %d allowed", domainID, where, b.n, b.max)
	}
	return nil
}

// validateImage checks what of an AppImage reaches the party's objects
// besides its pod template: the image reference and the config templates.
func validateImage(domainID string, img *kusciav1alpha1.AppImage) error {
	invalid := func(format string, args ...any) error {
		return inputErrorf(kusciav1alpha1.ReasonInvalidTemplate, "party %s: AppImage %s: "+format,
			append([]any{domainID, img.Name}, args...)...)
	}
	if n := len(img.Spec.Image.Name); n > kusciav1alpha1.MaxImageNameLength {
		return invalid("image.name has %d characters, more than the %d allowed", n, kusciav1alpha1.MaxImageNameLength)
	}
	if n := len(img.Spec.Image.Tag); n > kusciav1alpha1.MaxImageTagLength {
		return invalid("image.tag has %d characters, more than the %d allowed", n, kusciav1alpha1.MaxImageTagLength)
	}
	if n := len(img.Spec.ConfigTemplates); n > kusciav1alpha1.MaxConfigTemplates {
		return invalid("%d configTemplates, more than the %d allowed", n, kusciav1alpha1.MaxConfigTemplates)
	}
	for name, text := range img.Spec.ConfigTemplates {
		if errs := validation.IsConfigMapKey(name); len(errs) > 0 {
			return invalid("configTemplates key %q is not a valid file name: %s", name, errs[0])
		}
		if n := utf8.RuneCountInString(text); n > kusciav1alpha1.MaxConfigTemplateLength {
			return invalid("config template %q has %d characters, more than the %d allowed", name, n, kusciav1alpha1.MaxConfigTemplateLength)
		}
	}
	return nil
}
