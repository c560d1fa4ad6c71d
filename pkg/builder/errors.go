package builder

import (
	"errors"
	"fmt"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// InputError is a problem with what the user asked for: retrying cannot fix
// it, so the controller fails the task with Reason and Message instead of
// requeueing.
type InputError struct {
	Reason  kusciav1alpha1.KusciaTaskReason
	Message string
}

func (e *InputError) Error() string { return string(e.Reason) + ": " + e.Message }

// inputErrorf builds an InputError with a formatted message.
func inputErrorf(reason kusciav1alpha1.KusciaTaskReason, format string, args ...any) *InputError {
	return &InputError{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// AsInputError returns the InputError in err's chain, if any.
func AsInputError(err error) (*InputError, bool) {
	var ie *InputError
	ok := errors.As(err, &ie)
	return ie, ok
}
