package gate

import (
	"strings"

	"kusciatask.io/controller/pkg/version"
)

// DefaultImage is the image `make image` builds for this binary's version,
// ImageName:<version> (kusciatask-controller:v0.0.0-dev for a plain
// `go build`): the gate image of a controller that runs outside a cluster
// and is not given --gate-image. In a pod, the controller uses its own
// container's image instead (cmd/kusciatask-controller).
func DefaultImage() string {
	return ImageFor(version.Get().Version)
}

// ImageFor is the controller image of version v: ImageName:v, with any
// character a tag cannot hold (the Go toolchain's "+dirty" suffix, say)
// replaced by "-", so the reference is always valid.
func ImageFor(v string) string {
	tag := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
			return r
		}
		return '-'
	}, v)
	// A tag starts with a word character and has at most 128.
	if tag == "" || tag[0] == '.' || tag[0] == '-' {
		tag = "v" + tag
	}
	if len(tag) > 128 {
		tag = tag[:128]
	}
	return ImageName + ":" + tag
}
