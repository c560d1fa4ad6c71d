package imagebuild

import (
	"archive/tar"
	"time"
)

// Names and layout shared by the images (and compared with the Dockerfile).
const (
	// ControllerName is the controller image's name; deploy/ runs it and
	// the controller's gate follows it (pkg/gate.ImageName).
	ControllerName = "kusciatask-controller"
	// TestAppName is the test application image's name.
	TestAppName = "kuscia-testapp"
	// LocalTag is the fixed tag both images also get, for manifests that
	// use the images imported into nodes (no registry).
	LocalTag = "local"
	// BinDir holds the binaries in both images.
	BinDir = "/usr/local/bin"
	// NonRootUser is the user:group both images run as (distroless's nonroot).
	NonRootUser = "65532:65532"
	nonRootID   = 65532
	// DefaultPath is PATH in both images (distroless's).
	DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

// ControllerBinaries are the commands (./cmd/<name>) the controller image
// ships in BinDir; the first is the entrypoint.
var ControllerBinaries = []string{"kusciatask-controller", "kuscia-gate", "kubectl-kuscia"}

// TestAppPackage is the test application's package, shipped as BinDir/TestAppName.
const TestAppPackage = "./test/testapp"

// entry is one file or folder of a layer.
type entry struct {
	path     string // absolute, in the image
	dir      bool
	mode     int64
	uid, gid int
	content  []byte // files only
}

// controllerFiles are what the controller image has besides its binaries,
// the parts of distroless/static:nonroot that matter to a non-root static
// process: /etc/passwd and /etc/group naming 65532 (so tools that look the
// user up, and a runtime setting HOME, find it), its home, and a
// world-writable /tmp. No CA bundle, time zone data or package metadata:
// the controller trusts the cluster's CA from its ServiceAccount and logs
// in UTC.
func controllerFiles() []entry {
	return []entry{
		{path: "/etc", dir: true, mode: 0o755},
		{path: "/etc/passwd", mode: 0o644, content: []byte(
			"root:x:0:0:root:/root:/sbin/nologin\n" +
				"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
		{path: "/etc/group", mode: 0o644, content: []byte("root:x:0:\nnonroot:x:65532:\n")},
		{path: "/home", dir: true, mode: 0o755},
		{path: "/home/nonroot", dir: true, mode: 0o700, uid: nonRootID, gid: nonRootID},
		{path: "/tmp", dir: true, mode: 0o1777},
	}
}

// binDirs are BinDir and its parents, for the layer's tar.
func binDirs() []entry {
	return []entry{
		{path: "/usr", dir: true, mode: 0o755},
		{path: "/usr/local", dir: true, mode: 0o755},
		{path: BinDir, dir: true, mode: 0o755},
	}
}

// header is e's tar header (relative name, as image layers have them).
func (e entry) header(modTime time.Time) *tar.Header {
	h := &tar.Header{
		Name:    e.path[1:],
		Mode:    e.mode,
		Uid:     e.uid,
		Gid:     e.gid,
		ModTime: modTime,
		Format:  tar.FormatPAX,
	}
	if e.dir {
		h.Typeflag, h.Name = tar.TypeDir, h.Name+"/"
	} else {
		h.Typeflag, h.Size = tar.TypeReg, int64(len(e.content))
	}
	return h
}
