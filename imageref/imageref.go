package imageref

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/daemon"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/stratabuild/strata/registry"
)

// Kind says which form a reference has.
type Kind string

// Reference kinds.
const (
	KindArchive  Kind = "docker-archive"
	KindLayout   Kind = "oci"
	KindDaemon   Kind = "docker"
	KindRegistry Kind = "registry"
)

// Options tune Load.
type Options struct {
	// Platform ("os/arch[/variant]") picks one image out of an index, and
	// a single image must be for it (when its config names a platform).
	// Without it an index stays an Index.
	Platform string
	// Insecure allows plain HTTP to non-loopback registries (ORed into
	// Registry.Insecure).
	Insecure bool
	// Registry configures registry access: credentials, --insecure.
	Registry registry.Options
	// Dir is the folder relative local paths (archives, layouts) are taken
	// from; "" means the working directory.
	Dir string
	// Pin, a digest, reads that manifest of a registry reference's
	// repository instead of whatever its tag points to now. Local
	// references ignore it: their content is what it is, and the caller
	// compares it with the pin.
	Pin string
}

// Ref is a loaded reference: exactly one of Image and Index is set.
type Ref struct {
	// Name is how the reference is shown to the user.
	Name string
	// Kind is the reference's form.
	Kind Kind
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

// Parsed is a reference string taken apart, before anything is read.
type Parsed struct {
	Kind Kind
	// Path is the archive file or the layout folder (local kinds),
	// resolved against Options.Dir.
	Path string
	// Tag is the ref.name an oci:DIR:TAG reference asks for.
	Tag string
	// Name is the Docker image name (docker:NAME) or the registry
	// reference.
	Name string
}

// Parse takes a reference string apart. It is the only reading of
// reference strings in strata, so one string means one image everywhere:
//
//	x.tar, x.tar.gz, x.tgz        a docker-archive tarball (also any
//	docker-archive:x.tar          existing file named by an absolute or
//	                              ./ or ../ path)
//	oci:DIR, oci:DIR:TAG          an OCI image layout; TAG matches the
//	                              org.opencontainers.image.ref.name annotation
//	docker:NAME                   an image in the local Docker Engine
//	anything else                 a registry reference (host/repo:tag)
//
// In oci:DIR:TAG the last ":" starts the TAG unless the whole string is an
// existing folder or the tail holds a "/" (a tag never does).
func Parse(ref, dir string) Parsed {
	local := func(p string) string {
		if p == "" || filepath.IsAbs(p) || dir == "" {
			return p
		}
		return filepath.Join(dir, p)
	}
	switch {
	case strings.HasPrefix(ref, "docker-archive:"):
		return Parsed{Kind: KindArchive, Path: local(strings.TrimPrefix(ref, "docker-archive:"))}
	case strings.HasPrefix(ref, "oci:"):
		s := strings.TrimPrefix(ref, "oci:")
		d, tag := s, ""
		if i := strings.LastIndex(s, ":"); i >= 0 && !strings.Contains(s[i+1:], "/") {
			if fi, err := os.Stat(local(s)); err != nil || !fi.IsDir() {
				d, tag = s[:i], s[i+1:]
			}
		}
		return Parsed{Kind: KindLayout, Path: local(d), Tag: tag}
	case strings.HasPrefix(ref, "docker:"):
		return Parsed{Kind: KindDaemon, Name: strings.TrimPrefix(ref, "docker:")}
	case looksLikeArchive(local(ref), ref):
		return Parsed{Kind: KindArchive, Path: local(ref)}
	}
	// An existing path is the user's file, never a registry lookup: a
	// folder is read as an OCI layout, anything else as a docker archive,
	// and each says what it is not.
	if fi, err := os.Stat(local(ref)); err == nil && ref != "" {
		if fi.IsDir() {
			return Parsed{Kind: KindLayout, Path: local(ref)}
		}
		return Parsed{Kind: KindArchive, Path: local(ref)}
	}
	return Parsed{Kind: KindRegistry, Name: ref}
}

func looksLikeArchive(path, ref string) bool {
	if strings.HasSuffix(ref, ".tar") || strings.HasSuffix(ref, ".tar.gz") || strings.HasSuffix(ref, ".tgz") {
		return true
	}
	if strings.HasPrefix(ref, "/") || strings.HasPrefix(ref, "./") || strings.HasPrefix(ref, "../") {
		fi, err := os.Stat(path)
		return err == nil && fi.Mode().IsRegular()
	}
	return false
}

// ParsePlatform reads "os/arch[/variant]"; OS and architecture are needed.
func ParsePlatform(s string) (v1.Platform, error) {
	p, err := v1.ParsePlatform(s)
	if err == nil && (p.OS == "" || p.Architecture == "") {
		err = errors.New("OS and architecture are both needed")
	}
	if err != nil {
		return v1.Platform{}, fmt.Errorf("parsing platform %q: %w (write it as OS/ARCH[/VARIANT], e.g. linux/arm64)", s, err)
	}
	return *p, nil
}

// Load reads ref (see Parse for the forms).
func Load(ctx context.Context, ref string, opt Options) (*Ref, error) {
	var plat *v1.Platform
	if opt.Platform != "" {
		p, err := ParsePlatform(opt.Platform)
		if err != nil {
			return nil, err
		}
		plat = &p
	}
	ps := Parse(ref, opt.Dir)
	var (
		r   *Ref
		err error
	)
	switch ps.Kind {
	case KindArchive:
		r, err = loadArchive(ref, ps.Path)
	case KindLayout:
		r, err = loadLayout(ref, ps, plat)
	case KindDaemon:
		r, err = loadDaemon(ctx, ref, ps.Name)
	default:
		r, err = loadRemote(ctx, ref, opt)
	}
	if err != nil {
		return nil, err
	}
	r.Kind = ps.Kind
	if plat == nil {
		return r, nil
	}
	if r.Index != nil {
		img, err := SelectPlatform(r.Index, *plat)
		if err != nil {
			return nil, fmt.Errorf("%s %w", ref, err)
		}
		raw, err := img.RawManifest()
		if err != nil {
			return nil, fmt.Errorf("reading %s manifest for %s: %w", ref, opt.Platform, err)
		}
		return &Ref{Name: r.Name, Kind: r.Kind, Tag: r.Tag, Image: img, RawManifest: raw}, nil
	}
	if err := checkPlatform(ref, r.Image, *plat); err != nil {
		return nil, err
	}
	return r, nil
}

func loadArchive(ref, path string) (*Ref, error) {
	if path == "" {
		return nil, fmt.Errorf("reading %s: no file given (write docker-archive:FILE)", ref)
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("reading the docker archive %s: %w (give the path of a tarball written by `docker save IMAGE -o FILE` or `strata build -o FILE`)", path, err)
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("reading the docker archive %s: it is a folder, not a tarball (write oci:%s for an OCI layout)", path, path)
	}
	opener := archiveOpener(path)
	img, err := tarball.Image(opener, nil)
	if err != nil {
		return nil, archiveError(path, opener, err)
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

// archiveError says why path could not be read as a docker archive: not a
// tar at all, a tar cut short, a tar without manifest.json, or one that
// holds several images. Only the failure path reads the file again.
func archiveError(path string, open tarball.Opener, err error) error {
	const how = "give a tarball written by `docker save IMAGE -o FILE` or `strata build -o FILE`"
	if m, merr := tarball.LoadManifest(open); merr == nil && len(m) > 1 {
		return fmt.Errorf("reading the docker archive %s: it holds %d images, and an archive holding several images is not supported: save one image per file", path, len(m))
	}
	rc, oerr := open()
	if oerr != nil {
		return fmt.Errorf("reading the docker archive %s: %w", path, oerr)
	}
	defer rc.Close()
	zr := &zeroTail{r: rc}
	tr := tar.NewReader(zr)
	entries, manifest := 0, false
	for {
		h, terr := tr.Next()
		if terr == io.EOF {
			break
		}
		if terr != nil && entries == 0 {
			return fmt.Errorf("reading the docker archive %s: it is not a tar archive (%v): %s", path, terr, how)
		}
		if terr == nil {
			_, terr = io.Copy(io.Discard, tr)
		}
		if terr != nil {
			return fmt.Errorf("reading the docker archive %s: it is truncated or damaged after %d entries (%v): write or download it again", path, entries, terr)
		}
		entries++
		if h.Name == "manifest.json" {
			manifest = true
		}
	}
	if entries == 0 {
		return fmt.Errorf("reading the docker archive %s: it is empty or not a tar archive: %s", path, how)
	}
	if !manifest && zr.run < 2*512 {
		// No end-of-archive blocks: cut off at an entry boundary
		// (docker save and strata write manifest.json last).
		return fmt.Errorf("reading the docker archive %s: it is truncated or damaged after %d entries (it ends without the end-of-archive blocks, and manifest.json is missing): write or download it again", path, entries)
	}
	if !manifest {
		return fmt.Errorf("reading the docker archive %s: it is a tar archive but not a docker archive (it has no manifest.json): %s", path, how)
	}
	return fmt.Errorf("reading the docker archive %s: %w (%s)", path, err, how)
}

// zeroTail counts the zero bytes at the end of what was read so far: a
// complete tar ends with two zero blocks.
type zeroTail struct {
	r   io.Reader
	run int
}

func (z *zeroTail) Read(p []byte) (int, error) {
	n, err := z.r.Read(p)
	for _, c := range p[:n] {
		if c == 0 {
			z.run++
		} else {
			z.run = 0
		}
	}
	return n, err
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

// RefNameAnnotation names an entry of an OCI layout's index.json.
const RefNameAnnotation = "org.opencontainers.image.ref.name"

func loadLayout(ref string, ps Parsed, plat *v1.Platform) (*Ref, error) {
	dir, tag := ps.Path, ps.Tag
	if dir == "" {
		return nil, fmt.Errorf("reading %s: no folder given (write oci:DIR or oci:DIR:TAG)", ref)
	}
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		return nil, fmt.Errorf("reading the OCI layout %s: it is a file, not a folder (write docker-archive:%s for a tarball)", dir, dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "oci-layout")); errors.Is(err, os.ErrNotExist) {
		if _, derr := os.Stat(dir); derr == nil {
			return nil, fmt.Errorf("reading the OCI layout %s: it is a folder that is not an OCI image layout (it has no oci-layout file): give a folder written by `strata build --oci DIR` or `skopeo copy ... oci:DIR:TAG`", dir)
		}
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("reading the OCI layout %s: %w (give a folder holding oci-layout and index.json, as written by `skopeo copy ... oci:DIR:TAG`)", dir, err)
	}
	root, err := p.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("reading the OCI layout %s: %w", dir, err)
	}
	im, err := root.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading %s/index.json: %w", dir, err)
	}
	var cands []v1.Descriptor
	var tags []string
	for _, d := range im.Manifests {
		t := d.Annotations[RefNameAnnotation]
		if t != "" {
			tags = append(tags, t)
		}
		if tag == "" || t == tag {
			cands = append(cands, d)
		}
	}
	switch {
	case tag != "" && len(cands) == 0:
		return nil, fmt.Errorf("OCI layout %s has no image named %q (%s): name one of them", dir, tag, describeTags(tags))
	case len(cands) == 0:
		return nil, fmt.Errorf("OCI layout %s holds no image", dir)
	case len(cands) > 1 && allPlatformImages(cands):
		// index.json itself lists one image per platform: it is the index.
		r, err := indexRef(ref, root)
		if err != nil {
			return nil, err
		}
		r.Tag = tag
		return r, nil
	case len(cands) > 1:
		return nil, fmt.Errorf("OCI layout %s holds %d images: name one with oci:%s:TAG (%s)", dir, len(cands), dir, describeTags(tags))
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
	r.Tag = d.Annotations[RefNameAnnotation]
	return r, nil
}

func describeTags(tags []string) string {
	if len(tags) == 0 {
		return "its images carry no " + RefNameAnnotation + " annotation"
	}
	return "it has " + strings.Join(tags, ", ")
}

func allPlatformImages(ds []v1.Descriptor) bool {
	for _, d := range ds {
		if !d.MediaType.IsImage() || d.Platform == nil {
			return false
		}
	}
	return true
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
	out, err := imageRef(ref, daemonImage{img})
	if err != nil {
		return nil, err
	}
	if t, ok := r.(name.Tag); ok {
		out.Tag = t.Context().RepositoryStr() + ":" + t.TagStr()
	}
	return out, nil
}

// daemonImage reads the config from the image's own config blob.
// go-containerregistry's daemon image rebuilds ConfigFile from the
// Engine's inspect and history answers, and the history API lists the
// newest layer first: every layer's history entry (strata's titles) would
// be shown against the wrong layer, and sizes of 0 would count as empty
// layers. The blob `docker save` exports is the config as built.
type daemonImage struct{ v1.Image }

func (d daemonImage) ConfigFile() (*v1.ConfigFile, error) {
	raw, err := d.RawConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the image config from the Docker Engine: %w", err)
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("parsing the image config from the Docker Engine: %w", err)
	}
	return cf, nil
}

func loadRemote(ctx context.Context, ref string, opt Options) (*Ref, error) {
	ro := opt.Registry
	ro.Insecure = ro.Insecure || opt.Insecure
	pr, err := registry.ParseReference(ref, ro)
	if err != nil {
		return nil, err
	}
	pull := pr
	if opt.Pin != "" {
		if _, err := v1.NewHash(opt.Pin); err != nil {
			return nil, fmt.Errorf("pinning %s: %q is not a digest: %w", ref, opt.Pin, err)
		}
		pull = pr.Context().Digest(opt.Pin)
	}
	img, idx, err := registry.Pull(ctx, pull.String(), ro)
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
	if t, ok := pr.(name.Tag); ok {
		r.Tag = t.Context().Name() + ":" + t.TagStr()
	} else {
		r.Tag = pr.Context().Name()
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

// Matches reports whether an image for have runs where want is asked for:
// OS and architecture equal, and the variant equal when want names one
// (arm64's default variant is v8). It is strata's one platform rule.
func Matches(have, want v1.Platform) bool {
	if have.OS != want.OS || have.Architecture != want.Architecture {
		return false
	}
	if want.Variant == "" {
		return true
	}
	return variant(have) == variant(want)
}

func variant(p v1.Platform) string {
	if p.Architecture == "arm64" && p.Variant == "" {
		return "v8"
	}
	return p.Variant
}

// ErrNoPlatform is returned by SelectPlatform when no entry matches.
var ErrNoPlatform = errors.New("has no image for")

// SelectPlatform returns the image of idx for p: the entries (nested
// indexes searched too) that Match it, an exact variant preferred over a
// wildcard one. Entries for "unknown" (attestations) are never chosen.
func SelectPlatform(idx v1.ImageIndex, p v1.Platform) (v1.Image, error) {
	var have []string
	img, err := selectIn(idx, p, &have)
	if err != nil {
		return nil, err
	}
	if img == nil {
		slices.Sort(have)
		return nil, fmt.Errorf("%w %s (it has %s): choose one of those with --platform", ErrNoPlatform, PlatformString(p), strings.Join(slices.Compact(have), ", "))
	}
	return img, nil
}

func selectIn(idx v1.ImageIndex, p v1.Platform, have *[]string) (v1.Image, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading the index: %w", err)
	}
	var match *v1.Descriptor
	for i, d := range im.Manifests {
		if d.MediaType.IsIndex() {
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return nil, fmt.Errorf("reading nested index %s: %w", d.Digest, err)
			}
			img, err := selectIn(child, p, have)
			if err != nil || img != nil {
				return img, err
			}
			continue
		}
		if d.Platform == nil || !d.MediaType.IsImage() || d.Platform.OS == "unknown" {
			continue
		}
		*have = append(*have, PlatformString(*d.Platform))
		if !Matches(*d.Platform, p) {
			continue
		}
		if match == nil || (d.Platform.Variant == p.Variant && match.Platform.Variant != p.Variant) {
			match = &im.Manifests[i]
		}
	}
	if match == nil {
		return nil, nil
	}
	img, err := idx.Image(match.Digest)
	if err != nil {
		return nil, fmt.Errorf("opening the %s image %s: %w", PlatformString(p), match.Digest, err)
	}
	return img, nil
}

// checkPlatform verifies a single image's config against the platform;
// an image whose config names no platform is accepted.
func checkPlatform(ref string, img v1.Image, want v1.Platform) error {
	cf, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("reading the image config of %s: %w", ref, err)
	}
	hp := cf.Platform()
	if hp == nil || (hp.OS == "" && hp.Architecture == "") {
		return nil
	}
	have := *hp
	if !Matches(have, want) {
		return fmt.Errorf("%s is a %s image, not %s: use --platform %s, or an image for %s", ref, PlatformString(have), PlatformString(want), PlatformString(have), PlatformString(want))
	}
	return nil
}

// PlatformString is "os/arch[/variant]".
func PlatformString(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}
