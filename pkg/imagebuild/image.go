package imagebuild

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"runtime"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// spec is one image: its files, in the order they go in its one layer,
// and its config.
type spec struct {
	files      []entry
	entrypoint []string
	workingDir string
	created    time.Time // also every file's mtime: the same inputs give the same image
	labels     map[string]string
}

// image assembles s: one uncompressed-then-gzipped layer on an empty base,
// linux/GOARCH, OCI media types.
func (s spec) image() (v1.Image, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range s.files {
		if err := tw.WriteHeader(e.header(s.created)); err != nil {
			return nil, fmt.Errorf("layer: %s: %w", e.path, err)
		}
		if !e.dir {
			if _, err := tw.Write(e.content); err != nil {
				return nil, fmt.Errorf("layer: %s: %w", e.path, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	data := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	img, err := mutate.Append(base, mutate.Addendum{
		Layer:     layer,
		History:   v1.History{Created: v1.Time{Time: s.created}, CreatedBy: "hack/image (pkg/imagebuild)", Comment: "static binaries"},
		MediaType: types.OCILayer,
	})
	if err != nil {
		return nil, fmt.Errorf("append layer: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Created = v1.Time{Time: s.created}
	cf.Config.User = NonRootUser
	cf.Config.Entrypoint = s.entrypoint
	cf.Config.Cmd = nil
	cf.Config.Env = []string{"PATH=" + DefaultPath}
	cf.Config.WorkingDir = s.workingDir
	cf.Config.Labels = s.labels
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return mutate.CreatedAt(img, v1.Time{Time: s.created})
}
