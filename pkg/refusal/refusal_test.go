package refusal

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"kusciatask.io/controller/pkg/refusal/refusaltest"
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
		"bad request":  {apierrors.NewBadRequest("does not support dry run"), BadRequest},
		"not found":    {apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, "alice"), NotFound},
		"terminating":  {forbidden("unable to create new content in namespace alice because it is being terminated"), Rejected},
	} {
		assert.Equal(t, tc.want, Of(tc.err), name)
	}
}

// The table gives each refusal the controller and validate meet its
// verdict; every kind has a row.
func TestVerdictOf(t *testing.T) {
	for _, tc := range refusaltest.Cases() {
		v := VerdictOf(tc.Err)
		assert.Equal(t, Verdict{Kind: Of(tc.Err), Reason: tc.Reason, Heals: tc.Heals}, v, tc.Name)
	}
	for kind := Other; kind <= NotFound; kind++ {
		assert.Contains(t, verdicts, kind, "kind %d has no verdict", kind)
	}
}
