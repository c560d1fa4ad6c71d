package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"
)

// The objects of crds/kusciatask-controller-policy.yaml: the
// ValidatingAdmissionPolicy that lets only the controller write a task's
// children and status, its binding, and the ConfigMap naming who the
// controller is.
const (
	admissionPolicyName     = "kusciatask-controller"
	admissionBindingName    = "kusciatask-controller"
	policyParamNamespace    = "kube-system"
	policyParamName         = "kusciatask-controller-policy"
	policyParamUsersKey     = "users"
	policyParamGroupsKey    = "groups"
	admissionPolicyCheckFor = 10 * time.Second
)

// warnUnlessAdmissionPolicy logs one warning when the admission policy is
// not in force for this controller (or when that cannot be told), naming
// each problem; nothing when it is. It never stops the controller: the
// controller works without the policy, only with less protection.
func warnUnlessAdmissionPolicy(ctx context.Context, client kubernetes.Interface) {
	ctx, cancel := context.WithTimeout(ctx, admissionPolicyCheckFor)
	defer cancel()
	logger := klog.FromContext(ctx)
	problems := admissionPolicyProblems(ctx, client)
	if len(problems) == 0 {
		logger.V(2).Info("Admission policy in force", "policy", admissionPolicyName, "binding", admissionBindingName,
			"param", klog.KRef(policyParamNamespace, policyParamName))
		return
	}
	logger.Info("Warning: the admission policy that lets only this controller write a task's pods, services, config maps, "+
		"PodGroups and status is not in force; without it a user who may create pods in a domain can forge a party's pod, "+
		"and one who may write kusciatasks/status can forge a task's status. Apply crds/kusciatask-controller-policy.yaml "+
		"(see docs/security.md)", "problems", problems)
}

// admissionPolicyProblems says what keeps the policy from protecting this
// controller's tasks: an object missing, a lookup refused or failed, or a
// parameter that does not name the identity the controller runs as (whose
// writes the policy would then refuse).
func admissionPolicyProblems(ctx context.Context, client kubernetes.Interface) []string {
	var problems []string
	lookup := func(what string, get func() error) bool {
		err := get()
		switch {
		case err == nil:
			return true
		case apierrors.IsNotFound(err):
			problems = append(problems, what+" is not installed")
		case apierrors.IsForbidden(err):
			problems = append(problems, "cannot tell whether "+what+" is installed: "+err.Error())
		default:
			problems = append(problems, fmt.Sprintf("cannot tell whether %s is installed: %v", what, err))
		}
		return false
	}
	admission := client.AdmissionregistrationV1()
	lookup("ValidatingAdmissionPolicy "+admissionPolicyName, func() error {
		_, err := admission.ValidatingAdmissionPolicies().Get(ctx, admissionPolicyName, metav1.GetOptions{})
		return err
	})
	lookup("ValidatingAdmissionPolicyBinding "+admissionBindingName, func() error {
		_, err := admission.ValidatingAdmissionPolicyBindings().Get(ctx, admissionBindingName, metav1.GetOptions{})
		return err
	})
	var data map[string]string
	if !lookup("its parameter ConfigMap "+policyParamNamespace+"/"+policyParamName, func() error {
		cm, err := client.CoreV1().ConfigMaps(policyParamNamespace).Get(ctx, policyParamName, metav1.GetOptions{})
		if err == nil {
			data = cm.Data
		}
		return err
	}) {
		return problems
	}
	review, err := client.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return append(problems, fmt.Sprintf("cannot tell whether the parameter names this controller: who am I: %v", err))
	}
	user := review.Status.UserInfo
	if !slices.Contains(paramList(data, policyParamUsersKey), user.Username) &&
		!slices.ContainsFunc(user.Groups, func(g string) bool { return slices.Contains(paramList(data, policyParamGroupsKey), g) }) {
		problems = append(problems, fmt.Sprintf("the parameter names neither this controller's user %q nor one of its groups %v "+
			"in %q or %q: the policy refuses its writes", user.Username, user.Groups, policyParamUsersKey, policyParamGroupsKey))
	}
	return problems
}

// paramList reads a comma-separated list of the policy's parameter as the
// policy's CEL does: split on commas, spaces trimmed.
func paramList(data map[string]string, key string) []string {
	v, ok := data[key]
	if !ok {
		return nil
	}
	out := strings.Split(v, ",")
	for i := range out {
		out[i] = strings.TrimSpace(out[i])
	}
	return out
}
