// Command imagetar writes a one-layer container image holding one static
// binary as an image archive (the `docker save` tarball layout, which
// `ctr images import` reads), without any container engine or registry:
//
//	go run ./hack/realnode/imagetar --binary _output/pause --name localhost/kusciatask/pause:local --out pause.tar
//
// The binary lands at /<its base name> with mode 0755 and is the image's
// entrypoint; the image runs as --user (default 65532, non-root). The real
// node of hack/local-up.sh uses it for its pod sandbox ("pause") image; it can
// wrap any static binary (a test application, say).
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"k8s.io/klog/v2"
)

func main() {
	binary := flag.String("binary", "", "static binary to put at /<base name> (required)")
	ref := flag.String("name", "", "image reference, e.g. localhost/kusciatask/pause:local (required)")
	out := flag.String("out", "", "archive to write (required)")
	user := flag.String("user", "65532:65532", "user the image runs as")
	klog.InitFlags(nil)
	flag.Parse()
	if *binary == "" || *ref == "" || *out == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := writeImage(*binary, *ref, *out, *user); err != nil {
		klog.ErrorS(err, "imagetar failed")
		klog.FlushAndExit(klog.ExitFlushTimeout, 1)
	}
}

// writeImage builds the image and writes it to out, through a temporary file
// so an interrupted run leaves no half-written archive.
func writeImage(binary, ref, out, user string) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return fmt.Errorf("image name %q: %w", ref, err)
	}
	layerTar, err := binaryLayer(binary)
	if err != nil {
		return err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	})
	if err != nil {
		return fmt.Errorf("layer: %w", err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return fmt.Errorf("append layer: %w", err)
	}
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{
		Architecture: runtime.GOARCH,
		OS:           "linux",
		Config: v1.Config{
			Entrypoint: []string{"/" + filepath.Base(binary)},
			User:       user,
			Env:        []string{"PATH=/"},
		},
		RootFS: v1.RootFS{Type: "layers", DiffIDs: mustDiffIDs(layer)},
	})
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	tmp := out + ".tmp"
	if err := tarball.WriteToFile(tmp, tag, img); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	if err := os.Rename(tmp, out); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	return nil
}

// mustDiffIDs is the layer's uncompressed digest as the config's rootfs list.
func mustDiffIDs(layer v1.Layer) []v1.Hash {
	d, err := layer.DiffID()
	if err != nil {
		return nil // mutate.ConfigFile then fails on the digest mismatch
	}
	return []v1.Hash{d}
}

// binaryLayer is an uncompressed tar holding the binary at /<base name>,
// owned by root, mode 0755, with a fixed time so the image is reproducible.
func binaryLayer(binary string) ([]byte, error) {
	data, err := os.ReadFile(binary)
	if err != nil {
		return nil, fmt.Errorf("read binary: %w", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	hdr := &tar.Header{
		Name:     filepath.Base(binary),
		Mode:     0o755,
		Size:     int64(len(data)),
		Typeflag: tar.TypeReg,
		ModTime:  time.Unix(0, 0),
		Format:   tar.FormatPAX,
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, fmt.Errorf("tar header: %w", err)
	}
	if _, err := tw.Write(data); err != nil {
		return nil, fmt.Errorf("tar: %w", err)
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("tar: %w", err)
	}
	return buf.Bytes(), nil
}
