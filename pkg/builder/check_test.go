package builder

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/utils/ptr"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// threeMistakes is the PSI task with a party on a missing AppImage (alice),
// a party in a missing namespace (carol, on the secretflow AppImage) whose
// config template does not render.
func threeMistakes(t *testing.T) (*kusciav1alpha1.KusciaTask, Inputs) {
	t.Helper()
	task, in := psiTask(t), exampleInputs(t)
	task.Spec.Parties[0].AppImageRef = "no-such-image"
	task.Spec.Parties = append(task.Spec.Parties, kusciav1alpha1.PartyInfo{DomainID: "carol", AppImageRef: secretflowImage})
	in.AppImages[secretflowImage].Spec.ConfigTemplates[DefaultConfigFile] = `{"x": "{{.NOPE}}"}`
	return task, in
}

func reasons(list []*InputError) []kusciav1alpha1.KusciaTaskReason {
	var out []kusciav1alpha1.KusciaTaskReason
	for _, ie := range list {
		out = append(out, ie.Reason)
	}
	return out
}

// PlanTask goes on past the first problem: its error lists each, with the
// first one's reason.
func TestPlanTaskListsEveryProblem(t *testing.T) {
	task, in := threeMistakes(t)
	_, err := PlanTask(task, in)
	ie, ok := AsInputError(err)
	require.True(t, ok, "not an InputError: %v", err)
	assert.Equal(t, kusciav1alpha1.ReasonAppImageNotFound, ie.Reason)
	assert.Equal(t, `2 problems: AppImageNotFound: party alice: AppImage "no-such-image" not found; `+
		`DomainNotFound: party carol: namespace "carol" does not exist`, ie.Message)
}

// A single problem keeps its own reason and message, as before.
func TestPlanTaskOneProblemUnchanged(t *testing.T) {
	task, in := psiTask(t), exampleInputs(t)
	delete(in.Namespaces, "bob")
	_, err := PlanTask(task, in)
	ie, ok := AsInputError(err)
	require.True(t, ok, "not an InputError: %v", err)
	assert.Equal(t, &InputError{Reason: kusciav1alpha1.ReasonDomainNotFound, Message: `party bob: namespace "bob" does not exist`}, ie)
}

// CheckTask reports what the controller would stop on one at a time: the
// plan's problems and the build's, each once although every pod fails it.
func TestCheckTaskThreeMistakes(t *testing.T) {
	task, in := threeMistakes(t)
	c, err := CheckTask(context.Background(), task, in, 1)
	require.NoError(t, err)
	assert.Equal(t, []kusciav1alpha1.KusciaTaskReason{
		kusciav1alpha1.ReasonAppImageNotFound,
		kusciav1alpha1.ReasonDomainNotFound,
		kusciav1alpha1.ReasonConfigRenderFailed,
		kusciav1alpha1.ReasonConfigRenderFailed,
	}, reasons(c.Problems))
	assert.Contains(t, c.Problems[2].Message, "party bob")
	assert.Contains(t, c.Problems[3].Message, "party carol")
	require.Len(t, c.Parties, 3)
	assert.Equal(t, []bool{true, false, false}, c.Plan.Blocked, "alice has no AppImage")
	assert.Nil(t, c.Parties[0], "alice has no AppImage: nothing to build")
	for _, objs := range c.Parties[1:] {
		require.NotNil(t, objs)
		assert.Len(t, objs.Pods, 1, "pods are still built")
		assert.Empty(t, objs.ConfigMaps, "no config map without its rendered files")
	}
}

// A valid task checks clean and builds exactly what BuildTask builds.
func TestCheckTaskValidMatchesBuildTask(t *testing.T) {
	task, in := psiTask(t), exampleInputs(t)
	c, err := CheckTask(context.Background(), task, in, 1)
	require.NoError(t, err)
	assert.Empty(t, c.Problems)
	plan, err := PlanTask(task, in)
	require.NoError(t, err)
	want, err := BuildTask(context.Background(), task, plan, 1)
	require.NoError(t, err)
	assert.Equal(t, want, c.Parties)
}

// Spec problems are all listed; a task without parties stops there.
func TestCheckTaskSpecProblems(t *testing.T) {
	task, in := psiTask(t), exampleInputs(t)
	task.Spec.Parties[1].DomainID = "alice"
	task.Spec.Parties[0].Role = "Bad_Role"
	task.Spec.Initiator = "nobody"
	c, err := CheckTask(context.Background(), task, in, 1)
	require.NoError(t, err)
	var msgs []string
	for _, ie := range c.Problems {
		msgs = append(msgs, ie.Message)
	}
	assert.Contains(t, strings.Join(msgs, "\n"), "spec.parties[0].role")
	assert.Contains(t, strings.Join(msgs, "\n"), "spec.parties[1].domainID: domain \"alice\" is listed more than once")
	assert.Contains(t, strings.Join(msgs, "\n"), "spec.initiator")

	task.Spec.Parties = nil
	c, err = CheckTask(context.Background(), task, in, 1)
	require.NoError(t, err)
	assert.Nil(t, c.Plan)
	assert.Equal(t, []kusciav1alpha1.KusciaTaskReason{kusciav1alpha1.ReasonInvalidSpec}, reasons(c.Problems))
}

// A pod the security requirements refuse is still built (validate shows it
// and lets the API server's dry run speak), and BuildTask refuses it.
func TestCheckTaskSecurityViolationKeepsPod(t *testing.T) {
	task, in := psiTask(t), exampleInputs(t)
	in.Namespaces["bob"] = &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "bob", Labels: map[string]string{
		kusciav1alpha1.LabelDomain: "bob", psapi.EnforceLevelLabel: string(psapi.LevelRestricted)}}}
	c, err := CheckTask(context.Background(), task, in, 1)
	require.NoError(t, err)
	require.NotEmpty(t, c.Problems)
	assert.Equal(t, kusciav1alpha1.ReasonPodSecurityViolation, c.Problems[0].Reason)
	assert.Contains(t, c.Problems[0].Message, "party bob")
	assert.Len(t, c.Parties[1].Pods, 1)

	plan, err := PlanTask(task, in)
	require.NoError(t, err)
	_, err = BuildTask(context.Background(), task, plan, 1)
	ie, ok := AsInputError(err)
	require.True(t, ok, "not an InputError: %v", err)
	assert.Equal(t, kusciav1alpha1.ReasonPodSecurityViolation, ie.Reason)
}

// A party whose size is out of bounds is not planned; the others are.
func TestCheckTaskPartyTooLarge(t *testing.T) {
	task, in := psiTask(t), exampleInputs(t)
	task.Spec.Parties[0].Template = &kusciav1alpha1.PartyTemplate{Replicas: ptr.To[int32](DefaultMaxReplicasPerParty + 1)}
	c, err := CheckTask(context.Background(), task, in, 1)
	require.NoError(t, err)
	assert.Equal(t, []kusciav1alpha1.KusciaTaskReason{kusciav1alpha1.ReasonTooManyPods}, reasons(c.Problems))
	assert.Equal(t, []bool{true, false}, c.Plan.Blocked)
	assert.Nil(t, c.Parties[0])
	require.NotNil(t, c.Parties[1])
	assert.Len(t, c.Parties[1].Pods, 1)
}

func TestProblemsErr(t *testing.T) {
	var p problems
	assert.NoError(t, p.err())
	other := fmt.Errorf("not input")
	assert.Same(t, other, p.add(other), "other errors are handed back")
	assert.NoError(t, p.add(nil))
	first := &InputError{Reason: kusciav1alpha1.ReasonInvalidSpec, Message: "a"}
	require.NoError(t, p.add(fmt.Errorf("wrapped: %w", first)))
	assert.Same(t, first, p.err(), "one problem is itself")
	require.NoError(t, p.add(&InputError{Reason: kusciav1alpha1.ReasonInvalidSpec, Message: "a"}))
	assert.Len(t, p, 1, "a repeat is not listed twice")
	for i := range MaxListedProblems + 2 {
		require.NoError(t, p.add(&InputError{Reason: kusciav1alpha1.ReasonInvalidTemplate, Message: fmt.Sprint("m", i)}))
	}
	ie, ok := AsInputError(p.err())
	require.True(t, ok)
	assert.Equal(t, kusciav1alpha1.ReasonInvalidSpec, ie.Reason)
	assert.True(t, strings.HasPrefix(ie.Message, fmt.Sprintf("%d problems: InvalidSpec: a; InvalidTemplate: m0; ", MaxListedProblems+3)), ie.Message)
	assert.True(t, strings.HasSuffix(ie.Message, "; and 3 more"), ie.Message)
}
