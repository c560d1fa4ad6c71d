package imagebuild

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Options say what to build and where.
type Options struct {
	// Root is the module's root (the folder holding go.mod).
	Root string
	// OutDir receives the archives, and the binaries under OutDir/bin.
	OutDir string
	// Version, Commit and BuildDate are stamped into the binaries as `make
	// build` stamps them; Version tags the images; BuildDate (RFC 3339) is
	// the images' creation time, or the Unix epoch when it does not parse.
	Version, Commit, BuildDate string
	// ControllerImage and TestAppImage are the images' references;
	// empty means ControllerName:Version and TestAppName:Version.
	ControllerImage, TestAppImage string
	// Go is the go command; empty means "go".
	Go string
}

// Archive is one image archive written, and the references it carries.
type Archive struct {
	Path string
	Refs []string
}

// Archive file names under Options.OutDir.
const (
	ControllerArchive = ControllerName + ".tar"
	TestAppArchive    = TestAppName + ".tar"
)

// Build compiles the binaries (static, stamped) and writes the controller
// image and the test application image under o.OutDir.
func Build(ctx context.Context, o Options) ([]Archive, error) {
	if o.Version == "" {
		return nil, fmt.Errorf("imagebuild: no version to tag the images with")
	}
	binDir := filepath.Join(o.OutDir, "bin")
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return nil, err
	}
	pkgs := make([]string, 0, len(ControllerBinaries))
	for _, b := range ControllerBinaries {
		pkgs = append(pkgs, "./cmd/"+b)
	}
	if err := o.compile(ctx, binDir+string(filepath.Separator), pkgs...); err != nil {
		return nil, err
	}
	if err := o.compile(ctx, filepath.Join(binDir, TestAppName), TestAppPackage); err != nil {
		return nil, err
	}
	created := creationTime(o.BuildDate)
	labels := map[string]string{
		"org.opencontainers.image.version":  o.Version,
		"org.opencontainers.image.revision": o.Commit,
		"org.opencontainers.image.created":  created.Format(time.RFC3339),
	}

	controller, err := ControllerSpec(binDir, created, labels)
	if err != nil {
		return nil, err
	}
	testApp, err := TestAppSpec(binDir, created, labels)
	if err != nil {
		return nil, err
	}
	var out []Archive
	for _, img := range []struct {
		spec     Spec
		ref      string
		name     string
		fileName string
	}{
		{controller, o.ControllerImage, ControllerName, ControllerArchive},
		{testApp, o.TestAppImage, TestAppName, TestAppArchive},
	} {
		refs := []string{img.ref, img.name + ":" + LocalTag}
		if img.ref == "" {
			refs[0] = img.name + ":" + o.Version
		}
		a, err := WriteArchive(filepath.Join(o.OutDir, img.fileName), img.spec, refs...)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// Ldflags are the linker flags `make build` uses: stripped, and the
// version, commit and build date of pkg/version.
func Ldflags(version, commit, buildDate string) string {
	const pkg = "kusciatask.io/controller/pkg/version"
	return fmt.Sprintf("-s -w -X %s.version=%s -X %s.commit=%s -X %s.buildDate=%s", pkg, version, pkg, commit, pkg, buildDate)
}

// compile runs go build for pkgs into out (a folder ending in a separator,
// or a file for one package), static, for linux.
func (o Options) compile(ctx context.Context, out string, pkgs ...string) error {
	goCmd := o.Go
	if goCmd == "" {
		goCmd = "go"
	}
	args := append([]string{"build", "-trimpath", "-ldflags", Ldflags(o.Version, o.Commit, o.BuildDate), "-o", out}, pkgs...)
	cmd := exec.CommandContext(ctx, goCmd, args...)
	cmd.Dir = o.Root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %v: %w\n%s", pkgs, err, b)
	}
	return nil
}

// creationTime parses an RFC 3339 build date; anything else is the Unix
// epoch, so an unstamped build is still reproducible.
func creationTime(buildDate string) time.Time {
	if t, err := time.Parse(time.RFC3339, buildDate); err == nil {
		return t.UTC()
	}
	return time.Unix(0, 0).UTC()
}

// Spec is an image to write: built by ControllerSpec or TestAppSpec.
type Spec struct{ s spec }

// Image is the image s describes.
func (s Spec) Image() (v1.Image, error) { return s.s.image() }

// ControllerSpec is the controller image from the binaries in binDir:
// controllerFiles, then ControllerBinaries in BinDir.
func ControllerSpec(binDir string, created time.Time, labels map[string]string) (Spec, error) {
	files := append(controllerFiles(), binDirs()...)
	for _, b := range ControllerBinaries {
		e, err := binaryEntry(filepath.Join(binDir, b))
		if err != nil {
			return Spec{}, err
		}
		files = append(files, e)
	}
	return Spec{spec{
		files:      files,
		entrypoint: []string{BinDir + "/" + ControllerBinaries[0]},
		workingDir: "/home/nonroot",
		created:    created,
		labels:     labels,
	}}, nil
}

// TestAppSpec is the test application image from binDir/TestAppName: the
// binary alone.
func TestAppSpec(binDir string, created time.Time, labels map[string]string) (Spec, error) {
	return BinarySpec(filepath.Join(binDir, TestAppName), created, labels)
}

// BinarySpec is an image of one static binary at BinDir/<its base name>,
// its entrypoint, run as NonRootUser: the test application's image, and
// the real node's pod sandbox ("pause") image.
func BinarySpec(path string, created time.Time, labels map[string]string) (Spec, error) {
	e, err := binaryEntry(path)
	if err != nil {
		return Spec{}, err
	}
	return Spec{spec{
		files:      append(binDirs(), e),
		entrypoint: []string{e.path},
		workingDir: "/",
		created:    created,
		labels:     labels,
	}}, nil
}

// binaryEntry reads a static binary for BinDir, refusing a dynamic one.
func binaryEntry(path string) (entry, error) {
	if err := CheckStatic(path); err != nil {
		return entry{}, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return entry{}, err
	}
	return entry{path: BinDir + "/" + filepath.Base(path), mode: 0o755, content: b}, nil
}

// WriteArchive writes s as a docker-archive tarball at path carrying refs
// (each a name:tag), which `ctr -n k8s.io images import` tags on import.
func WriteArchive(path string, s Spec, refs ...string) (Archive, error) {
	img, err := s.Image()
	if err != nil {
		return Archive{}, err
	}
	byRef := map[name.Reference]v1.Image{}
	for _, r := range refs {
		tag, err := name.NewTag(r)
		if err != nil {
			return Archive{}, fmt.Errorf("image reference %q: %w", r, err)
		}
		byRef[tag] = img
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return Archive{}, err
	}
	if err := tarball.MultiRefWriteToFile(path, byRef); err != nil {
		return Archive{}, fmt.Errorf("write %s: %w", path, err)
	}
	return Archive{Path: path, Refs: refs}, nil
}
