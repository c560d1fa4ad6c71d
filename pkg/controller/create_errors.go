package controller

import (
	"fmt"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
	"kusciatask.io/controller/pkg/refusal"
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

// createError sorts the error of creating the child named key (see
// package refusal):
//   - Invalid (the template makes an object the API server refuses) and
//     Rejected by an admission check do not heal by themselves: an
//     InputError fails the task with the server's message;
//   - an exceeded quota heals when usage drops or the quota grows, the
//     authorizer's refusal when the controller's role is fixed, and
//     anything else (timeouts, an unreachable server) may pass: a
//     retryableError.
func createError(key string, err error) error {
	switch refusal.Of(err) {
	case refusal.Invalid:
		return &builder.InputError{
			Reason:  kusciav1alpha1.ReasonInvalidTemplate,
			Message: fmt.Sprintf("the API server rejected %s: %v", key, err),
		}
	case refusal.Quota:
		return &retryableError{reason: kusciav1alpha1.ReasonResourceQuotaExceeded, err: fmt.Errorf("create %s: %w", key, err)}
	case refusal.Rejected:
		return &builder.InputError{
			Reason:  kusciav1alpha1.ReasonResourceRejected,
			Message: fmt.Sprintf("the API server refused %s: %v", key, err),
		}
	}
	return &retryableError{reason: kusciav1alpha1.ReasonCreateFailed, err: fmt.Errorf("create %s: %w", key, err)}
}
