// Package version holds the build's version, commit and date, set at link
// time by the Makefile and the Dockerfile:
//
//	go build -ldflags "-X kusciatask.io/controller/pkg/version.version=v0.2.0 \
//	  -X kusciatask.io/controller/pkg/version.commit=$(git rev-parse HEAD) \
//	  -X kusciatask.io/controller/pkg/version.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
//
// A plain `go build` leaves them unset; Get then falls back to what the Go
// toolchain recorded in the binary (the VCS revision and time, when built in
// a checkout).
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set by -ldflags -X; see the package comment.
var (
	version   string
	commit    string
	buildDate string
)

// Info describes a build.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	BuildDate string `json:"buildDate"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Get returns the running binary's build information.
func Get() Info {
	return resolve(version, commit, buildDate, readBuildInfo)
}

// String is the one line `--version` prints.
func (i Info) String() string {
	return fmt.Sprintf("%s (commit %s, built %s, %s %s)", i.Version, i.Commit, i.BuildDate, i.GoVersion, i.Platform)
}

func readBuildInfo() (*debug.BuildInfo, bool) { return debug.ReadBuildInfo() }

// resolve fills what the linker did not set from the binary's build info,
// then "unknown".
func resolve(v, c, d string, buildInfo func() (*debug.BuildInfo, bool)) Info {
	if bi, ok := buildInfo(); ok {
		if v == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				c = orDefault(c, s.Value)
			case "vcs.time":
				d = orDefault(d, s.Value)
			}
		}
	}
	return Info{
		Version:   orDefault(v, "v0.0.0-dev"),
		Commit:    orDefault(c, "unknown"),
		BuildDate: orDefault(d, "unknown"),
		GoVersion: runtime.Version(),
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
