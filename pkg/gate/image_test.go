package gate

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"kusciatask.io/controller/pkg/version"
)

func TestDefaultImageIsTheVersionedControllerImage(t *testing.T) {
	assert.Equal(t, "kusciatask-controller:v1.2.3", ImageFor("v1.2.3"))
	assert.Equal(t, "kusciatask-controller:"+version.Get().Version, DefaultImage())
}
