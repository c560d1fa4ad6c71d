package builder

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

const psiImage = "secretflow/secretflow-lite-anolis8:1.11.0b1"

// psiPorts are the ports of examples/appimage-secretflow.yaml.
var psiPorts = []struct {
	name   string
	port   int32
	scope  kusciav1alpha1.PortScope
	envVar string
}{
	{"spu", 32000, kusciav1alpha1.ScopeCluster, "KUSCIA_PORT_SPU_NUMBER"},
	{"fed", 32001, kusciav1alpha1.ScopeCluster, "KUSCIA_PORT_FED_NUMBER"},
	{"global", 32002, kusciav1alpha1.ScopeDomain, "KUSCIA_PORT_GLOBAL_NUMBER"},
	{"node-manager", 32003, kusciav1alpha1.ScopeLocal, "KUSCIA_PORT_NODE_MANAGER_NUMBER"},
}

func TestPlanPSIExample(t *testing.T) {
	task := psiTask(t)
	plan, err := PlanTask(task, exampleInputs(t))
	require.NoError(t, err)

	assert.Equal(t, 2, plan.Schedule.MinReservedMembers, "minReservedMembers defaults to all parties")
	require.Len(t, plan.Parties, 2)
	for i, domain := range []string{"alice", "bob"} {
		party := plan.Parties[i]
		assert.Equal(t, domain, party.DomainID)
		assert.Empty(t, party.Role)
		assert.Equal(t, psiImage, party.Image)
		assert.Equal(t, 1, party.Replicas)
		assert.Equal(t, 1, party.MinReservedPods)
		require.Len(t, party.Pods, 1)
		assert.Equal(t, PodPlan{
			Name: "secretflow-task-psi-0", Namespace: domain, Index: 0, ConfigMapName: "secretflow-task-psi-0-config",
			Services: []ServicePlan{
				{Name: "secretflow-task-psi-0-spu", Port: kusciav1alpha1.ContainerPort{Name: "spu", Port: 32000, Protocol: kusciav1alpha1.ProtocolGRPC, Scope: kusciav1alpha1.ScopeCluster}},
				{Name: "secretflow-task-psi-0-fed", Port: kusciav1alpha1.ContainerPort{Name: "fed", Port: 32001, Protocol: kusciav1alpha1.ProtocolGRPC, Scope: kusciav1alpha1.ScopeCluster}},
				{Name: "secretflow-task-psi-0-global", Port: kusciav1alpha1.ContainerPort{Name: "global", Port: 32002, Protocol: kusciav1alpha1.ProtocolGRPC, Scope: kusciav1alpha1.ScopeDomain}},
			},
		}, party.Pods[0])
	}
}

func TestBuildPartyPSIObjectNames(t *testing.T) {
	task := psiTask(t)
	_, all := buildAll(t, task, exampleInputs(t))
	require.Len(t, all, 2)
	for i, ns := range []string{"alice", "bob"} {
		t.Run(ns, func(t *testing.T) {
			objs := all[i]
			assert.Equal(t, []string{ns + "/secretflow-task-psi-0"}, podNames(objs.Pods))
			assert.ElementsMatch(t, []string{
				ns + "/secretflow-task-psi-0-spu",
				ns + "/secretflow-task-psi-0-fed",
				ns + "/secretflow-task-psi-0-global",
			}, serviceNames(objs.Services), "one service per Cluster or Domain port, none for the Local port")
			assert.Equal(t, []string{ns + "/secretflow-task-psi-0-config"}, configMapNames(objs.ConfigMaps))
		})
	}
}

func TestBuildPartyPSIOwnerAndLabels(t *testing.T) {
	task := psiTask(t)
	_, all := buildAll(t, task, exampleInputs(t))
	for i, ns := range []string{"alice", "bob"} {
		var metas []metav1.Object
		for _, o := range all[i].Pods {
			metas = append(metas, o)
		}
		for _, o := range all[i].Services {
			metas = append(metas, o)
		}
		for _, o := range all[i].ConfigMaps {
			metas = append(metas, o)
		}
		require.Len(t, metas, 5)
		for _, m := range metas {
			t.Run(fmt.Sprintf("%T %s/%s", m, m.GetNamespace(), m.GetName()), func(t *testing.T) {
				assert.Equal(t, ns, m.GetNamespace())
				require.Len(t, m.GetOwnerReferences(), 1)
				ref := m.GetOwnerReferences()[0]
				assert.Equal(t, "kuscia.secretflow/v1alpha1", ref.APIVersion)
				assert.Equal(t, "KusciaTask", ref.Kind)
				assert.Equal(t, psiTaskName, ref.Name)
				assert.Equal(t, task.UID, ref.UID)
				assert.Equal(t, ptr.To(true), ref.Controller)
				assert.True(t, metav1.IsControlledBy(m, task))

				labels := m.GetLabels()
				for key, want := range map[string]string{
					kusciav1alpha1.LabelTask:    psiTaskName,
					kusciav1alpha1.LabelTaskUID: string(task.UID),
					kusciav1alpha1.LabelParty:   ns,
					kusciav1alpha1.LabelRole:    "",
					kusciav1alpha1.LabelPod:     "secretflow-task-psi-0",
				} {
					got, ok := labels[key]
					assert.True(t, ok, "label %s missing", key)
					assert.Equal(t, want, got, "label %s", key)
				}
			})
		}
	}
}

func TestBuildPartyPSIPod(t *testing.T) {
	task := psiTask(t)
	_, all := buildAll(t, task, exampleInputs(t))
	for i, ns := range []string{"alice", "bob"} {
		t.Run(ns, func(t *testing.T) {
			require.Len(t, all[i].Pods, 1)
			pod := all[i].Pods[0]
			assert.Equal(t, corev1.RestartPolicyNever, pod.Spec.RestartPolicy)
			assert.Equal(t, "1", pod.Annotations[AnnotationRound])
			require.Len(t, pod.Spec.Containers, 1)
			c := pod.Spec.Containers[0]
			assert.Equal(t, "secretflow", c.Name)
			assert.Equal(t, psiImage, c.Image)
			assert.Equal(t, []string{"sh"}, c.Command)
			assert.Equal(t, []string{"-c", "python -m secretflow.kuscia.entry /root/kuscia/task-config.conf"}, c.Args)
			assert.Equal(t, "/root", c.WorkingDir)
			assert.True(t, resource.MustParse("100m").Equal(c.Resources.Requests[corev1.ResourceCPU]))
			assert.True(t, resource.MustParse("1Gi").Equal(c.Resources.Limits[corev1.ResourceMemory]))

			wantEnv := map[string]string{"TASK_ID": psiTaskName, "KUSCIA_DOMAIN_ID": ns}
			for _, p := range psiPorts {
				wantEnv[p.envVar] = fmt.Sprint(p.port)
			}
			for name, want := range wantEnv {
				got, ok := envValue(c, name)
				assert.True(t, ok, "env %s missing", name)
				assert.Equal(t, want, got, "env %s", name)
			}

			var ports []corev1.ContainerPort
			for _, p := range psiPorts {
				ports = append(ports, corev1.ContainerPort{Name: p.name, ContainerPort: p.port, Protocol: corev1.ProtocolTCP})
			}
			assert.Equal(t, ports, c.Ports)

			// The rendered config is mounted from this pod's config map, at
			// the configVolumeMounts path, by subPath.
			require.Len(t, c.VolumeMounts, 1)
			mount := c.VolumeMounts[0]
			assert.Equal(t, "/root/kuscia/task-config.conf", mount.MountPath)
			assert.Equal(t, DefaultConfigFile, mount.SubPath)
			var volume *corev1.Volume
			for j := range pod.Spec.Volumes {
				if pod.Spec.Volumes[j].Name == mount.Name {
					volume = &pod.Spec.Volumes[j]
				}
			}
			require.NotNil(t, volume, "mount %s has no volume", mount.Name)
			require.NotNil(t, volume.ConfigMap)
			assert.Equal(t, all[i].ConfigMaps[0].Name, volume.ConfigMap.Name)
		})
	}
}

func TestBuildPartyPSIServices(t *testing.T) {
	task := psiTask(t)
	_, all := buildAll(t, task, exampleInputs(t))
	for i, ns := range []string{"alice", "bob"} {
		byName := map[string]*corev1.Service{}
		for _, s := range all[i].Services {
			byName[s.Name] = s
		}
		for _, p := range psiPorts {
			name := "secretflow-task-psi-0-" + p.name
			svc, ok := byName[name]
			if p.scope == kusciav1alpha1.ScopeLocal {
				assert.False(t, ok, "service %s/%s of a Local port", ns, name)
				continue
			}
			t.Run(ns+"/"+name, func(t *testing.T) {
				require.True(t, ok)
				assert.Equal(t, corev1.ClusterIPNone, svc.Spec.ClusterIP, "headless")
				assert.Equal(t, []corev1.ServicePort{{
					Name: p.name, Port: p.port, TargetPort: intstr.FromString(p.name), Protocol: corev1.ProtocolTCP,
				}}, svc.Spec.Ports)
				assert.Equal(t, string(p.scope), svc.Annotations[AnnotationPortScope])
				// The selector matches the party's pod and nothing else.
				pod := all[i].Pods[0]
				for k, v := range svc.Spec.Selector {
					assert.Equal(t, v, pod.Labels[k], "selector %s", k)
				}
				assert.Equal(t, pod.Name, svc.Spec.Selector[kusciav1alpha1.LabelPod])
				assert.Equal(t, string(task.UID), svc.Spec.Selector[kusciav1alpha1.LabelTaskUID])
			})
		}
	}
}

func TestBuildPartyPSIConfigMap(t *testing.T) {
	task := psiTask(t)
	_, all := buildAll(t, task, exampleInputs(t))
	for i, ns := range []string{"alice", "bob"} {
		t.Run(ns, func(t *testing.T) {
			require.Len(t, all[i].ConfigMaps, 1)
			cfg := parsePSIConfig(t, all[i].ConfigMaps[0])
			assert.Equal(t, psiTaskName, cfg.TaskID)
			assert.Equal(t, ns, cfg.DomainID)
			assert.Equal(t, task.Spec.TaskInputConfig, cfg.TaskInputConfig)

			def := cfg.ClusterDef
			assert.Equal(t, i, *def.SelfPartyIdx)
			assert.Equal(t, 0, *def.SelfEndpointIdx)
			require.Len(t, def.Parties, 2)
			for j, party := range []string{"alice", "bob"} {
				assert.Equal(t, party, def.Parties[j].Name)
				for _, p := range psiPorts[:2] {
					assert.Equal(t,
						[]string{fmt.Sprintf("secretflow-task-psi-0-%s.%s.svc:%d", p.name, party, p.port)},
						def.endpoints(t, party, p.name))
				}
				for _, s := range def.Parties[j].Services {
					assert.NotEqual(t, "node-manager", s.PortName, "a Local port has no endpoint")
				}
			}

			var allocated []string
			for _, p := range cfg.AllocatedPorts.Ports {
				allocated = append(allocated, fmt.Sprintf("%s:%d", p.Name, p.Port))
			}
			assert.Equal(t, []string{"spu:32000", "fed:32001", "global:32002", "node-manager:32003"}, allocated)
		})
	}
}

// The endpoints a pod is told about are the services that are built.
func TestClusterDefineEndpointsAreBuiltServices(t *testing.T) {
	task := psiTask(t)
	task.Spec.Parties[0].Template = &kusciav1alpha1.PartyTemplate{Replicas: ptr.To[int32](2)}
	_, all := buildAll(t, task, exampleInputs(t))
	built := map[string]int32{}
	for _, objs := range all {
		for _, s := range objs.Services {
			built[fmt.Sprintf("%s.%s.svc", s.Name, s.Namespace)] = s.Spec.Ports[0].Port
		}
	}
	cfg := parsePSIConfig(t, all[1].ConfigMaps[0])
	n := 0
	for _, p := range cfg.ClusterDef.Parties {
		for _, s := range p.Services {
			for _, ep := range s.Endpoints {
				i := strings.LastIndex(ep, ":")
				require.Positive(t, i, "endpoint %s has no port", ep)
				host := ep[:i]
				port, err := strconv.Atoi(ep[i+1:])
				require.NoError(t, err, "endpoint %s", ep)
				want, ok := built[host]
				if assert.True(t, ok, "endpoint %s names no built service", ep) {
					assert.Equal(t, int(want), port, "endpoint %s", ep)
				}
				n++
			}
		}
	}
	assert.Equal(t, 3*2+3*1, n, "3 served ports for alice's 2 pods and bob's 1")
}

func TestBuildPartyPSIReplicas(t *testing.T) {
	task := psiTask(t)
	task.Spec.Parties[0].Template = &kusciav1alpha1.PartyTemplate{Replicas: ptr.To[int32](3)}
	plan, all := buildAll(t, task, exampleInputs(t))
	assert.Equal(t, 3, plan.Parties[0].Replicas)
	assert.Equal(t, 3, plan.Parties[0].MinReservedPods, "minReservedPods defaults to the replicas")

	alice := all[0]
	assert.Equal(t, []string{
		"alice/secretflow-task-psi-0", "alice/secretflow-task-psi-1", "alice/secretflow-task-psi-2",
	}, podNames(alice.Pods))
	assert.Equal(t, []string{
		"alice/secretflow-task-psi-0-config", "alice/secretflow-task-psi-1-config", "alice/secretflow-task-psi-2-config",
	}, configMapNames(alice.ConfigMaps))
	assert.Len(t, alice.Services, 9)
	assert.Len(t, uniq(serviceNames(alice.Services)), 9)

	for idx, pod := range alice.Pods {
		t.Run(pod.Name, func(t *testing.T) {
			assert.Equal(t, alice.ConfigMaps[idx].Name, pod.Spec.Volumes[0].ConfigMap.Name, "each pod mounts its own config map")
			assert.Equal(t, pod.Name, alice.ConfigMaps[idx].Labels[kusciav1alpha1.LabelPod])
			cfg := parsePSIConfig(t, alice.ConfigMaps[idx])
			assert.Equal(t, 0, *cfg.ClusterDef.SelfPartyIdx)
			assert.Equal(t, idx, *cfg.ClusterDef.SelfEndpointIdx)
			for _, port := range []string{"spu", "fed"} {
				eps := cfg.ClusterDef.endpoints(t, "alice", port)
				require.Len(t, eps, 3)
				assert.Contains(t, eps[idx], pod.Name+"-"+port+".alice.svc:", "own endpoint at selfEndpointIdx")
				assert.Len(t, cfg.ClusterDef.endpoints(t, "bob", port), 1)
			}
		})
	}
	assert.Len(t, uniq([]string{
		alice.ConfigMaps[0].Data[DefaultConfigFile], alice.ConfigMaps[1].Data[DefaultConfigFile], alice.ConfigMaps[2].Data[DefaultConfigFile],
	}), 3, "each replica gets its own identity")

	bob := parsePSIConfig(t, all[1].ConfigMaps[0])
	assert.Equal(t, 1, *bob.ClusterDef.SelfPartyIdx)
	assert.Equal(t, 0, *bob.ClusterDef.SelfEndpointIdx)
}

func TestBuildPartyRoundAnnotation(t *testing.T) {
	task := psiTask(t)
	plan, err := PlanTask(task, exampleInputs(t))
	require.NoError(t, err)
	for _, round := range []int32{1, 2, 17} {
		objs, err := buildOneParty(task, plan, 0, round)
		require.NoError(t, err)
		for _, pod := range objs.Pods {
			assert.Equal(t, fmt.Sprint(round), pod.Annotations[AnnotationRound])
		}
	}
}

// Building is deterministic and does not share state with the plan or the
// AppImage: mutating one party's pod leaves the next build unchanged.
func TestBuildPartyIsDeterministicAndDoesNotAlias(t *testing.T) {
	task := psiTask(t)
	in := exampleInputs(t)
	plan, err := PlanTask(task, in)
	require.NoError(t, err)
	first, err := buildOneParty(task, plan, 0, 1)
	require.NoError(t, err)
	second, err := buildOneParty(task, plan, 0, 1)
	require.NoError(t, err)
	assert.Equal(t, first, second)

	first.Pods[0].Spec.Containers[0].Env[0].Value = "mutated"
	first.Pods[0].Spec.Containers[0].Args[0] = "mutated"
	first.Pods[0].Spec.Containers[0].Resources.Requests[corev1.ResourceCPU] = resource.MustParse("7")
	third, err := buildOneParty(task, plan, 0, 1)
	require.NoError(t, err)
	assert.Equal(t, second, third)
	assert.Equal(t, "-c", in.AppImages[secretflowImage].Spec.DeployTemplates[0].Spec.Containers[0].Args[0])
}

func uniq(s []string) map[string]bool {
	m := map[string]bool{}
	for _, v := range s {
		m[v] = true
	}
	return m
}
