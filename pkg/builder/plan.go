// Package builder turns a KusciaTask and its AppImages into the objects each
// party runs: one ConfigMap, one headless Service per served port and one Pod
// per replica, all with deterministic names. Everything here is pure.
package builder

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/reservation"
)

// DefaultConfigFile is the config file every pod gets: taskInputConfig
// verbatim, unless an AppImage template of that name renders it.
const DefaultConfigFile = "task-config.conf"

// TaskPlan is a task resolved against its AppImages and namespaces: what each
// party runs and what every child object is called.
type TaskPlan struct {
	// Schedule is the task's scheduleConfig with defaults applied.
	Schedule reservation.Config
	// Parties in spec order.
	Parties []*PartyPlan
	// SpecHash is SpecHash of the task's spec, recorded on every pod.
	SpecHash string
}

// PartyPlan is one party resolved.
type PartyPlan struct {
	DomainID string
	Role     string
	// Image is the container image, "name:tag".
	Image string
	// Replicas is the number of pods; MinReservedPods how many must be
	// reserved and succeed (defaulted to Replicas).
	Replicas        int
	MinReservedPods int
	// Spec is the AppImage deploy template with the party's override laid
	// over it.
	Spec kusciav1alpha1.PodSpec
	// ConfigTemplates are the AppImage's config file templates.
	ConfigTemplates map[string]string
	// Pods in replica order.
	Pods []PodPlan
}

// PodPlan names one pod and its satellites.
type PodPlan struct {
	Name          string
	Namespace     string
	Index         int
	ConfigMapName string
	// Services, one per port of scope Cluster or Domain, in port order.
	Services []ServicePlan
}

// ServicePlan names the headless service of one port of a pod.
type ServicePlan struct {
	Name string
	Port kusciav1alpha1.ContainerPort
}

// Inputs are the objects a task refers to, as the controller found them.
type Inputs struct {
	// AppImages by name; a missing name means the AppImage does not exist.
	AppImages map[string]*kusciav1alpha1.AppImage
	// Namespaces by name; a missing name means the namespace does not exist.
	Namespaces map[string]*corev1.Namespace
}

// newTaskPlan checks the spec on its own and starts its plan with the
// schedule configuration.
func newTaskPlan(spec *kusciav1alpha1.KusciaTaskSpec) (*TaskPlan, error) {
	if err := validateSpec(spec); err != nil {
		return nil, err
	}
	schedule, err := reservation.ConfigFor(spec)
	if err != nil {
		return nil, inputErrorf(kusciav1alpha1.ReasonInvalidSpec, "%v", err)
	}
	return &TaskPlan{Schedule: schedule, SpecHash: SpecHash(spec)}, nil
}

// PlanTask resolves a task. Every problem with the user's input comes back as
// an *InputError naming the party and field.
func PlanTask(task *kusciav1alpha1.KusciaTask, in Inputs) (*TaskPlan, error) {
	plan, err := newTaskPlan(&task.Spec)
	if err != nil {
		return nil, err
	}
	for i := range task.Spec.Parties {
		party, err := planParty(task, i, in)
		if err != nil {
			return nil, err
		}
		plan.Parties = append(plan.Parties, party)
	}
	return plan, nil
}

func planParty(task *kusciav1alpha1.KusciaTask, index int, in Inputs) (*PartyPlan, error) {
	p := &task.Spec.Parties[index]
	if err := checkDomain(p.DomainID, in.Namespaces[p.DomainID]); err != nil {
		return nil, err
	}
	img, ok := in.AppImages[p.AppImageRef]
	if !ok || img == nil {
		return nil, inputErrorf(kusciav1alpha1.ReasonAppImageNotFound,
			"party %s: AppImage %q not found", p.DomainID, p.AppImageRef)
	}
	base := selectDeployTemplate(img, p.Role)
	if base == nil && (p.Template == nil || len(p.Template.Spec.Containers) == 0) {
		return nil, inputErrorf(kusciav1alpha1.ReasonDeployTemplateNotFound,
			"party %s: AppImage %q has no deploy template for role %q", p.DomainID, p.AppImageRef, p.Role)
	}
	replicas, spec := mergeTemplate(base, p.Template)
	if replicas < 1 {
		// A party that runs no pod would count as done without doing
		// anything, and a task of such parties would "succeed".
		return nil, inputErrorf(kusciav1alpha1.ReasonInvalidTemplate,
			"party %s: replicas must be at least 1, got %d: a party without pods cannot take part", p.DomainID, replicas)
	}
	party := &PartyPlan{
		DomainID:        p.DomainID,
		Role:            p.Role,
		Image:           imageRef(img.Spec.Image),
		Replicas:        int(replicas),
		Spec:            spec,
		ConfigTemplates: img.Spec.ConfigTemplates,
	}
	if err := validatePodSpec(p.DomainID, &spec, party.configFiles()); err != nil {
		return nil, err
	}
	minPods, err := reservation.MinReservedPods(index, p, party.Replicas)
	if err != nil {
		return nil, inputErrorf(kusciav1alpha1.ReasonInvalidTemplate, "party %s: %v", p.DomainID, err)
	}
	party.MinReservedPods = minPods
	party.Pods = planPods(task.Name, p, party)
	return party, nil
}

func planPods(task string, p *kusciav1alpha1.PartyInfo, party *PartyPlan) []PodPlan {
	ports := servicePorts(&party.Spec)
	pods := make([]PodPlan, party.Replicas)
	for i := range pods {
		pods[i] = PodPlan{
			Name:          PodName(task, p.Role, i),
			Namespace:     p.DomainID,
			Index:         i,
			ConfigMapName: ConfigMapName(task, p.Role, i),
		}
		for _, port := range ports {
			pods[i].Services = append(pods[i].Services, ServicePlan{
				Name: ServiceName(task, p.Role, i, port.Name),
				Port: port,
			})
		}
	}
	return pods
}

// servicePorts are the ports of every container that other pods reach.
func servicePorts(spec *kusciav1alpha1.PodSpec) []kusciav1alpha1.ContainerPort {
	var ports []kusciav1alpha1.ContainerPort
	for _, c := range spec.Containers {
		for _, port := range c.Ports {
			if port.Scope == kusciav1alpha1.ScopeCluster || port.Scope == kusciav1alpha1.ScopeDomain {
				ports = append(ports, port)
			}
		}
	}
	return ports
}

// configFiles are the names of the files in each pod's ConfigMap.
func (p *PartyPlan) configFiles() sets.Set[string] {
	files := sets.New(DefaultConfigFile)
	for name := range p.ConfigTemplates {
		files.Insert(name)
	}
	return files
}

func imageRef(img kusciav1alpha1.AppImageInfo) string {
	tag := img.Tag
	if tag == "" {
		tag = "latest"
	}
	return img.Name + ":" + tag
}
