package controller

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
)

// Which refusals of the API server fail a task at once and which are
// retried: the messages are those of kube-apiserver v1.37.
func TestCreateError(t *testing.T) {
	pods := schema.GroupResource{Resource: "pods"}
	forbidden := func(msg string) error { return apierrors.NewForbidden(pods, "task-0", errors.New(msg)) }
	tests := []struct {
		name      string
		err       error
		permanent bool
		reason    kusciav1alpha1.KusciaTaskReason
	}{
		{name: "invalid pod", permanent: true, reason: kusciav1alpha1.ReasonInvalidTemplate,
			err: apierrors.NewInvalid(schema.GroupKind{Kind: "Pod"}, "task-0", field.ErrorList{field.Invalid(field.NewPath("spec"), "x", "bad")})},
		{name: "Pod Security", permanent: true, reason: kusciav1alpha1.ReasonResourceRejected,
			err: forbidden(`violates PodSecurity "baseline:latest": privileged (container "app" must not set securityContext.privileged=true)`)},
		{name: "admission policy", permanent: true, reason: kusciav1alpha1.ReasonResourceRejected,
			err: forbidden(`ValidatingAdmissionPolicy 'no-pods' with binding 'no-pods' denied request: no pods here`)},
		{name: "namespace being deleted", permanent: true, reason: kusciav1alpha1.ReasonResourceRejected,
			err: forbidden(`unable to create new content in namespace alice because it is being terminated`)},
		{name: "quota exceeded", reason: kusciav1alpha1.ReasonResourceQuotaExceeded,
			err: forbidden(`exceeded quota: compute, requested: pods=1, used: pods=1, limited: pods=1`)},
		{name: "quota not computed yet", reason: kusciav1alpha1.ReasonResourceQuotaExceeded,
			err: forbidden(`status unknown for quota: compute, resources: pods`)},
		{name: "the controller's role lacks a permission", reason: kusciav1alpha1.ReasonCreateFailed,
			err: forbidden(`User "system:serviceaccount:kuscia-system:kusciatask-controller" cannot create resource "pods" in API group "" in the namespace "alice"`)},
		{name: "timeout", reason: kusciav1alpha1.ReasonCreateFailed, err: apierrors.NewTimeoutError("request timed out", 1)},
		{name: "unreachable", reason: kusciav1alpha1.ReasonCreateFailed, err: context.DeadlineExceeded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := createError("pod alice/task-0", tc.err)
			if tc.permanent {
				ie, ok := builder.AsInputError(err)
				require.True(t, ok, "want an InputError, got %v", err)
				assert.Equal(t, tc.reason, ie.Reason)
				assert.Contains(t, ie.Message, "pod alice/task-0")
				assert.Contains(t, ie.Message, tc.err.Error(), "the server's own message")
				return
			}
			var re *retryableError
			require.ErrorAs(t, err, &re)
			assert.Equal(t, tc.reason, re.reason)
			assert.ErrorIs(t, err, tc.err)
			assert.Contains(t, err.Error(), "create pod alice/task-0")
		})
	}
}
