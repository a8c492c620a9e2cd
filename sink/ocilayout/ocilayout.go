package ocilayout

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/stratabuild/strata/image"
	"github.com/stratabuild/strata/internal/atomicfile"
	"github.com/stratabuild/strata/sink"
	"golang.org/x/sys/unix"
)

// RefNameAnnotation names an image inside a layout.
const RefNameAnnotation = "org.opencontainers.image.ref.name"

// Sink writes an image or index into the OCI image layout at Dir.
type Sink struct{ Dir string }

var _ sink.Streamer = (*Sink)(nil)

// New returns a sink for dir.
func New(dir string) *Sink { return &Sink{Dir: dir} }

func (s *Sink) String() string { return "oci:" + s.Dir }

// Write implements sink.Sink: Begin, then Commit.
func (s *Sink) Write(ctx context.Context, tag string, a image.Artifact) (sink.Result, error) {
	st, err := s.Begin(ctx, tag)
	if err != nil {
		return sink.Result{}, err
	}
	return st.Commit(ctx, a)
}

// ErrNotLayout is returned (wrapped) for a Dir that holds something else
// than an OCI image layout: strata never replaces it.
var ErrNotLayout = errors.New("not an OCI image layout")

// Begin implements sink.Streamer. A missing or empty Dir gets a new
// layout, written beside it and renamed into place on Commit. An existing
// layout gets the artifact added: its blobs are written in, and on Commit
// index.json is rewritten atomically with the entry for this tag replaced
// and every other tag kept. Anything else (a plain file, a folder holding
// other files) is refused.
func (s *Sink) Begin(ctx context.Context, tag string) (sink.Stream, error) {
	dir := filepath.Clean(s.Dir)
	st := &stream{dir: dir, tag: refName(tag)}
	// A killed writer of this target left its temp layout beside it.
	atomicfile.RemoveStale(filepath.Dir(dir), tempPrefix(dir), atomicfile.StaleOptions{})
	fi, err := os.Lstat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("writing OCI layout %s: %w", dir, err)
	case !fi.IsDir():
		return nil, fmt.Errorf("writing OCI layout %s: %w: it is a file; strata does not replace it (remove it, or choose another --oci folder)", dir, ErrNotLayout)
	default:
		ents, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("writing OCI layout %s: %w", dir, err)
		}
		if len(ents) > 0 {
			if !isLayout(dir) {
				return nil, fmt.Errorf("writing OCI layout %s: %w: the folder holds other files (%s); strata only adds images to an existing layout (choose an empty or new --oci folder)", dir, ErrNotLayout, ents[0].Name())
			}
			st.root = dir // add to the existing layout in place
			// A killed add left partial blobs and an index.json temp.
			atomicfile.RemoveStale(filepath.Join(dir, "blobs", "sha256"), blobTempPrefix, atomicfile.StaleOptions{})
			atomicfile.RemoveStale(dir, ".index.json.", atomicfile.StaleOptions{})
			return st, nil
		}
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", filepath.Dir(dir), err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), atomicfile.TempPattern(tempPrefix(dir)))
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	if _, err := layout.Write(tmp, empty.Index); err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("writing OCI layout: %w", err)
	}
	st.root, st.fresh = tmp, true
	return st, nil
}

// tempPrefix names the temp layout written beside dir: .BASE.tmp-PID-RANDOM
// (atomicfile.TempPattern), so a later run can remove a killed writer's.
func tempPrefix(dir string) string { return "." + filepath.Base(dir) + "." }

// blobTempPrefix names blob temp files in blobs/sha256: .tmp-PID-RANDOM.
const blobTempPrefix = "."

// Test hooks: testHookBlobTemp sees each blob temp file's name,
// testHookBeforeRename runs just before a fresh layout is renamed into place.
var (
	testHookBlobTemp     func(name string)
	testHookBeforeRename func()
)

// refName is the tag part of NAME:TAG, which the layout's ref.name holds.
func refName(tag string) string {
	if i := strings.LastIndex(tag, ":"); i >= 0 && !strings.Contains(tag[i:], "/") {
		return tag[i+1:]
	}
	return tag
}

// isLayout reports whether dir holds an oci-layout file and an index.json.
func isLayout(dir string) bool {
	for _, f := range []string{"oci-layout", "index.json"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || !fi.Mode().IsRegular() {
			return false
		}
	}
	return true
}

type stream struct {
	dir, tag string
	root     string // where blobs go: a temp folder (fresh) or dir itself
	fresh    bool
	mu       sync.Mutex
	done     bool
}

func (st *stream) PutLayer(ctx context.Context, _ int, l v1.Layer) error {
	d, err := l.Digest()
	if err != nil {
		return err
	}
	return st.writeBlob(d, l.Compressed, sink.LayerFile(l))
}

// writeBlob writes a blob (when missing) through a temp file in the same
// folder, checking its sha256 before renaming it into place, so a layout
// never holds a partial blob under a digest name. A blob that is a
// checked, read-only cache file (file) is not read again: it is
// reflinked, else hard-linked, else copied with copy_file_range.
func (st *stream) writeBlob(d v1.Hash, open func() (io.ReadCloser, error), file string) error {
	if d.Algorithm != "sha256" {
		return fmt.Errorf("blob %s: only sha256 digests are written", d)
	}
	dir := filepath.Join(st.root, "blobs", "sha256")
	final := filepath.Join(dir, d.Hex)
	if _, err := os.Stat(final); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("writing OCI layout: %w", err)
	}
	if file != "" {
		if err := placeFile(file, dir, final, d.Hex); err != nil {
			return fmt.Errorf("writing blob %s to the OCI layout: %w", d, err)
		}
		return nil
	}
	rc, err := open()
	if err != nil {
		return fmt.Errorf("reading blob %s: %w", d, err)
	}
	defer rc.Close()
	f, err := os.CreateTemp(dir, atomicfile.TempPattern(blobTempPrefix))
	if err != nil {
		return fmt.Errorf("writing OCI layout: %w", err)
	}
	if testHookBlobTemp != nil {
		testHookBlobTemp(f.Name())
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(f, h), rc)
	if err == nil && hex.EncodeToString(h.Sum(nil)) != d.Hex {
		err = fmt.Errorf("blob %s: its bytes hash to sha256:%x", d, h.Sum(nil))
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), final)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("writing blob %s to the OCI layout: %w", d, err)
	}
	return nil
}

func (st *stream) writeRaw(b []byte) (v1.Hash, error) {
	sum := sha256.Sum256(b)
	d := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	return d, st.writeBlob(d, func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(string(b))), nil }, "")
}

// writeArtifact writes every blob of a: layers, config and manifest, and
// for an index every child, recursively.
func (st *stream) writeArtifact(a image.Artifact) error {
	switch x := a.(type) {
	case v1.ImageIndex:
		im, err := x.IndexManifest()
		if err != nil {
			return err
		}
		for _, d := range im.Manifests {
			var child image.Artifact
			if d.MediaType.IsIndex() {
				child, err = x.ImageIndex(d.Digest)
			} else {
				child, err = x.Image(d.Digest)
			}
			if err != nil {
				return err
			}
			if err := st.writeArtifact(child); err != nil {
				return err
			}
		}
	case v1.Image:
		ls, err := x.Layers()
		if err != nil {
			return err
		}
		for _, l := range ls {
			d, err := l.Digest()
			if err != nil {
				return err
			}
			if err := st.writeBlob(d, l.Compressed, sink.LayerFile(l)); err != nil {
				return err
			}
		}
		cfg, err := x.RawConfigFile()
		if err != nil {
			return err
		}
		if _, err := st.writeRaw(cfg); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown artifact type %T", a)
	}
	m, err := a.RawManifest()
	if err != nil {
		return err
	}
	_, err = st.writeRaw(m)
	return err
}

func (st *stream) Commit(ctx context.Context, a image.Artifact) (sink.Result, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.done {
		return sink.Result{}, errors.New("OCI layout stream already committed or aborted")
	}
	st.done = true
	res, err := st.commit(a)
	if err != nil && st.fresh {
		os.RemoveAll(st.root)
	}
	return res, err
}

func (st *stream) commit(a image.Artifact) (sink.Result, error) {
	res, err := sink.Describe(a, sink.Result{Sink: "oci:" + st.dir, Ref: "oci:" + st.dir + ":" + st.tag})
	if err != nil {
		return res, err
	}
	if err := st.writeArtifact(a); err != nil {
		return res, fmt.Errorf("writing OCI layout: %w", err)
	}
	desc, err := partial.Descriptor(a)
	if err != nil {
		return res, err
	}
	desc.Annotations = map[string]string{RefNameAnnotation: st.tag}
	// Every blob is durable before index.json names it: a crash at any
	// instant leaves the old index (and some unnamed blobs) or the new one.
	if err := atomicfile.SyncDir(filepath.Join(st.root, "blobs", "sha256")); err != nil {
		return res, fmt.Errorf("writing OCI layout %s: %w", st.dir, err)
	}
	if err := st.updateIndex(*desc); err != nil {
		return res, err
	}
	if !st.fresh {
		return res, nil
	}
	if err := os.Chmod(st.root, 0o755); err != nil {
		return res, err
	}
	if err := syncLayout(st.root); err != nil {
		return res, fmt.Errorf("writing OCI layout %s: %w", st.dir, err)
	}
	if testHookBeforeRename != nil {
		testHookBeforeRename()
	}
	// The target is missing or an empty folder (checked in Begin): one
	// rename(2) puts the finished layout there, replacing an empty folder
	// atomically, so a kill at any instant leaves the empty folder (or
	// nothing, as before) or the whole layout, never a gap. A folder that
	// is no longer empty makes the rename fail (ENOTEMPTY): nothing is lost.
	// (os.Rename refuses any existing folder, so the system call is used.)
	if err := unix.Rename(st.root, st.dir); err != nil {
		return res, fmt.Errorf("writing OCI layout %s: %w (the folder changed while strata wrote it)", st.dir, err)
	}
	if err := atomicfile.SyncDir(filepath.Dir(st.dir)); err != nil {
		return res, fmt.Errorf("writing OCI layout %s: %w", st.dir, err)
	}
	return res, nil
}

// syncLayout fsyncs what the layout writer made without fsync (oci-layout)
// and the layout's folders, so the rename into place publishes durable
// files; blobs and index.json are fsynced as they are written.
func syncLayout(root string) error {
	f, err := os.Open(filepath.Join(root, "oci-layout"))
	if err != nil {
		return err
	}
	err = f.Sync()
	f.Close()
	if err != nil {
		return err
	}
	for _, d := range []string{filepath.Join(root, "blobs"), root} {
		if err := atomicfile.SyncDir(d); err != nil {
			return err
		}
	}
	return nil
}

// updateIndex rewrites index.json atomically: entries named by this tag
// are replaced by desc, every other entry is kept in its place.
func (st *stream) updateIndex(desc v1.Descriptor) error {
	path := filepath.Join(st.root, "index.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(b, &idx); err != nil {
		return fmt.Errorf("reading %s: %w (the layout's index is damaged; strata does not rewrite it)", path, err)
	}
	kept := idx.Manifests[:0]
	for _, m := range idx.Manifests {
		if m.Annotations[RefNameAnnotation] != st.tag {
			kept = append(kept, m)
		}
	}
	idx.Manifests = append(kept, desc)
	out, err := json.MarshalIndent(idx, "", "   ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, out)
}

func (st *stream) Abort() {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.done {
		return
	}
	st.done = true
	if st.fresh {
		os.RemoveAll(st.root)
	}
}
