package security

import (
	"testing"

	psapi "k8s.io/pod-security-admission/api"
)

// FuzzFor: any namespace labels give valid requirements that are never
// looser than the controller's level; labels the PodSecurity admission
// plugin cannot parse give restricted, as that plugin does.
func FuzzFor(f *testing.F) {
	for _, seed := range [][3]string{
		{"baseline", "", ""}, {"restricted", "restricted", "v1.24"}, {"privileged", "privileged", "latest"},
		{"baseline", "lenient", ""}, {"restricted", "baseline", "v1.0"}, {"baseline", "", "yesterday"},
	} {
		f.Add(seed[0], seed[1], seed[2], true)
	}
	f.Fuzz(func(t *testing.T, controller, enforce, version string, hasEnforce bool) {
		labels := map[string]string{psapi.EnforceVersionLabel: version}
		if hasEnforce {
			labels[psapi.EnforceLevelLabel] = enforce
		}
		level := psapi.Level(controller)
		req := For(level, namespace(labels))
		if !level.Valid() {
			level = DefaultLevel
		}
		if len(req.Levels) == 0 || len(req.Levels) > 2 {
			t.Fatalf("want 1 or 2 levels, got %v", req.Levels)
		}
		for i, r := range req.Levels {
			if !r.Level.Valid() {
				t.Fatalf("invalid level %q", r.Level)
			}
			if i > 0 && psapi.CompareLevels(r.Level, req.Levels[i-1].Level) > 0 {
				t.Fatalf("levels not strictest first: %v", req.Levels)
			}
		}
		if psapi.CompareLevels(req.Levels[0].Level, level) < 0 {
			t.Fatalf("requirements %v looser than the controller's %s", req.Levels, level)
		}
		if _, err := psapi.ParseLevel(enforce); hasEnforce && err != nil && req.Levels[0].Level != psapi.LevelRestricted {
			t.Fatalf("invalid enforce label %q must mean restricted, got %v", enforce, req.Levels)
		}
		// Evaluating never panics, whatever the levels.
		_ = Check(req, pod(nil))
	})
}
