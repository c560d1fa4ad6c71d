// Command image is `make image`: it builds the controller image and the
// test application image without a container engine (pkg/imagebuild) and
// writes them as docker-archive tarballs under --out, printing each image
// reference it built, one per line.
//
//	go run ./hack/image --version=v0.2.0 --commit=$(git rev-parse HEAD) \
//	  --build-date=$(date -u +%Y-%m-%dT%H:%M:%SZ) [--image=registry.example.com/kusciatask-controller:v0.2.0]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"kusciatask.io/controller/pkg/imagebuild"
)

func main() {
	var o imagebuild.Options
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	fs.StringVar(&o.Root, "root", ".", "The module's root.")
	fs.StringVar(&o.OutDir, "out", "_output/images", "Folder for the archives (and the binaries, under bin/).")
	fs.StringVar(&o.Version, "version", "", "Version stamped into the binaries and tagging the images (required).")
	fs.StringVar(&o.Commit, "commit", "unknown", "Commit stamped into the binaries.")
	fs.StringVar(&o.BuildDate, "build-date", "unknown", "Build date (RFC 3339) stamped into the binaries and the images.")
	fs.StringVar(&o.ControllerImage, "image", "", "The controller image's reference; empty means "+imagebuild.ControllerName+":<version>.")
	fs.StringVar(&o.TestAppImage, "testapp-image", "", "The test application image's reference; empty means "+imagebuild.TestAppName+":<version>.")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	archives, err := imagebuild.Build(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "make image:", err)
		os.Exit(1)
	}
	for _, a := range archives {
		for _, ref := range a.Refs {
			fmt.Printf("%s\t%s\n", ref, a.Path)
		}
	}
}
