package gate

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"kusciatask.io/controller/pkg/version"
)

func TestDefaultImageIsTheVersionedControllerImage(t *testing.T) {
	assert.Equal(t, "kusciatask-controller:"+version.Get().Version, DefaultImage())
}

func TestImageForMakesAValidTag(t *testing.T) {
	cases := map[string]string{
		"v1.2.3":                       "kusciatask-controller:v1.2.3",
		"5cf0041-dirty":                "kusciatask-controller:5cf0041-dirty",
		"v0.0.0-20261202-abcdef+dirty": "kusciatask-controller:v0.0.0-20261202-abcdef-dirty",
		"":                             "kusciatask-controller:v",
		"-x":                           "kusciatask-controller:v-x",
		strings.Repeat("a", 200):       "kusciatask-controller:" + strings.Repeat("a", 128),
		"v1/2 3":                       "kusciatask-controller:v1-2-3",
	}
	for in, want := range cases {
		assert.Equal(t, want, ImageFor(in), in)
	}
}
