package builder

import (
	"context"
	"maps"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	schedulingv1beta1 "k8s.io/api/scheduling/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/podgroup"
	"kusciatask.io/controller/pkg/security"
)

// AnnotationRound is set on every pod to the reservation round it was
// created for, so pods of an older round are told apart.
const AnnotationRound = "kuscia.secretflow/reservation-round"

// AnnotationPartyReplicas is set on every pod to the number of pods of its
// party, so a started task is followed with the size it was created with.
const AnnotationPartyReplicas = "kuscia.secretflow/party-replicas"

// AnnotationSpecHash is set on every pod to the SpecHash of the task spec it
// was made from.
const AnnotationSpecHash = "kuscia.secretflow/spec-hash"

// AnnotationPortScope is set on every service to the scope of its port.
const AnnotationPortScope = "kuscia.secretflow/port-scope"

// configVolume is the name of the pod volume holding the rendered config.
const configVolume = "kuscia-config"

// PartyObjects are the objects of one party, by kind; CreationOrder puts
// them in the order they are created in.
type PartyObjects struct {
	ConfigMaps []*corev1.ConfigMap
	Services   []*corev1.Service
	// PodGroup is the party's PodGroup, created before its pods; nil
	// unless the policy uses PodGroups.
	PodGroup *schedulingv1beta1.PodGroup
	Pods     []*corev1.Pod
}

// BuildTask builds every object of every party, before anything is
// created: the config templates of the whole task render under one budget
// (plan.Policy.Render), and every pod is checked against its party's
// security requirements (Pod Security Standards, Secret references). The
// refusals come back in one *InputError listing each; nothing of the task
// should then be created.
func BuildTask(ctx context.Context, task *kusciav1alpha1.KusciaTask, plan *TaskPlan, round int32) ([]*PartyObjects, error) {
	parties, probs, err := buildTask(ctx, task, plan, nil, round)
	if err != nil {
		return nil, err
	}
	if err := probs.err(); err != nil {
		return nil, err
	}
	return parties, nil
}

// buildTask builds what it can of every party and collects the problems;
// a party blocked[i] (a PartialPlan's; nil for a TaskPlan, which blocks
// none) has no objects (nil).
func buildTask(ctx context.Context, task *kusciav1alpha1.KusciaTask, plan *TaskPlan, blocked []bool, round int32) ([]*PartyObjects, problems, error) {
	r := newRenderer(ctx, task, plan)
	parties := make([]*PartyObjects, len(plan.Parties))
	var probs problems
	for i := range plan.Parties {
		if i < len(blocked) && blocked[i] {
			continue
		}
		objs, err := r.buildParty(i, round, &probs)
		if err != nil {
			return nil, probs, err
		}
		parties[i] = objs
	}
	return parties, probs, nil
}

// buildParty builds the party's objects; problems go to probs and the
// error is for anything else. A pod that breaks the security requirements
// is still built (an explanation of what was refused shows it); a pod whose
// config does not render has no ConfigMap.
func (r *renderer) buildParty(partyIdx int, round int32, probs *problems) (*PartyObjects, error) {
	task, party := r.task, r.plan.Parties[partyIdx]
	req := party.securityRequirements()
	pg, err := buildPodGroup(task, r.plan, party)
	if err := probs.add(err); err != nil {
		return nil, err
	}
	objs := &PartyObjects{PodGroup: pg}
	for _, pod := range party.Pods {
		p := buildPod(task, party, pod, round)
		p.Annotations[AnnotationSpecHash] = r.plan.SpecHash
		if pg != nil {
			podgroup.Join(p, pg.Name)
		}
		_ = probs.add(addGate(p, r.plan, party))
		if v := security.Check(req, p); v != nil {
			_ = probs.add(inputErrorf(v.Reason, "party %s: %s", party.DomainID, v.Message))
		}
		files, err := r.render(partyIdx, pod.Index)
		if err := probs.add(err); err != nil {
			return nil, err
		}
		if files != nil {
			objs.ConfigMaps = append(objs.ConfigMaps, buildConfigMap(task, party, pod, files))
		}
		for _, svc := range pod.Services {
			objs.Services = append(objs.Services, buildService(task, party, pod, svc))
		}
		objs.Pods = append(objs.Pods, p)
	}
	return objs, nil
}

// Labels are the labels of every object of a party; pod-specific objects add
// LabelPod.
func Labels(task *kusciav1alpha1.KusciaTask, party *PartyPlan) map[string]string {
	return map[string]string{
		kusciav1alpha1.LabelTask:    TaskLabelValue(task.Name),
		kusciav1alpha1.LabelTaskUID: string(task.UID),
		kusciav1alpha1.LabelParty:   party.DomainID,
		kusciav1alpha1.LabelRole:    party.Role,
	}
}

func objectMeta(task *kusciav1alpha1.KusciaTask, party *PartyPlan, pod PodPlan, name string) metav1.ObjectMeta {
	labels := Labels(task, party)
	labels[kusciav1alpha1.LabelPod] = pod.Name
	return metav1.ObjectMeta{
		Name:            name,
		Namespace:       pod.Namespace,
		Labels:          labels,
		OwnerReferences: []metav1.OwnerReference{*OwnerReference(task)},
	}
}

// OwnerReference makes the task the controlling owner of a child, so the
// garbage collector deletes the child with the task.
func OwnerReference(task *kusciav1alpha1.KusciaTask) *metav1.OwnerReference {
	return metav1.NewControllerRef(task, kusciav1alpha1.SchemeGroupVersion.WithKind("KusciaTask"))
}

func buildConfigMap(task *kusciav1alpha1.KusciaTask, party *PartyPlan, pod PodPlan, files map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: objectMeta(task, party, pod, pod.ConfigMapName),
		Data:       files,
	}
}

func buildService(task *kusciav1alpha1.KusciaTask, party *PartyPlan, pod PodPlan, svc ServicePlan) *corev1.Service {
	meta := objectMeta(task, party, pod, svc.Name)
	meta.Annotations = map[string]string{AnnotationPortScope: string(svc.Port.Scope)}
	return &corev1.Service{
		ObjectMeta: meta,
		Spec: corev1.ServiceSpec{
			ClusterIP: corev1.ClusterIPNone,
			Selector: map[string]string{
				kusciav1alpha1.LabelTaskUID: string(task.UID),
				kusciav1alpha1.LabelPod:     pod.Name,
			},
			Ports: []corev1.ServicePort{{
				Name:       svc.Port.Name,
				Port:       svc.Port.Port,
				TargetPort: intstr.FromString(svc.Port.Name),
				Protocol:   corev1.ProtocolTCP,
			}},
			// Peers must find each other before their readiness probes pass.
			PublishNotReadyAddresses: true,
		},
	}
}

func buildPod(task *kusciav1alpha1.KusciaTask, party *PartyPlan, pod PodPlan, round int32) *corev1.Pod {
	meta := objectMeta(task, party, pod, pod.Name)
	meta.Annotations = map[string]string{
		AnnotationRound:         strconv.Itoa(int(round)),
		AnnotationPartyReplicas: strconv.Itoa(party.Replicas),
	}
	spec := &party.Spec
	p := &corev1.Pod{
		ObjectMeta: meta,
		Spec: corev1.PodSpec{
			RestartPolicy:                spec.RestartPolicy,
			Affinity:                     spec.Affinity.DeepCopy(),
			NodeSelector:                 maps.Clone(spec.NodeSelector),
			AutomountServiceAccountToken: ptr.To(false),
			Hostname:                     pod.Name,
			Volumes: []corev1.Volume{{
				Name: configVolume,
				VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: pod.ConfigMapName},
				}},
			}},
		},
	}
	for _, t := range spec.Tolerations {
		p.Spec.Tolerations = append(p.Spec.Tolerations, *t.DeepCopy())
	}
	for _, c := range spec.Containers {
		p.Spec.Containers = append(p.Spec.Containers, buildContainer(task, party, c))
	}
	return p
}

func buildContainer(task *kusciav1alpha1.KusciaTask, party *PartyPlan, c kusciav1alpha1.Container) corev1.Container {
	c = *c.DeepCopy()
	out := corev1.Container{
		Name:                     c.Name,
		Image:                    party.Image,
		Command:                  c.Command,
		Args:                     c.Args,
		WorkingDir:               c.WorkingDir,
		EnvFrom:                  c.EnvFrom,
		Env:                      append(c.Env, kusciaEnv(task, party)...),
		Resources:                c.Resources,
		LivenessProbe:            c.LivenessProbe,
		ReadinessProbe:           c.ReadinessProbe,
		StartupProbe:             c.StartupProbe,
		ImagePullPolicy:          c.ImagePullPolicy,
		SecurityContext:          c.SecurityContext,
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}
	for _, port := range c.Ports {
		out.Ports = append(out.Ports, corev1.ContainerPort{
			Name: port.Name, ContainerPort: port.Port, Protocol: corev1.ProtocolTCP,
		})
	}
	for _, m := range c.ConfigVolumeMounts {
		out.VolumeMounts = append(out.VolumeMounts, corev1.VolumeMount{
			Name: configVolume, MountPath: m.MountPath, SubPath: m.SubPath, ReadOnly: true,
		})
	}
	return out
}

// kusciaEnv is the environment every container gets: the task, its domain and
// one KUSCIA_PORT_<NAME>_NUMBER per port of the pod.
func kusciaEnv(task *kusciav1alpha1.KusciaTask, party *PartyPlan) []corev1.EnvVar {
	env := []corev1.EnvVar{
		{Name: "TASK_ID", Value: task.Name},
		{Name: "KUSCIA_DOMAIN_ID", Value: party.DomainID},
	}
	for _, port := range allPorts(&party.Spec) {
		env = append(env, corev1.EnvVar{
			Name:  "KUSCIA_PORT_" + strings.ToUpper(strings.ReplaceAll(port.Name, "-", "_")) + "_NUMBER",
			Value: strconv.Itoa(int(port.Port)),
		})
	}
	return env
}
