package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/klog/v2/ktesting"
	"sigs.k8s.io/yaml"

	"kusciatask.io/controller/pkg/gate"
)

func controllerPod(containers ...corev1.Container) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "kusciatask-controller-abc", Namespace: "kuscia-system"},
		Spec:       corev1.PodSpec{Containers: containers},
	}
}

func TestResolveGateImage(t *testing.T) {
	inPod := map[string]string{"POD_NAME": "kusciatask-controller-abc", "POD_NAMESPACE": "kuscia-system"}
	sidecar := corev1.Container{Name: "proxy", Image: "envoy:1"}
	cases := []struct {
		name    string
		flag    string
		env     map[string]string
		objects []runtime.Object
		want    string
		wantErr string
		reads   int // GETs of the own pod
	}{
		{name: "flag wins, even in a pod", flag: "mirror.example/kusciatask-controller:v9", env: inPod,
			objects: []runtime.Object{controllerPod(corev1.Container{Name: "controller", Image: "x:1"})},
			want:    "mirror.example/kusciatask-controller:v9"},
		{name: "outside a cluster: the versioned image", env: map[string]string{"POD_NAMESPACE": "kuscia-system"},
			want: gate.DefaultImage()},
		{name: "in a pod: the container named controller", env: inPod,
			objects: []runtime.Object{controllerPod(sidecar, corev1.Container{Name: "controller", Image: "registry.example/kusciatask-controller:v2"})},
			want:    "registry.example/kusciatask-controller:v2", reads: 1},
		{name: "in a pod: its only container, whatever its name", env: inPod,
			objects: []runtime.Object{controllerPod(corev1.Container{Name: "manager", Image: "kusciatask-controller:local"})},
			want:    "kusciatask-controller:local", reads: 1},
		{name: "in a pod: several containers, none named controller", env: inPod,
			objects: []runtime.Object{controllerPod(sidecar, corev1.Container{Name: "manager", Image: "y:1"})},
			wantErr: `no container named "controller" among 2 containers`, reads: 1},
		{name: "own pod missing: an error, no guess", env: inPod,
			wantErr: `read the controller's own pod kuscia-system/kusciatask-controller-abc (or set --gate-image): pods "kusciatask-controller-abc" not found`, reads: 1},
		{name: "POD_NAME without POD_NAMESPACE", env: map[string]string{"POD_NAME": "p"},
			wantErr: "$POD_NAMESPACE is empty"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, ctx := ktesting.NewTestContext(t)
			client := fake.NewClientset(tc.objects...)
			got, err := resolveGateImage(ctx, tc.flag, func(k string) string { return tc.env[k] }, client.CoreV1())
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
			} else {
				require.NoError(t, err)
				assert.Equal(t, tc.want, got)
			}
			gets := 0
			for _, a := range client.Actions() {
				if a.Matches("get", "pods") {
					gets++
				}
			}
			assert.Equal(t, tc.reads, gets, "GETs of the controller's own pod")
		})
	}
}

// The Deployment gives the controller what resolveGateImage reads: its
// Pod's name and namespace, and a container it recognizes as its own.
func TestDeploymentLetsTheControllerFindItsImage(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "deploy", "base", "deployment.yaml"))
	require.NoError(t, err)
	var d appsv1.Deployment
	require.NoError(t, yaml.UnmarshalStrict(data, &d))
	pod := &corev1.Pod{Spec: d.Spec.Template.Spec}
	image, err := ownImage(pod)
	require.NoError(t, err)
	assert.Equal(t, d.Spec.Template.Spec.Containers[0].Image, image)
	assert.Equal(t, ownContainerName, d.Spec.Template.Spec.Containers[0].Name)
	fields := map[string]string{}
	for _, e := range d.Spec.Template.Spec.Containers[0].Env {
		if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
			fields[e.Name] = e.ValueFrom.FieldRef.FieldPath
		}
	}
	assert.Equal(t, "metadata.name", fields["POD_NAME"])
	assert.Equal(t, "metadata.namespace", fields["POD_NAMESPACE"])
}
