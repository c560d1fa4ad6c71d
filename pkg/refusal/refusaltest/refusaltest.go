// Package refusaltest holds, for tests only, the refusals kube-apiserver
// v1.37 gives a create, each with the verdict package refusal's table must
// give it. The controller's tests and kubectl-kuscia validate's run the
// same cases and expect the same verdicts, so the two cannot judge a task
// differently.
package refusaltest

import (
	"context"
	"errors"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// Case is one refusal of creating the pod alice/task-0.
type Case struct {
	Name string
	Err  error
	// Reason and Heals are the verdict: the task's reason, and whether
	// the create is retried (else the task fails at once).
	Reason kusciav1alpha1.KusciaTaskReason
	Heals  bool
}

// Cases are the refusals, with the messages of kube-apiserver v1.37.
func Cases() []Case {
	pods := schema.GroupResource{Resource: "pods"}
	forbidden := func(msg string) error { return apierrors.NewForbidden(pods, "task-0", errors.New(msg)) }
	return []Case{
		{Name: "invalid pod", Reason: kusciav1alpha1.ReasonInvalidTemplate,
			Err: apierrors.NewInvalid(schema.GroupKind{Kind: "Pod"}, "task-0", field.ErrorList{field.Invalid(field.NewPath("spec"), "x", "bad")})},
		{Name: "Pod Security", Reason: kusciav1alpha1.ReasonResourceRejected,
			Err: forbidden(`violates PodSecurity "baseline:latest": privileged (container "app" must not set securityContext.privileged=true)`)},
		{Name: "admission policy", Reason: kusciav1alpha1.ReasonResourceRejected,
			Err: forbidden(`ValidatingAdmissionPolicy 'no-pods' with binding 'no-pods' denied request: no pods here`)},
		{Name: "namespace being deleted", Reason: kusciav1alpha1.ReasonResourceRejected,
			Err: forbidden(`unable to create new content in namespace alice because it is being terminated`)},
		{Name: "quota exceeded", Reason: kusciav1alpha1.ReasonResourceQuotaExceeded, Heals: true,
			Err: forbidden(`exceeded quota: compute, requested: pods=1, used: pods=1, limited: pods=1`)},
		{Name: "quota not computed yet", Reason: kusciav1alpha1.ReasonResourceQuotaExceeded, Heals: true,
			Err: forbidden(`status unknown for quota: compute, resources: pods`)},
		{Name: "the authorizer refuses the caller", Reason: kusciav1alpha1.ReasonCreateFailed, Heals: true,
			Err: forbidden(`User "system:serviceaccount:kuscia-system:kusciatask-controller" cannot create resource "pods" in API group "" in the namespace "alice"`)},
		{Name: "a webhook without dry runs", Reason: kusciav1alpha1.ReasonCreateFailed, Heals: true,
			Err: apierrors.NewBadRequest(`admission webhook "policy.example.com" does not support dry run`)},
		{Name: "namespace gone", Reason: kusciav1alpha1.ReasonCreateFailed, Heals: true,
			Err: apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, "alice")},
		{Name: "timeout", Reason: kusciav1alpha1.ReasonCreateFailed, Heals: true,
			Err: apierrors.NewTimeoutError("request timed out", 1)},
		{Name: "unreachable", Reason: kusciav1alpha1.ReasonCreateFailed, Heals: true,
			Err: context.DeadlineExceeded},
	}
}
