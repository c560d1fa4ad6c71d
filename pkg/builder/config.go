package builder

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"text/template"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// Keys of the data a config template is rendered with.
const (
	KeyTaskID            = "TASK_ID"
	KeyTaskInputConfig   = "TASK_INPUT_CONFIG"
	KeyTaskClusterDefine = "TASK_CLUSTER_DEFINE"
	KeyAllocatedPorts    = "ALLOCATED_PORTS"
	KeyDomainID          = "KUSCIA_DOMAIN_ID"
)

// ClusterDefine tells a pod who the parties are, where their services are
// and which party and endpoint it is itself. It is rendered as JSON into
// TASK_CLUSTER_DEFINE.
type ClusterDefine struct {
	Parties []ClusterParty `json:"parties"`
	// SelfPartyIdx is the index of the pod's party in Parties.
	SelfPartyIdx int `json:"selfPartyIdx"`
	// SelfEndpointIdx is the pod's replica index: its position in each of
	// its party's service endpoint lists.
	SelfEndpointIdx int `json:"selfEndpointIdx"`
}

// ClusterParty is one party in a ClusterDefine.
type ClusterParty struct {
	Name     string           `json:"name"`
	Role     string           `json:"role"`
	Services []ClusterService `json:"services"`
}

// ClusterService lists the endpoints ("host:port", one per replica) of one
// named port of a party.
type ClusterService struct {
	PortName  string   `json:"portName"`
	Endpoints []string `json:"endpoints"`
}

// AllocatedPorts lists a pod's own ports; rendered into ALLOCATED_PORTS.
type AllocatedPorts struct {
	Ports []kusciav1alpha1.ContainerPort `json:"ports"`
}

// clusterParties lists every party with its service endpoints, as every
// pod's ClusterDefine shows them.
func clusterParties(plan *TaskPlan) []ClusterParty {
	parties := make([]ClusterParty, 0, len(plan.Parties))
	for _, party := range plan.Parties {
		cp := ClusterParty{Name: party.DomainID, Role: party.Role, Services: []ClusterService{}}
		for si, port := range servicePorts(&party.Spec) {
			svc := ClusterService{PortName: port.Name, Endpoints: []string{}}
			for _, pod := range party.Pods {
				svc.Endpoints = append(svc.Endpoints,
					fmt.Sprintf("%s.%s.svc:%d", pod.Services[si].Name, pod.Namespace, port.Port))
			}
			cp.Services = append(cp.Services, svc)
		}
		parties = append(parties, cp)
	}
	return parties
}

// renderer renders the config files of one task build under one budget.
type renderer struct {
	task   *kusciav1alpha1.KusciaTask
	plan   *TaskPlan
	budget *renderBudget
	funcs  template.FuncMap
	// parsed caches each template by file name and text: parties sharing
	// an AppImage parse it once.
	parsed map[[2]string]*template.Template
	// parties is the JSON of clusterParties, the same for every pod.
	parties []byte
}

func newRenderer(ctx context.Context, task *kusciav1alpha1.KusciaTask, plan *TaskPlan) *renderer {
	budget := newRenderBudget(ctx, plan.Policy.withDefaults().Render)
	return &renderer{
		task:   task,
		plan:   plan,
		budget: budget,
		funcs:  templateFuncs(budget),
		parsed: map[[2]string]*template.Template{},
	}
}

// render renders the config files of one pod: every AppImage config
// template, and task-config.conf (taskInputConfig verbatim) unless a
// template of that name exists. A template that uses an unknown key or hits
// a bound fails with ConfigRenderFailed.
func (r *renderer) render(partyIdx, podIdx int) (map[string]string, error) {
	party := r.plan.Parties[partyIdx]
	failed := func(file, msg string) error {
		return inputErrorf(kusciav1alpha1.ReasonConfigRenderFailed, "party %s: config template %q: %s", party.DomainID, file, msg)
	}
	files := map[string]string{DefaultConfigFile: r.task.Spec.TaskInputConfig}
	if len(party.ConfigTemplates) == 0 {
		if len(r.task.Spec.TaskInputConfig) > MaxConfigMapBytes {
			return nil, failed(DefaultConfigFile, fmt.Sprintf("taskInputConfig is %d bytes, more than the %d a ConfigMap holds",
				len(r.task.Spec.TaskInputConfig), MaxConfigMapBytes))
		}
		return files, nil
	}
	data, err := r.data(partyIdx, podIdx)
	if err != nil {
		return nil, err
	}
	room := MaxConfigMapBytes
	if _, templated := party.ConfigTemplates[DefaultConfigFile]; !templated {
		room -= len(r.task.Spec.TaskInputConfig)
	}
	for _, name := range slices.Sorted(maps.Keys(party.ConfigTemplates)) {
		w := &limitedWriter{budget: r.budget, room: room}
		if err := r.execute(name, party.ConfigTemplates[name], w, data); err != nil {
			if ctxErr := r.budget.ctx.Err(); ctxErr != nil {
				// The controller is stopping: not the template's fault.
				return nil, fmt.Errorf("render config of party %s: %w", party.DomainID, ctxErr)
			}
			return nil, failed(name, renderError(err))
		}
		files[name] = w.b.String()
		room = w.room
	}
	return files, nil
}

func (r *renderer) execute(name, text string, w *limitedWriter, data map[string]string) error {
	key := [2]string{name, text}
	t, ok := r.parsed[key]
	if !ok {
		var err error
		if t, err = parseBounded(name, text, r.funcs); err != nil {
			return err
		}
		r.parsed[key] = t
	}
	if w.room < 0 {
		return boundErrorf("the pod's config files would exceed %d bytes, the most a ConfigMap holds", MaxConfigMapBytes)
	}
	return t.Execute(w, data)
}

// data is what one pod's templates see.
func (r *renderer) data(partyIdx, podIdx int) (map[string]string, error) {
	if r.parties == nil {
		var err error
		if r.parties, err = json.Marshal(clusterParties(r.plan)); err != nil {
			return nil, fmt.Errorf("encode cluster define: %w", err)
		}
	}
	define := fmt.Sprintf(`{"parties":%s,"selfPartyIdx":%d,"selfEndpointIdx":%d}`, r.parties, partyIdx, podIdx)
	party := r.plan.Parties[partyIdx]
	ports, err := json.Marshal(AllocatedPorts{Ports: allPorts(&party.Spec)})
	if err != nil {
		return nil, fmt.Errorf("encode allocated ports: %w", err)
	}
	return map[string]string{
		KeyTaskID:            r.task.Name,
		KeyTaskInputConfig:   r.task.Spec.TaskInputConfig,
		KeyTaskClusterDefine: define,
		KeyAllocatedPorts:    string(ports),
		KeyDomainID:          party.DomainID,
	}, nil
}

func allPorts(spec *kusciav1alpha1.PodSpec) []kusciav1alpha1.ContainerPort {
	ports := []kusciav1alpha1.ContainerPort{}
	for _, c := range spec.Containers {
		ports = append(ports, c.Ports...)
	}
	return ports
}
