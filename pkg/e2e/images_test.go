//go:build e2e

package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"kusciatask.io/controller/pkg/imagebuild"
)

var images struct {
	once     sync.Once
	archives []imagebuild.Archive
	err      error
}

// buildImages builds the controller and test application images as `make
// image` does, once per run, under _output/e2e-images, and returns their
// archives: [0] the controller's, [1] the test application's, each tagged
// <name>:e2e and <name>:local. A real node takes them with
// `hack/local-up.sh load-image <archive>`.
func buildImages(t *testing.T) []imagebuild.Archive {
	t.Helper()
	images.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
		defer cancel()
		commit, _ := exec.Command("git", "-C", env.root, "rev-parse", "HEAD").Output()
		images.archives, images.err = imagebuild.Build(ctx, imagebuild.Options{
			Root:      env.root,
			OutDir:    filepath.Join(env.root, "_output", "e2e-images"),
			Version:   "e2e",
			Commit:    strings.TrimSpace(string(commit)),
			BuildDate: time.Now().UTC().Format(time.RFC3339),
		})
	})
	require.NoError(t, images.err, "build the images")
	return images.archives
}

// localOverlay is deploy/overlays/local ready for `kubectl apply -k`:
// deploy/ copied to a fresh folder (the tree is never written to) with the
// API server's address for the controller's pods in apiserver.env; an empty
// host leaves the file as shipped (the kubelet's values then hold).
func localOverlay(t *testing.T, apiserverHost, apiserverPort string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "deploy")
	require.NoError(t, os.CopyFS(dst, os.DirFS(filepath.Join(env.root, "deploy"))))
	overlay := filepath.Join(dst, "overlays", "local")
	if apiserverHost != "" {
		content := "KUBERNETES_SERVICE_HOST=" + apiserverHost + "\nKUBERNETES_SERVICE_PORT=" + apiserverPort + "\n"
		require.NoError(t, os.WriteFile(filepath.Join(overlay, "apiserver.env"), []byte(content), 0o644))
	}
	return overlay
}
