// Package gatepod adds the gate (package kusciatask.io/controller/pkg/gate)
// to a pod: the init container, its downward-API volume and the
// annotations. It is kept apart from package gate so that the gate binary
// does not link the Kubernetes API types (they triple its memory).
package gatepod

import (
	"errors"
	"fmt"
	"strings"
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

// binVolumeSize bounds the emptyDir holding the gate binary (about 3 MB).
var binVolumeSize = resource.MustParse("32Mi")

// The most the gate requests; less when the application requests less.
var (
	maxCPURequest    = resource.MustParse("10m")
	maxMemoryRequest = resource.MustParse("16Mi")
)

// Options say how AddTo gates a pod.
type Options struct {
	// Image is the gate image, the controller's own, which ships the gate
	// binary at gate.BinaryPath.
	Image string
	// Deadline is when the gate gives up.
	Deadline time.Time
	// PullImages makes the kubelet pull every image of the pod before the
	// gate waits: the gate runs from the first application container's
	// image with its binary copied from Image, after one pull-only init
	// container per other image of the pod. Without it the gate runs from
	// Image and the application's images are pulled once it opens.
	PullImages bool
}

// AddTo turns pod into a gated pod: the gate init containers first (before
// any init container of the application), their volumes, the annotation
// gate.Annotation=gate.Closed, and kubectl's default container set to the
// first application container unless already set. The application's
// containers decide the gate's resources (Resources) and, with
// o.PullImages, its images, so add them before calling AddTo. It fails,
// leaving the pod unchanged, when the pod already has a container or volume
// of the gate's names.
//
// With o.PullImages the init containers are, in order:
//   - gate.InstallContainerName, from o.Image: copies the gate binary into
//     the emptyDir gate.BinVolumeName;
//   - gate.PullContainerName(1), (2), ...: one per distinct image of the
//     pod's other containers, init containers included, each running the
//     copied binary with --pull-only;
//   - gate.ContainerName from the first application container's image,
//     running the copied binary: it waits.
//
// Each takes its image's pull policy from the first container using that
// image. The binary is static and reads nothing of the image it runs in,
// so an image built FROM scratch serves as well as any.
func AddTo(pod *corev1.Pod, o Options) error {
	if err := checkNames(&pod.Spec); err != nil {
		return err
	}
	var initContainers []corev1.Container
	var err error
	if o.PullImages {
		initContainers, err = pullingInitContainers(o, pod.Spec)
	} else {
		var c corev1.Container
		c, err = InitContainer(o.Image, o.Deadline, pod.Spec.Containers)
		initContainers = []corev1.Container{c}
	}
	if err != nil {
		return err
	}
	pod.Spec.InitContainers = append(initContainers, pod.Spec.InitContainers...)
	pod.Spec.Volumes = append(pod.Spec.Volumes, Volume())
	if o.PullImages {
		pod.Spec.Volumes = append(pod.Spec.Volumes, BinVolume())
	}
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[gate.Annotation] = gate.Closed
	if _, set := pod.Annotations[gate.DefaultContainerAnnotation]; !set && len(pod.Spec.Containers) > 0 {
		SetDefaultContainer(pod, pod.Spec.Containers[0].Name)
	}
	return nil
}

// checkNames refuses a pod spec that already uses one of the gate's
// container or volume names (an application's template may name anything).
func checkNames(spec *corev1.PodSpec) error {
	for _, list := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for _, c := range list {
			if c.Name == gate.ContainerName || gate.BeforeGate(c.Name) {
				return fmt.Errorf("add gate: the pod already has a container named %q, reserved for the gate", c.Name)
			}
		}
	}
	for _, v := range spec.Volumes {
		if v.Name == gate.VolumeName || v.Name == gate.BinVolumeName {
			return fmt.Errorf("add gate: the pod already has a volume named %q, reserved for the gate", v.Name)
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

// InitContainer is the gate for a pod whose application containers are app,
// run from the gate image: it runs gate.BinaryPath from image (no shell),
// reads gate.FilePath and gives up at deadline.
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

// pullingInitContainers are the init containers of a pod that pulls its
// images during the reservation (see AddTo), for the pod spec as built.
func pullingInitContainers(o Options, spec corev1.PodSpec) ([]corev1.Container, error) {
	if len(spec.Containers) == 0 {
		return nil, errors.New("add gate: the pod has no container whose image the gate could run from")
	}
	images := podImages(spec)
	for _, img := range images {
		if img.name == "" {
			return nil, errors.New("add gate: a container of the pod has no image")
		}
	}
	waiter, err := InitContainer(o.Image, o.Deadline, spec.Containers)
	if err != nil {
		return nil, err
	}
	binMount := corev1.VolumeMount{Name: gate.BinVolumeName, MountPath: gate.BinMountPath, ReadOnly: true}

	installer := waiter
	installer.Name = gate.InstallContainerName
	installer.Args = []string{"--install=" + gate.InstalledBinaryPath}
	installer.VolumeMounts = []corev1.VolumeMount{{Name: gate.BinVolumeName, MountPath: gate.BinMountPath}}
	out := []corev1.Container{installer}

	for i, img := range images[1:] {
		pull := installer
		pull.Name = gate.PullContainerName(i + 1)
		pull.Image, pull.ImagePullPolicy = img.name, img.policy
		pull.Command, pull.Args = []string{gate.InstalledBinaryPath}, []string{"--pull-only"}
		pull.VolumeMounts = []corev1.VolumeMount{binMount}
		pull.WorkingDir = "/"
		out = append(out, pull)
	}

	waiter.Image, waiter.ImagePullPolicy = images[0].name, images[0].policy
	waiter.Command = []string{gate.InstalledBinaryPath}
	waiter.VolumeMounts = append(waiter.VolumeMounts, binMount)
	// An application image's working directory may not exist or be
	// unreadable for the gate's user: the binary needs none.
	waiter.WorkingDir = "/"
	return append(out, waiter), nil
}

// image is one image of a pod and the pull policy of its first container.
type image struct {
	name   string
	policy corev1.PullPolicy
}

// podImages are the distinct images of a pod's containers, the application
// containers' first (in order), then its init containers'.
func podImages(spec corev1.PodSpec) []image {
	var out []image
	seen := map[string]bool{}
	for _, list := range [][]corev1.Container{spec.Containers, spec.InitContainers} {
		for _, c := range list {
			if seen[c.Image] {
				continue
			}
			seen[c.Image] = true
			out = append(out, image{name: c.Image, policy: pullPolicy(c)})
		}
	}
	return out
}

// pullPolicy is a container's pull policy as the API server defaults it:
// Always for an image with the tag "latest" or no tag and no digest,
// IfNotPresent otherwise.
func pullPolicy(c corev1.Container) corev1.PullPolicy {
	if c.ImagePullPolicy != "" {
		return c.ImagePullPolicy
	}
	ref := c.Image
	if strings.Contains(ref, "@") {
		return corev1.PullIfNotPresent
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") && ref[i+1:] != "latest" {
		return corev1.PullIfNotPresent
	}
	return corev1.PullAlways
}

// BinVolume is the emptyDir the install container copies the gate binary
// into, for the gate and the pull-only containers to run.
func BinVolume() corev1.Volume {
	return corev1.Volume{
		Name:         gate.BinVolumeName,
		VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: ptr.To(binVolumeSize)}},
	}
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
