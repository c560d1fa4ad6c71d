package builder

import (
	"time"

	psapi "k8s.io/pod-security-admission/api"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/security"
)

// Defaults of a Policy. They are far above what real tasks use; an operator
// tightens or loosens the first two with the controller's flags.
const (
	// DefaultMaxReplicasPerParty bounds a party's pods (--max-replicas-per-party).
	DefaultMaxReplicasPerParty = 64
	// DefaultMaxPodsPerTask bounds a task's pods over all its parties
	// (--max-pods-per-task).
	DefaultMaxPodsPerTask = 256
	// DefaultMaxPodBytesPerTask bounds the pods one task build holds in
	// memory: the size of each party's pod template times its pods.
	DefaultMaxPodBytesPerTask = 64 << 20
	// MaxConfigMapBytes is the most a ConfigMap holds (the API server's
	// limit): one pod's config files, and any value a template function
	// makes, are bounded by it.
	MaxConfigMapBytes = 1 << 20
	// DefaultMaxRenderedBytesPerTask bounds what the config templates of one
	// task build render in total.
	DefaultMaxRenderedBytesPerTask = 64 << 20
	// DefaultMaxRenderSteps bounds the range iterations, template calls and
	// function calls of one task build's config templates.
	DefaultMaxRenderSteps = 100_000
	// DefaultRenderTimeout bounds the time one task build spends rendering.
	DefaultRenderTimeout = 2 * time.Second
)

// Policy is what the operator lets a task do: the controller's flags. Zero
// fields take the defaults.
type Policy struct {
	// PodSecurityLevel is the Pod Security Standards level every pod must
	// meet, besides its namespace's own enforce label. Default baseline.
	PodSecurityLevel psapi.Level
	// MaxReplicasPerParty (at most the schema's MaxReplicas) and
	// MaxPodsPerTask bound the pods of a party and of a task;
	// MaxPodBytesPerTask bounds their size together.
	MaxReplicasPerParty int
	MaxPodsPerTask      int
	MaxPodBytesPerTask  int
	// Render bounds the config templates of one task build.
	Render RenderLimits
	// Gate is the reservation gate added to every pod; the zero value adds
	// none.
	Gate GatePolicy
	// PodGroups: each party gets a PodGroup (scheduling.k8s.io/v1beta1)
	// that its pods join, so kube-scheduler binds them all or none. Set
	// when the controller found the API served (--pod-groups).
	PodGroups bool
}

// RenderLimits bound the rendering of a task's config templates. One budget
// covers a whole task build (every pod of every party), so neither many pods
// nor many templates multiply it.
type RenderLimits struct {
	// MaxBytes bounds the rendered output of the whole task build.
	MaxBytes int
	// MaxSteps bounds range iterations, template calls and function calls.
	MaxSteps int
	// Timeout bounds the wall time of the whole task build's rendering.
	Timeout time.Duration
}

// withDefaults fills the zero fields.
func (p Policy) withDefaults() Policy {
	if !p.PodSecurityLevel.Valid() {
		p.PodSecurityLevel = security.DefaultLevel
	}
	p.MaxReplicasPerParty = min(positiveOr(p.MaxReplicasPerParty, DefaultMaxReplicasPerParty), kusciav1alpha1.MaxReplicas)
	p.MaxPodsPerTask = positiveOr(p.MaxPodsPerTask, DefaultMaxPodsPerTask)
	p.MaxPodBytesPerTask = positiveOr(p.MaxPodBytesPerTask, DefaultMaxPodBytesPerTask)
	p.Render.MaxBytes = positiveOr(p.Render.MaxBytes, DefaultMaxRenderedBytesPerTask)
	p.Render.MaxSteps = positiveOr(p.Render.MaxSteps, DefaultMaxRenderSteps)
	p.Render.Timeout = positiveOr(p.Render.Timeout, DefaultRenderTimeout)
	return p
}

func positiveOr[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}
