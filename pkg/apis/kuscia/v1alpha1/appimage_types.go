package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +genclient
// +genclient:nonNamespaced
// +genclient:noStatus
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=aimg,categories=kuscia
// +kubebuilder:printcolumn:name="Image",type=string,JSONPath=`.spec.image.name`
// +kubebuilder:printcolumn:name="Tag",type=string,JSONPath=`.spec.image.tag`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// AppImage is an application a party can run: its container image, the
// config files rendered for each pod and the pod templates per role.
type AppImage struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec AppImageSpec `json:"spec"`
}

// AppImageSpec is the content of an AppImage.
type AppImageSpec struct {
	// Image is the container image every container of the app runs.
	Image AppImageInfo `json:"image"`

	// ConfigTemplates maps a file name to a Go text/template. The controller
	// renders each one per pod and mounts the result where a container's
	// configVolumeMounts ask for that file. At most 16 templates of at most
	// 65536 characters each.
	// +kubebuilder:validation:MaxProperties=16
	// +kubebuilder:validation:XValidation:rule="self.all(k, size(self[k]) <= 65536)",message="each config template must be at most 65536 characters"
	// +optional
	ConfigTemplates map[string]string `json:"configTemplates,omitempty"`

	// DeployTemplates are the pod templates, chosen per party by role.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	DeployTemplates []DeployTemplate `json:"deployTemplates"`
}

// AppImageInfo names a container image.
type AppImageInfo struct {
	// Name is the image repository, e.g. secretflow/secretflow-lite-anolis8.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	Name string `json:"name"`
	// Tag defaults to "latest".
	// +kubebuilder:validation:MaxLength=128
	// +optional
	Tag string `json:"tag,omitempty"`
	// ID is the image digest, informational.
	// +optional
	ID string `json:"id,omitempty"`
	// Sign is the image signature, informational.
	// +optional
	Sign string `json:"sign,omitempty"`
}

// DeployTemplate is the pod template for the parties of some roles.
type DeployTemplate struct {
	// Name of the template, informational.
	// +optional
	Name string `json:"name,omitempty"`
	// Role is a comma-separated list of the roles this template serves;
	// empty serves any party whose role no other template names.
	// +optional
	Role string `json:"role,omitempty"`
	// Replicas is the number of pods per party: at least 1, at most 1000.
	// Default 1.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +optional
	Replicas *int32 `json:"replicas,omitempty"`
	// Spec is the pod template.
	Spec PodSpec `json:"spec"`
}

// PodSpec is the subset of a Kubernetes pod spec an app may set.
type PodSpec struct {
	// RestartPolicy of the pods. Default Never.
	// +kubebuilder:validation:Enum=Always;OnFailure;Never
	// +optional
	RestartPolicy corev1.RestartPolicy `json:"restartPolicy,omitempty"`
	// Containers of the pod, at most 8.
	// +kubebuilder:validation:MaxItems=8
	// +listType=atomic
	// +optional
	Containers []Container `json:"containers,omitempty"`
	// +optional
	Affinity *corev1.Affinity `json:"affinity,omitempty"`
	// +kubebuilder:validation:MaxProperties=32
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`
}

// Container is one container of an app's pod. Its image comes from the
// AppImage.
type Container struct {
	// Name of the container, a DNS label.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`
	// +kubebuilder:validation:MaxItems=256
	// +listType=atomic
	// +optional
	Command []string `json:"command,omitempty"`
	// +kubebuilder:validation:MaxItems=256
	// +listType=atomic
	// +optional
	Args []string `json:"args,omitempty"`
	// +optional
	WorkingDir string `json:"workingDir,omitempty"`
	// ConfigVolumeMounts mount rendered config files (keys of the AppImage's
	// configTemplates, or task-config.conf) into the container.
	// +kubebuilder:validation:MaxItems=17
	// +listType=atomic
	// +optional
	ConfigVolumeMounts []ConfigVolumeMount `json:"configVolumeMounts,omitempty"`
	// Ports the container serves; Cluster and Domain ports get a service.
	// +kubebuilder:validation:MaxItems=16
	// +listType=atomic
	// +optional
	Ports []ContainerPort `json:"ports,omitempty"`
	// EnvFrom may name ConfigMaps; Secrets only where the domain allows
	// them (namespace label kuscia.secretflow/allow-secret-refs=true).
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +optional
	EnvFrom []corev1.EnvFromSource `json:"envFrom,omitempty"`
	// Env may read ConfigMap keys; Secret keys only where the domain allows
	// them (namespace label kuscia.secretflow/allow-secret-refs=true).
	// +kubebuilder:validation:MaxItems=256
	// +listType=atomic
	// +optional
	Env []corev1.EnvVar `json:"env,omitempty"`
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`
	// +optional
	LivenessProbe *corev1.Probe `json:"livenessProbe,omitempty"`
	// +optional
	ReadinessProbe *corev1.Probe `json:"readinessProbe,omitempty"`
	// +optional
	StartupProbe *corev1.Probe `json:"startupProbe,omitempty"`
	// +kubebuilder:validation:Enum=Always;Never;IfNotPresent
	// +optional
	ImagePullPolicy corev1.PullPolicy `json:"imagePullPolicy,omitempty"`
	// SecurityContext must meet the Pod Security Standards level of the
	// controller (--pod-security-level, default baseline) and of the
	// domain's pod-security.kubernetes.io/enforce label.
	// +optional
	SecurityContext *corev1.SecurityContext `json:"securityContext,omitempty"`
}

// ConfigVolumeMount mounts one rendered config file.
type ConfigVolumeMount struct {
	// MountPath is the file's path in the container.
	// +kubebuilder:validation:MinLength=1
	MountPath string `json:"mountPath"`
	// SubPath is the file's name: a configTemplates key or task-config.conf.
	// +kubebuilder:validation:MinLength=1
	SubPath string `json:"subPath"`
}

// ContainerPort is a named port of a container.
type ContainerPort struct {
	// Name of the port, part of its service's name and of the env var
	// KUSCIA_PORT_<NAME>_NUMBER.
	// An IANA service name, as Kubernetes wants it: at most 15 lowercase
	// letters, digits and single hyphens, with at least one letter.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=15
	// +kubebuilder:validation:Pattern=`^[a-z0-9]+(-[a-z0-9]+)*$`
	// +kubebuilder:validation:XValidation:rule="self.matches('[a-z]')",message="a port name must contain at least one letter"
	Name string `json:"name"`
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port"`
	// Protocol spoken on the port. Default TCP.
	// +kubebuilder:validation:Enum=HTTP;GRPC;TCP
	// +optional
	Protocol PortProtocol `json:"protocol,omitempty"`
	// Scope says who may reach the port: Cluster (other parties), Domain
	// (the own party) or Local (the pod). Default Local.
	// +kubebuilder:validation:Enum=Cluster;Domain;Local
	// +optional
	Scope PortScope `json:"scope,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true

// AppImageList is a list of AppImages.
type AppImageList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []AppImage `json:"items"`
}
