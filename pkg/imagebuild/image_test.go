package imagebuild

import (
	"archive/tar"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	staticOnce sync.Once
	staticBin  string
	staticErr  error
)

// staticBinary compiles testdata/static once, static, and returns its path.
func staticBinary(t *testing.T) string {
	t.Helper()
	staticOnce.Do(func() {
		dir, err := os.MkdirTemp("", "imagebuild-static-")
		if err != nil {
			staticErr = err
			return
		}
		staticBin = filepath.Join(dir, "static")
		cmd := exec.Command("go", "build", "-trimpath", "-o", staticBin, "./testdata/static")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			staticErr = err
			t.Log(string(out))
		}
	})
	require.NoError(t, staticErr)
	return staticBin
}

// binDirWith puts the static binary under each name in a fresh folder.
func binDirWith(t *testing.T, names ...string) string {
	t.Helper()
	b, err := os.ReadFile(staticBinary(t))
	require.NoError(t, err)
	dir := t.TempDir()
	for _, n := range names {
		require.NoError(t, os.WriteFile(filepath.Join(dir, n), b, 0o755))
	}
	return dir
}

func TestCheckStatic(t *testing.T) {
	require.NoError(t, CheckStatic(staticBinary(t)))

	notELF := filepath.Join(t.TempDir(), "script")
	require.NoError(t, os.WriteFile(notELF, []byte("#!/bin/sh\necho hi\n"), 0o755))
	assert.ErrorContains(t, CheckStatic(notELF), "not an ELF binary")

	// The machine's own dynamically linked tools (Debian's are).
	for _, dyn := range []string{"/bin/ls", "/usr/bin/env"} {
		if _, err := os.Stat(dyn); err != nil {
			continue
		}
		assert.ErrorContains(t, CheckStatic(dyn), "dynamically linked", dyn)
	}
}

// layerFile is what the tests read back from an image's layer.
type layerFile struct {
	mode     int64
	uid, gid int
	dir      bool
	size     int64
}

func layerFiles(t *testing.T, img v1.Image) map[string]layerFile {
	t.Helper()
	layers, err := img.Layers()
	require.NoError(t, err)
	require.Len(t, layers, 1, "one layer")
	rc, err := layers[0].Uncompressed()
	require.NoError(t, err)
	defer rc.Close()
	files := map[string]layerFile{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		files["/"+strings.TrimSuffix(h.Name, "/")] = layerFile{mode: h.Mode, uid: h.Uid, gid: h.Gid, dir: h.Typeflag == tar.TypeDir, size: h.Size}
	}
	return files
}

func TestControllerImage(t *testing.T) {
	created := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	s, err := ControllerSpec(binDirWith(t, ControllerBinaries...), created, map[string]string{"org.opencontainers.image.version": "v1.2.3"})
	require.NoError(t, err)
	img, err := s.Image()
	require.NoError(t, err)

	cf, err := img.ConfigFile()
	require.NoError(t, err)
	assert.Equal(t, "65532:65532", cf.Config.User)
	assert.Equal(t, []string{"/usr/local/bin/kusciatask-controller"}, cf.Config.Entrypoint)
	assert.Empty(t, cf.Config.Cmd)
	assert.Equal(t, []string{"PATH=" + DefaultPath}, cf.Config.Env)
	assert.Equal(t, "linux", cf.OS)
	assert.Equal(t, created, cf.Created.Time.UTC())
	assert.Equal(t, "v1.2.3", cf.Config.Labels["org.opencontainers.image.version"])

	files := layerFiles(t, img)
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	assert.Equal(t, []string{
		"/etc", "/etc/group", "/etc/passwd", "/home", "/home/nonroot", "/tmp",
		"/usr", "/usr/local", "/usr/local/bin",
		"/usr/local/bin/kubectl-kuscia", "/usr/local/bin/kuscia-gate", "/usr/local/bin/kusciatask-controller",
	}, names, "the binaries and the few files a non-root static image needs, nothing else")
	for _, b := range ControllerBinaries {
		f := files["/usr/local/bin/"+b]
		assert.Equal(t, int64(0o755), f.mode, b)
		assert.Equal(t, 0, f.uid, "binaries belong to root: the user cannot change them")
		assert.NotZero(t, f.size, b)
	}
	assert.Equal(t, layerFile{mode: 0o1777, dir: true}, files["/tmp"])
	assert.Equal(t, layerFile{mode: 0o700, uid: 65532, gid: 65532, dir: true}, files["/home/nonroot"])
	assert.Contains(t, string(controllerFiles()[1].content), "nonroot:x:65532:65532:", "/etc/passwd names the user")
}

func TestTestAppImage(t *testing.T) {
	s, err := TestAppSpec(binDirWith(t, TestAppName), time.Unix(0, 0), nil)
	require.NoError(t, err)
	img, err := s.Image()
	require.NoError(t, err)
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	assert.Equal(t, "65532:65532", cf.Config.User)
	assert.Equal(t, []string{"/usr/local/bin/kuscia-testapp"}, cf.Config.Entrypoint)
	files := layerFiles(t, img)
	assert.Len(t, files, 4, "the binary and its folders: %v", files)
	assert.Equal(t, int64(0o755), files["/usr/local/bin/kuscia-testapp"].mode)
}

func TestSpecRefusesADynamicBinary(t *testing.T) {
	if _, err := os.Stat("/bin/ls"); err != nil {
		t.Skip("no /bin/ls to stand for a dynamic binary")
	}
	dir := t.TempDir()
	b, err := os.ReadFile("/bin/ls")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, TestAppName), b, 0o755))
	_, err = TestAppSpec(dir, time.Unix(0, 0), nil)
	assert.ErrorContains(t, err, "dynamically linked")
}

// The archive is a docker-archive: manifest.json lists every tag for the
// one image, as `ctr images import` and `docker load` read it.
func TestWriteArchive(t *testing.T) {
	s, err := TestAppSpec(binDirWith(t, TestAppName), time.Unix(0, 0), nil)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "images", TestAppArchive)
	a, err := WriteArchive(path, s, "kuscia-testapp:v1.2.3", "kuscia-testapp:local")
	require.NoError(t, err)
	assert.Equal(t, Archive{Path: path, Refs: []string{"kuscia-testapp:v1.2.3", "kuscia-testapp:local"}}, a)

	manifest := readManifest(t, path)
	require.Len(t, manifest, 1, "one image")
	assert.ElementsMatch(t, []string{"kuscia-testapp:v1.2.3", "kuscia-testapp:local"}, manifest[0].RepoTags)

	want, err := s.Image()
	require.NoError(t, err)
	// The image ID (the config's digest, which names the layers'
	// uncompressed digests): a docker-archive keeps the config and layers
	// but not the manifest, which importers write anew.
	wantID, err := want.ConfigName()
	require.NoError(t, err)
	for _, ref := range a.Refs {
		tag, err := name.NewTag(ref)
		require.NoError(t, err)
		got, err := tarball.ImageFromPath(path, &tag)
		require.NoError(t, err, ref)
		id, err := got.ConfigName()
		require.NoError(t, err)
		assert.Equal(t, wantID, id, "the archive holds the image built, under %s", ref)
	}

	_, err = WriteArchive(filepath.Join(t.TempDir(), "x.tar"), s, "Not A Ref:!")
	assert.ErrorContains(t, err, `image reference "Not A Ref:!"`)
}

func readManifest(t *testing.T, path string) tarball.Manifest {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		require.NoError(t, err, "manifest.json in the archive")
		if h.Name == "manifest.json" {
			var m tarball.Manifest
			require.NoError(t, json.NewDecoder(tr).Decode(&m))
			return m
		}
	}
}

func TestCreationTime(t *testing.T) {
	assert.Equal(t, time.Date(2026, 12, 2, 12, 42, 0, 0, time.UTC), creationTime("2026-12-02T12:42:00Z"))
	assert.Equal(t, time.Unix(0, 0).UTC(), creationTime("unknown"))
}
