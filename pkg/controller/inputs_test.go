package controller

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	core "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// Bad input fails the task with a reason, an event and no retry, and creates
// nothing.
func TestBadInputFailsTheTaskWithoutRetry(t *testing.T) {
	cases := []struct {
		name       string
		mutate     func(objs []runtime.Object) []runtime.Object
		wantReason kusciav1alpha1.KusciaTaskReason
		wantInMsg  string
		wantWrites []string
	}{{
		name: "unknown AppImage",
		mutate: func(objs []runtime.Object) []runtime.Object {
			objs[0].(*kusciav1alpha1.KusciaTask).Spec.Parties[1].AppImageRef = "no-such-image"
			return objs
		},
		wantReason: kusciav1alpha1.ReasonAppImageNotFound,
		wantInMsg:  `party bob: AppImage "no-such-image" not found`,
	}, {
		name: "no deploy template for the role",
		mutate: func(objs []runtime.Object) []runtime.Object {
			objs[1].(*kusciav1alpha1.AppImage).Spec.DeployTemplates[0].Role = "host"
			objs[0].(*kusciav1alpha1.KusciaTask).Spec.Parties[1].Role = "guest"
			return objs
		},
		wantReason: kusciav1alpha1.ReasonDeployTemplateNotFound,
		wantInMsg:  `party bob: AppImage "secretflow-image" has no deploy template for role "guest"`,
	}, {
		name: "initiator not a party",
		mutate: func(objs []runtime.Object) []runtime.Object {
			objs[0].(*kusciav1alpha1.KusciaTask).Spec.Initiator = "carol"
			return objs
		},
		wantReason: kusciav1alpha1.ReasonInvalidSpec,
		wantInMsg:  `spec.initiator: "carol" is not one of the parties`,
	}, {
		name: "duplicate domain",
		mutate: func(objs []runtime.Object) []runtime.Object {
			objs[0].(*kusciav1alpha1.KusciaTask).Spec.Parties[1].DomainID = "alice"
			return objs
		},
		wantReason: kusciav1alpha1.ReasonInvalidSpec,
		wantInMsg:  `spec.parties[1].domainID: domain "alice" is listed more than once`,
	}, {
		name: "namespace that is not a domain",
		mutate: func(objs []runtime.Object) []runtime.Object {
			objs[0].(*kusciav1alpha1.KusciaTask).Spec.Parties[1].DomainID = "kube-system"
			return append(objs, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kube-system"}})
		},
		wantReason: kusciav1alpha1.ReasonDomainNotFound,
		wantInMsg:  `namespace "kube-system" is not a Kuscia domain`,
	}, {
		name: "namespace that does not exist",
		mutate: func(objs []runtime.Object) []runtime.Object {
			objs[0].(*kusciav1alpha1.KusciaTask).Spec.Parties[1].DomainID = "carol"
			return objs
		},
		wantReason: kusciav1alpha1.ReasonDomainNotFound,
		wantInMsg:  `namespace "carol" does not exist`,
	}, {
		name: "several problems, all in one message",
		mutate: func(objs []runtime.Object) []runtime.Object {
			objs[0].(*kusciav1alpha1.KusciaTask).Spec.Parties[0].AppImageRef = "no-such-image"
			objs[0].(*kusciav1alpha1.KusciaTask).Spec.Parties[1].DomainID = "carol"
			return objs
		},
		wantReason: kusciav1alpha1.ReasonAppImageNotFound,
		wantInMsg: `2 problems: AppImageNotFound: party alice: AppImage "no-such-image" not found; ` +
			`DomainNotFound: party carol: namespace "carol" does not exist`,
	}, {
		name: "minReservedMembers above the number of parties",
		mutate: func(objs []runtime.Object) []runtime.Object {
			objs[0].(*kusciav1alpha1.KusciaTask).Spec.ScheduleConfig = &kusciav1alpha1.ScheduleConfig{MinReservedMembers: ptrTo[int32](3)}
			return objs
		},
		wantReason: kusciav1alpha1.ReasonInvalidSpec,
		wantInMsg:  "spec.scheduleConfig.minReservedMembers",
	}, {
		name: "foreign pod in the way",
		mutate: func(objs []runtime.Object) []runtime.Object {
			return append(objs, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "bob", Name: "secretflow-task-psi-0"}})
		},
		wantReason: kusciav1alpha1.ReasonResourceConflict,
		wantInMsg:  "pod bob/secretflow-task-psi-0 already exists and does not belong to this task",
		// Pending is written first; the config maps and services created
		// before the conflict stay until the task is deleted (owner
		// references), alice's pod is stopped with the task in the same
		// sync, and nothing after the conflict is created.
		wantWrites: append(psiCreates(), "delete pods alice/secretflow-task-psi-0",
			"update kusciatasks/status /secretflow-task-psi", "update kusciatasks/status /secretflow-task-psi"),
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.mutate(psiObjects(t))...)
			res, err := f.sync(psi)
			require.NoError(t, err, "bad input must not be retried")
			assert.Zero(t, res.requeueAfter, "bad input must not be requeued")

			want := tc.wantWrites
			if want == nil {
				want = []string{"update kusciatasks/status /secretflow-task-psi"}
			}
			assert.Equal(t, want, f.writes())
			task := f.task(psi)
			assert.Equal(t, kusciav1alpha1.TaskFailed, task.Status.Phase)
			assert.Equal(t, tc.wantReason, task.Status.Reason)
			assert.Contains(t, task.Status.Message, tc.wantInMsg)
			assert.NotNil(t, task.Status.CompletionTime)
			events := f.events()
			require.NotEmpty(t, events)
			assert.Contains(t, events[len(events)-1], "Warning "+string(tc.wantReason)+" ")

			// The failure is final: the next sync only tidies up.
			f.mustSync(psi)
			for _, w := range f.writes() {
				assert.Contains(t, w, "delete pods", "a failed task only deletes its live pods")
			}
			f.mustSync(psi)
			assert.Empty(t, f.writes())
		})
	}
}

func TestGoneTaskIsNotAnError(t *testing.T) {
	f := newFixture(t)
	res, err := f.sync("no-such-task")
	require.NoError(t, err)
	assert.Zero(t, res.requeueAfter)
	assert.Empty(t, f.writes())
}

// The pod of a task is adopted when it already exists and the task controls
// it (a status write lost after the pods were created).
func TestExistingOwnPodsAreAdopted(t *testing.T) {
	f := newFixture(t, psiObjects(t)...)
	f.mustSync(psi)
	// Forget the status, as if its write had been lost.
	task := f.task(psi)
	task.Status = kusciav1alpha1.KusciaTaskStatus{}
	_, err := f.kuscia.KusciaV1alpha1().KusciaTasks().UpdateStatus(f.ctx, task, metav1.UpdateOptions{})
	require.NoError(t, err)
	f.mustSync(psi)
	assert.Equal(t, []string{"update kusciatasks/status /secretflow-task-psi"}, f.writes())
	assert.Equal(t, kusciav1alpha1.TaskPending, f.task(psi).Status.Phase)
}

// A phase written into status by hand fails the task instead of the worker.
func TestUnknownPhaseFailsTheTask(t *testing.T) {
	objs := psiObjects(t)
	objs[0].(*kusciav1alpha1.KusciaTask).Status.Phase = "Paused"
	f := newFixture(t, objs...)
	res, err := f.sync(psi)
	require.NoError(t, err)
	assert.Zero(t, res.requeueAfter)
	task := f.task(psi)
	assert.Equal(t, kusciav1alpha1.TaskFailed, task.Status.Phase)
	assert.Equal(t, kusciav1alpha1.ReasonUnknownPhase, task.Status.Reason)
	assert.Contains(t, task.Status.Message, `"Paused"`)
}

// An object the API server refuses fails the task; any other create error is
// retried with backoff and told in a Warning event.
func TestCreateErrors(t *testing.T) {
	t.Run("invalid", func(t *testing.T) {
		f := newFixture(t, psiObjects(t)...)
		f.kube.PrependReactor("create", "pods", func(core.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewInvalid(schema.GroupKind{Kind: "Pod"}, "secretflow-task-psi-0",
				field.ErrorList{field.Invalid(field.NewPath("spec", "containers").Index(0).Child("env").Index(0).Child("name"), "1BAD", "a valid environment variable name")})
		})
		res, err := f.sync(psi)
		require.NoError(t, err)
		assert.Zero(t, res.requeueAfter)
		task := f.task(psi)
		assert.Equal(t, kusciav1alpha1.TaskFailed, task.Status.Phase)
		assert.Equal(t, kusciav1alpha1.ReasonInvalidTemplate, task.Status.Reason)
		assert.Contains(t, task.Status.Message, "the API server rejected pod alice/secretflow-task-psi-0")
		assert.Contains(t, task.Status.Message, "spec.containers[0].env[0].name")
	})
	t.Run("transient", func(t *testing.T) {
		f := newFixture(t, psiObjects(t)...)
		f.kube.PrependReactor("create", "pods", func(core.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewServerTimeout(schema.GroupResource{Resource: "pods"}, "create", 1)
		})
		res, err := f.sync(psi)
		require.Error(t, err, "retried by the queue")
		assert.Equal(t, 300*time.Second, res.requeueAfter, "and no later than the lifecycle deadline")
		task := f.task(psi)
		assert.Equal(t, kusciav1alpha1.TaskPending, task.Status.Phase, "Pending, with startTime, from the first sync")
		assert.NotNil(t, task.Status.StartTime)
		assert.Equal(t, kusciav1alpha1.ReasonCreateFailed, task.Status.Reason)
		assert.Contains(t, task.Status.Message, "create pod alice/secretflow-task-psi-0")
		events := strings.Join(f.events(), "\n")
		assert.Contains(t, events, "Warning SyncFailed create pod alice/secretflow-task-psi-0")
		assert.Contains(t, events, "Warning CreateFailed create pod alice/secretflow-task-psi-0")
	})
}

// An AppImage and a domain created just before the task may not have
// reached the informers: the controller reads them from the API server
// before it calls them missing, and the task goes ahead instead of failing
// for good.
func TestInputsTheInformersLackAreReadFromTheAPIServer(t *testing.T) {
	f := newFixture(t, psiObjects(t)...)
	// The informers have not seen the AppImages and namespaces yet.
	require.NoError(t, f.kInf.Kuscia().V1alpha1().AppImages().Informer().GetIndexer().Replace(nil, ""))
	require.NoError(t, f.kubeInf.Core().V1().Namespaces().Informer().GetIndexer().Replace(nil, ""))
	f.refreshExcept("appimages", "namespaces")
	f.kube.ClearActions()
	f.kuscia.ClearActions()
	_, err := f.c.syncHandler(f.ctx, cache.ObjectName{Name: psi})
	require.NoError(t, err)

	task := f.task(psi)
	assert.NotEqual(t, kusciav1alpha1.TaskFailed, task.Status.Phase, "reason %s: %s", task.Status.Reason, task.Status.Message)
	var gets []string
	for _, a := range append(f.kube.Actions(), f.kuscia.Actions()...) {
		if a.GetVerb() == "get" {
			gets = append(gets, a.GetResource().Resource)
		}
	}
	assert.Contains(t, gets, "appimages")
	assert.Contains(t, gets, "namespaces")
	assert.Contains(t, f.writes(), "create pods alice/secretflow-task-psi-0", "the plan was built from what the API server holds")
}
