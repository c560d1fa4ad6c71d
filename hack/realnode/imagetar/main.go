// Command imagetar writes an image of one static binary as an image archive
// (the `docker save` tarball layout, which `ctr images import` reads),
// without any container engine or registry:
//
//	go run ./hack/realnode/imagetar --binary _output/pause --name localhost/kusciatask/pause:local --out pause.tar
//
// The image is pkg/imagebuild's BinarySpec: the binary at /usr/local/bin/<its
// base name>, the entrypoint, run as the non-root user 65532. The real node
// of hack/local-up.sh uses it for its pod sandbox ("pause") image.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"k8s.io/klog/v2"

	"kusciatask.io/controller/pkg/imagebuild"
)

func main() {
	binary := flag.String("binary", "", "static binary to put in the image (required)")
	ref := flag.String("name", "", "image reference, e.g. localhost/kusciatask/pause:local (required)")
	out := flag.String("out", "", "archive to write (required)")
	klog.InitFlags(nil)
	flag.Parse()
	if *binary == "" || *ref == "" || *out == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := writeImage(*binary, *ref, *out); err != nil {
		klog.ErrorS(err, "imagetar failed")
		klog.FlushAndExit(klog.ExitFlushTimeout, 1)
	}
}

// writeImage writes the image to out through a temporary file, so an
// interrupted run leaves no half-written archive. The creation time is
// fixed, so the same binary always makes the same image.
func writeImage(binary, ref, out string) error {
	spec, err := imagebuild.BinarySpec(binary, time.Unix(0, 0).UTC(), nil)
	if err != nil {
		return fmt.Errorf("image of %s: %w", binary, err)
	}
	tmp := out + ".tmp"
	if _, err := imagebuild.WriteArchive(tmp, spec, ref); err != nil {
		return err
	}
	if err := os.Rename(tmp, out); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	return nil
}
