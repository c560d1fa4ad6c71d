package main

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"

	"kusciatask.io/controller/pkg/gate"
)

// ownContainerName is the controller's container in deploy/base/deployment.yaml.
const ownContainerName = "controller"

// resolveGateImage is the gate image when --gate-image is empty (flag is
// returned as it is otherwise):
//
//   - in a pod ($POD_NAME and $POD_NAMESPACE, from the downward API), the
//     image of the controller's own container, as its Pod's spec names it;
//   - outside a cluster ($POD_NAME unset), gate.DefaultImage(), the
//     versioned image `make image` builds.
//
// The spec's image, not the status's imageID: the gate's init container is
// pulled by every node a task lands on, by the same reference (and pull
// secrets, mirrors) the Deployment's pods use; an imageID is a digest the
// node resolved, which a node of another registry mirror may not serve.
//
// A controller in a pod that cannot read its Pod, or finds no container to
// follow, fails: falling back to the versioned name there would hold every
// task pod on an image its nodes may never pull.
func resolveGateImage(ctx context.Context, flag string, getenv func(string) string, pods typedcorev1.PodsGetter) (string, error) {
	if flag != "" {
		return flag, nil
	}
	name := strings.TrimSpace(getenv("POD_NAME"))
	if name == "" {
		return gate.DefaultImage(), nil
	}
	namespace := strings.TrimSpace(getenv("POD_NAMESPACE"))
	if namespace == "" {
		return "", fmt.Errorf("gate image: $POD_NAME is %q but $POD_NAMESPACE is empty; set both through the downward API, or set --gate-image", name)
	}
	pod, err := pods.Pods(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("gate image: read the controller's own pod %s/%s (or set --gate-image): %w", namespace, name, err)
	}
	image, err := ownImage(pod)
	if err != nil {
		return "", fmt.Errorf("gate image: pod %s/%s: %w", namespace, name, err)
	}
	return image, nil
}

// ownImage is the image of the controller's container in its own pod: the
// container named ownContainerName, else the pod's only container.
func ownImage(pod *corev1.Pod) (string, error) {
	for _, c := range pod.Spec.Containers {
		if c.Name == ownContainerName {
			return c.Image, nil
		}
	}
	if len(pod.Spec.Containers) == 1 {
		return pod.Spec.Containers[0].Image, nil
	}
	return "", fmt.Errorf("no container named %q among %d containers; set --gate-image", ownContainerName, len(pod.Spec.Containers))
}
