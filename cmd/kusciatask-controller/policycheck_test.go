package main

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/klog/v2"
	"k8s.io/klog/v2/ktesting"
)

const controllerUser = "system:serviceaccount:kuscia-system:kusciatask-controller"

func policyObjects(users, groups string) []runtime.Object {
	return []runtime.Object{
		&admissionregistrationv1.ValidatingAdmissionPolicy{ObjectMeta: metav1.ObjectMeta{Name: admissionPolicyName}},
		&admissionregistrationv1.ValidatingAdmissionPolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: admissionBindingName}},
		&corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: policyParamNamespace, Name: policyParamName},
			Data:       map[string]string{"users": users, "groups": groups},
		},
	}
}

// whoAmI makes the fake answer SelfSubjectReviews as the API server does.
func whoAmI(c *fake.Clientset, user string, groups ...string) {
	c.PrependReactor("create", "selfsubjectreviews", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, &authenticationv1.SelfSubjectReview{Status: authenticationv1.SelfSubjectReviewStatus{
			UserInfo: authenticationv1.UserInfo{Username: user, Groups: groups}}}, nil
	})
}

func TestAdmissionPolicyProblems(t *testing.T) {
	forbidden := func(resource string) func(*fake.Clientset) {
		return func(c *fake.Clientset) {
			c.PrependReactor("get", resource, func(k8stesting.Action) (bool, runtime.Object, error) {
				return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "admissionregistration.k8s.io", Resource: resource},
					admissionPolicyName, nil)
			})
		}
	}
	cases := []struct {
		name    string
		objects []runtime.Object
		react   func(*fake.Clientset)
		want    []string // substrings, one per problem, in order
	}{
		{
			name:    "installed, naming the controller's user",
			objects: policyObjects(controllerUser+", someone-else", "system:masters"),
		},
		{
			name:    "installed, naming one of the controller's groups",
			objects: policyObjects("someone-else", "system:masters,kuscia-controllers"),
		},
		{
			name: "absent",
			want: []string{
				"ValidatingAdmissionPolicy kusciatask-controller is not installed",
				"ValidatingAdmissionPolicyBinding kusciatask-controller is not installed",
				"its parameter ConfigMap kube-system/kusciatask-controller-policy is not installed",
			},
		},
		{
			name:    "binding absent",
			objects: skipBinding(policyObjects(controllerUser, "")),
			want:    []string{"ValidatingAdmissionPolicyBinding kusciatask-controller is not installed"},
		},
		{
			name:    "forbidden to look",
			objects: policyObjects(controllerUser, ""),
			react: func(c *fake.Clientset) {
				forbidden("validatingadmissionpolicies")(c)
				forbidden("validatingadmissionpolicybindings")(c)
			},
			want: []string{
				"cannot tell whether ValidatingAdmissionPolicy kusciatask-controller is installed: validatingadmissionpolicies.admissionregistration.k8s.io \"kusciatask-controller\" is forbidden",
				"cannot tell whether ValidatingAdmissionPolicyBinding kusciatask-controller is installed",
			},
		},
		{
			name:    "parameter names someone else",
			objects: policyObjects("system:serviceaccount:other:kusciatask-controller", "system:masters"),
			want:    []string{`the parameter names neither this controller's user "` + controllerUser + `"`},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, ctx := ktesting.NewTestContext(t)
			client := fake.NewClientset(tc.objects...)
			whoAmI(client, controllerUser, "system:serviceaccounts", "kuscia-controllers", "system:authenticated")
			if tc.react != nil {
				tc.react(client)
			}
			problems := admissionPolicyProblems(ctx, client)
			if assert.Len(t, problems, len(tc.want), "problems: %q", problems) {
				for i, want := range tc.want {
					assert.Contains(t, problems[i], want)
				}
			}
		})
	}
}

// The warning is one log line, and none when the policy is in force.
func TestWarnUnlessAdmissionPolicyLogsOnce(t *testing.T) {
	for _, tc := range []struct {
		name     string
		objects  []runtime.Object
		warnings int
	}{
		{"installed", policyObjects(controllerUser, ""), 0},
		{"absent", nil, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logger := ktesting.NewLogger(t, ktesting.NewConfig(ktesting.BufferLogs(true)))
			ctx := klog.NewContext(context.Background(), logger)
			client := fake.NewClientset(tc.objects...)
			whoAmI(client, controllerUser)
			warnUnlessAdmissionPolicy(ctx, client)
			var warnings int
			for _, e := range logger.GetSink().(ktesting.Underlier).GetBuffer().Data() {
				if strings.HasPrefix(e.Message, "Warning: ") {
					warnings++
				}
			}
			assert.Equal(t, tc.warnings, warnings)
		})
	}
}

func skipBinding(objects []runtime.Object) []runtime.Object {
	return []runtime.Object{objects[0], objects[2]}
}
