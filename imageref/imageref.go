package imageref

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/daemon"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/stratabuild/strata/registry"
)

// Options tune Load.
type Options struct {
	// Platform ("os/arch[/variant]") picks one image out of an index. With
	// it an index reference yields that platform's Image; without it an
	// index stays an Index.
	Platform string
	// Insecure allows plain HTTP to non-loopback registries.
	Insecure bool
}

// Ref is a loaded reference: exactly one of Image and Index is set.
type Ref struct {
	// Name is how the reference is shown to the user.
	Name string
	// Tag is the "repository:tag" the reference names, when it names one:
	// the registry reference, the docker-archive's first RepoTags entry,
	// the OCI layout entry's ref.name annotation, the Docker image name.
	Tag   string
	Image v1.Image
	Index v1.ImageIndex
	// RawManifest is the manifest (or index) bytes exactly as stored.
	RawManifest []byte
}

// IsIndex reports whether the reference is an image index.
func (r *Ref) IsIndex() bool { return r.Index != nil }

// SingleImage returns the image, or an error that lists the platforms of an
// index and says to pick one.
func (r *Ref) SingleImage() (v1.Image, error) {
	if r.Image != nil {
		return r.Image, nil
	}
	plats, err := Platforms(r.Index)
	if err != nil {
		return nil, fmt.Errorf("%s is an image index: %w", r.Name, err)
	}
	return nil, fmt.Errorf("%s is an image index of %d platforms (%s): choose one with --platform OS/ARCH", r.Name, len(plats), strings.Join(plats, ", "))
}

// Load reads ref. Accepted forms:
//
//	x.tar, docker-archive:x.tar   a docker-archive tarball (one image; x.tar.gz too)
//	oci:DIR, oci:DIR:TAG          an OCI image layout; TAG matches the
//	                              org.opencontainers.image.ref.name annotation
//	docker:NAME                   an image in the local Docker Engine
//	anything else                 a registry reference (host/repo:tag)
func Load(ctx context.Context, ref string, opt Options) (*Ref, error) {
	var plat *v1.Platform
	if opt.Platform != "" {
		p, err := v1.ParsePlatform(opt.Platform)
		if err == nil && (p.OS == "" || p.Architecture == "") {
			err = errors.New("OS and architecture are both needed")
		}
		if err != nil {
			return nil, fmt.Errorf("parsing platform %q: %w (write it as OS/ARCH[/VARIANT], e.g. linux/arm64)", opt.Platform, err)
		}
		plat = p
	}
	var (
		r   *Ref
		err error
	)
	switch {
	case strings.HasPrefix(ref, "docker-archive:"):
		r, err = loadArchive(ref, strings.TrimPrefix(ref, "docker-archive:"))
	case strings.HasPrefix(ref, "oci:"):
		r, err = loadLayout(ref, strings.TrimPrefix(ref, "oci:"), plat)
	case strings.HasPrefix(ref, "docker:"):
		r, err = loadDaemon(ctx, ref, strings.TrimPrefix(ref, "docker:"))
	case looksLikeArchive(ref):
		r, err = loadArchive(ref, ref)
	default:
		r, err = loadRemote(ctx, ref, opt)
	}
	if err != nil {
		return nil, err
	}
	if r.Index != nil && plat != nil {
		img, err := SelectPlatform(r.Index, *plat)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", ref, err)
		}
		raw, err := img.RawManifest()
		if err != nil {
			return nil, fmt.Errorf("reading %s manifest for %s: %w", ref, opt.Platform, err)
		}
		r = &Ref{Name: r.Name, Tag: r.Tag, Image: img, RawManifest: raw}
	}
	return r, nil
}

func looksLikeArchive(ref string) bool {
	if strings.HasSuffix(ref, ".tar") || strings.HasSuffix(ref, ".tar.gz") || strings.HasSuffix(ref, ".tgz") {
		return true
	}
	if strings.HasPrefix(ref, "/") || strings.HasPrefix(ref, "./") || strings.HasPrefix(ref, "../") {
		fi, err := os.Stat(ref)
		return err == nil && fi.Mode().IsRegular()
	}
	return false
}

func loadArchive(ref, path string) (*Ref, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("reading docker archive %s: %w (give the path of a tarball written by `docker save` or `strata build -o FILE`)", path, err)
	}
	opener := archiveOpener(path)
	img, err := tarball.Image(opener, nil)
	if err != nil {
		return nil, fmt.Errorf("reading docker archive %s: %w (an archive holding several images is not supported: save one image per file)", path, err)
	}
	r, err := imageRef(ref, img)
	if err != nil {
		return nil, err
	}
	if m, err := tarball.LoadManifest(opener); err == nil && len(m) == 1 && len(m[0].RepoTags) > 0 {
		r.Tag = m[0].RepoTags[0]
	}
	return r, nil
}

// archiveOpener opens a docker archive, decompressing it on the fly when
// it is gzipped (docker save | gzip > x.tar.gz).
func archiveOpener(path string) tarball.Opener {
	return func() (io.ReadCloser, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		var magic [2]byte
		if n, _ := io.ReadFull(f, magic[:]); n == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				f.Close()
				return nil, err
			}
			zr, err := gzip.NewReader(f)
			if err != nil {
				f.Close()
				return nil, err
			}
			return struct {
				io.Reader
				io.Closer
			}{zr, f}, nil
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			f.Close()
			return nil, err
		}
		return f, nil
	}
}

func imageRef(display string, img v1.Image) (*Ref, error) {
	raw, err := img.RawManifest()
	if err != nil {
		return nil, fmt.Errorf("reading manifest of %s: %w", display, err)
	}
	return &Ref{Name: display, Image: img, RawManifest: raw}, nil
}

func indexRef(display string, idx v1.ImageIndex) (*Ref, error) {
	raw, err := idx.RawManifest()
	if err != nil {
		return nil, fmt.Errorf("reading index of %s: %w", display, err)
	}
	return &Ref{Name: display, Index: idx, RawManifest: raw}, nil
}

// splitLayout splits "DIR[:TAG]": a TAG is there only when DIR:TAG is not
// itself an existing folder.
func splitLayout(s string) (dir, tag string) {
	if fi, err := os.Stat(s); err == nil && fi.IsDir() {
		return s, ""
	}
	if i := strings.LastIndex(s, ":"); i > 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}

const refNameAnnotation = "org.opencontainers.image.ref.name"

func loadLayout(ref, spec string, plat *v1.Platform) (*Ref, error) {
	dir, tag := splitLayout(spec)
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("reading OCI layout %s: %w (give a folder holding oci-layout and index.json)", dir, err)
	}
	root, err := p.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("reading OCI layout %s: %w", dir, err)
	}
	im, err := root.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading %s/index.json: %w", dir, err)
	}
	var cands []v1.Descriptor
	var tags []string
	for _, d := range im.Manifests {
		t := d.Annotations[refNameAnnotation]
		if t != "" {
			tags = append(tags, t)
		}
		if tag == "" || t == tag {
			cands = append(cands, d)
		}
	}
	sort.Strings(tags)
	if tag != "" && len(cands) == 0 {
		return nil, fmt.Errorf("OCI layout %s has no entry tagged %q (its tags: %s): use one of them", dir, tag, strings.Join(tags, ", "))
	}
	if len(cands) > 1 && plat != nil {
		// index.json may list per-platform manifests directly.
		var match []v1.Descriptor
		for _, d := range cands {
			if d.Platform != nil && d.Platform.Satisfies(*plat) {
				match = append(match, d)
			}
		}
		cands = match
	}
	switch {
	case len(cands) == 0:
		return nil, fmt.Errorf("OCI layout %s holds no image for the request (its tags: %s)", dir, strings.Join(tags, ", "))
	case len(cands) > 1:
		return nil, fmt.Errorf("OCI layout %s holds %d entries: name one with oci:%s:TAG (its tags: %s)", dir, len(cands), dir, strings.Join(tags, ", "))
	}
	d := cands[0]
	var r *Ref
	switch {
	case d.MediaType.IsIndex():
		idx, err := root.ImageIndex(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("reading index %s in OCI layout %s: %w", d.Digest, dir, err)
		}
		r, err = indexRef(ref, idx)
		if err != nil {
			return nil, err
		}
	case d.MediaType.IsImage():
		img, err := root.Image(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("reading image %s in OCI layout %s: %w", d.Digest, dir, err)
		}
		r, err = imageRef(ref, img)
		if err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("OCI layout %s: entry %s is a %s, not an image or an index", dir, d.Digest, d.MediaType)
	}
	r.Tag = d.Annotations[refNameAnnotation]
	return r, nil
}

func loadDaemon(ctx context.Context, ref, nm string) (*Ref, error) {
	r, err := name.ParseReference(nm)
	if err != nil {
		return nil, fmt.Errorf("parsing Docker image name %q: %w (write docker:NAME[:TAG])", nm, err)
	}
	// The default client negotiates the API version with the engine.
	img, err := daemon.Image(r, daemon.WithContext(ctx), daemon.WithFileBufferedOpener())
	if err != nil {
		return nil, fmt.Errorf("reading %s from the Docker Engine: %w (check `docker image ls %s` and that DOCKER_HOST points at a running engine)", nm, err, nm)
	}
	out, err := imageRef(ref, img)
	if err != nil {
		return nil, err
	}
	if t, ok := r.(name.Tag); ok {
		out.Tag = t.Context().RepositoryStr() + ":" + t.TagStr()
	}
	return out, nil
}

func loadRemote(ctx context.Context, ref string, opt Options) (*Ref, error) {
	img, idx, err := registry.Pull(ctx, ref, registry.Options{Insecure: opt.Insecure})
	if err != nil {
		return nil, err
	}
	var r *Ref
	if idx != nil {
		r, err = indexRef(ref, idx)
	} else {
		r, err = imageRef(ref, img)
	}
	if err != nil {
		return nil, err
	}
	if pr, perr := registry.ParseReference(ref, registry.Options{Insecure: opt.Insecure}); perr == nil {
		if t, ok := pr.(name.Tag); ok {
			r.Tag = t.Context().Name() + ":" + t.TagStr()
		} else {
			r.Tag = pr.Context().Name()
		}
	}
	return r, nil
}

// Platforms lists the platforms of an index's entries, "os/arch[/variant]",
// in index order; entries without a platform show as "unknown".
func Platforms(idx v1.ImageIndex) ([]string, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(im.Manifests))
	for _, d := range im.Manifests {
		if d.Platform == nil {
			out = append(out, "unknown")
			continue
		}
		out = append(out, d.Platform.String())
	}
	return out, nil
}

// ErrNoPlatform is returned by SelectPlatform when no entry matches.
var ErrNoPlatform = errors.New("no image for the platform")

// SelectPlatform returns the image of idx whose platform satisfies p
// (nested indexes are searched too).
func SelectPlatform(idx v1.ImageIndex, p v1.Platform) (v1.Image, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading index: %w", err)
	}
	for _, d := range im.Manifests {
		if d.MediaType.IsIndex() {
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return nil, fmt.Errorf("reading nested index %s: %w", d.Digest, err)
			}
			if img, err := SelectPlatform(child, p); err == nil {
				return img, nil
			}
			continue
		}
		if d.Platform != nil && d.MediaType.IsImage() && d.Platform.Satisfies(p) {
			return idx.Image(d.Digest)
		}
	}
	plats, _ := Platforms(idx)
	return nil, fmt.Errorf("%w %s in the index (it has: %s): pick one of those with --platform", ErrNoPlatform, p.String(), strings.Join(plats, ", "))
}
