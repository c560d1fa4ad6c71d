package builder

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
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

// clusterDefine builds the ClusterDefine seen by one pod.
func clusterDefine(plan *TaskPlan, selfParty, selfPod int) ClusterDefine {
	def := ClusterDefine{SelfPartyIdx: selfParty, SelfEndpointIdx: selfPod}
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
		def.Parties = append(def.Parties, cp)
	}
	return def
}

// renderConfig renders the config files of one pod: every AppImage config
// template, and task-config.conf (taskInputConfig verbatim) unless a
// template of that name exists. A template that uses an unknown key fails.
func renderConfig(task *kusciav1alpha1.KusciaTask, plan *TaskPlan, partyIdx, podIdx int) (map[string]string, error) {
	party := plan.Parties[partyIdx]
	data, err := templateData(task, plan, partyIdx, podIdx)
	if err != nil {
		return nil, err
	}
	files := map[string]string{DefaultConfigFile: task.Spec.TaskInputConfig}
	names := make([]string, 0, len(party.ConfigTemplates))
	for name := range party.ConfigTemplates {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		out, err := renderTemplate(name, party.ConfigTemplates[name], data)
		if err != nil {
			return nil, inputErrorf(kusciav1alpha1.ReasonConfigRenderFailed,
				"party %s: config template %q: %v", party.DomainID, name, err)
		}
		files[name] = out
	}
	return files, nil
}

func templateData(task *kusciav1alpha1.KusciaTask, plan *TaskPlan, partyIdx, podIdx int) (map[string]string, error) {
	party := plan.Parties[partyIdx]
	define, err := json.Marshal(clusterDefine(plan, partyIdx, podIdx))
	if err != nil {
		return nil, fmt.Errorf("encode cluster define: %w", err)
	}
	ports, err := json.Marshal(AllocatedPorts{Ports: allPorts(&party.Spec)})
	if err != nil {
		return nil, fmt.Errorf("encode allocated ports: %w", err)
	}
	return map[string]string{
		KeyTaskID:            task.Name,
		KeyTaskInputConfig:   task.Spec.TaskInputConfig,
		KeyTaskClusterDefine: string(define),
		KeyAllocatedPorts:    string(ports),
		KeyDomainID:          party.DomainID,
	}, nil
}

// templateFuncs extend text/template for config files: json quotes a value
// as a JSON string, for embedding TASK_INPUT_CONFIG in a JSON file.
var templateFuncs = template.FuncMap{
	"json": func(v string) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
}

func renderTemplate(name, text string, data map[string]string) (string, error) {
	t, err := template.New(name).Option("missingkey=error").Funcs(templateFuncs).Parse(text)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return "", err
	}
	return buf.String(), nil
}

func allPorts(spec *kusciav1alpha1.PodSpec) []kusciav1alpha1.ContainerPort {
	ports := []kusciav1alpha1.ContainerPort{}
	for _, c := range spec.Containers {
		ports = append(ports, c.Ports...)
	}
	return ports
}
