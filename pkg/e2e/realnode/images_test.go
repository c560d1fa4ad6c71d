//go:build realnode

package realnode

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

// The images `make image` builds, as the pods name them.
const (
	controllerImage = "kusciatask-controller:local"
	testAppImage    = "kuscia-testapp:local"
)

var laneImages struct {
	once     sync.Once
	archives []imagebuild.Archive
	err      error
}

// buildImages builds the controller and test application images with
// pkg/imagebuild (as `make image` does), once per run, under
// _output/e2e-realnode-images: [0] the controller's, [1] the test
// application's, tagged :local.
func buildImages(t *testing.T) []imagebuild.Archive {
	t.Helper()
	laneImages.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
		defer cancel()
		commit, _ := exec.Command("git", "-C", lane.root, "rev-parse", "HEAD").Output()
		start := time.Now()
		laneImages.archives, laneImages.err = imagebuild.Build(ctx, imagebuild.Options{
			Root:      lane.root,
			OutDir:    filepath.Join(lane.root, "_output", "e2e-realnode-images"),
			Version:   "local",
			Commit:    strings.TrimSpace(string(commit)),
			BuildDate: time.Now().UTC().Format(time.RFC3339),
		})
		t.Logf("images built in %s", time.Since(start).Round(time.Millisecond))
	})
	require.NoError(t, laneImages.err, "build the images")
	require.Len(t, laneImages.archives, 2)
	return laneImages.archives
}

// loadImages builds the images once and imports them into the plane's real
// node (once per plane).
func (p *plane) loadImages(t *testing.T) {
	t.Helper()
	archives := buildImages(t)
	p.imagesOnce.Do(func() {
		for _, a := range archives {
			if _, err := run(lane.root, p.env, "hack/local-up.sh", "load-image", a.Path); err != nil {
				p.imagesErr = err
				return
			}
		}
	})
	require.NoError(t, p.imagesErr, "import the images into the real node")
}

// localOverlay is deploy/overlays/local ready for `kubectl apply -k`:
// deploy/ copied to a fresh folder with the API server's node address in
// apiserver.env.
func localOverlay(t *testing.T, host, port string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "deploy")
	require.NoError(t, os.CopyFS(dst, os.DirFS(filepath.Join(lane.root, "deploy"))))
	overlay := filepath.Join(dst, "overlays", "local")
	content := "KUBERNETES_SERVICE_HOST=" + host + "\nKUBERNETES_SERVICE_PORT=" + port + "\n"
	require.NoError(t, os.WriteFile(filepath.Join(overlay, "apiserver.env"), []byte(content), 0o644))
	return overlay
}
