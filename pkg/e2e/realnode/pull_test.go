//go:build realnode

package realnode

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kusciatask.io/controller/examples"
	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// TestImageNeverPulled: bob's AppImage names an image the node does not
// have, never pulled. His gate, which runs from that image while the task
// is reserved (--pull-during-reservation), cannot be created
// (ErrImageNeverPull): no round could help, so the task fails at once with
// reason ImageUnavailable, and its failure names bob's pod and the image.
func TestImageNeverPulled(t *testing.T) {
	p := taskPlane(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	const missing = "kuscia-missing:local"

	img, err := examples.AppImage(examples.TestAppImageFile)
	require.NoError(t, err)
	img.Name = "testapp-missing"
	img.Spec.Image.Name = "kuscia-missing"
	img.Spec.Image.Tag = "local"
	_, err = p.kuscia.KusciaV1alpha1().AppImages().Create(ctx, img, metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		require.NoError(t, err)
	}
	t.Cleanup(func() {
		_ = p.kuscia.KusciaV1alpha1().AppImages().Delete(context.Background(), img.Name, metav1.DeleteOptions{})
	})

	task := testAppTask(t, examples.PSITaskFile, "pull-psi")
	for i := range task.Spec.Parties {
		if task.Spec.Parties[i].DomainID == "bob" {
			task.Spec.Parties[i].AppImageRef = img.Name
		}
	}
	p.createTask(t, task)
	done := p.waitTaskPhase(ctx, t, task.Name, kusciav1alpha1.TaskFailed, 5*time.Minute)

	pods := p.taskPods(ctx, t, task.Name, "bob")
	require.Len(t, pods, 1)
	pod := pods[0]
	assert.Equal(t, missing, pod.Spec.Containers[0].Image)
	ps := done.Status.PodStatuses["bob/"+pod.Name]
	require.NotNil(t, ps, "podStatuses %+v", done.Status.PodStatuses)
	assert.Equal(t, "ErrImageNeverPull", ps.Reason)
	assert.Contains(t, ps.Message, missing)

	var bob *kusciav1alpha1.PartyTaskStatus
	for i := range done.Status.PartyTaskStatus {
		if done.Status.PartyTaskStatus[i].DomainID == "bob" {
			bob = &done.Status.PartyTaskStatus[i]
		}
	}
	require.NotNil(t, bob)
	assert.Equal(t, kusciav1alpha1.TaskFailed, bob.Phase)
	assert.Contains(t, bob.Message, "bob/"+pod.Name)
	assert.Contains(t, bob.Message, "ErrImageNeverPull")
	assert.Contains(t, bob.Message, missing)
	assert.Equal(t, kusciav1alpha1.ReasonImageUnavailable, done.Status.Reason)
	assert.Nil(t, done.Status.Reservation.GateOpenedTime, "failed before any gate opened")
	assert.Contains(t, done.Status.Message, "bob/"+pod.Name, "task message")
	assert.Contains(t, done.Status.Message, missing, "task message")
}
