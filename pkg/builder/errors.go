package builder

import (
	"errors"
	"fmt"
	"strings"

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

// MaxListedProblems bounds the problems one joined InputError lists in its
// message (it ends up in the task's status).
const MaxListedProblems = 10

// problems are the InputErrors of one task, in the order they were found,
// without repeats (every pod of a party fails a bad template the same way).
type problems []*InputError

// add records err when it is an InputError and returns nil; any other error
// (nil included) is returned for the caller to stop on.
func (p *problems) add(err error) error {
	ie, ok := AsInputError(err)
	if !ok {
		return err
	}
	for _, seen := range *p {
		if seen.Reason == ie.Reason && seen.Message == ie.Message {
			return nil
		}
	}
	*p = append(*p, ie)
	return nil
}

// err is nil without problems, the problem itself when there is one, and
// else an InputError with the first problem's reason whose message lists
// them all (at most MaxListedProblems of them).
func (p problems) err() error {
	switch len(p) {
	case 0:
		return nil
	case 1:
		return p[0]
	}
	msgs := make([]string, 0, min(len(p), MaxListedProblems)+1)
	for i, ie := range p {
		if i == MaxListedProblems {
			msgs = append(msgs, fmt.Sprintf("and %d more", len(p)-i))
			break
		}
		msgs = append(msgs, string(ie.Reason)+": "+ie.Message)
	}
	return &InputError{
		Reason:  p[0].Reason,
		Message: fmt.Sprintf("%d problems: %s", len(p), strings.Join(msgs, "; ")),
	}
}
