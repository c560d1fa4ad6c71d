package controller

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kusciatask.io/controller/pkg/builder"
	"kusciatask.io/controller/pkg/refusal/refusaltest"
)

// Which refusals of the API server fail a task at once and which are
// retried: the cases and verdicts validate's tests run too
// (refusaltest.Cases).
func TestCreateError(t *testing.T) {
	for _, tc := range refusaltest.Cases() {
		t.Run(tc.Name, func(t *testing.T) {
			err := createError("pod alice/task-0", tc.Err)
			if !tc.Heals {
				ie, ok := builder.AsInputError(err)
				require.True(t, ok, "want an InputError, got %v", err)
				assert.Equal(t, tc.Reason, ie.Reason)
				assert.Contains(t, ie.Message, "pod alice/task-0")
				assert.Contains(t, ie.Message, tc.Err.Error(), "the server's own message")
				return
			}
			var re *retryableError
			require.ErrorAs(t, err, &re)
			assert.Equal(t, tc.Reason, re.reason)
			assert.ErrorIs(t, err, tc.Err)
			assert.Contains(t, err.Error(), "create pod alice/task-0")
		})
	}
}
