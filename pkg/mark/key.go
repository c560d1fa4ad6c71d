package mark

import (
	"context"
	"crypto/rand"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"
)

// SecretKey is the key of the mark key in its Secret's data.
const SecretKey = "key"

// DefaultSecretName is the name of the Secret that holds the mark key, in
// the controller's own namespace.
const DefaultSecretName = "kusciatask-controller-mark-key"

// LoadOrCreateKey reads the mark key from the Secret namespace/name, and
// creates that Secret with KeySize random bytes when it does not exist.
// Two replicas starting at once may both try to create it: the one that
// loses reads the winner's. Domain users must not be able to read Secrets
// in that namespace: whoever holds the key can mark pods. The key is never
// rotated (a new key would disown every running task's pods); to rotate it,
// delete the Secret while no task runs and restart the controller.
func LoadOrCreateKey(ctx context.Context, client kubernetes.Interface, namespace, name string) ([]byte, error) {
	secrets := client.CoreV1().Secrets(namespace)
	s, err := secrets.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		s, err = createKeySecret(ctx, client, namespace, name)
		if apierrors.IsAlreadyExists(err) {
			s, err = secrets.Get(ctx, name, metav1.GetOptions{})
		}
	}
	if err != nil {
		return nil, fmt.Errorf("mark key secret %s/%s: %w", namespace, name, err)
	}
	key := s.Data[SecretKey]
	if len(key) < KeySize {
		return nil, fmt.Errorf("mark key secret %s/%s: data %q has %d bytes, needs at least %d", namespace, name, SecretKey, len(key), KeySize)
	}
	return key, nil
}

func createKeySecret(ctx context.Context, client kubernetes.Interface, namespace, name string) (*corev1.Secret, error) {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("make a mark key: %w", err)
	}
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace,
			Labels: map[string]string{"app.kubernetes.io/name": "kusciatask-controller"}},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{SecretKey: key},
	}
	created, err := client.CoreV1().Secrets(namespace).Create(ctx, s, metav1.CreateOptions{FieldManager: "kusciatask-controller"})
	if err == nil {
		klog.FromContext(ctx).Info("Created the mark key secret", "secret", klog.KObj(s))
	}
	return created, err
}
