package version

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestResolve(t *testing.T) {
	vcs := func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{
			Main: debug.Module{Version: "(devel)"},
			Settings: []debug.BuildSetting{
				{Key: "vcs.revision", Value: "abc123"},
				{Key: "vcs.time", Value: "2026-11-27T10:00:00Z"},
			},
		}, true
	}
	none := func() (*debug.BuildInfo, bool) { return nil, false }

	tests := []struct {
		name                string
		v, c, d             string
		buildInfo           func() (*debug.BuildInfo, bool)
		wantV, wantC, wantD string
	}{
		{"linker flags win", "v1.2.3", "deadbeef", "2026-01-01T00:00:00Z", vcs, "v1.2.3", "deadbeef", "2026-01-01T00:00:00Z"},
		{"VCS stamp fills the gaps", "", "", "", vcs, "v0.0.0-dev", "abc123", "2026-11-27T10:00:00Z"},
		{"nothing known", "", "", "", none, "v0.0.0-dev", "unknown", "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := resolve(tt.v, tt.c, tt.d, tt.buildInfo)
			assert.Equal(t, tt.wantV, got.Version)
			assert.Equal(t, tt.wantC, got.Commit)
			assert.Equal(t, tt.wantD, got.BuildDate)
			assert.NotEmpty(t, got.GoVersion)
			assert.Contains(t, got.String(), tt.wantV)
			assert.Contains(t, got.String(), tt.wantC)
		})
	}
}
