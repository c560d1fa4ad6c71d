package builder

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"kusciatask.io/controller/examples"
	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// Names of the example objects.
const (
	psiTaskName      = "secretflow-task-psi"
	templateTaskName = "task-template"
	secretflowImage  = "secretflow-image"
	appTemplateImage = "app-template"
)

// loadTask reads an example task as the API server stores it.
func loadTask(t *testing.T, file string) *kusciav1alpha1.KusciaTask {
	t.Helper()
	task, err := examples.Task(file)
	require.NoError(t, err)
	return task
}

// exampleInputs are the example AppImages and domains.
func exampleInputs(t *testing.T) Inputs {
	t.Helper()
	images, err := examples.AppImages()
	require.NoError(t, err)
	domains, err := examples.Domains()
	require.NoError(t, err)
	return Inputs{AppImages: images, Namespaces: domains}
}

func psiTask(t *testing.T) *kusciav1alpha1.KusciaTask {
	return loadTask(t, "secretflow-task-psi.yaml")
}

func templateTask(t *testing.T) *kusciav1alpha1.KusciaTask {
	return loadTask(t, "task-template.yaml")
}

// buildAll plans a task and builds every party, failing the test on error.
func buildAll(t *testing.T, task *kusciav1alpha1.KusciaTask, in Inputs) (*TaskPlan, []*PartyObjects) {
	t.Helper()
	plan, err := PlanTask(task, in)
	require.NoError(t, err)
	var all []*PartyObjects
	for i := range plan.Parties {
		objs, err := buildOneParty(task, plan, i, 1)
		require.NoError(t, err)
		all = append(all, objs)
	}
	return plan, all
}

// clusterDefineJSON mirrors the JSON a pod reads as TASK_CLUSTER_DEFINE,
// spelled out here so a renamed field breaks the test.
type clusterDefineJSON struct {
	Parties []struct {
		Name     string `json:"name"`
		Role     string `json:"role"`
		Services []struct {
			PortName  string   `json:"portName"`
			Endpoints []string `json:"endpoints"`
		} `json:"services"`
	} `json:"parties"`
	SelfPartyIdx    *int `json:"selfPartyIdx"`
	SelfEndpointIdx *int `json:"selfEndpointIdx"`
}

// endpoints returns party's endpoint list of a port, failing when absent.
func (d clusterDefineJSON) endpoints(t *testing.T, party, port string) []string {
	t.Helper()
	for _, p := range d.Parties {
		if p.Name != party {
			continue
		}
		for _, s := range p.Services {
			if s.PortName == port {
				return s.Endpoints
			}
		}
	}
	require.Failf(t, "no endpoints", "party %s port %s in %+v", party, port, d)
	return nil
}

// renderedPSIConfig is task-config.conf as the secretflow AppImage renders it.
type renderedPSIConfig struct {
	TaskID          string            `json:"task_id"`
	DomainID        string            `json:"domain_id"`
	TaskInputConfig string            `json:"task_input_config"`
	ClusterDef      clusterDefineJSON `json:"task_cluster_def"`
	AllocatedPorts  struct {
		Ports []kusciav1alpha1.ContainerPort `json:"ports"`
	} `json:"allocated_ports"`
}

func parsePSIConfig(t *testing.T, cm *corev1.ConfigMap) renderedPSIConfig {
	t.Helper()
	raw, ok := cm.Data[DefaultConfigFile]
	require.True(t, ok, "config map %s has no %s", cm.Name, DefaultConfigFile)
	var cfg renderedPSIConfig
	require.NoError(t, json.Unmarshal([]byte(raw), &cfg), "task-config.conf of %s is not JSON:\n%s", cm.Name, raw)
	require.NotNil(t, cfg.ClusterDef.SelfPartyIdx, "selfPartyIdx missing")
	require.NotNil(t, cfg.ClusterDef.SelfEndpointIdx, "selfEndpointIdx missing")
	return cfg
}

func envValue(c corev1.Container, name string) (string, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value, true
		}
	}
	return "", false
}

func podNames(pods []*corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Namespace+"/"+p.Name)
	}
	return out
}

func serviceNames(svcs []*corev1.Service) []string {
	var out []string
	for _, s := range svcs {
		out = append(out, s.Namespace+"/"+s.Name)
	}
	return out
}

func configMapNames(cms []*corev1.ConfigMap) []string {
	var out []string
	for _, c := range cms {
		out = append(out, c.Namespace+"/"+c.Name)
	}
	return out
}

// buildOneParty builds every object of the party at plan.Parties[partyIdx],
// with a render budget of its own; pods carry the reservation round. The
// controller uses BuildTask, which shares one budget across the parties.
func buildOneParty(task *kusciav1alpha1.KusciaTask, plan *TaskPlan, partyIdx int, round int32) (*PartyObjects, error) {
	var probs problems
	objs, err := newRenderer(context.Background(), task, plan).buildParty(partyIdx, round, &probs)
	if err != nil {
		return nil, err
	}
	if err := probs.err(); err != nil {
		return nil, err
	}
	return objs, nil
}
