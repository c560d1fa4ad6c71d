package builder

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// examplesDir holds the seed's example objects; the tests follow them.
const examplesDir = "../../examples"

// Names of the example objects.
const (
	psiTaskName      = "secretflow-task-psi"
	templateTaskName = "task-template"
	secretflowImage  = "secretflow-image"
	appTemplateImage = "app-template"
)

// readExample decodes one single-document example file strictly, so a field
// the typed API does not declare fails the test.
func readExample(t *testing.T, file string, into any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(examplesDir, file))
	require.NoError(t, err)
	require.NoError(t, utilyaml.UnmarshalStrict(data, into), "decode %s", file)
}

// loadTask reads an example task, gives it a UID (the apiserver would) and
// drops the status the reference page shows.
func loadTask(t *testing.T, file string) *kusciav1alpha1.KusciaTask {
	t.Helper()
	task := &kusciav1alpha1.KusciaTask{}
	readExample(t, file, task)
	task.UID = types.UID("uid-" + task.Name)
	task.Status = kusciav1alpha1.KusciaTaskStatus{}
	return task
}

func loadAppImage(t *testing.T, file string) *kusciav1alpha1.AppImage {
	t.Helper()
	img := &kusciav1alpha1.AppImage{}
	readExample(t, file, img)
	return img
}

// loadNamespaces reads the namespaces of examples/domains.yaml (a
// multi-document file that also holds a ConfigMap).
func loadNamespaces(t *testing.T) map[string]*corev1.Namespace {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(examplesDir, "domains.yaml"))
	require.NoError(t, err)
	out := map[string]*corev1.Namespace{}
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		var meta struct {
			Kind string `json:"kind"`
		}
		require.NoError(t, utilyaml.Unmarshal(doc, &meta))
		if meta.Kind != "Namespace" {
			continue
		}
		ns := &corev1.Namespace{}
		require.NoError(t, utilyaml.UnmarshalStrict(doc, ns))
		out[ns.Name] = ns
	}
	require.Contains(t, out, "alice")
	require.Contains(t, out, "bob")
	return out
}

// exampleInputs are the example AppImages and domains.
func exampleInputs(t *testing.T) Inputs {
	t.Helper()
	return Inputs{
		AppImages: map[string]*kusciav1alpha1.AppImage{
			secretflowImage:  loadAppImage(t, "appimage-secretflow.yaml"),
			appTemplateImage: loadAppImage(t, "appimage-app-template.yaml"),
		},
		Namespaces: loadNamespaces(t),
	}
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
		objs, err := BuildParty(task, plan, i, 1)
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
