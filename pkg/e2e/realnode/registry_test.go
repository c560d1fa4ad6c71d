//go:build realnode

package realnode

// A local OCI registry for the lane: go-containerregistry's registry served
// by the test process on 127.0.0.1, so the real node's containerd pulls
// images as it would from a real registry (over plain HTTP: containerd's CRI
// plugin speaks HTTP to a loopback host without any configuration). Blobs
// live on disk under the test's temporary folder, so an image of hundreds of
// MB costs the test process no memory; pushAppImage writes them there itself
// (the registry's own upload path holds a whole blob in memory) and pushes
// only the manifest over HTTP.

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// testRegistry is a registry served by the test process until the test
// ends.
type testRegistry struct {
	// host is 127.0.0.1:<port>, the registry part of the references it
	// serves.
	host  string
	blobs diskBlobs
	// link paces blob downloads when set (withRateLimit).
	link *link
	// gzipLevel compresses pushAppImage's extra layer when set
	// (withGzipLayer); otherwise it is an uncompressed tar.
	gzipLevel *int
	server    *http.Server
	logs      *testLogger

	mu      sync.Mutex
	refused map[string]bool    // repositories whose manifests are refused
	extra   map[string]v1.Hash // reference pushed → digest of its extra layer

	// servedBytes counts the blob bytes sent; refusals the manifest
	// requests refused.
	servedBytes atomic.Int64
	refusals    atomic.Int64
}

// registryOption sets up a testRegistry before it serves.
type registryOption func(*testRegistry)

// withRateLimit throttles blob downloads to bytesPerSecond in all, shared by
// the downloads in flight: it simulates the link between a node and a
// remote registry (the loopback's GB/s would make pull times meaningless),
// and keeps a pull's time stable from run to run.
func withRateLimit(bytesPerSecond int64) registryOption {
	return func(r *testRegistry) { r.link = &link{rate: float64(bytesPerSecond)} }
}

// withGzipLayer gzips pushAppImage's extra layer at level (gzip.BestSpeed
// and so on), as a real image's layers are; containerd then spends CPU
// decompressing it. Random bytes do not shrink.
func withGzipLayer(level int) registryOption {
	return func(r *testRegistry) { r.gzipLevel = &level }
}

// startRegistry serves a registry on 127.0.0.1 at E2E_REALNODE_REGISTRY_PORT
// (default 25000) or, when that port is taken, the next free one below
// Linux's ephemeral range, until the test ends.
func startRegistry(t *testing.T, opts ...registryOption) *testRegistry {
	t.Helper()
	dir := t.TempDir()
	r := &testRegistry{
		blobs:   diskBlobs{dir: dir},
		logs:    &testLogger{t: t},
		refused: map[string]bool{},
		extra:   map[string]v1.Hash{},
	}
	for _, o := range opts {
		o(r)
	}
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "sha256"), 0o755))
	base, err := strconv.Atoi(envOr("E2E_REALNODE_REGISTRY_PORT", "25000"))
	require.NoError(t, err, "E2E_REALNODE_REGISTRY_PORT")
	ln, err := listenBelowEphemeral(base)
	require.NoError(t, err)
	r.host = ln.Addr().String()
	r.server = &http.Server{
		Handler: r.handler(registry.New(
			registry.WithBlobHandler(r.blobs),
			registry.Logger(log.New(r.logs, "registry: ", 0)))),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = r.server.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := r.server.Shutdown(ctx); err != nil {
			_ = r.server.Close() // a download still in flight
		}
		r.logs.stop()
		t.Logf("registry %s stopped: %d MiB of blobs served, %d manifest requests refused",
			r.host, r.servedBytes.Load()>>20, r.refusals.Load())
	})
	t.Logf("registry serving on %s (blobs in %s)", r.host, dir)
	return r
}

// listenBelowEphemeral listens on 127.0.0.1 at the first free port from
// base up, below 32768.
func listenBelowEphemeral(base int) (net.Listener, error) {
	for port := base; port < 32768 && port < base+100; port++ {
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			return ln, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("registry: listen on %d: %w", port, err)
		}
	}
	return nil, fmt.Errorf("registry: no free port in %d-%d", base, min(base+99, 32767))
}

// refuse makes the registry answer 403 DENIED to every manifest request
// for repo (a pull of any of its tags then fails to resolve; a push of its
// manifest fails too). Without it, a tag never pushed answers 404
// MANIFEST_UNKNOWN, another way to fail a pull.
func (r *testRegistry) refuse(repo string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refused[repo] = true
}

// isRefused says whether refuse(repo) was called.
func (r *testRegistry) isRefused(repo string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.refused[repo]
}

// ref is the reference a pod names repo:tag of this registry by.
func (r *testRegistry) ref(repo, tag string) string {
	return r.host + "/" + repo + ":" + tag
}

// handler wraps the registry: refused repositories first, then blob
// downloads counted and paced by the link, if any.
func (r *testRegistry) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if repo, ok := manifestRepo(req.URL.Path); ok && r.isRefused(repo) {
			r.refusals.Add(1)
			r.logs.Printf("registry: %s %s 403 refused", req.Method, req.URL)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = fmt.Fprintf(w, `{"errors":[{"code":"DENIED","message":"repository %s is refused by the test"}]}`, repo)
			return
		}
		if req.Method == http.MethodGet && strings.Contains(req.URL.Path, "/blobs/sha256:") {
			w = &blobWriter{ResponseWriter: w, served: &r.servedBytes, link: r.link, ctx: req.Context()}
		}
		next.ServeHTTP(w, req)
	})
}

// manifestRepo is the repository of a /v2/<repo>/manifests/<ref> path.
func manifestRepo(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, "/v2/")
	if !ok {
		return "", false
	}
	i := strings.LastIndex(rest, "/manifests/")
	if i <= 0 {
		return "", false
	}
	return rest[:i], true
}

// pushAppImage pushes repo:tag: the test application's image (the lane's
// kuscia-testapp:local archive, so pods run it as they run the imported
// one) plus one more layer holding bigLayerBytes fresh random bytes, so its
// digest is new and no node can have it cached. It returns the reference
// for a pod spec.
func (r *testRegistry) pushAppImage(t *testing.T, repo, tag string, bigLayerBytes int64) string {
	t.Helper()
	archive := buildImages(t)[1].Path
	start := time.Now()
	big, err := r.randomLayer(bigLayerBytes)
	require.NoError(t, err)
	generated := time.Since(start)
	img, err := appImage(archive, big)
	require.NoError(t, err)
	require.NoError(t, r.putBlobs(img))
	require.NoError(t, r.putManifest(repo, tag, img))
	ref := r.ref(repo, tag)
	digest, err := img.Digest()
	require.NoError(t, err)
	r.mu.Lock()
	r.extra[ref] = big.digest
	r.mu.Unlock()
	t.Logf("pushed %s (%s, extra layer %s of %d MiB %s, generated in %s) in %s", ref, digest, big.digest,
		big.size>>20, big.mediaType, generated.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	return ref
}

// extraLayer is the digest of the random layer pushAppImage put in ref
// (the zero Hash for a reference it did not push).
func (r *testRegistry) extraLayer(ref string) v1.Hash {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.extra[ref]
}

// putManifest puts img's manifest as repo:tag over HTTP, as a client's push
// ends (its blobs must be stored already).
func (r *testRegistry) putManifest(repo, tag string, img v1.Image) error {
	raw, err := img.RawManifest()
	if err != nil {
		return err
	}
	mt, err := img.MediaType()
	if err != nil {
		return err
	}
	url := "http://" + r.host + "/v2/" + repo + "/manifests/" + tag
	req, err := http.NewRequest(http.MethodPut, url, bytes.NewReader(raw))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", string(mt))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("put manifest %s:%s: %w", repo, tag, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("put manifest %s:%s: %s: %s", repo, tag, resp.Status, body)
	}
	return nil
}

// appImage is the image in the archive (one image, tagged testAppImage)
// with extra appended, OCI media types throughout (the archive's layers
// read back as Docker's).
func appImage(archive string, extra *fileLayer) (v1.Image, error) {
	tag, err := name.NewTag(testAppImage)
	if err != nil {
		return nil, err
	}
	src, err := tarball.ImageFromPath(archive, &tag)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", archive, err)
	}
	layers, err := src.Layers()
	if err != nil {
		return nil, fmt.Errorf("layers of %s: %w", archive, err)
	}
	cf, err := src.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("config of %s: %w", archive, err)
	}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	adds := make([]mutate.Addendum, 0, len(layers)+1)
	for i, l := range layers {
		a := mutate.Addendum{Layer: l, MediaType: types.OCILayer}
		if i < len(cf.History) {
			a.History = cf.History[i]
		}
		adds = append(adds, a)
	}
	adds = append(adds, mutate.Addendum{Layer: extra, MediaType: extra.mediaType,
		History: v1.History{Created: cf.Created, CreatedBy: "pkg/e2e/realnode: random bytes"}})
	img, err := mutate.Append(base, adds...)
	if err != nil {
		return nil, fmt.Errorf("append layers: %w", err)
	}
	out, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	out = out.DeepCopy()
	out.OS, out.Architecture, out.Created, out.Config = cf.OS, cf.Architecture, cf.Created, cf.Config
	img, err = mutate.ConfigFile(img, out)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return img, nil
}

// putBlobs writes img's config and layers into the blob store, skipping
// those already there.
func (r *testRegistry) putBlobs(img v1.Image) error {
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	for _, l := range layers {
		h, err := l.Digest()
		if err != nil {
			return err
		}
		if r.blobs.has(h) {
			continue
		}
		rc, err := l.Compressed()
		if err != nil {
			return fmt.Errorf("layer %s: %w", h, err)
		}
		err = r.blobs.Put(context.Background(), "", h, rc)
		_ = rc.Close()
		if err != nil {
			return err
		}
	}
	h, err := img.ConfigName()
	if err != nil {
		return err
	}
	raw, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	return r.blobs.Put(context.Background(), "", h, io.NopCloser(strings.NewReader(string(raw))))
}

// randomLayer writes a layer tar holding one file of n random bytes
// (ChaCha8 seeded from crypto/rand: fresh on every call, and at GB/s)
// straight into the blob store, gzipped when withGzipLayer says so.
func (r *testRegistry) randomLayer(n int64) (*fileLayer, error) {
	f, err := os.CreateTemp(r.blobs.dir, "layer-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name()) // a no-op once renamed
	l, err := writeRandomLayer(f, n, r.gzipLevel)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("random layer: %w", err)
	}
	l.path = r.blobs.path(l.digest)
	if err := os.Rename(f.Name(), l.path); err != nil {
		return nil, fmt.Errorf("random layer: %w", err)
	}
	return l, nil
}

// writeRandomLayer writes the layer to w and describes it (all but its
// path).
func writeRandomLayer(w io.Writer, n int64, gzipLevel *int) (*fileLayer, error) {
	var seed [32]byte
	if _, err := rand.Read(seed[:]); err != nil {
		return nil, err
	}
	compressed := &hashCounter{h: sha256.New()}
	out := io.MultiWriter(w, compressed)
	diffID := compressed
	var gz *gzip.Writer
	if gzipLevel != nil {
		var err error
		if gz, err = gzip.NewWriterLevel(out, *gzipLevel); err != nil {
			return nil, err
		}
		diffID = &hashCounter{h: sha256.New()}
		out = io.MultiWriter(gz, diffID)
	}
	tw := tar.NewWriter(out)
	modTime := time.Unix(0, 0)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "kuscia-padding/", Mode: 0o755, ModTime: modTime}); err != nil {
		return nil, err
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "kuscia-padding/random.bin", Mode: 0o644, Size: n, ModTime: modTime}); err != nil {
		return nil, err
	}
	if _, err := io.CopyN(tw, mrand.NewChaCha8(seed), n); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	l := &fileLayer{mediaType: types.OCIUncompressedLayer}
	if gz != nil {
		if err := gz.Close(); err != nil {
			return nil, err
		}
		l.mediaType = types.OCILayer
	}
	l.digest, l.diffID, l.size = compressed.sum(), diffID.sum(), compressed.n
	return l, nil
}

// hashCounter hashes and counts what is written to it.
type hashCounter struct {
	h hash.Hash
	n int64
}

func (c *hashCounter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.h.Write(p)
}

// sum is the sha256 digest of what was written.
func (c *hashCounter) sum() v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(c.h.Sum(nil))}
}

// fileLayer is a layer whose blob is a file: an uncompressed tar, or a
// gzipped one.
type fileLayer struct {
	path           string
	digest, diffID v1.Hash
	size           int64
	mediaType      types.MediaType
}

func (l *fileLayer) Digest() (v1.Hash, error)            { return l.digest, nil }
func (l *fileLayer) DiffID() (v1.Hash, error)            { return l.diffID, nil }
func (l *fileLayer) Size() (int64, error)                { return l.size, nil }
func (l *fileLayer) MediaType() (types.MediaType, error) { return l.mediaType, nil }
func (l *fileLayer) Compressed() (io.ReadCloser, error)  { return os.Open(l.path) }

func (l *fileLayer) Uncompressed() (io.ReadCloser, error) {
	f, err := os.Open(l.path)
	if err != nil || l.mediaType == types.OCIUncompressedLayer {
		return f, err
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{zr, f}, nil
}

// diskBlobs is the registry's blob store: one file per digest under
// dir/sha256. Unlike registry.NewDiskBlobHandler it trusts its files
// (written by this process, uploads checked by the registry), so a HEAD or a
// GET costs a stat, not a hash of the whole blob.
type diskBlobs struct{ dir string }

func (d diskBlobs) path(h v1.Hash) string { return filepath.Join(d.dir, h.Algorithm, h.Hex) }

// has says whether the blob is stored.
func (d diskBlobs) has(h v1.Hash) bool {
	_, err := os.Stat(d.path(h))
	return err == nil
}

func (d diskBlobs) Stat(_ context.Context, _ string, h v1.Hash) (int64, error) {
	fi, err := os.Stat(d.path(h))
	if errors.Is(err, os.ErrNotExist) {
		return 0, registry.ErrNotFound
	}
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

func (d diskBlobs) Get(_ context.Context, _ string, h v1.Hash) (io.ReadCloser, error) {
	f, err := os.Open(d.path(h))
	if errors.Is(err, os.ErrNotExist) {
		return nil, registry.ErrNotFound
	}
	return f, err
}

// Put stores what rc holds as h; rc is the registry's digest-checking
// reader on uploads, so a mismatch fails the copy and stores nothing.
func (d diskBlobs) Put(_ context.Context, _ string, h v1.Hash, rc io.ReadCloser) error {
	f, err := os.CreateTemp(d.dir, "upload-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // a no-op once renamed
	_, err = io.Copy(f, rc)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("store blob %s: %w", h, err)
	}
	if err := os.MkdirAll(filepath.Dir(d.path(h)), 0o755); err != nil {
		return err
	}
	return os.Rename(f.Name(), d.path(h))
}

// link paces bytes through one pipe of rate bytes per second that every
// download shares, first come first served.
type link struct {
	rate float64
	mu   sync.Mutex
	free time.Time // when the bytes already sent have gone through
}

// linkSlack is how far behind its schedule an idle link may be and still
// catch up: each wait oversleeps a little, and without it those overshoots
// (tens of µs per 64 KiB chunk) would add up to a link several times slower
// than its rate. It is also the largest burst after a pause.
const linkSlack = 20 * time.Millisecond

// wait blocks until n more bytes have gone through the link.
func (l *link) wait(ctx context.Context, n int) error {
	l.mu.Lock()
	now := time.Now()
	if earliest := now.Add(-linkSlack); l.free.Before(earliest) {
		l.free = earliest
	}
	l.free = l.free.Add(time.Duration(float64(n) / l.rate * float64(time.Second)))
	until := l.free
	l.mu.Unlock()
	if !until.After(now) {
		return nil
	}
	timer := time.NewTimer(until.Sub(now))
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// blobWriter counts a blob download's bytes and, with a link, paces them
// in chunks of 64 KiB.
type blobWriter struct {
	http.ResponseWriter
	served *atomic.Int64
	link   *link
	ctx    context.Context
}

func (w *blobWriter) Write(p []byte) (int, error) {
	const chunk = 64 << 10
	written := 0
	for len(p) > 0 {
		n := min(len(p), chunk)
		if w.link != nil {
			if err := w.link.wait(w.ctx, n); err != nil {
				return written, err
			}
		}
		m, err := w.ResponseWriter.Write(p[:n])
		written += m
		w.served.Add(int64(m))
		if err != nil {
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}

// testLogger sends the registry's log lines to t.Logf until the registry
// stops (a request served after the test ended must not log to it).
type testLogger struct {
	t       *testing.T
	mu      sync.Mutex
	stopped bool
}

func (l *testLogger) Write(p []byte) (int, error) {
	l.Printf("%s", strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// Printf logs a line unless the registry stopped.
func (l *testLogger) Printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.stopped {
		l.t.Logf(format, args...)
	}
}

func (l *testLogger) stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stopped = true
}

// removeImage removes ref from the real node's containerd with every other
// record of the same image (the CRI plugin keeps one by tag, one by digest
// and one by image ID), and collects its content at once (hack/local-up.sh
// remove-image): the next pull of ref downloads it all again.
func (p *plane) removeImage(t *testing.T, ref string) {
	t.Helper()
	out, err := run(lane.root, p.env, "hack/local-up.sh", "remove-image", ref)
	require.NoError(t, err, "remove %s from the real node", ref)
	t.Logf("removed %s from the real node: %s", ref, strings.TrimSpace(out))
}

// nodeHasBlob says whether the real node's containerd content store holds
// the blob.
func (p *plane) nodeHasBlob(h v1.Hash) bool {
	_, err := os.Stat(filepath.Join(p.dir, "realnode", "containerd", "root",
		"io.containerd.content.v1.content", "blobs", h.Algorithm, h.Hex))
	return err == nil
}

// pulledIn is how long the kubelet took to pull the first image it pulled
// for the pod ns/pod, from its "Pulled" Event ("Successfully pulled image ...
// in 1.234s (1.234s including waiting). ..."), and the Event's message.
func (p *plane) pulledIn(ctx context.Context, t *testing.T, ns, pod string) (time.Duration, string) {
	t.Helper()
	re := regexp.MustCompile(`^Successfully pulled image ".*" in ([0-9.]+[a-zµ]+) `)
	var took time.Duration
	var msg string
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		events, err := p.kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{
			FieldSelector: "involvedObject.name=" + pod + ",reason=Pulled",
		})
		if err != nil {
			return false, err
		}
		for _, e := range events.Items {
			if m := re.FindStringSubmatch(e.Message); m != nil {
				took, err = time.ParseDuration(m[1])
				msg = e.Message
				return err == nil, err
			}
		}
		return false, nil
	})
	require.NoError(t, err, "no Pulled event with a duration for pod %s", pod)
	return took, msg
}

// waitPullFailure waits until the pod's first container waits in
// ErrImagePull or ImagePullBackOff, and returns its waiting state.
func (p *plane) waitPullFailure(ctx context.Context, t *testing.T, pod string) *corev1.ContainerStateWaiting {
	t.Helper()
	var waiting *corev1.ContainerStateWaiting
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		got, err := p.kube.CoreV1().Pods(metav1.NamespaceDefault).Get(ctx, pod, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, s := range got.Status.ContainerStatuses {
			if w := s.State.Waiting; w != nil && (w.Reason == "ErrImagePull" || w.Reason == "ImagePullBackOff") {
				waiting = w
				return true, nil
			}
		}
		return false, nil
	})
	require.NoError(t, err, "pod %s never waited in ErrImagePull or ImagePullBackOff", pod)
	return waiting
}

// deletePod deletes the pod at once and waits until it is gone (a pod
// already gone is fine).
func (p *plane) deletePod(ctx context.Context, t *testing.T, pod string) {
	t.Helper()
	pods := p.kube.CoreV1().Pods(metav1.NamespaceDefault)
	err := pods.Delete(ctx, pod, metav1.DeleteOptions{GracePeriodSeconds: ptrInt64(0)})
	if apierrors.IsNotFound(err) {
		return
	}
	if err != nil {
		t.Errorf("delete pod %s: %v", pod, err)
		return
	}
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := pods.Get(ctx, pod, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		t.Errorf("pod %s not gone: %v", pod, err)
	}
}

// registryPod is realPod running the test application from image, pulled
// always, exiting 0 at once.
func registryPod(name, image string) *corev1.Pod {
	pod := realPod(name, image, corev1.RestartPolicyNever)
	pod.Spec.Containers[0].ImagePullPolicy = corev1.PullAlways
	pod.Spec.Containers[0].Env = append(pod.Spec.Containers[0].Env, corev1.EnvVar{Name: "KWOK_DELAY", Value: ""})
	return pod
}

// TestPullFromLocalRegistry: the real node pulls the test application with
// a 200 MiB extra layer from the lane's registry over plain HTTP and runs
// it to Succeeded (the pull time is logged); a pod whose repository the
// registry refuses waits in ErrImagePull or ImagePullBackOff, its message
// naming the image. Removing the image from the node frees its content at
// once (its unpacked layer goes once the kubelet removes the pod's
// container, within a minute or so).
func TestPullFromLocalRegistry(t *testing.T) {
	p := sharedPlane(t)
	ctx := testContext(t)
	reg := startRegistry(t)
	const bigLayer = 200 << 20

	ref := reg.pushAppImage(t, "kuscia/testapp-big", "e2e", bigLayer)
	t.Cleanup(func() { p.removeImage(t, ref) }) // after the pod's deletion
	served := reg.servedBytes.Load()
	pod := registryPod("registry-pull", ref)
	t.Cleanup(func() { p.deletePod(context.Background(), t, pod.Name) })
	got := runPod(ctx, t, p, pod, corev1.PodSucceeded)
	took, msg := p.pulledIn(ctx, t, metav1.NamespaceDefault, pod.Name)
	t.Logf("pulled %s (extra layer %d MiB) in %s: %s", ref, bigLayer>>20, took, msg)
	assert.GreaterOrEqual(t, reg.servedBytes.Load()-served, int64(bigLayer), "blob bytes the registry served for the pull")
	assert.Equal(t, ref, got.Status.ContainerStatuses[0].Image)

	refused := reg.ref("kuscia/testapp-refused", "e2e")
	reg.refuse("kuscia/testapp-refused")
	bad := registryPod("registry-refused", refused)
	_, err := p.kube.CoreV1().Pods(bad.Namespace).Create(ctx, bad, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { p.deletePod(context.Background(), t, bad.Name) })
	waiting := p.waitPullFailure(ctx, t, bad.Name)
	t.Logf("refused pod waits: %s: %s", waiting.Reason, waiting.Message)
	assert.Contains(t, waiting.Message, refused)
	assert.Positive(t, reg.refusals.Load(), "manifest requests refused")

	p.deletePod(ctx, t, pod.Name)
	big := reg.extraLayer(ref)
	require.True(t, p.nodeHasBlob(big), "the node's content store lacks the pulled layer %s", big)
	snapshots := p.nodeSnapshotBytes()
	p.removeImage(t, ref)
	assert.False(t, p.nodeHasBlob(big), "the pulled layer %s is still in the node's content store after remove-image", big)
	// The unpacked layer outlives the image until the kubelet's container
	// GC (every minute) has removed the pod's exited container and
	// containerd collects again: 10-50s were seen. Not waited for.
	t.Logf("the node's overlayfs snapshots: %d MiB before remove-image, %d MiB after", snapshots>>20, p.nodeSnapshotBytes()>>20)
	t.Logf("test process peak RSS: %s", peakRSS())
}

// TestPullFromThrottledRegistry: with the registry's link capped at
// 100 MiB/s and the extra layer gzipped (as real layers are), a pull of 200
// MiB takes at least the 2s the link needs for it.
func TestPullFromThrottledRegistry(t *testing.T) {
	p := sharedPlane(t)
	ctx := testContext(t)
	const bigLayer, rate = 200 << 20, 100 << 20
	reg := startRegistry(t, withRateLimit(rate), withGzipLayer(gzip.BestSpeed))

	ref := reg.pushAppImage(t, "kuscia/testapp-throttled", "e2e", bigLayer)
	t.Cleanup(func() { p.removeImage(t, ref) }) // after the pod's deletion
	pod := registryPod("registry-throttled", ref)
	t.Cleanup(func() { p.deletePod(context.Background(), t, pod.Name) })
	runPod(ctx, t, p, pod, corev1.PodSucceeded)
	took, msg := p.pulledIn(ctx, t, metav1.NamespaceDefault, pod.Name)
	t.Logf("pulled %s (extra layer %d MiB, gzipped) through %d MiB/s in %s: %s", ref, bigLayer>>20, rate>>20, took, msg)
	linkTime := time.Duration(float64(bigLayer) / rate * float64(time.Second))
	assert.GreaterOrEqual(t, took, linkTime, "the pull was faster than the link allows")
	t.Logf("test process peak RSS: %s", peakRSS())
}

// TestRegistryRateLimit (no node): two downloads at once share the link of
// withRateLimit, so 2 × 16 MiB through 64 MiB/s take about 0.5s.
func TestRegistryRateLimit(t *testing.T) {
	const blob, rate = 16 << 20, 64 << 20
	reg := startRegistry(t, withRateLimit(rate))
	var digests []v1.Hash
	for range 2 {
		f, err := os.CreateTemp(t.TempDir(), "blob-*")
		require.NoError(t, err)
		l, err := writeRandomLayer(f, blob, nil)
		require.NoError(t, err)
		_, err = f.Seek(0, io.SeekStart)
		require.NoError(t, err)
		require.NoError(t, reg.blobs.Put(context.Background(), "", l.digest, f))
		require.NoError(t, f.Close())
		digests = append(digests, l.digest)
	}

	start := time.Now()
	var wg sync.WaitGroup
	got := make([]int64, len(digests))
	errs := make([]error, len(digests))
	for i, h := range digests {
		wg.Go(func() { got[i], errs[i] = download("http://" + reg.host + "/v2/t/blobs/" + h.String()) })
	}
	wg.Wait()
	took := time.Since(start)
	for i := range digests {
		require.NoError(t, errs[i])
		assert.Greater(t, got[i], int64(blob), "bytes of blob %d", i)
	}
	want := time.Duration(float64(got[0]+got[1]) / rate * float64(time.Second))
	t.Logf("2 × %d MiB through %d MiB/s in %s (the link's time %s)", blob>>20, rate>>20, took.Round(time.Millisecond), want.Round(time.Millisecond))
	assert.GreaterOrEqual(t, took, want-linkSlack-time.Millisecond, "faster than the link")
	assert.Less(t, took, 2*want, "much slower than the link")
}

// download GETs url and counts the body's bytes.
func download(url string) (int64, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return io.Copy(io.Discard, resp.Body)
}

// nodeSnapshotBytes is the size of the files under the real node's
// overlayfs snapshots (unpacked layers and containers' upper dirs).
func (p *plane) nodeSnapshotBytes() int64 {
	var n int64
	root := filepath.Join(p.dir, "realnode", "containerd", "root", "io.containerd.snapshotter.v1.overlayfs", "snapshots")
	_ = filepath.WalkDir(root, func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// peakRSS is the test process's peak resident set (VmHWM), or "unknown".
func peakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
