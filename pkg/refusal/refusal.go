// Package refusal sorts the API server's refusals of a create by what
// heals them: the controller's creates and kubectl-kuscia validate's dry
// runs read them alike.
package refusal

import (
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
)

// Of sorts err, as returned by a create.
func Of(err error) Kind {
	switch {
	case err == nil:
		return Other
	case apierrors.IsInvalid(err):
		return Invalid
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
