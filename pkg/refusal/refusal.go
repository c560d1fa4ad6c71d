// Package refusal holds the one table of the API server's refusals of a
// create: what kind each is (Of), and what it means for the task whose
// object was refused, its reason and whether it heals (VerdictOf). The
// controller's creates and kubectl-kuscia validate's dry runs read it
// alike.
package refusal

import (
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// Kind is what a refusal means for the task whose object was refused.
type Kind int

const (
	// Other is anything below: a timeout, an unreachable server, a
	// conflict. It may pass.
	Other Kind = iota
	// Invalid: the object breaks the API's validation; only a changed
	// task fixes it.
	Invalid
	// Quota: a ResourceQuota is exceeded or its usage not computed yet;
	// it heals when usage drops or the quota grows.
	Quota
	// Unauthorized: the authorizer refused the caller ("User … cannot
	// create resource …"); it heals when the caller's role is fixed.
	Unauthorized
	// Rejected: an admission check refused the object (Pod Security, a
	// policy, a namespace being deleted); it does not heal by itself.
	Rejected
	// BadRequest: the server could not take the request as sent (a
	// webhook that cannot run for it, a request it cannot decode).
	BadRequest
	// NotFound: what the object is created in is missing (its namespace,
	// deleted since the task was planned; the PodGroup resource, its CRD
	// not installed yet).
	NotFound
)

// Of sorts err, as returned by a create.
func Of(err error) Kind {
	switch {
	case err == nil:
		return Other
	case apierrors.IsInvalid(err):
		return Invalid
	case apierrors.IsBadRequest(err):
		return BadRequest
	case apierrors.IsNotFound(err):
		return NotFound
	case !apierrors.IsForbidden(err):
		return Other
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "exceeded quota"), strings.Contains(msg, "status unknown for quota"):
		return Quota
	case strings.Contains(msg, " cannot create resource "):
		return Unauthorized
	}
	return Rejected
}

// Verdict is what a refused create means for its task.
type Verdict struct {
	// Kind is the refusal's kind; messages say the server rejects an
	// Invalid object and refuses any other.
	Kind Kind
	// Reason is the task's reason: the status reason of a task that
	// fails, or of a Pending task that waits for the retry.
	Reason kusciav1alpha1.KusciaTaskReason
	// Heals: the refusal may pass without the task changing, so the
	// create is retried with backoff (the task stays Pending until its
	// lifecycleSeconds pass). Without it the task fails at once.
	Heals bool
}

// verdicts is the one table of what each kind of refusal does to a task.
var verdicts = map[Kind]Verdict{
	// The task's template makes an object the API refuses: only a
	// changed task fixes it.
	Invalid: {Reason: kusciav1alpha1.ReasonInvalidTemplate},
	// An admission check (Pod Security, a policy, a namespace being
	// deleted) refuses the object itself: it does not heal by itself.
	Rejected: {Reason: kusciav1alpha1.ReasonResourceRejected},
	// Heals when usage drops or the quota grows.
	Quota: {Reason: kusciav1alpha1.ReasonResourceQuotaExceeded, Heals: true},
	// The authorizer refuses the caller, not the object: it heals when
	// the caller's role is fixed, and says nothing of the task (a dry
	// run by someone else's role says nothing of the controller's).
	Unauthorized: {Reason: kusciav1alpha1.ReasonCreateFailed, Heals: true},
	// Not the object's fault: a webhook that cannot take the request (a
	// dry run it does not support) or a request the server could not
	// read passes when the webhook or the server is fixed.
	BadRequest: {Reason: kusciav1alpha1.ReasonCreateFailed, Heals: true},
	// A namespace deleted after the task was planned, or a resource not
	// served yet: the retry plans the task again, which fails it with
	// DomainNotFound if the namespace is gone for good, and creates it
	// once the resource is served.
	NotFound: {Reason: kusciav1alpha1.ReasonCreateFailed, Heals: true},
	// Timeouts, an unreachable server, a conflict: they may pass.
	Other: {Reason: kusciav1alpha1.ReasonCreateFailed, Heals: true},
}

// VerdictOf is what the create's error err means for its task.
func VerdictOf(err error) Verdict {
	kind := Of(err)
	v := verdicts[kind]
	v.Kind = kind
	return v
}
