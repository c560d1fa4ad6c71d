package crds

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/admission/plugin/cel"
	"k8s.io/apiserver/pkg/admission/plugin/policy/validating"
	"k8s.io/apiserver/pkg/admission/plugin/webhook/matchconditions"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/cel/environment"
	"sigs.k8s.io/yaml"
)

// shippedPolicy is crds/kusciatask-controller-policy.yaml, decoded.
type shippedPolicy struct {
	param   *corev1.ConfigMap
	policy  *admissionregistrationv1.ValidatingAdmissionPolicy
	binding *admissionregistrationv1.ValidatingAdmissionPolicyBinding
}

func loadPolicy(t *testing.T) shippedPolicy {
	t.Helper()
	data, err := Files.ReadFile(PolicyFile)
	require.NoError(t, err)
	var out shippedPolicy
	for _, doc := range bytes.Split(data, []byte("\n---\n")) {
		var meta metav1.TypeMeta
		require.NoError(t, yaml.Unmarshal(doc, &meta))
		var into any
		switch meta.Kind {
		case "ConfigMap":
			out.param = &corev1.ConfigMap{}
			into = out.param
		case "ValidatingAdmissionPolicy":
			out.policy = &admissionregistrationv1.ValidatingAdmissionPolicy{}
			into = out.policy
		case "ValidatingAdmissionPolicyBinding":
			out.binding = &admissionregistrationv1.ValidatingAdmissionPolicyBinding{}
			into = out.binding
		default:
			t.Fatalf("unexpected kind %q in %s", meta.Kind, PolicyFile)
		}
		require.NoError(t, yaml.UnmarshalStrict(doc, into))
	}
	require.NotNil(t, out.param)
	require.NotNil(t, out.policy)
	require.NotNil(t, out.binding)
	return out
}

// compile builds the policy's validator the way the API server's
// ValidatingAdmissionPolicy plugin does (k8s.io/apiserver's
// validating.compilePolicy), from the same exported pieces.
func compile(t *testing.T, policy *admissionregistrationv1.ValidatingAdmissionPolicy) validating.Validator {
	t.Helper()
	withParams := cel.OptionalVariableDeclarations{HasParams: policy.Spec.ParamKind != nil, HasAuthorizer: true}
	forMessages := cel.OptionalVariableDeclarations{HasParams: policy.Spec.ParamKind != nil}
	compiler, err := cel.NewCompositedCompiler(environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()))
	require.NoError(t, err)
	var variables []cel.NamedExpressionAccessor
	for _, v := range policy.Spec.Variables {
		variables = append(variables, &validating.Variable{Name: v.Name, Expression: v.Expression})
	}
	compiler.CompileAndStoreVariables(variables, withParams, environment.StoredExpressions)
	var matches, validations, messages []cel.ExpressionAccessor
	for i := range policy.Spec.MatchConditions {
		matches = append(matches, (*matchconditions.MatchCondition)(&policy.Spec.MatchConditions[i]))
	}
	for _, v := range policy.Spec.Validations {
		validations = append(validations, &validating.ValidationCondition{Expression: v.Expression, Message: v.Message, Reason: v.Reason})
		messages = append(messages, &validating.MessageExpressionCondition{MessageExpression: v.MessageExpression})
	}
	matcher := matchconditions.NewMatcher(compiler.CompileCondition(matches, withParams, environment.StoredExpressions),
		policy.Spec.FailurePolicy, "policy", "validate", policy.Name)
	return validating.NewValidator(
		compiler.CompileCondition(validations, withParams, environment.StoredExpressions),
		matcher,
		compiler.CompileCondition(nil, withParams, environment.StoredExpressions),
		compiler.CompileCondition(messages, forMessages, environment.StoredExpressions),
		policy.Spec.FailurePolicy, nil)
}

// Who asks.
var (
	controller = &user.DefaultInfo{Name: "system:serviceaccount:kuscia-system:kusciatask-controller",
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:kuscia-system", "system:authenticated"}}
	admin     = &user.DefaultInfo{Name: "local-up-admin", Groups: []string{"system:masters", "system:authenticated"}}
	bobUser   = &user.DefaultInfo{Name: "bob-user", Groups: []string{"system:authenticated"}}
	node      = &user.DefaultInfo{Name: "system:node:node-0", Groups: []string{"system:nodes", "system:authenticated"}}
	collector = &user.DefaultInfo{Name: "system:serviceaccount:kube-system:generic-garbage-collector",
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"}}
	scheduler = &user.DefaultInfo{Name: "system:kube-scheduler", Groups: []string{"system:authenticated"}}
)

// object makes an object of kind apiVersion/kind in bob's namespace, with
// the given labels and owner references.
func object(apiVersion, kind, name string, labels map[string]any, owners ...map[string]any) *unstructured.Unstructured {
	meta := map[string]any{"name": name, "namespace": "bob"}
	if labels != nil {
		meta["labels"] = labels
	}
	if len(owners) > 0 {
		refs := make([]any, len(owners))
		for i, o := range owners {
			refs[i] = o
		}
		meta["ownerReferences"] = refs
	}
	return &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": meta}}
}

var (
	taskLabels = map[string]any{"kuscia.secretflow/task": "t", "kuscia.secretflow/task-uid": "u1",
		"kuscia.secretflow/party": "bob", "kuscia.secretflow/pod": "t-0"}
	taskOwner = map[string]any{"apiVersion": "kuscia.secretflow/v1alpha1", "kind": "KusciaTask", "name": "t", "uid": "u1",
		"controller": true}
	otherOwner = map[string]any{"apiVersion": "example.com/v1", "kind": "KusciaTask", "name": "t", "uid": "u2"}
)

func pod(name string, labels map[string]any, owners ...map[string]any) *unstructured.Unstructured {
	return object("v1", "Pod", name, labels, owners...)
}

// request is one admission request to the policy.
type request struct {
	op          admission.Operation
	resource    string // "pods", "pods/status", "kusciatasks/status", ...
	obj, oldObj *unstructured.Unstructured
	who         user.Info
}

func (r request) attributes(t *testing.T) (*admission.VersionedAttributes, schema.GroupVersionResource) {
	t.Helper()
	obj := r.obj
	if obj == nil {
		obj = r.oldObj
	}
	gvk := obj.GroupVersionKind()
	resource, sub, _ := cutSlash(r.resource)
	gvr := gvk.GroupVersion().WithResource(resource)
	var newObj, oldObj runtime.Object
	if r.obj != nil {
		newObj = r.obj
	}
	if r.oldObj != nil {
		oldObj = r.oldObj
	}
	attr := admission.NewAttributesRecord(newObj, oldObj, gvk, obj.GetNamespace(), obj.GetName(), gvr, sub, r.op, nil, false, r.who)
	versioned, err := admission.NewVersionedAttributes(attr, gvk, nil)
	require.NoError(t, err)
	return versioned, gvr
}

func cutSlash(s string) (string, string, bool) {
	for i := range s {
		if s[i] == '/' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// decide runs the policy on the request: "" when it does not apply (the
// match conditions filter it out) or admits, else the refusal's message.
func decide(t *testing.T, v validating.Validator, param *corev1.ConfigMap, r request) (applies bool, denied string) {
	t.Helper()
	attr, gvr := r.attributes(t)
	var params runtime.Object
	if param != nil {
		params = param
	}
	result := v.Validate(context.Background(), gvr, attr, params, nil, celconfig.RuntimeCELCostBudget, nil)
	for _, d := range result.Decisions {
		require.NotEqual(t, validating.EvalError, d.Evaluation, "the policy failed to evaluate: %s", d.Message)
		if d.Action == validating.ActionDeny {
			assert.Equal(t, metav1.StatusReasonForbidden, d.Reason)
			return true, d.Message
		}
	}
	return len(result.Decisions) > 0, ""
}

const only = "only the kusciatask-controller (system:serviceaccount:kuscia-system:kusciatask-controller) may "

func TestPolicyDecisions(t *testing.T) {
	shipped := loadPolicy(t)
	v := compile(t, shipped.policy)
	child := pod("t-0", taskLabels, taskOwner)
	plain := pod("mine", map[string]any{"app": "mine"})
	task := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "kuscia.secretflow/v1alpha1", "kind": "KusciaTask",
		"metadata": map[string]any{"name": "t"}, "status": map[string]any{"phase": "Running"}}}
	forgedTask := task.DeepCopy()
	forgedTask.Object["status"] = map[string]any{"phase": "Succeeded"}
	cmPlain := object("v1", "ConfigMap", "cm", map[string]any{"app": "mine"})
	cmLabelled := object("v1", "ConfigMap", "cm", map[string]any{"app": "mine", "kuscia.secretflow/task-uid": "u1"})

	cases := []struct {
		name    string
		req     request
		applies bool
		denied  string // the whole message; "" = admitted or not applied
	}{
		{"the controller creates its pod", request{admission.Create, "pods", child, nil, controller}, true, ""},
		{"the controller opens a gate", request{admission.Update, "pods", child, child, controller}, true, ""},
		{"a cluster admin creates a child", request{admission.Create, "pods", child, nil, admin}, true, ""},
		{"a user forges a member (issue 19)", request{admission.Create, "pods", child, nil, bobUser}, true,
			only + "create pods carrying KusciaTask labels or owner references; bob-user may not"},
		{"a user forges a member with the labels only", request{admission.Create, "pods", pod("f", taskLabels), nil, bobUser}, true,
			only + "create pods carrying KusciaTask labels or owner references; bob-user may not"},
		{"a user forges a member with one label only",
			request{admission.Create, "pods", pod("f", map[string]any{"kuscia.secretflow/task": "t"}), nil, bobUser}, true,
			only + "create pods carrying KusciaTask labels or owner references; bob-user may not"},
		{"a user forges a member with the owner only", request{admission.Create, "pods", pod("f", nil, taskOwner), nil, bobUser}, true,
			only + "create pods carrying KusciaTask labels or owner references; bob-user may not"},
		{"a user without groups forges a member", request{admission.Create, "pods", child, nil, &user.DefaultInfo{Name: "nobody"}}, true,
			only + "create pods carrying KusciaTask labels or owner references; nobody may not"},
		{"a user creates a pod of their own", request{admission.Create, "pods", plain, nil, bobUser}, false, ""},
		{"a user's pod owned by another group's KusciaTask", request{admission.Create, "pods", pod("x", nil, otherOwner), nil, bobUser}, false, ""},
		{"a user strips a child's labels", request{admission.Update, "pods", pod("t-0", map[string]any{}, taskOwner), child, bobUser}, true,
			only + "update pods carrying KusciaTask labels or owner references; bob-user may not"},
		{"a user labels their config map as a child", request{admission.Update, "configmaps", cmLabelled, cmPlain, bobUser}, true,
			only + "update configmaps carrying KusciaTask labels or owner references; bob-user may not"},
		{"a user edits their own config map", request{admission.Update, "configmaps", cmPlain, cmPlain, bobUser}, false, ""},
		{"a user creates a service with the task's labels", request{admission.Create, "services", object("v1", "Service", "s", taskLabels), nil, bobUser}, true,
			only + "create services carrying KusciaTask labels or owner references; bob-user may not"},
		{"a user creates a PodGroup owned by the task",
			request{admission.Create, "podgroups", object("scheduling.k8s.io/v1beta1", "PodGroup", "pg", nil, taskOwner), nil, bobUser}, true,
			only + "create podgroups carrying KusciaTask labels or owner references; bob-user may not"},
		{"a user writes a child's pod status", request{admission.Update, "pods/status", child, child, bobUser}, true,
			only + "update pods/status carrying KusciaTask labels or owner references; bob-user may not"},
		{"a kubelet writes a child's pod status", request{admission.Update, "pods/status", child, child, node}, true, ""},
		{"the scheduler writes a child's pod condition", request{admission.Update, "pods/status", child, child, scheduler}, true, ""},
		{"a node creates a mirror pod with the task's labels", request{admission.Create, "pods", pod("m", taskLabels), nil, node}, true,
			only + "create pods carrying KusciaTask labels or owner references; system:node:node-0 may not"},
		{"the garbage collector orphans a child", request{admission.Update, "pods", pod("t-0", taskLabels), child, collector}, true, ""},
		{"a user forges a terminal status", request{admission.Update, "kusciatasks/status", forgedTask, task, bobUser}, true,
			only + "write the status of KusciaTask t; bob-user may not"},
		{"a node writes a task's status", request{admission.Update, "kusciatasks/status", forgedTask, task, node}, true,
			only + "write the status of KusciaTask t; system:node:node-0 may not"},
		{"the controller writes a task's status", request{admission.Update, "kusciatasks/status", forgedTask, task, controller}, true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			applies, denied := decide(t, v, shipped.param, tc.req)
			assert.Equal(t, tc.applies, applies, "the policy applies")
			assert.Equal(t, tc.denied, denied)
		})
	}

	// A parameter without its lists names nobody: even the controller is
	// refused (the expressions still evaluate, nothing is null).
	t.Run("an empty parameter", func(t *testing.T) {
		empty := shipped.param.DeepCopy()
		empty.Data = nil
		_, denied := decide(t, v, empty, request{admission.Create, "pods", child, nil, controller})
		assert.Equal(t, "only the kusciatask-controller () may create pods carrying KusciaTask labels or owner references; "+
			controller.Name+" may not", denied)
	})
}

// The binding binds this policy to the shipped parameter, and lets requests
// through when the parameter is missing (see the file for why).
func TestPolicyBinding(t *testing.T) {
	shipped := loadPolicy(t)
	b := shipped.binding.Spec
	assert.Equal(t, shipped.policy.Name, b.PolicyName)
	assert.Equal(t, []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny}, b.ValidationActions)
	require.NotNil(t, b.ParamRef)
	assert.Equal(t, shipped.param.Namespace+"/"+shipped.param.Name, b.ParamRef.Namespace+"/"+b.ParamRef.Name)
	require.NotNil(t, b.ParamRef.ParameterNotFoundAction)
	assert.Equal(t, admissionregistrationv1.AllowAction, *b.ParamRef.ParameterNotFoundAction)
	require.NotNil(t, shipped.policy.Spec.ParamKind)
	assert.Equal(t, "v1/ConfigMap", shipped.policy.Spec.ParamKind.APIVersion+"/"+shipped.policy.Spec.ParamKind.Kind)
	assert.Contains(t, shipped.param.Data["users"], "system:serviceaccount:kuscia-system:kusciatask-controller",
		"the ServiceAccount of deploy/base/rbac.yaml")
}
