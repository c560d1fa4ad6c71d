package builder

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// selectDeployTemplate picks the AppImage deploy template for a role: the one
// whose comma-separated role list names the role, else one without roles,
// else (only for a party without a role) the first. It returns nil when none
// fits.
func selectDeployTemplate(img *kusciav1alpha1.AppImage, role string) *kusciav1alpha1.DeployTemplate {
	templates := img.Spec.DeployTemplates
	if role != "" {
		for i := range templates {
			if slices.Contains(splitRoles(templates[i].Role), role) {
				return &templates[i]
			}
		}
	}
	for i := range templates {
		if len(splitRoles(templates[i].Role)) == 0 {
			return &templates[i]
		}
	}
	if role == "" && len(templates) > 0 {
		return &templates[0]
	}
	return nil
}

func splitRoles(roles string) []string {
	var out []string
	for _, r := range strings.Split(roles, ",") {
		if r = strings.TrimSpace(r); r != "" {
			out = append(out, r)
		}
	}
	return out
}

// mergeTemplate lays a party's template over the AppImage's deploy template
// (base may be nil when the party brings its own containers). Every field the
// party sets wins. When the party lists containers, they are the pod's
// containers, each laid over the AppImage container of the same name.
func mergeTemplate(base *kusciav1alpha1.DeployTemplate, override *kusciav1alpha1.PartyTemplate) (replicas int32, spec kusciav1alpha1.PodSpec) {
	replicas = 1
	if base != nil {
		spec = *base.Spec.DeepCopy()
		if base.Replicas != nil {
			replicas = *base.Replicas
		}
	}
	if override != nil {
		if override.Replicas != nil {
			replicas = *override.Replicas
		}
		spec = mergePodSpec(spec, override)
	}
	if spec.RestartPolicy == "" {
		spec.RestartPolicy = corev1.RestartPolicyNever
	}
	defaultPorts(&spec)
	return replicas, spec
}

// defaultPorts fills a port's protocol (TCP) and scope (Local) when unset.
func defaultPorts(spec *kusciav1alpha1.PodSpec) {
	for ci := range spec.Containers {
		for pi := range spec.Containers[ci].Ports {
			port := &spec.Containers[ci].Ports[pi]
			if port.Protocol == "" {
				port.Protocol = kusciav1alpha1.ProtocolTCP
			}
			if port.Scope == "" {
				port.Scope = kusciav1alpha1.ScopeLocal
			}
		}
	}
}

func mergePodSpec(spec kusciav1alpha1.PodSpec, override *kusciav1alpha1.PartyTemplate) kusciav1alpha1.PodSpec {
	o := override.Spec.DeepCopy()
	switch {
	case o.RestartPolicy != "":
		spec.RestartPolicy = o.RestartPolicy
	case override.RestartPolicy != "":
		spec.RestartPolicy = override.RestartPolicy
	}
	if o.Affinity != nil {
		spec.Affinity = o.Affinity
	}
	if o.NodeSelector != nil {
		spec.NodeSelector = o.NodeSelector
	}
	if o.Tolerations != nil {
		spec.Tolerations = o.Tolerations
	}
	if len(o.Containers) > 0 {
		merged := make([]kusciav1alpha1.Container, 0, len(o.Containers))
		for _, c := range o.Containers {
			i := slices.IndexFunc(spec.Containers, func(b kusciav1alpha1.Container) bool { return b.Name == c.Name })
			if i < 0 {
				merged = append(merged, c)
				continue
			}
			merged = append(merged, mergeContainer(spec.Containers[i], c))
		}
		spec.Containers = merged
	}
	return spec
}

// mergeContainer returns base with every field o sets replaced by o's.
func mergeContainer(base, o kusciav1alpha1.Container) kusciav1alpha1.Container {
	setIf(&base.Command, o.Command, o.Command != nil)
	setIf(&base.Args, o.Args, o.Args != nil)
	setIf(&base.WorkingDir, o.WorkingDir, o.WorkingDir != "")
	setIf(&base.ConfigVolumeMounts, o.ConfigVolumeMounts, o.ConfigVolumeMounts != nil)
	setIf(&base.Ports, o.Ports, o.Ports != nil)
	setIf(&base.EnvFrom, o.EnvFrom, o.EnvFrom != nil)
	setIf(&base.Env, o.Env, o.Env != nil)
	setIf(&base.Resources, o.Resources, o.Resources.Limits != nil || o.Resources.Requests != nil || o.Resources.Claims != nil)
	setIf(&base.LivenessProbe, o.LivenessProbe, o.LivenessProbe != nil)
	setIf(&base.ReadinessProbe, o.ReadinessProbe, o.ReadinessProbe != nil)
	setIf(&base.StartupProbe, o.StartupProbe, o.StartupProbe != nil)
	setIf(&base.ImagePullPolicy, o.ImagePullPolicy, o.ImagePullPolicy != "")
	setIf(&base.SecurityContext, o.SecurityContext, o.SecurityContext != nil)
	return base
}

func setIf[T any](dst *T, v T, ok bool) {
	if ok {
		*dst = v
	}
}
