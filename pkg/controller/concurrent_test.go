package controller

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	core "k8s.io/client-go/testing"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/builder"
	"kusciatask.io/controller/pkg/gate"
)

func TestCreateBatches(t *testing.T) {
	for _, tc := range []struct {
		n, limit int
		want     []int
	}{
		{0, 16, nil},
		{1, 16, []int{1}},
		{2, 16, []int{2}},
		{10, 16, []int{2, 4, 4}},
		{100, 16, []int{2, 4, 8, 16, 16, 16, 16, 16, 6}},
		{5, 1, []int{1, 1, 1, 1, 1}},
		{7, 3, []int{2, 3, 2}},
	} {
		got := createBatches(tc.n, tc.limit)
		assert.Equal(t, tc.want, got, "%d objects, at most %d at once", tc.n, tc.limit)
		sum := 0
		for _, s := range got {
			sum += s
		}
		assert.Equal(t, tc.n, sum)
	}
}

func TestErrorToReport(t *testing.T) {
	retry := &retryableError{reason: kusciav1alpha1.ReasonCreateFailed, err: errors.New("timeout")}
	input := &builder.InputError{Reason: kusciav1alpha1.ReasonInvalidTemplate, Message: "invalid"}
	other := errors.New("cannot create a thing")
	assert.NoError(t, errorToReport([]error{nil, nil}))
	assert.Equal(t, error(input), errorToReport([]error{retry, nil, input}), "a refusal for good fails the task")
	assert.Equal(t, errTaskGone, errorToReport([]error{input, errTaskGone, retry}), "a task gone ends the sync")
	assert.Equal(t, error(retry), errorToReport([]error{other, retry}))
	assert.Equal(t, other, errorToReport([]error{nil, other}))
}

// concurrentFixture creates as the binary does: in concurrent batches.
func concurrentFixture(t *testing.T) *fixture {
	f := newFixture(t, psiObjects(t)...)
	f.c.maxCreateBatch = DefaultMaxCreateBatch
	return f
}

// Created in concurrent batches, a task gets each object once, and its
// pods only after everything they need.
func TestConcurrentCreatesKeepTheWaves(t *testing.T) {
	f := concurrentFixture(t)
	f.mustSync(psi)
	got := creates(f.writes())
	assert.ElementsMatch(t, psiCreates(), got)
	require.Len(t, got, len(psiCreates()))
	for i, w := range got {
		isPod := strings.HasPrefix(w, "create pods ")
		assert.Equal(t, i >= len(got)-2, isPod, "pods are created last: %v", got)
	}
	// The next sync finds everything and creates nothing.
	f.refresh()
	assert.Len(t, f.c.childrenOf(f.task(psi)).pods, 2)
	f.mustSync(psi)
	assert.Empty(t, creates(f.writes()))
}

// A refusal for good in the first batch stops the creation there: the
// objects that would meet the same refusal are not sent.
func TestConcurrentCreatesStopAtTheFirstRefusal(t *testing.T) {
	f := concurrentFixture(t)
	f.kube.PrependReactor("create", "services", func(core.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewInvalid(schema.GroupKind{Kind: "Service"}, "x",
			field.ErrorList{field.Invalid(field.NewPath("spec", "ports"), "x", "bad port")})
	})
	f.mustSync(psi)
	assert.Len(t, creates(f.writes()), firstCreateBatch, "only the first batch was sent")
	assert.Equal(t, kusciav1alpha1.TaskFailed, f.task(psi).Status.Phase)
	assert.Equal(t, kusciav1alpha1.ReasonInvalidTemplate, f.task(psi).Status.Reason)
}

// Deleting a task while it is created concurrently stops the creation
// after the batch in flight.
func TestDeletingATaskStopsItsConcurrentCreation(t *testing.T) {
	f := concurrentFixture(t)
	var made atomic.Int32
	f.kube.PrependReactor("create", "*", func(core.Action) (bool, runtime.Object, error) {
		if made.Add(1) == 1 {
			require.NoError(t, f.kInf.Kuscia().V1alpha1().KusciaTasks().Informer().GetIndexer().Delete(f.task(psi)))
		}
		return false, nil, nil
	})
	res, err := f.sync(psi)
	require.NoError(t, err)
	assert.Len(t, creates(f.writes()), firstCreateBatch, "nothing is created after the batch in flight")
	assert.False(t, res.requeue)
}

// Opened concurrently, every gate of a formed gang opens once.
func TestGatesOpenConcurrently(t *testing.T) {
	f := newGatedFixture(t, psiObjects(t)...)
	f.c.maxCreateBatch = DefaultMaxCreateBatch
	f.mustSync(psi)
	f.updatePods(bind("node-0"))
	f.mustSync(psi)
	assert.ElementsMatch(t, []string{
		"update kusciatasks/status /secretflow-task-psi",
		"patch pods alice/secretflow-task-psi-0",
		"patch pods bob/secretflow-task-psi-0",
	}, f.writes())
	assert.Equal(t, gate.Open, f.gateOf(alicePod))
	assert.Equal(t, gate.Open, f.gateOf(bobPod))
}
