package imagebuild

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dockerfileImage is what the Dockerfile's final stage says of the image.
type dockerfileImage struct {
	base       string   // FROM of the final stage
	copyDest   string   // COPY --from=build /out/ <dest>
	buildsCmds bool     // the build stage builds ./cmd/... into /out/
	user       string   // USER
	entrypoint []string // ENTRYPOINT, exec form
}

// parseDockerfile reads the instructions this comparison needs; line
// continuations are joined first.
func parseDockerfile(t *testing.T, path string) dockerfileImage {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var lines []string
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, "#") {
			continue
		}
		if strings.HasSuffix(l, "\\") {
			cur.WriteString(strings.TrimSuffix(l, "\\") + " ")
			continue
		}
		cur.WriteString(l)
		if s := strings.TrimSpace(cur.String()); s != "" {
			lines = append(lines, s)
		}
		cur.Reset()
	}
	require.NoError(t, sc.Err())

	var d dockerfileImage
	for _, l := range lines {
		instr, rest, _ := strings.Cut(l, " ")
		switch strings.ToUpper(instr) {
		case "FROM":
			d = dockerfileImage{buildsCmds: d.buildsCmds} // a new stage
			d.base = strings.Fields(rest)[0]
		case "RUN":
			if strings.Contains(rest, "go build") && strings.Contains(rest, "-o /out/") && strings.HasSuffix(rest, "./cmd/...") {
				d.buildsCmds = true
			}
		case "COPY":
			f := strings.Fields(rest)
			if len(f) == 3 && f[0] == "--from=build" && f[1] == "/out/" {
				d.copyDest = f[2]
			}
		case "USER":
			d.user = strings.TrimSpace(rest)
		case "ENTRYPOINT":
			require.NoError(t, json.Unmarshal([]byte(rest), &d.entrypoint), "ENTRYPOINT in exec form")
		}
	}
	return d
}

// The Dockerfile and this builder make the same image where it counts: the
// same binaries (every ./cmd/... command) at the same paths, the same user,
// the same entrypoint. The Dockerfile's base, distroless/static:nonroot,
// brings the /etc/passwd, /etc/group, /home/nonroot and /tmp this builder
// writes itself (and CA certificates, time zones and package metadata it
// leaves out).
func TestDockerfileMatchesTheBuilder(t *testing.T) {
	root := filepath.Join("..", "..")
	d := parseDockerfile(t, filepath.Join(root, "Dockerfile"))
	require.True(t, d.buildsCmds, "the Dockerfile builds ./cmd/... into /out/")
	assert.Equal(t, "gcr.io/distroless/static-debian12:nonroot", d.base, "update controllerFiles if the base changes")

	// Every command under cmd/ is what the Dockerfile ships.
	entries, err := os.ReadDir(filepath.Join(root, "cmd"))
	require.NoError(t, err)
	var cmds []string
	for _, e := range entries {
		if e.IsDir() {
			cmds = append(cmds, e.Name())
		}
	}
	want := append([]string(nil), ControllerBinaries...)
	sort.Strings(want)
	assert.Equal(t, want, cmds, "the builder ships every command the Dockerfile ships")

	s, err := ControllerSpec(binDirWith(t, ControllerBinaries...), time.Unix(0, 0), nil)
	require.NoError(t, err)
	img, err := s.Image()
	require.NoError(t, err)
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	assert.Equal(t, d.user, cf.Config.User, "USER")
	assert.Equal(t, d.entrypoint, cf.Config.Entrypoint, "ENTRYPOINT")
	files := layerFiles(t, img)
	for _, c := range cmds {
		path := strings.TrimSuffix(d.copyDest, "/") + "/" + c
		assert.Contains(t, files, path, "the Dockerfile's %s", path)
	}
}
