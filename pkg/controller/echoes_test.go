package controller

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"k8s.io/klog/v2/ktesting"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

func TestOwnWrites(t *testing.T) {
	t.Run("the echo after the response", func(t *testing.T) {
		w := newOwnWrites()
		w.begin("t")
		assert.False(t, w.end("t", "5"))
		assert.False(t, w.echo("t", "4"), "someone else's write before ours")
		assert.True(t, w.echo("t", "5"))
		assert.False(t, w.echo("t", "5"), "an echo is seen once")
		assert.Empty(t, w.byTask)
	})
	t.Run("the echo before the response", func(t *testing.T) {
		w := newOwnWrites()
		w.begin("t")
		assert.True(t, w.echo("t", "5"), "parked while the write is in flight")
		assert.False(t, w.end("t", "5"), "it was ours")
		assert.Empty(t, w.byTask)
	})
	t.Run("someone else's write while ours is in flight", func(t *testing.T) {
		w := newOwnWrites()
		w.begin("t")
		assert.True(t, w.echo("t", "4"))
		assert.True(t, w.end("t", ""), "our write failed (a conflict): theirs must be queued")
		w.begin("t")
		assert.True(t, w.echo("t", "6"))
		assert.True(t, w.end("t", "5"), "ours came first: theirs must be queued")
		assert.True(t, w.echo("t", "5"), "and ours is still known")
	})
	t.Run("a deleted task is forgotten", func(t *testing.T) {
		w := newOwnWrites()
		w.begin("t")
		w.end("t", "5")
		w.forget("t")
		assert.False(t, w.echo("t", "5"))
	})
}

// A status-only update that is the controller's own write's echo is not
// queued; a status written by anyone else, a resync and a spec change
// are.
func TestTaskUpdatesQueued(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	old := seedTask(t, "secretflow-task-psi.yaml")
	old.ResourceVersion = "1"
	ours := old.DeepCopy()
	ours.ResourceVersion, ours.Status.Phase = "2", kusciav1alpha1.TaskRunning
	theirs := old.DeepCopy()
	theirs.ResourceVersion, theirs.Status.Phase = "3", kusciav1alpha1.TaskSucceeded
	respec := ours.DeepCopy()
	respec.Spec.Initiator = "bob"

	cases := []struct {
		name string
		old  *kusciav1alpha1.KusciaTask
		new  *kusciav1alpha1.KusciaTask
		want []string
	}{
		{"own write's echo", old, ours, nil},
		{"someone else's status (tampering)", old, theirs, []string{psi}},
		{"resync", old, old, []string{psi}},
		{"spec changed at our resourceVersion", old, respec, []string{psi}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.c.ownWrites.begin(psi)
			f.c.endOwnWrite(psi, "2")
			f.c.enqueueTaskUpdate(logger, tc.old, tc.new)
			assert.Equal(t, tc.want, queued(f.c))
		})
	}
	t.Run("echo before the response, then someone else's", func(t *testing.T) {
		f := newFixture(t)
		f.c.ownWrites.begin(psi)
		f.c.enqueueTaskUpdate(logger, old, theirs)
		assert.Empty(t, queued(f.c), "parked")
		f.c.endOwnWrite(psi, "2")
		assert.Equal(t, []string{psi}, queued(f.c), "queued once the write says it was not ours")
	})
}
