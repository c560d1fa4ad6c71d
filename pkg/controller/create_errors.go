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

// createError turns the error of creating the child named key into what
// package refusal's table says of it: a refusal that does not heal is an
// InputError that fails the task with the server's message, one that may
// heal a retryableError.
func createError(key string, err error) error {
	v := refusal.VerdictOf(err)
	if !v.Heals {
		verb := "refused"
		if v.Kind == refusal.Invalid {
			verb = "rejected"
		}
		return &builder.InputError{Reason: v.Reason, Message: fmt.Sprintf("the API server %s %s: %v", verb, key, err)}
	}
	return &retryableError{reason: v.Reason, err: fmt.Errorf("create %s: %w", key, err)}
}
