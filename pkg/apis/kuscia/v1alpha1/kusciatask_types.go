package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +genclient
// +genclient:nonNamespaced
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=kt,categories=kuscia
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="StartTime",type=date,JSONPath=`.status.startTime`
// +kubebuilder:printcolumn:name="CompletionTime",type=date,JSONPath=`.status.completionTime`
// +kubebuilder:printcolumn:name="LastReconcileTime",type=date,JSONPath=`.status.lastReconcileTime`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.reason`,priority=1
// +kubebuilder:printcolumn:name="Round",type=integer,JSONPath=`.status.reservation.round`,priority=1
// +kubebuilder:printcolumn:name="Parties",type=string,JSONPath=`.status.partiesSummary`,priority=1
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.message`,priority=1

// KusciaTask is one multi-party task (a PSI, a training job). The controller
// creates every party's pods, services and config maps in the party's
// namespace, reserves them as a gang and reports their state in status.
type KusciaTask struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec KusciaTaskSpec `json:"spec"`
	// +optional
	Status KusciaTaskStatus `json:"status,omitempty"`
}

// KusciaTaskSpec describes the parties of a task and how to schedule them.
//
// +kubebuilder:validation:XValidation:rule="self.parties.all(p, self.parties.exists_one(q, q.domainID == p.domainID))",message="each party must have a distinct domainID",fieldPath=".parties"
// +kubebuilder:validation:XValidation:rule="self.parties.exists(p, p.domainID == self.initiator)",message="initiator must be the domainID of one of the parties",fieldPath=".initiator"
// +kubebuilder:validation:XValidation:rule="!has(self.scheduleConfig) || !has(self.scheduleConfig.minReservedMembers) || self.scheduleConfig.minReservedMembers <= size(self.parties)",message="minReservedMembers must not be greater than the number of parties",fieldPath=".scheduleConfig.minReservedMembers"
// +kubebuilder:validation:XValidation:rule="has(self.taskInputConfig) == has(oldSelf.taskInputConfig) && (!has(self.taskInputConfig) || self.taskInputConfig == oldSelf.taskInputConfig)",message="taskInputConfig cannot change: the parties' config files are rendered from it when the task starts; create a new task instead",fieldPath=".taskInputConfig"
type KusciaTaskSpec struct {
	// Initiator is the domainID of the party that started the task. It must
	// be one of the parties. It cannot change.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="initiator cannot change once the task exists; create a new task instead"
	Initiator string `json:"initiator"`

	// ScheduleConfig tunes gang reservation. Absent fields take defaults.
	// +optional
	ScheduleConfig *ScheduleConfig `json:"scheduleConfig,omitempty"`

	// TaskInputConfig is handed to every party: rendered into its config
	// templates as TASK_INPUT_CONFIG, or written verbatim to task-config.conf
	// when the AppImage has no templates. At most 524288 characters. It
	// cannot change.
	// +kubebuilder:validation:MaxLength=524288
	// +optional
	TaskInputConfig string `json:"taskInputConfig,omitempty"`

	// Parties lists every participant; each runs in the namespace named by
	// its domainID. They cannot change: each party's pods are made from them
	// (scheduleConfig may change).
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="parties cannot change once the task exists: each party's pods are made from them; create a new task instead"
	// +listType=atomic
	Parties []PartyInfo `json:"parties"`
}

// ScheduleConfig holds the gang reservation knobs of a task.
type ScheduleConfig struct {
	// MinReservedMembers is how many parties must reserve their pods before
	// the task runs, and how many must succeed for it to succeed. Default:
	// all parties.
	// +kubebuilder:validation:Minimum=1
	// +optional
	MinReservedMembers *int32 `json:"minReservedMembers,omitempty"`

	// ResourceReservedSeconds is how long reserved parties hold their
	// resources waiting for the others before the round is released.
	// Default 30.
	// +kubebuilder:validation:Minimum=1
	// +optional
	ResourceReservedSeconds *int32 `json:"resourceReservedSeconds,omitempty"`

	// LifecycleSeconds is how long after startTime the task may take to
	// reserve before it fails with ReservationExpired. Default 300.
	// +kubebuilder:validation:Minimum=1
	// +optional
	LifecycleSeconds *int32 `json:"lifecycleSeconds,omitempty"`

	// RetryIntervalSeconds is the pause between a released round and the
	// next one. Default 30.
	// +kubebuilder:validation:Minimum=1
	// +optional
	RetryIntervalSeconds *int32 `json:"retryIntervalSeconds,omitempty"`
}

// PartyInfo is one participant of a task.
type PartyInfo struct {
	// DomainID names the party and the namespace its resources live in. The
	// namespace must carry the label kuscia.secretflow/domain.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	DomainID string `json:"domainID"`

	// AppImageRef is the name of the AppImage the party runs.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	AppImageRef string `json:"appImageRef"`

	// Role selects the AppImage deploy template and is part of pod names.
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$`
	// +optional
	Role string `json:"role,omitempty"`

	// MinReservedPods is how many of the party's pods must be reserved (and
	// later succeed) for the party to count. Default: all its replicas.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +optional
	MinReservedPods *int32 `json:"minReservedPods,omitempty"`

	// Template overrides the AppImage deploy template chosen by role.
	// +optional
	Template *PartyTemplate `json:"template,omitempty"`
}

// PartyTemplate overrides parts of an AppImage deploy template for one party.
// Every field that is set wins over the AppImage's.
type PartyTemplate struct {
	// Replicas is the number of pods of the party: at least 1 (a party that
	// runs nothing cannot take part), at most 1000 (the controller may allow
	// fewer: --max-replicas-per-party).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +optional
	Replicas *int32 `json:"replicas,omitempty"`

	// RestartPolicy is accepted here as well as under spec, because Kuscia's
	// own examples put it here. spec.restartPolicy wins when both are set.
	// +kubebuilder:validation:Enum=Always;OnFailure;Never
	// +optional
	RestartPolicy corev1.RestartPolicy `json:"restartPolicy,omitempty"`

	// Spec overrides the pod template.
	// +optional
	Spec PodSpec `json:"spec,omitempty"`
}

// KusciaTaskStatus is written only by the controller, through the status
// subresource, and is recomputed from the task's children on every sync.
// Its phase only moves forward and a finished task's never changes, also
// for whoever else may write status.
//
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.phase) || (has(self.phase) && (self.phase == oldSelf.phase || (oldSelf.phase == 'Pending' && self.phase != 'Pending') || (oldSelf.phase == 'Running' && (self.phase == 'Succeeded' || self.phase == 'Failed'))))",message="status.phase only moves forward (Pending, Running, then Succeeded or Failed) and a finished task's phase never changes",fieldPath=".phase"
// +kubebuilder:validation:XValidation:rule="!has(self.phase) || (self.phase != 'Succeeded' && self.phase != 'Failed') || has(self.completionTime)",message="a Succeeded or Failed task has a completionTime",fieldPath=".completionTime"
type KusciaTaskStatus struct {
	// Phase is where the task is in its life: Pending, Running, Succeeded or
	// Failed.
	// +optional
	Phase KusciaTaskPhase `json:"phase,omitempty"`

	// Reason is a CamelCase word saying why the task is in its phase.
	// +optional
	Reason KusciaTaskReason `json:"reason,omitempty"`

	// Message says the same for a human.
	// +optional
	Message string `json:"message,omitempty"`

	// Conditions: ResourceCreated, Reserved, Running, Success, Finished.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []KusciaTaskCondition `json:"conditions,omitempty"`

	// PartyTaskStatus is the state of each party, in spec order.
	// +listType=atomic
	// +optional
	PartyTaskStatus []PartyTaskStatus `json:"partyTaskStatus,omitempty"`

	// PartiesSummary counts the parties at a glance, for `kubectl get kt
	// -o wide`: "R/N reserved" while the task is Pending (R parties of N
	// reserved in the current round), "S/N succeeded" once the task runs or
	// ended (S parties succeeded), and "F/N failed" besides it when parties
	// failed, e.g. "1/2 succeeded, 1/2 failed". Derived from
	// reservation.reservedParties and partyTaskStatus; nothing reads it back.
	// +optional
	PartiesSummary string `json:"partiesSummary,omitempty"`

	// PodStatuses maps "namespace/name" to the state of each pod of the task.
	// +optional
	PodStatuses map[string]*PodStatus `json:"podStatuses,omitempty"`

	// ServiceStatuses maps "namespace/name" to each service of the task.
	// +optional
	ServiceStatuses map[string]*ServiceStatus `json:"serviceStatuses,omitempty"`

	// Reservation is the state of the gang reservation rounds.
	// +optional
	Reservation *ReservationStatus `json:"reservation,omitempty"`

	// StartTime is when the controller first handled the task.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// CompletionTime is when the task reached Succeeded or Failed.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`

	// LastReconcileTime is when the controller last changed this status.
	// +optional
	LastReconcileTime *metav1.Time `json:"lastReconcileTime,omitempty"`
}

// KusciaTaskCondition is one observation about a task.
type KusciaTaskCondition struct {
	// Type of the condition.
	Type KusciaTaskConditionType `json:"type"`
	// Status is True, False or Unknown.
	// +kubebuilder:validation:Enum=True;False;Unknown
	Status corev1.ConditionStatus `json:"status"`
	// Reason is a CamelCase word for the last transition.
	// +optional
	Reason KusciaTaskReason `json:"reason,omitempty"`
	// Message is the same for a human.
	// +optional
	Message string `json:"message,omitempty"`
	// LastTransitionTime is when Status last changed.
	// +optional
	LastTransitionTime *metav1.Time `json:"lastTransitionTime,omitempty"`
}

// PartyTaskStatus is the state of one party's share of the task.
type PartyTaskStatus struct {
	DomainID string `json:"domainID"`
	// +optional
	Role string `json:"role,omitempty"`
	// +optional
	Phase KusciaTaskPhase `json:"phase,omitempty"`
	// Message explains a failed (or not yet reserved) party.
	// +optional
	Message string `json:"message,omitempty"`
}

// PodStatus is the state of one pod of the task.
type PodStatus struct {
	PodName   string `json:"podName"`
	Namespace string `json:"namespace"`
	// +optional
	NodeName string `json:"nodeName,omitempty"`
	// +optional
	PodPhase corev1.PodPhase `json:"podPhase,omitempty"`
	// +optional
	Reason string `json:"reason,omitempty"`
	// +optional
	Message string `json:"message,omitempty"`
	// TerminationLog is the termination message of the pod's failed
	// container.
	// +optional
	TerminationLog string `json:"terminationLog,omitempty"`
	// ExitCode is the last non-zero exit code of the container the reason
	// is about.
	// +optional
	ExitCode int32 `json:"exitCode,omitempty"`
	// +optional
	CreateTime *metav1.Time `json:"createTime,omitempty"`
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// +optional
	ReadyTime *metav1.Time `json:"readyTime,omitempty"`
}

// ServiceStatus is the state of one service of the task.
type ServiceStatus struct {
	ServiceName string `json:"serviceName"`
	Namespace   string `json:"namespace"`
	// +optional
	PortName string `json:"portName,omitempty"`
	// +optional
	PortNumber int32 `json:"portNumber,omitempty"`
	// +optional
	Scope PortScope `json:"scope,omitempty"`
	// +optional
	CreateTime *metav1.Time `json:"createTime,omitempty"`
	// ReadyTime is when the pod behind the service first became ready.
	// +optional
	ReadyTime *metav1.Time `json:"readyTime,omitempty"`
}

// ReservationStatus records the gang reservation rounds, so that a restarted
// controller continues the round it was in.
type ReservationStatus struct {
	// Round counts reservation rounds, starting at 1.
	// +optional
	Round int32 `json:"round,omitempty"`
	// RoundStartTime is when the current round's pods were created.
	// +optional
	RoundStartTime *metav1.Time `json:"roundStartTime,omitempty"`
	// FirstReservedTime is when the first party of the current round
	// reserved; the round is released resourceReservedSeconds later.
	// +optional
	FirstReservedTime *metav1.Time `json:"firstReservedTime,omitempty"`
	// ReleasedTime is set while the task waits between rounds: when the
	// last round was released.
	// +optional
	ReleasedTime *metav1.Time `json:"releasedTime,omitempty"`
	// ReservedParties are the domainIDs reserved in the current round.
	// +listType=atomic
	// +optional
	ReservedParties []string `json:"reservedParties,omitempty"`
	// LastFailure says why the previous round was released.
	// +optional
	LastFailure string `json:"lastFailure,omitempty"`
	// GateOpenedTime is when the controller opened the reservation gates of
	// the reserved parties' pods (the task became reserved); unset while
	// the task waits, and when its pods have no gate.
	// +optional
	GateOpenedTime *metav1.Time `json:"gateOpenedTime,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true

// KusciaTaskList is a list of KusciaTasks.
type KusciaTaskList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []KusciaTask `json:"items"`
}
