package v1alpha1

// Bounds of what a KusciaTask or an AppImage may ask for. The CRD schema
// enforces them at admission (the kubebuilder markers on the types repeat
// these numbers; bounds_test.go checks that the generated CRDs agree), and
// the controller checks them again for clusters that do not enforce the
// schema. Each is far above real use: they exist so that no input can make
// the controller, the API server or etcd do unbounded work.
const (
	// MaxParties bounds spec.parties. It also keeps the CEL uniqueness rule
	// inside the apiserver's cost budget.
	MaxParties = 64
	// MaxReplicas bounds the replicas of a party (task template and AppImage
	// deploy templates) and minReservedPods. The controller's
	// --max-replicas-per-party and --max-pods-per-task are usually lower.
	MaxReplicas = 1000
	// MaxTaskInputConfigLength bounds spec.taskInputConfig, in characters:
	// it is copied into every pod's ConfigMap, which holds at most 1 MiB.
	MaxTaskInputConfigLength = 512 * 1024
	// MaxConfigTemplates and MaxConfigTemplateLength (characters) bound an
	// AppImage's configTemplates.
	MaxConfigTemplates      = 16
	MaxConfigTemplateLength = 64 * 1024
	// MaxDeployTemplates bounds an AppImage's deployTemplates.
	MaxDeployTemplates = 32
	// MaxContainers bounds the containers of a pod template.
	MaxContainers = 8
	// MaxPortsPerContainer bounds a container's ports; each Cluster or
	// Domain port is one Service per pod.
	MaxPortsPerContainer = 16
	// MaxEnvPerContainer and MaxEnvFromPerContainer bound env and envFrom.
	MaxEnvPerContainer     = 256
	MaxEnvFromPerContainer = 32
	// MaxCommandArgs bounds each of a container's command and args.
	MaxCommandArgs = 256
	// MaxConfigVolumeMounts bounds a container's configVolumeMounts (one per
	// config file at most: the templates and task-config.conf).
	MaxConfigVolumeMounts = MaxConfigTemplates + 1
	// MaxTolerations and MaxNodeSelector bound the placement fields.
	MaxTolerations  = 32
	MaxNodeSelector = 32
	// MaxImageNameLength and MaxImageTagLength bound the image reference.
	MaxImageNameLength = 512
	MaxImageTagLength  = 128
)
