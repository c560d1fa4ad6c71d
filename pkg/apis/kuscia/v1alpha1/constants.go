package v1alpha1

// KusciaTaskPhase is where a task (or one party of it) is in its life.
// Phases only move forward: "" → Pending → Running → Succeeded | Failed, and
// the two terminal phases never change.
// +kubebuilder:validation:Enum=Pending;Running;Succeeded;Failed
type KusciaTaskPhase string

const (
	// TaskPending: the task is accepted; its resources are being created and
	// its parties are reserving nodes.
	TaskPending KusciaTaskPhase = "Pending"
	// TaskRunning: enough parties reserved their pods and the task runs.
	TaskRunning KusciaTaskPhase = "Running"
	// TaskSucceeded: at least minReservedMembers parties succeeded. Terminal.
	TaskSucceeded KusciaTaskPhase = "Succeeded"
	// TaskFailed: the task can no longer succeed. Terminal.
	TaskFailed KusciaTaskPhase = "Failed"
)

// IsTerminal reports whether the phase never changes again.
func (p KusciaTaskPhase) IsTerminal() bool {
	return p == TaskSucceeded || p == TaskFailed
}

// KusciaTaskConditionType names a condition in status.conditions.
type KusciaTaskConditionType string

const (
	// ConditionResourceCreated: every party's config maps, services and pods
	// of the current round exist.
	ConditionResourceCreated KusciaTaskConditionType = "ResourceCreated"
	// ConditionReserved: enough parties have their pods bound to nodes.
	ConditionReserved KusciaTaskConditionType = "Reserved"
	// ConditionRunning: the task reached the Running phase.
	ConditionRunning KusciaTaskConditionType = "Running"
	// ConditionSuccess: True once Succeeded, False once Failed.
	ConditionSuccess KusciaTaskConditionType = "Success"
	// ConditionFinished: True once the task ended either way (Succeeded or
	// Failed), with the terminal reason and message, so that
	// `kubectl wait --for=condition=Finished` returns on success and on
	// failure alike. Absent while the task has not ended.
	ConditionFinished KusciaTaskConditionType = "Finished"
)

// KusciaTaskReason is a CamelCase word for why a task or condition is in its
// state. Reasons of failed tasks tell the user what to fix.
type KusciaTaskReason string

const (
	// ReasonResourcesCreated: the current round's resources were created.
	ReasonResourcesCreated KusciaTaskReason = "ResourcesCreated"
	// ReasonReserving: the round waits for parties to reserve.
	ReasonReserving KusciaTaskReason = "Reserving"
	// ReasonReserved: enough parties reserved.
	ReasonReserved KusciaTaskReason = "Reserved"
	// ReasonRoundReleased: a round did not reserve in time and was released;
	// the next round starts after retryIntervalSeconds.
	ReasonRoundReleased KusciaTaskReason = "RoundReleased"
	// ReasonReservationExpired: not reserved within lifecycleSeconds.
	ReasonReservationExpired KusciaTaskReason = "ReservationExpired"
	// ReasonImageUnavailable: during the reservation, a pod's image can never
	// reach its node (InvalidImageName, ErrImageNeverPull): no later round
	// could do better, so the task fails at once, naming the image.
	ReasonImageUnavailable KusciaTaskReason = "ImageUnavailable"
	// ReasonRunning: the task runs.
	ReasonRunning KusciaTaskReason = "Running"
	// ReasonSucceeded: enough parties succeeded.
	ReasonSucceeded KusciaTaskReason = "Succeeded"
	// ReasonPartiesFailed: too many parties failed for the task to succeed.
	ReasonPartiesFailed KusciaTaskReason = "PartiesFailed"

	// ReasonInvalidSpec: the spec breaks a rule the CRD schema also checks
	// (initiator not a party, duplicate domain, bad scheduleConfig, ...),
	// seen on clusters that do not run CEL validation.
	ReasonInvalidSpec KusciaTaskReason = "InvalidSpec"
	// ReasonAppImageNotFound: a party names an AppImage that does not exist.
	ReasonAppImageNotFound KusciaTaskReason = "AppImageNotFound"
	// ReasonDeployTemplateNotFound: the AppImage has no template for a
	// party's role.
	ReasonDeployTemplateNotFound KusciaTaskReason = "DeployTemplateNotFound"
	// ReasonInvalidTemplate: the merged pod template cannot make a pod
	// (no containers, minReservedPods above replicas, ...).
	ReasonInvalidTemplate KusciaTaskReason = "InvalidTemplate"
	// ReasonDomainNotFound: a party's namespace does not exist or is not
	// labelled as a Kuscia domain.
	ReasonDomainNotFound KusciaTaskReason = "DomainNotFound"
	// ReasonConfigRenderFailed: an AppImage config template failed to render.
	ReasonConfigRenderFailed KusciaTaskReason = "ConfigRenderFailed"
	// ReasonResourceConflict: an object the task needs already exists and
	// belongs to someone else.
	ReasonResourceConflict KusciaTaskReason = "ResourceConflict"
	// ReasonUnknownPhase: status.phase holds a value no KusciaTask phase has
	// (status written by hand).
	ReasonUnknownPhase KusciaTaskReason = "UnknownPhase"
	// ReasonResourceRejected: the API server refused to create a child for
	// a reason a retry does not fix (an admission policy forbids it); the
	// message is the server's.
	ReasonResourceRejected KusciaTaskReason = "ResourceRejected"
	// ReasonResourceQuotaExceeded: a child cannot be created yet because a
	// ResourceQuota of its namespace is used up. The controller retries
	// until lifecycleSeconds pass; the task stays Pending meanwhile.
	ReasonResourceQuotaExceeded KusciaTaskReason = "ResourceQuotaExceeded"
	// ReasonCreateFailed: creating a child failed for a reason that may pass
	// (the API server unreachable, a timeout); the controller retries until
	// lifecycleSeconds pass.
	ReasonCreateFailed KusciaTaskReason = "CreateFailed"
	// ReasonSpecChanged: the pod-shaping spec (parties, taskInputConfig)
	// changed after the task's pods were made, on a cluster that does not
	// enforce the CRD's immutability rules.
	ReasonSpecChanged KusciaTaskReason = "SpecChanged"
	// ReasonPodSecurityViolation: a pod of the task would break the Pod
	// Security Standards level of the controller (--pod-security-level) or
	// of the party's namespace (label pod-security.kubernetes.io/enforce).
	ReasonPodSecurityViolation KusciaTaskReason = "PodSecurityViolation"
	// ReasonSecretRefForbidden: a container reads a Secret (envFrom
	// secretRef or env valueFrom secretKeyRef) in a domain that does not
	// allow it (label kuscia.secretflow/allow-secret-refs=true).
	ReasonSecretRefForbidden KusciaTaskReason = "SecretRefForbidden"
	// ReasonTooManyPods: a party or the task asks for more pods than the
	// controller allows (--max-replicas-per-party, --max-pods-per-task).
	ReasonTooManyPods KusciaTaskReason = "TooManyPods"
	// ReasonTaskTooLarge: the task's pods together would be larger than one
	// task may build (its pod templates times its pods).
	ReasonTaskTooLarge KusciaTaskReason = "TaskTooLarge"
	// ReasonStatusTampered: status.phase says the task finished, but the
	// task's own pods do not explain it: someone other than the controller
	// wrote it. The phase cannot be restored (a finished task's phase never
	// changes); the controller stops none of the pods.
	ReasonStatusTampered KusciaTaskReason = "StatusTampered"
)

// Reasons in status.podStatuses that the controller sets itself (the others
// come from the kubelet and the scheduler).
const (
	// PodReasonStopped: the controller deleted the pod (the task finished,
	// the round was released, its party was left out of the gang); the
	// message says why.
	PodReasonStopped = "Stopped"
	// PodReasonDeleted: the pod went away before it finished, and not
	// because the controller deleted it.
	PodReasonDeleted = "Deleted"
	// PodReasonTerminating: the pod is being deleted, and not because the
	// controller deleted it.
	PodReasonTerminating = "Terminating"
)

// PortProtocol is the protocol spoken on a container port.
type PortProtocol string

const (
	ProtocolHTTP PortProtocol = "HTTP"
	ProtocolGRPC PortProtocol = "GRPC"
	ProtocolTCP  PortProtocol = "TCP"
)

// PortScope says who may reach a container port.
type PortScope string

const (
	// ScopeCluster: other parties reach the port; it gets a service.
	ScopeCluster PortScope = "Cluster"
	// ScopeDomain: the own party reaches the port; it gets a service.
	ScopeDomain PortScope = "Domain"
	// ScopeLocal: only the pod itself; no service.
	ScopeLocal PortScope = "Local"
)

// Labels set on every object the controller creates, and the label that
// marks a namespace as a Kuscia domain.
const (
	LabelTask    = "kuscia.secretflow/task"
	LabelTaskUID = "kuscia.secretflow/task-uid"
	LabelParty   = "kuscia.secretflow/party"
	LabelRole    = "kuscia.secretflow/role"
	// LabelPod is set on a pod and the services pointing at it; the services
	// select their pod by it.
	LabelPod = "kuscia.secretflow/pod"
	// LabelDomain marks a namespace as a Kuscia domain; only such namespaces
	// may run a party.
	LabelDomain = "kuscia.secretflow/domain"
	// LabelAllowSecretRefs set to "true" on a domain namespace lets the
	// tasks' containers read that namespace's Secrets through env and
	// envFrom. Without it such a task fails with SecretRefForbidden: a
	// KusciaTask must not hand a domain's Secrets to whoever wrote it.
	LabelAllowSecretRefs = "kuscia.secretflow/allow-secret-refs"
)
