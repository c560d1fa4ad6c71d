package gate

import "kusciatask.io/controller/pkg/version"

// DefaultImage is the image `make image` builds for this binary's version,
// ImageName:<version> (kusciatask-controller:v0.0.0-dev for a plain
// `go build`): the gate image of a controller that runs outside a cluster
// and is not given --gate-image. In a pod, the controller uses its own
// container's image instead (cmd/kusciatask-controller).
func DefaultImage() string {
	return ImageFor(version.Get().Version)
}

// ImageFor is the controller image of the given version: ImageName:v.
func ImageFor(v string) string {
	return ImageName + ":" + v
}
