// Package gatepod adds the gate (package kusciatask.io/controller/pkg/gate)
// to a pod: the init container, its downward-API volume and the
// annotations. It is kept apart from package gate so that the gate binary
// does not link the Kubernetes API types (they triple its memory).
package gatepod

import (
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	"kusciatask.io/controller/pkg/gate"
)

// RunAsUser is the gate's non-root user and group (the conventional
// "nonroot" ID of distroless images; the gate needs no file of its own but
// the world-readable downward-API file).
const RunAsUser int64 = 65532

// The most the gate requests; less when the application requests less.
var (
	maxCPURequest    = resource.MustParse("10m")
	maxMemoryRequest = resource.MustParse("16Mi")
)

// AddTo turns pod into a gated pod: the gate init container first (before
// any init container of the application), its volume, the annotation
// gate.Annotation=gate.Closed, and kubectl's default container set to the
// first application container unless already set. deadline is when the gate
// gives up. The application's containers decide the gate's resources
// (Resources), so add them before calling AddTo. It fails, leaving the pod
// unchanged, when the pod already has a container or volume of the gate's
// names.
func AddTo(pod *corev1.Pod, image string, deadline time.Time) error {
	if err := checkNames(&pod.Spec); err != nil {
		return err
	}
	c, err := InitContainer(image, deadline, pod.Spec.Containers)
	if err != nil {
		return err
	}
	pod.Spec.InitContainers = append([]corev1.Container{c}, pod.Spec.InitContainers...)
	pod.Spec.Volumes = append(pod.Spec.Volumes, Volume())
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[gate.Annotation] = gate.Closed
	if _, set := pod.Annotations[gate.DefaultContainerAnnotation]; !set && len(pod.Spec.Containers) > 0 {
		SetDefaultContainer(pod, pod.Spec.Containers[0].Name)
	}
	return nil
}

// checkNames refuses a pod spec that already uses the gate's container or
// volume name (an application's template may name anything).
func checkNames(spec *corev1.PodSpec) error {
	for _, list := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for _, c := range list {
			if c.Name == gate.ContainerName {
				return fmt.Errorf("add gate: the pod already has a container named %q, reserved for the gate", gate.ContainerName)
			}
		}
	}
	for _, v := range spec.Volumes {
		if v.Name == gate.VolumeName {
			return fmt.Errorf("add gate: the pod already has a volume named %q, reserved for the gate", gate.VolumeName)
		}
	}
	return nil
}

// SetDefaultContainer sets the annotation that makes kubectl logs and exec
// pick container name when none is given.
func SetDefaultContainer(pod *corev1.Pod, name string) {
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[gate.DefaultContainerAnnotation] = name
}

// InitContainer is the gate for a pod whose application containers are app:
// it runs gate.BinaryPath from image (no shell), reads gate.FilePath and
// gives up at deadline.
func InitContainer(image string, deadline time.Time, app []corev1.Container) (corev1.Container, error) {
	if image == "" {
		return corev1.Container{}, errors.New("add gate: the gate image is empty")
	}
	if deadline.IsZero() {
		return corev1.Container{}, errors.New("add gate: the gate deadline is unset")
	}
	return corev1.Container{
		Name:    gate.ContainerName,
		Image:   image,
		Command: []string{gate.BinaryPath},
		Args: []string{
			"--file=" + gate.FilePath,
			"--deadline=" + gate.FormatDeadline(deadline),
		},
		VolumeMounts:    []corev1.VolumeMount{{Name: gate.VolumeName, MountPath: gate.MountPath, ReadOnly: true}},
		Resources:       Resources(app),
		ImagePullPolicy: corev1.PullIfNotPresent,
		// The gate writes its own message; a crash still leaves its log.
		TerminationMessagePath:   corev1.TerminationMessagePathDefault,
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
		SecurityContext:          SecurityContext(),
	}, nil
}

// Volume is the downward-API volume holding the gate annotation's value in
// gate.FileName, read-only for everyone.
func Volume() corev1.Volume {
	return corev1.Volume{
		Name: gate.VolumeName,
		VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{
			Items: []corev1.DownwardAPIVolumeFile{{
				Path:     gate.FileName,
				FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.annotations['" + gate.Annotation + "']"},
			}},
			DefaultMode: ptr.To[int32](0o444),
		}},
	}
}

// SecurityContext passes the Pod Security "restricted" level on its own:
// non-root with a non-zero user, no privilege escalation, every capability
// dropped, the runtime's default seccomp profile and a read-only root file
// system.
func SecurityContext() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		RunAsNonRoot:             ptr.To(true),
		RunAsUser:                ptr.To(RunAsUser),
		RunAsGroup:               ptr.To(RunAsUser),
		Privileged:               ptr.To(false),
		AllowPrivilegeEscalation: ptr.To(false),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		ReadOnlyRootFilesystem:   ptr.To(true),
	}
}

// Resources are the gate's requests and limits for a pod whose application
// containers are app. For cpu and memory the request is the smaller of a
// tiny amount (10m, 16Mi) and what the application requests in all, and
// absent when that is zero: the pod's effective request, max(init, sum of
// app), never grows. Limits equal the requests only when every application
// container's limits equal its requests (a Guaranteed pod stays Guaranteed);
// otherwise there are none, so a BestEffort pod stays BestEffort and a
// Burstable one Burstable.
func Resources(app []corev1.Container) corev1.ResourceRequirements {
	var out corev1.ResourceRequirements
	for name, ceiling := range map[corev1.ResourceName]resource.Quantity{
		corev1.ResourceCPU:    maxCPURequest,
		corev1.ResourceMemory: maxMemoryRequest,
	} {
		total := resource.Quantity{}
		for i := range app {
			total.Add(request(&app[i], name))
		}
		if total.IsZero() {
			continue
		}
		if out.Requests == nil {
			out.Requests = corev1.ResourceList{}
		}
		out.Requests[name] = minQuantity(ceiling, total)
	}
	if guaranteed(app) {
		out.Limits = out.Requests.DeepCopy()
	}
	return out
}

// request is a container's request for a resource as the API server
// defaults it: the request, else the limit.
func request(c *corev1.Container, name corev1.ResourceName) resource.Quantity {
	if q, ok := c.Resources.Requests[name]; ok {
		return q
	}
	return c.Resources.Limits[name]
}

// guaranteed reports whether every container sets cpu and memory limits and
// requests equal to them (or none, which the API server defaults to them):
// the Guaranteed QoS class, as far as app containers decide it.
func guaranteed(app []corev1.Container) bool {
	if len(app) == 0 {
		return false
	}
	for i := range app {
		for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			limit, ok := app[i].Resources.Limits[name]
			if !ok || limit.IsZero() {
				return false
			}
			if req := request(&app[i], name); req.Cmp(limit) != 0 {
				return false
			}
		}
	}
	return true
}

func minQuantity(a, b resource.Quantity) resource.Quantity {
	if a.Cmp(b) <= 0 {
		return a.DeepCopy()
	}
	return b.DeepCopy()
}
