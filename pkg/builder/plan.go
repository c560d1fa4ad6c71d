// Package builder turns a KusciaTask and its AppImages into the objects each
// party runs: one ConfigMap, one headless Service per served port and one Pod
// per replica, all with deterministic names. Everything here is pure.
package builder

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/reservation"
	"kusciatask.io/controller/pkg/security"
)

// DefaultConfigFile is the config file every pod gets: taskInputConfig
// verbatim, unless an AppImage template of that name renders it.
const DefaultConfigFile = "task-config.conf"

// TaskPlan is a task resolved against its AppImages and namespaces: what each
// party runs and what every child object is called.
type TaskPlan struct {
	// Schedule is the task's scheduleConfig with defaults applied.
	Schedule reservation.Config
	// Policy is the operator's policy the task was planned under, with
	// defaults applied; building the task follows it too.
	Policy Policy
	// Parties in spec order.
	Parties []*PartyPlan
	// SpecHash is SpecHash of the task's spec, recorded on every pod.
	SpecHash string
	// GateDeadline is when the reservation gate of every pod gives up: see
	// GateDeadline. Used only when Policy.Gate.Image is set.
	GateDeadline time.Time
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
	// Security is what every pod of the party must satisfy in its
	// namespace. Empty (a started task's plan): the default level.
	Security security.Requirements
	// Pods in replica order.
	Pods []PodPlan
	// podBytes is the size of the party's pod template, as JSON.
	podBytes int
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
	// Policy is the operator's policy; zero fields take defaults.
	Policy Policy
	// Start is when the task's lifecycle counts from (status.startTime, or
	// now on the first sync); the gate deadline counts from it.
	Start time.Time
}

// newTaskPlan checks the spec on its own and starts its plan with the
// schedule configuration.
func newTaskPlan(spec *kusciav1alpha1.KusciaTaskSpec, policy Policy) (*TaskPlan, error) {
	probs := validateSpec(spec)
	plan, err := startPlan(spec, policy, &probs)
	if err != nil {
		return nil, err
	}
	if err := probs.err(); err != nil {
		return nil, err
	}
	return plan, nil
}

// startPlan starts a task's plan with the schedule configuration; nil when
// the spec cannot be planned at all (a problem says why).
func startPlan(spec *kusciav1alpha1.KusciaTaskSpec, policy Policy, probs *problems) (*TaskPlan, error) {
	if n := len(spec.Parties); n == 0 || n > kusciav1alpha1.MaxParties {
		return nil, nil
	}
	schedule, err := reservation.ConfigFor(spec)
	if err != nil {
		return nil, probs.add(inputErrorf(kusciav1alpha1.ReasonInvalidSpec, "%v", err))
	}
	return &TaskPlan{Schedule: schedule, Policy: policy.withDefaults(), SpecHash: SpecHash(spec)}, nil
}

// PlanTask resolves a task. Every problem with the user's input comes back
// in one *InputError naming each party and field (the first problem's
// reason); so does a task larger than the policy allows, before any of its
// pods is planned. The plan comes back only without problems: every party
// planned, none blocked.
func PlanTask(task *kusciav1alpha1.KusciaTask, in Inputs) (*TaskPlan, error) {
	partial, probs, err := planTask(task, in)
	if err != nil {
		return nil, err
	}
	if err := probs.err(); err != nil || partial == nil {
		return nil, err
	}
	return partial.complete()
}

// planTask resolves as much of a task as its input allows and collects
// every problem on the way: a party that cannot be planned (no AppImage, no
// deploy template, a size out of bounds) is blocked, without pods, so the
// other parties are still checked. The plan is nil when the spec cannot be
// planned at all.
func planTask(task *kusciav1alpha1.KusciaTask, in Inputs) (*PartialPlan, problems, error) {
	probs := validateSpec(&task.Spec)
	plan, err := startPlan(&task.Spec, in.Policy, &probs)
	if err != nil || plan == nil {
		return nil, probs, err
	}
	partial := &PartialPlan{TaskPlan: *plan}
	_ = probs.add(checkTaskInputConfig(&task.Spec))
	for i := range task.Spec.Parties {
		party, planned, err := planParty(task, i, in, plan.Policy, &probs)
		if err != nil {
			return nil, probs, err
		}
		partial.Parties = append(partial.Parties, party)
		partial.Blocked = append(partial.Blocked, !planned)
	}
	// A task too large as a whole plans none of its pods.
	sizeErr := checkTaskSize(&partial.TaskPlan)
	if err := probs.add(sizeErr); err != nil {
		return nil, probs, err
	}
	if sizeErr == nil {
		for i, party := range partial.Parties {
			if !partial.Blocked[i] {
				party.Pods = planPods(task.Name, &task.Spec.Parties[i], party)
			}
		}
	}
	partial.GateDeadline = GateDeadline(in.Start, plan.Schedule.Lifecycle)
	return partial, probs, nil
}

// planParty resolves a party's template, size and security requirements;
// its pods are planned once the whole task's size is known to be allowed.
// Problems go to probs; a party that cannot be planned is returned with
// planned false. The error is for anything else.
func planParty(task *kusciav1alpha1.KusciaTask, index int, in Inputs, policy Policy, probs *problems) (party *PartyPlan, planned bool, err error) {
	p := &task.Spec.Parties[index]
	party = &PartyPlan{DomainID: p.DomainID, Role: p.Role}
	_ = probs.add(checkDomain(p.DomainID, in.Namespaces[p.DomainID]))
	img, ok := in.AppImages[p.AppImageRef]
	if !ok || img == nil {
		return party, false, probs.add(inputErrorf(kusciav1alpha1.ReasonAppImageNotFound,
			"party %s: AppImage %q not found", p.DomainID, p.AppImageRef))
	}
	base := selectDeployTemplate(img, p.Role)
	if base == nil && (p.Template == nil || len(p.Template.Spec.Containers) == 0) {
		return party, false, probs.add(inputErrorf(kusciav1alpha1.ReasonDeployTemplateNotFound,
			"party %s: AppImage %q has no deploy template for role %q", p.DomainID, p.AppImageRef, p.Role))
	}
	replicas, spec := mergeTemplate(base, p.Template)
	party.Image = imageRef(img.Spec.Image)
	party.Spec = spec
	party.ConfigTemplates = img.Spec.ConfigTemplates
	party.Security = security.For(policy.PodSecurityLevel, in.Namespaces[p.DomainID])
	if err := checkReplicas(p.DomainID, int(replicas), policy); err != nil {
		return party, false, probs.add(err)
	}
	party.Replicas = int(replicas)
	_ = probs.add(validateImage(p.DomainID, img))
	_ = probs.add(validatePodSpec(p.DomainID, &spec, party.configFiles()))
	minPods, minErr := reservation.MinReservedPods(index, p, party.Replicas)
	if minErr != nil {
		_ = probs.add(inputErrorf(kusciav1alpha1.ReasonInvalidTemplate, "party %s: %v", p.DomainID, minErr))
		minPods = party.Replicas
	}
	party.MinReservedPods = minPods
	if party.podBytes, err = podTemplateBytes(&spec); err != nil {
		return nil, false, err
	}
	return party, true, nil
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

// securityRequirements are the party's requirements, or the default level's
// for a plan that did not resolve them.
func (p *PartyPlan) securityRequirements() security.Requirements {
	if len(p.Security.Levels) == 0 {
		return security.For(security.DefaultLevel, nil)
	}
	return p.Security
}

func imageRef(img kusciav1alpha1.AppImageInfo) string {
	tag := img.Tag
	if tag == "" {
		tag = "latest"
	}
	return img.Name + ":" + tag
}
