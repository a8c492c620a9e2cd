package dockerarchive

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stratabuild/strata/sink"
)

// Archive writes one image as a docker-archive (the `docker save` format
// `docker load` reads) while the image is still being built: layers first,
// in image order as they become ready (Put), then on Finish any layer not
// put yet, the config and manifest.json last. docker load reads
// manifest.json only at the end, so the order of the other entries is
// free; a stream cut short lacks manifest.json (and Fail makes it a
// truncated tar), so no consumer takes it for a whole image.
//
// Every tar header is what archive/tar writes for go-containerregistry's
// tarball package (mode 0644, no times); only the entry order differs
// (tarball writes the config first, which is known only when the last
// layer is).
type Archive struct {
	w    io.Writer
	file *os.File // w when it is a file: blobs go by copy_file_range

	mu       sync.Mutex
	idle     *sync.Cond // signalled when a Put stops writing
	pending  map[int]v1.Layer
	next     int  // the next layer place to write
	draining bool // a Put is writing pending layers
	written  map[string]bool
	err      error
	done     bool
}

// NewArchive returns an Archive writing to w. When w is an *os.File,
// cache blobs are copied file to file (copy_file_range where the kernel
// can) instead of through user space.
func NewArchive(w io.Writer) *Archive {
	a := &Archive{w: w, pending: map[int]v1.Layer{}, written: map[string]bool{}}
	a.idle = sync.NewCond(&a.mu)
	if f, ok := w.(*os.File); ok {
		a.file = f
	}
	return a
}

// Put takes layer i (its place among the layers the build adds) and
// writes it, with any put layers after it, once every layer before it has
// been written. Safe for concurrent use; only one caller writes at a time
// and the others return at once.
func (a *Archive) Put(i int, l v1.Layer) error {
	a.mu.Lock()
	if a.err != nil || a.done {
		err := a.err
		a.mu.Unlock()
		return err
	}
	a.pending[i] = l
	if a.draining {
		a.mu.Unlock()
		return nil
	}
	a.draining = true
	for a.err == nil {
		l, ok := a.pending[a.next]
		if !ok {
			break
		}
		delete(a.pending, a.next)
		a.next++
		a.mu.Unlock()
		err := a.writeLayer(l)
		a.mu.Lock()
		if err != nil && a.err == nil {
			a.err = err
		}
	}
	a.draining = false
	a.idle.Broadcast()
	err := a.err
	a.mu.Unlock()
	return err
}

// Finish writes what Put did not, the config and manifest.json, and the
// end of the tar. It waits for a Put that is still writing.
func (a *Archive) Finish(tagName string, img v1.Image) error {
	tag, err := name.NewTag(tagName, name.WeakValidation)
	if err != nil {
		return fmt.Errorf("tag %q: %w", tagName, err)
	}
	a.mu.Lock()
	a.done = true
	for a.draining { // a Put is copying a layer: its error, if any, is ours
		a.idle.Wait()
	}
	err = a.err
	a.mu.Unlock()
	if err != nil {
		return err
	}
	ls, err := img.Layers()
	if err != nil {
		return err
	}
	files := make([]string, len(ls))
	sources := map[v1.Hash]v1.Descriptor{}
	for i, l := range ls {
		d, err := l.Digest()
		if err != nil {
			return err
		}
		files[i] = d.Hex + extension(l)
		desc, err := partial.BlobDescriptor(img, d)
		if err != nil {
			return err
		}
		if !desc.MediaType.IsDistributable() {
			diffID, err := partial.BlobToDiffID(img, d)
			if err != nil {
				return err
			}
			sources[diffID] = *desc
		}
		if err := a.writeLayer(l); err != nil {
			return err
		}
	}
	cn, err := img.ConfigName()
	if err != nil {
		return err
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	if err := a.entry(cn.String(), int64(len(cfg)), bytes.NewReader(cfg)); err != nil {
		return err
	}
	m, err := json.Marshal(tarball.Manifest{{Config: cn.String(), RepoTags: []string{tag.String()}, Layers: files, LayerSources: sources}})
	if err != nil {
		return err
	}
	if err := a.entry("manifest.json", int64(len(m)), bytes.NewReader(m)); err != nil {
		return err
	}
	_, err = a.w.Write(make([]byte, 2*blockSize)) // the end-of-archive blocks
	return err
}

// Fail ends a stream that will not be finished so that a reader sees a
// broken tar rather than a short but well-formed one: a header announces
// an entry whose bytes never come.
func (a *Archive) Fail() {
	a.Stop()
	var hdr bytes.Buffer
	tw := tar.NewWriter(&hdr)
	tw.WriteHeader(&tar.Header{Name: "strata-build-failed", Mode: 0o644, Typeflag: tar.TypeReg, Size: blockSize}) //nolint:errcheck // into a buffer
	a.w.Write(hdr.Bytes())                                                                                        //nolint:errcheck // best effort on a stream already failing
}

// Stop makes every later Put a no-op and waits for one still writing.
func (a *Archive) Stop() {
	a.mu.Lock()
	a.done = true
	if a.err == nil {
		a.err = errors.New("the build failed")
	}
	for a.draining {
		a.idle.Wait()
	}
	a.mu.Unlock()
}

const blockSize = 512

// writeLayer writes l's blob once per archive.
func (a *Archive) writeLayer(l v1.Layer) error {
	d, err := l.Digest()
	if err != nil {
		return err
	}
	a.mu.Lock()
	seen := a.written[d.Hex]
	a.written[d.Hex] = true
	a.mu.Unlock()
	if seen {
		return nil
	}
	size, err := l.Size()
	if err != nil {
		return err
	}
	if p := sink.LayerFile(l); p != "" && a.file != nil {
		f, err := os.Open(p)
		if err == nil {
			defer f.Close()
			return a.entry(d.Hex+extension(l), size, f)
		}
	}
	rc, err := l.Compressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	return a.entry(d.Hex+extension(l), size, rc)
}

// entry writes one tar entry: the header as archive/tar makes it, the
// bytes (file to file when both are files), and the padding.
func (a *Archive) entry(name string, size int64, r io.Reader) error {
	var hdr bytes.Buffer
	tw := tar.NewWriter(&hdr)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Typeflag: tar.TypeReg, Size: size}); err != nil {
		return err
	}
	if _, err := a.w.Write(hdr.Bytes()); err != nil {
		return err
	}
	n, err := io.Copy(a.w, r)
	if err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if n != size {
		return fmt.Errorf("writing %s: %d bytes, want %d", name, n, size)
	}
	if pad := (blockSize - size%blockSize) % blockSize; pad > 0 {
		if _, err := a.w.Write(make([]byte, pad)); err != nil {
			return err
		}
	}
	return nil
}

// extension is what tarball names layer files with: gunzip and friends
// want one.
func extension(l v1.Layer) string {
	mt, _ := l.MediaType()
	switch mt {
	case types.OCILayerZStd:
		return ".tar.zst"
	case types.OCIUncompressedLayer, types.OCIUncompressedRestrictedLayer, types.DockerUncompressedLayer:
		return ".tar"
	}
	return ".tar.gz"
}
