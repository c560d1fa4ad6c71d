//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
	"kusciatask.io/controller/pkg/generated/clientset/versioned"
	"kusciatask.io/controller/pkg/podgroup"
)

// The controller's identity, as crds/kusciatask-controller-policy.yaml's
// parameter names it and the policy's messages quote it.
const controllerIdentity = "system:serviceaccount:kuscia-system:kusciatask-controller"

// refusedBy is the start of every message of the policy.
const refusedBy = "only the kusciatask-controller (" + controllerIdentity + ") may "

// impersonating returns clients that act as user (from the admin
// kubeconfig, which may impersonate anyone), with the groups every
// authenticated user has.
func impersonating(t *testing.T, user string) (kubernetes.Interface, versioned.Interface) {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", env.kubeconfig)
	require.NoError(t, err)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: []string{"system:authenticated"}}
	kube, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	kuscia, err := versioned.NewForConfig(cfg)
	require.NoError(t, err)
	return kube, kuscia
}

// grant gives user the rules, in namespace (a Role) or cluster-wide (a
// ClusterRole when namespace is ""), for this test only.
func grant(t *testing.T, user, namespace string, rules ...rbacv1.PolicyRule) {
	t.Helper()
	ctx := testContext(t)
	name := "e2e-policy-" + strings.NewReplacer(":", "-", "@", "-").Replace(user)
	subjects := []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}}
	rbac := env.kube.RbacV1()
	if namespace == "" {
		_, err := rbac.ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}, metav1.CreateOptions{})
		require.NoError(t, err)
		_, err = rbac.ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name}, Subjects: subjects,
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name}}, metav1.CreateOptions{})
		require.NoError(t, err)
		t.Cleanup(func() {
			_ = rbac.ClusterRoleBindings().Delete(ctx, name, metav1.DeleteOptions{})
			_ = rbac.ClusterRoles().Delete(ctx, name, metav1.DeleteOptions{})
		})
		return
	}
	_, err := rbac.Roles(namespace).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = rbac.RoleBindings(namespace).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name}, Subjects: subjects,
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name}}, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = rbac.RoleBindings(namespace).Delete(ctx, name, metav1.DeleteOptions{})
		_ = rbac.Roles(namespace).Delete(ctx, name, metav1.DeleteOptions{})
	})
}

// requireRefused asserts that err is the policy's refusal with a message
// containing want (after refusedBy).
func requireRefused(t *testing.T, err error, want string) {
	t.Helper()
	require.Error(t, err, "the API server accepted the write")
	require.True(t, apierrors.IsForbidden(err) || apierrors.IsInvalid(err), "not a refusal: %v", err)
	assert.Contains(t, err.Error(), "ValidatingAdmissionPolicy 'kusciatask-controller'")
	assert.Contains(t, err.Error(), refusedBy+want)
}

// taskOwner is an owner reference to task, as the controller sets it.
func taskOwner(task *kusciav1alpha1.KusciaTask) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: kusciav1alpha1.SchemeGroupVersion.String(), Kind: "KusciaTask",
		Name: task.Name, UID: task.UID, Controller: ptr.To(true)}
}

// forgedMember is issue 19's pod: bob's member of task, with the labels,
// round annotation and controller reference the controller's own pod has,
// already bound to node. The policy's tests make it as a user who may only
// create pods in bob's namespace; the trust tests as the admin, whom the
// policy lets through, to show what the controller does without the policy.
func forgedMember(task *kusciav1alpha1.KusciaTask, node string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: "fake-" + task.Name, Namespace: "bob",
			Labels: map[string]string{
				kusciav1alpha1.LabelTask: builder.TaskLabelValue(task.Name), kusciav1alpha1.LabelTaskUID: string(task.UID),
				kusciav1alpha1.LabelParty: "bob", kusciav1alpha1.LabelRole: "", kusciav1alpha1.LabelPod: task.Name + "-0",
			},
			Annotations:     map[string]string{builder.AnnotationRound: "1"},
			OwnerReferences: []metav1.OwnerReference{taskOwner(task)},
		},
		Spec: corev1.PodSpec{NodeName: node, RestartPolicy: corev1.RestartPolicyNever, AutomountServiceAccountToken: new(bool),
			Containers: []corev1.Container{{Name: "app", Image: "x"}}},
	}
}

// Issue 19's forged member, by a user who may do nothing but create pods in
// bob's namespace: bob's template selects a node label no node has, alice is
// held behind her gate. The API server refuses the forged pod (and its
// variants with only the labels or only the owner reference) with the
// policy's message; alice's gate stays closed and the task Pending; bob's
// Services select only the controller's pod. The same user may still
// create a pod of their own there.
func TestPolicyRefusesAForgedMember(t *testing.T) {
	const name = "e2e-policy-forge"
	const labelKey = "e2e.kuscia.secretflow/policy-forge"
	const user = "e2e-bob-pod-maker"
	deleteTaskOnCleanup(t, name)
	gates := followGates(t, name, "alice", "bob")
	applyBobWaitsForALabel(t, name, labelKey)
	grant(t, user, "bob", rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"create"}})
	userKube, _ := impersonating(t, user)
	ctx := testContext(t)

	eventually(t, 30*time.Second, "alice to be held while bob waits for a node", func() (bool, string) {
		task := getTask(t, name)
		alice := taskPods(t, task, "alice")
		if len(alice) != 1 || !held(&alice[0]) {
			return false, fmt.Sprintf("alice's pods: %d", len(alice))
		}
		return task.Status.Reservation != nil && slices.Equal(task.Status.Reservation.ReservedParties, []string{"alice"}),
			fmt.Sprintf("reservation %+v", task.Status.Reservation)
	})
	task := getTask(t, name)

	pod := forgedMember(task, "kwok-node-1")
	_, err := userKube.CoreV1().Pods("bob").Create(ctx, pod, metav1.CreateOptions{})
	requireRefused(t, err, "create pods carrying KusciaTask labels or owner references; "+user+" may not")

	labelsOnly := forgedMember(task, "kwok-node-1")
	labelsOnly.OwnerReferences = nil
	_, err = userKube.CoreV1().Pods("bob").Create(ctx, labelsOnly, metav1.CreateOptions{})
	requireRefused(t, err, "create pods carrying")

	ownerOnly := forgedMember(task, "kwok-node-1")
	ownerOnly.Labels = map[string]string{kusciav1alpha1.LabelPod: task.Name + "-0"}
	ownerOnly.OwnerReferences[0].Controller = nil
	_, err = userKube.CoreV1().Pods("bob").Create(ctx, ownerOnly, metav1.CreateOptions{})
	requireRefused(t, err, "create pods carrying")

	// A pod of the user's own, without the task's labels or owner, is theirs
	// to create.
	own := forgedMember(task, "kwok-node-1")
	own.Name, own.Labels, own.Annotations, own.OwnerReferences = "e2e-policy-own-pod", map[string]string{"app": "mine"}, nil, nil
	_, err = userKube.CoreV1().Pods("bob").Create(ctx, own, metav1.CreateOptions{})
	require.NoError(t, err, "a pod without the task's labels or owner")
	t.Cleanup(func() { _ = env.kube.CoreV1().Pods("bob").Delete(ctx, own.Name, metav1.DeleteOptions{}) })

	// Held for a while: the forged pod does not exist, nothing opened.
	time.Sleep(3 * time.Second)
	task = getTask(t, name)
	assert.Equal(t, kusciav1alpha1.TaskPending, task.Status.Phase)
	require.NotNil(t, task.Status.Reservation)
	assert.Equal(t, []string{"alice"}, task.Status.Reservation.ReservedParties)
	assert.Nil(t, task.Status.Reservation.GateOpenedTime)
	violations, _, opened, _, _ := gates.snapshot()
	assert.Empty(t, violations, "an application container ran behind a closed gate")
	assert.Empty(t, opened, "a gate opened while bob waits")
	_, err = env.kube.CoreV1().Pods("bob").Get(ctx, pod.Name, metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "the forged pod exists: %v", err)

	// Bob's Services select bob's pod and nothing else.
	svcs, err := env.kube.CoreV1().Services("bob").List(ctx, metav1.ListOptions{LabelSelector: kusciav1alpha1.LabelTaskUID + "=" + string(task.UID)})
	require.NoError(t, err)
	require.NotEmpty(t, svcs.Items, "bob's services")
	for _, svc := range svcs.Items {
		pods, err := env.kube.CoreV1().Pods("bob").List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(svc.Spec.Selector).String()})
		require.NoError(t, err)
		var names []string
		for _, p := range pods.Items {
			names = append(names, p.Name)
		}
		assert.Equal(t, []string{name + "-0"}, names, "pods selected by service %s", svc.Name)
	}

	// Bob finds a node: the controller, under the same policy, finishes
	// the task.
	labelNode(t, "kwok-node-0", labelKey, name)
	waitPhase(t, name, kusciav1alpha1.TaskSucceeded, 60*time.Second)
}

// Issue 19's forged terminal statuses, by a user who may read tasks and
// patch their status: both are refused with the policy's message; the task
// keeps its pods running and ends as its pods say.
func TestPolicyRefusesForgedTerminalStatus(t *testing.T) {
	const name = "e2e-policy-status"
	const user = "e2e-status-writer"
	deleteTaskOnCleanup(t, name)
	grant(t, user, "", rbacv1.PolicyRule{APIGroups: []string{kusciav1alpha1.SchemeGroupVersion.Group},
		Resources: []string{"kusciatasks", "kusciatasks/status"}, Verbs: []string{"get", "list", "patch", "update"}})
	_, userKuscia := impersonating(t, user)
	ctx := testContext(t)
	// Long enough for the forgeries below on a slow machine.
	applyYAML(t, psiTask(name, "", partyOpts{env: map[string]string{"KWOK_DELAY": "30s"}}, partyOpts{env: map[string]string{"KWOK_DELAY": "30s"}}))
	task := waitPhase(t, name, kusciav1alpha1.TaskRunning, 60*time.Second)
	pods := taskPods(t, task, "alice", "bob")
	require.Len(t, pods, 2)

	now := time.Now().UTC().Format(time.RFC3339)
	for _, phase := range []kusciav1alpha1.KusciaTaskPhase{kusciav1alpha1.TaskSucceeded, kusciav1alpha1.TaskFailed} {
		patch := fmt.Sprintf(`{"status":{"phase":%q,"completionTime":%q}}`, phase, now)
		_, err := userKuscia.KusciaV1alpha1().KusciaTasks().Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}, "status")
		requireRefused(t, err, "write the status of KusciaTask "+name+"; "+user+" may not")
		// kubectl, as the issue did it.
		out, err := kubectlOutput(nil, "--as="+user, "patch", "kt", name, "--subresource=status", "--type=merge", "-p", patch)
		require.Error(t, err, out)
		assert.Contains(t, out, refusedBy+"write the status of KusciaTask "+name)
	}
	// A whole-object UpdateStatus, too.
	forged := getTask(t, name)
	forged.Status.Phase = kusciav1alpha1.TaskSucceeded
	forged.Status.CompletionTime = ptr.To(metav1.Now()) // else the CRD's own rule refuses it first
	_, err := userKuscia.KusciaV1alpha1().KusciaTasks().UpdateStatus(ctx, forged, metav1.UpdateOptions{})
	requireRefused(t, err, "write the status of KusciaTask "+name)

	task = getTask(t, name)
	assert.Equal(t, kusciav1alpha1.TaskRunning, task.Status.Phase)
	for _, p := range taskPods(t, task, "alice", "bob") {
		assert.Nil(t, p.DeletionTimestamp, "pod %s/%s is being deleted", p.Namespace, p.Name)
	}
	task = waitPhase(t, name, kusciav1alpha1.TaskSucceeded, 60*time.Second)
	assert.Equal(t, kusciav1alpha1.ReasonSucceeded, task.Status.Reason)
	for _, p := range task.Status.PartyTaskStatus {
		assert.Equal(t, kusciav1alpha1.TaskSucceeded, p.Phase, "party %s", p.DomainID)
	}
}

// The policy's own cases, for a user with RBAC to write config maps,
// services, pods and PodGroups in alice's namespace and to write
// KusciaTasks: children-looking objects are refused, on create and on
// update, whichever way the labels come; the user's own objects, the task's
// spec and metadata, and deleting a child are not.
func TestPolicyGuardsChildrenNotTheUsersOwn(t *testing.T) {
	const name = "e2e-policy-children"
	const user = "e2e-alice-admin"
	deleteTaskOnCleanup(t, name)
	grant(t, user, "alice",
		rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods", "services", "configmaps"},
			Verbs: []string{"get", "list", "create", "update", "patch", "delete"}},
		rbacv1.PolicyRule{APIGroups: []string{"scheduling.k8s.io"}, Resources: []string{"podgroups"}, Verbs: []string{"create"}})
	grant(t, user, "", rbacv1.PolicyRule{APIGroups: []string{kusciav1alpha1.SchemeGroupVersion.Group},
		Resources: []string{"kusciatasks"}, Verbs: []string{"get", "create", "update", "patch", "delete"}})
	userKube, userKuscia := impersonating(t, user)
	ctx := testContext(t)

	// The user's own task: creating it is theirs.
	out, err := kubectlOutput([]byte(psiTask(name, "", partyOpts{env: map[string]string{"KWOK_OUTCOME": "run"}}, partyOpts{env: map[string]string{"KWOK_OUTCOME": "run"}})),
		"--as="+user, "create", "-f", "-")
	require.NoError(t, err, out)
	task := waitPhase(t, name, kusciav1alpha1.TaskRunning, 60*time.Second)
	taskLabels := map[string]string{kusciav1alpha1.LabelTask: builder.TaskLabelValue(name), kusciav1alpha1.LabelTaskUID: string(task.UID)}

	t.Run("children are refused", func(t *testing.T) {
		_, err := userKube.CoreV1().ConfigMaps("alice").Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: "e2e-policy-cm", Labels: map[string]string{kusciav1alpha1.LabelTask: builder.TaskLabelValue(name)}},
			Data:       map[string]string{"task-config.conf": "{}"}}, metav1.CreateOptions{})
		requireRefused(t, err, "create configmaps carrying KusciaTask labels or owner references; "+user+" may not")

		_, err = userKube.CoreV1().Services("alice").Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "e2e-policy-svc", Labels: map[string]string{kusciav1alpha1.LabelTaskUID: string(task.UID)}},
			Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: map[string]string{"app": "mine"},
				Ports: []corev1.ServicePort{{Name: "fed", Port: 8080}}}}, metav1.CreateOptions{})
		requireRefused(t, err, "create services carrying")

		_, err = userKube.CoreV1().Services("alice").Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "e2e-policy-svc", OwnerReferences: []metav1.OwnerReference{taskOwner(task)}},
			Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: map[string]string{"app": "mine"},
				Ports: []corev1.ServicePort{{Name: "fed", Port: 8080}}}}, metav1.CreateOptions{})
		requireRefused(t, err, "create services carrying")

		pg, err := podgroup.New("alice", "e2e-policy-pg", taskLabels, taskOwner(task), 1)
		require.NoError(t, err)
		_, err = userKube.SchedulingV1beta1().PodGroups("alice").Create(ctx, pg, metav1.CreateOptions{})
		requireRefused(t, err, "create podgroups carrying")
	})

	t.Run("labels cannot be added to the user's object", func(t *testing.T) {
		cm, err := userKube.CoreV1().ConfigMaps("alice").Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: "e2e-policy-own-cm", Labels: map[string]string{"app": "mine"}},
			Data:       map[string]string{"k": "v"}}, metav1.CreateOptions{})
		require.NoError(t, err, "a config map without the task's labels")
		t.Cleanup(func() { _ = env.kube.CoreV1().ConfigMaps("alice").Delete(ctx, cm.Name, metav1.DeleteOptions{}) })
		cm.Labels[kusciav1alpha1.LabelTaskUID] = string(task.UID)
		_, err = userKube.CoreV1().ConfigMaps("alice").Update(ctx, cm, metav1.UpdateOptions{})
		requireRefused(t, err, "update configmaps carrying")
		// Editing it otherwise is the user's business.
		out, err := kubectlOutput(nil, "--as="+user, "-n", "alice", "label", "configmap", cm.Name, "e2e=yes")
		require.NoError(t, err, out)
	})

	t.Run("the controller's children cannot be edited", func(t *testing.T) {
		pods := taskPods(t, task, "alice")
		require.Len(t, pods, 1)
		out, err := kubectlOutput(nil, "--as="+user, "-n", "alice", "label", "pod", pods[0].Name, kusciav1alpha1.LabelTaskUID+"-")
		require.Error(t, err, out)
		assert.Contains(t, out, refusedBy+"update pods carrying")
		out, err = kubectlOutput(nil, "--as="+user, "-n", "alice", "annotate", "pod", pods[0].Name, "e2e=yes")
		require.Error(t, err, out)
		assert.Contains(t, out, refusedBy+"update pods carrying")
		cms, err := userKube.CoreV1().ConfigMaps("alice").List(ctx, metav1.ListOptions{LabelSelector: kusciav1alpha1.LabelTaskUID + "=" + string(task.UID)})
		require.NoError(t, err)
		require.NotEmpty(t, cms.Items)
		cm := cms.Items[0]
		cm.Data["task-config.conf"] = `{"forged": true}`
		_, err = userKube.CoreV1().ConfigMaps("alice").Update(ctx, &cm, metav1.UpdateOptions{})
		requireRefused(t, err, "update configmaps carrying")
	})

	t.Run("the task's metadata and spec stay the user's", func(t *testing.T) {
		out, err := kubectlOutput(nil, "--as="+user, "label", "kt", name, "e2e=yes")
		require.NoError(t, err, out)
		// A dry run goes through admission (the policy included) without
		// changing the running task.
		_, err = userKuscia.KusciaV1alpha1().KusciaTasks().Patch(ctx, name, types.MergePatchType,
			[]byte(`{"spec":{"scheduleConfig":{"lifecycleSeconds":600}}}`), metav1.PatchOptions{DryRun: []string{metav1.DryRunAll}})
		require.NoError(t, err, "editing a mutable spec field")
	})

	// Deleting a child is not guarded (the garbage collector deletes
	// children): it cannot open a gate, only fail the party whose pod it
	// was.
	t.Run("deleting a child is allowed and fails the task", func(t *testing.T) {
		pods := taskPods(t, task, "alice")
		require.Len(t, pods, 1)
		require.NoError(t, userKube.CoreV1().Pods("alice").Delete(ctx, pods[0].Name, metav1.DeleteOptions{}))
		task := waitPhase(t, name, kusciav1alpha1.TaskFailed, 60*time.Second)
		assert.Equal(t, kusciav1alpha1.ReasonPartiesFailed, task.Status.Reason)
		var alice string
		for _, p := range task.Status.PartyTaskStatus {
			if p.DomainID == "alice" {
				alice = string(p.Phase) + ": " + p.Message
			}
		}
		assert.Contains(t, alice, "Failed: ")
		assert.Contains(t, alice, pods[0].Name)
	})

	// Deleting the task is the user's, and the garbage collector removes
	// its children under the policy.
	require.NoError(t, userKuscia.KusciaV1alpha1().KusciaTasks().Delete(ctx, name, metav1.DeleteOptions{}))
	eventually(t, 60*time.Second, "the task's children to be collected", func() (bool, string) {
		n := childCount(t, string(task.UID), "alice", "bob")
		return n == 0, fmt.Sprintf("%d children left", n)
	})
}

// The controller, running with deploy/base/rbac.yaml's role, finds the
// policy, its binding and a parameter naming its ServiceAccount at start,
// so it logs no warning about them.
func TestPolicyInForceAtStart(t *testing.T) {
	data, err := os.ReadFile(env.controller.Log)
	require.NoError(t, err)
	log := string(data)
	require.Contains(t, log, "Co-scheduling parties", "the controller's start is in its log")
	assert.NotContains(t, log, "Warning: the admission policy")
}
