package controller

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	core "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// creates are the create actions among writes.
func creates(writes []string) []string {
	var out []string
	for _, w := range writes {
		if strings.HasPrefix(w, "create ") {
			out = append(out, w)
		}
	}
	return out
}

// A task with more objects than one sync creates is created over several
// syncs, each object once and in order, each sync asking for the next.
func TestLargeTaskIsCreatedInChunks(t *testing.T) {
	f := newFixture(t, psiObjects(t)...)
	f.c.createChunk = 3
	var all []string
	var chunks []int
	for range 10 {
		res := f.mustSync(psi)
		got := creates(f.writes())
		if len(got) == 0 {
			assert.False(t, res.requeue, "nothing left to create, nothing to hurry")
			break
		}
		all = append(all, got...)
		chunks = append(chunks, len(got))
		assert.Equal(t, len(all) < len(psiCreates()), res.requeue, "a sync that left objects out asks for the next one at once")
	}
	assert.Equal(t, psiCreates(), all, "every object once, in creation order")
	assert.Equal(t, []int{3, 3, 3, 1}, chunks)
	assert.Equal(t, kusciav1alpha1.TaskPending, f.task(psi).Status.Phase)
}

// Deleting a task (or replacing it with a new one of the same name) while
// its children are being created stops the creation at the next object,
// without an error or a retry.
func TestDeletingATaskStopsItsCreation(t *testing.T) {
	for name, change := range map[string]func(f *fixture, task *kusciav1alpha1.KusciaTask){
		"deleted": func(f *fixture, task *kusciav1alpha1.KusciaTask) {
			require.NoError(t, f.kInf.Kuscia().V1alpha1().KusciaTasks().Informer().GetIndexer().Delete(task))
		},
		"replaced by a new task of the same name": func(f *fixture, task *kusciav1alpha1.KusciaTask) {
			newer := task.DeepCopy()
			newer.UID = types.UID("another-uid")
			newer.ResourceVersion = "99"
			require.NoError(t, f.kInf.Kuscia().V1alpha1().KusciaTasks().Informer().GetIndexer().Update(newer))
		},
		"being deleted": func(f *fixture, task *kusciav1alpha1.KusciaTask) {
			deleting := task.DeepCopy()
			now := deleting.CreationTimestamp
			deleting.DeletionTimestamp = &now
			deleting.ResourceVersion = "99"
			require.NoError(t, f.kInf.Kuscia().V1alpha1().KusciaTasks().Informer().GetIndexer().Update(deleting))
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, psiObjects(t)...)
			made := 0
			f.kube.PrependReactor("create", "*", func(core.Action) (bool, runtime.Object, error) {
				made++
				if made == 2 {
					change(f, f.task(psi))
				}
				return false, nil, nil
			})
			res, err := f.sync(psi)
			require.NoError(t, err)
			assert.Len(t, creates(f.writes()), 2, "nothing is created after the task went")
			assert.False(t, res.requeue)
			assert.Zero(t, res.requeueAfter)
		})
	}
}

// A cancelled sync (the controller shutting down) creates nothing more and
// says so, to be retried by the next leader.
func TestCancelledSyncStopsCreating(t *testing.T) {
	f := newFixture(t, psiObjects(t)...)
	ctx, cancel := context.WithCancel(f.ctx)
	made := 0
	f.kube.PrependReactor("create", "*", func(core.Action) (bool, runtime.Object, error) {
		made++
		if made == 1 {
			cancel()
		}
		return false, nil, nil
	})
	f.refresh()
	f.kube.ClearActions()
	_, err := f.c.syncHandler(ctx, cache.ObjectName{Name: psi})
	assert.ErrorIs(t, err, context.Canceled)
	assert.Len(t, creates(f.writes()), 1)
}
