package controller

import (
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
)

// retryableError is a create that failed for a reason a retry may fix: the
// task stays Pending, says why in its status, and is retried with backoff
// until its lifecycleSeconds pass.
type retryableError struct {
	reason kusciav1alpha1.KusciaTaskReason
	err    error
}

func (e *retryableError) Error() string { return e.err.Error() }
func (e *retryableError) Unwrap() error { return e.err }

// createError sorts the error of creating the child named key:
//   - Invalid (the template makes an object the API server refuses) and
//     Forbidden by an admission check (Pod Security, a policy, a namespace
//     being deleted) do not heal by themselves: an InputError fails the task
//     with the server's message;
//   - Forbidden for an exceeded or not yet computed ResourceQuota heals when
//     usage drops or the quota grows; Forbidden by the authorizer heals when
//     the controller's role is fixed; anything else (timeouts, an
//     unreachable server) may pass: a retryableError.
func createError(key string, err error) error {
	switch {
	case apierrors.IsInvalid(err):
		return &builder.InputError{
			Reason:  kusciav1alpha1.ReasonInvalidTemplate,
			Message: fmt.Sprintf("the API server rejected %s: %v", key, err),
		}
	case apierrors.IsForbidden(err) && quotaExceeded(err):
		return &retryableError{reason: kusciav1alpha1.ReasonResourceQuotaExceeded, err: fmt.Errorf("create %s: %w", key, err)}
	case apierrors.IsForbidden(err) && !deniedByAuthorizer(err):
		return &builder.InputError{
			Reason:  kusciav1alpha1.ReasonResourceRejected,
			Message: fmt.Sprintf("the API server refused %s: %v", key, err),
		}
	}
	return &retryableError{reason: kusciav1alpha1.ReasonCreateFailed, err: fmt.Errorf("create %s: %w", key, err)}
}

// quotaExceeded tells the ResourceQuota admission plugin's refusals: usage
// over a hard limit, or a quota whose usage is not computed yet.
func quotaExceeded(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "exceeded quota") || strings.Contains(msg, "status unknown for quota")
}

// deniedByAuthorizer tells the authorizer's Forbidden ("User "…" cannot
// create resource "pods" …") from an admission plugin's.
func deniedByAuthorizer(err error) bool {
	return strings.Contains(err.Error(), " cannot create resource ")
}
