package refusal

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestOf(t *testing.T) {
	pods := schema.GroupResource{Resource: "pods"}
	forbidden := func(msg string) error { return apierrors.NewForbidden(pods, "p", errors.New(msg)) }
	for name, tc := range map[string]struct {
		err  error
		want Kind
	}{
		"nil":     {nil, Other},
		"timeout": {apierrors.NewTimeoutError("slow", 1), Other},
		"plain":   {errors.New("connection refused"), Other},
		"invalid": {apierrors.NewInvalid(schema.GroupKind{Kind: "Pod"}, "p",
			field.ErrorList{field.Required(field.NewPath("spec"), "")}), Invalid},
		"quota exceeded": {forbidden("exceeded quota: q, requested: pods=1, used: pods=1, limited: pods=1"), Quota},
		"quota unknown":  {forbidden("status unknown for quota: q, resources: pods"), Quota},
		"authorizer": {forbidden(`User "system:serviceaccount:x:y" cannot create resource "pods" in API group "" in the namespace "alice"`),
			Unauthorized},
		"pod security": {forbidden(`violates PodSecurity "restricted:latest": privileged`), Rejected},
		"terminating":  {forbidden("unable to create new content in namespace alice because it is being terminated"), Rejected},
	} {
		assert.Equal(t, tc.want, Of(tc.err), name)
	}
}
