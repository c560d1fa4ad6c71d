package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"kusciatask.io/controller/pkg/generated/clientset/versioned"
)

// The client of built-in types speaks protobuf; the client of KusciaTasks
// and AppImages keeps JSON (custom resources have no protobuf).
func TestBuiltInTypesSpeakProtobufAndCustomResourcesJSON(t *testing.T) {
	var mu sync.Mutex
	accept := map[string]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		accept[r.URL.Path] = r.Header.Get("Accept")
		mu.Unlock()
		http.Error(w, "not here", http.StatusNotFound)
	}))
	defer srv.Close()
	cfg := &rest.Config{Host: srv.URL}

	kube, err := kubernetes.NewForConfig(builtInTypesConfig(cfg))
	require.NoError(t, err)
	kuscia, err := versioned.NewForConfig(cfg)
	require.NoError(t, err)
	ctx := context.Background()
	_, _ = kube.CoreV1().Pods("alice").Get(ctx, "p", metav1.GetOptions{})
	_, _ = kuscia.KusciaV1alpha1().KusciaTasks().Get(ctx, "t", metav1.GetOptions{})

	assert.Equal(t, "application/vnd.kubernetes.protobuf,application/json", accept["/api/v1/namespaces/alice/pods/p"])
	assert.Equal(t, "application/json, */*", accept["/apis/kuscia.secretflow/v1alpha1/kusciatasks/t"])
	assert.Empty(t, cfg.ContentType, "the shared config is not changed")
}
