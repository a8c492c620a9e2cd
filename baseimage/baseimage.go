package baseimage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/registry"
)

// RefNameAnnotation names an image in an OCI layout's index.json.
const RefNameAnnotation = "org.opencontainers.image.ref.name"

// Request is what to resolve.
type Request struct {
	// Ref is the spec's base: "HOST/REPO[:TAG]", "oci:DIR[:TAG]" or
	// "docker-archive:FILE".
	Ref string
	// Platform is the platform being built; OS and Architecture must be
	// set, an empty Variant matches any.
	Platform v1.Platform
	// Locked is the digest strata.lock holds for this base and platform,
	// "" when there is no lock (or on lock --update).
	Locked string
	// Dir is the folder relative local paths are taken from (the spec's);
	// "" means the working directory.
	Dir string
	// Registry configures registry access (credentials, --insecure).
	Registry registry.Options
}

// Result is the resolved base.
type Result struct {
	Image v1.Image
	// Digest is what to lock: the platform image's manifest digest for
	// registry and OCI layout bases, the image ID (config digest) for
	// docker-archive bases, which hold no manifest digest of their own.
	Digest string
	// Kind is "registry", "oci" or "docker-archive".
	Kind string
}

// Resolve finds the base image for req.Platform.
func Resolve(ctx context.Context, req Request) (*Result, error) {
	if req.Platform.OS == "" || req.Platform.Architecture == "" {
		return nil, fmt.Errorf("resolving base %s: no platform given (OS and architecture)", req.Ref)
	}
	var (
		res *Result
		err error
	)
	switch {
	case strings.HasPrefix(req.Ref, "oci:"):
		res, err = resolveLayout(req)
	case strings.HasPrefix(req.Ref, "docker-archive:"):
		res, err = resolveArchive(req)
	default:
		return resolveRegistry(ctx, req)
	}
	if err != nil {
		return nil, err
	}
	if req.Locked != "" && req.Locked != res.Digest {
		return nil, fmt.Errorf("base %s for %s is %s, but strata.lock has %s: the local base changed; run `strata lock --update` to accept it", req.Ref, platformString(req.Platform), res.Digest, req.Locked)
	}
	return res, nil
}

func (r Request) path(p string) string {
	if p == "" || filepath.IsAbs(p) || r.Dir == "" {
		return p
	}
	return filepath.Join(r.Dir, p)
}

// splitLayoutRef splits "DIR[:TAG]". A ":" belongs to the folder name when
// the whole string names an existing folder or the tail holds a "/".
func splitLayoutRef(s string, exists func(string) bool) (dir, tag string) {
	i := strings.LastIndex(s, ":")
	if i < 0 || exists(s) || strings.Contains(s[i+1:], "/") {
		return s, ""
	}
	return s[:i], s[i+1:]
}

func resolveLayout(req Request) (*Result, error) {
	dir, tag := splitLayoutRef(strings.TrimPrefix(req.Ref, "oci:"), func(p string) bool {
		_, err := os.Stat(filepath.Join(req.path(p), "index.json"))
		return err == nil
	})
	if dir == "" {
		return nil, fmt.Errorf("base %s: no folder given (write oci:DIR or oci:DIR:TAG)", req.Ref)
	}
	idx, err := layout.ImageIndexFromPath(req.path(dir))
	if err != nil {
		return nil, fmt.Errorf("base %s: reading the OCI layout %s: %w (is it a folder with index.json, as written by `skopeo copy ... oci:DIR:TAG`?)", req.Ref, req.path(dir), err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("base %s: reading %s/index.json: %w", req.Ref, dir, err)
	}
	var names []string
	for _, d := range im.Manifests {
		if n := d.Annotations[RefNameAnnotation]; n != "" {
			names = append(names, n)
		}
	}
	var cands []v1.Descriptor
	if tag != "" {
		for _, d := range im.Manifests {
			if d.Annotations[RefNameAnnotation] == tag {
				cands = append(cands, d)
			}
		}
		if len(cands) == 0 {
			return nil, fmt.Errorf("base %s: no image named %q in %s (%s): name one of them", req.Ref, tag, dir, describeNames(names))
		}
	} else {
		cands = im.Manifests
		if len(cands) == 0 {
			return nil, fmt.Errorf("base %s: the OCI layout %s holds no image", req.Ref, dir)
		}
	}
	var d v1.Descriptor
	switch {
	case len(cands) == 1:
		d = cands[0]
	case allPlatformImages(cands):
		// index.json itself lists one image per platform.
		img, dig, err := pickFromIndex(idx, cands, req)
		if err != nil {
			return nil, err
		}
		return &Result{Image: img, Digest: dig, Kind: "oci"}, nil
	default:
		return nil, fmt.Errorf("base %s: %s holds %d images: name one with oci:%s:TAG (%s)", req.Ref, dir, len(cands), dir, describeNames(names))
	}
	img, dig, err := fromDescriptor(idx, d, req)
	if err != nil {
		return nil, err
	}
	return &Result{Image: img, Digest: dig, Kind: "oci"}, nil
}

func describeNames(names []string) string {
	if len(names) == 0 {
		return "its images carry no " + RefNameAnnotation + " annotation"
	}
	return "it has " + strings.Join(names, ", ")
}

func allPlatformImages(ds []v1.Descriptor) bool {
	for _, d := range ds {
		if !d.MediaType.IsImage() || d.Platform == nil {
			return false
		}
	}
	return true
}

// fromDescriptor opens the image or index d of parent and picks the
// platform.
func fromDescriptor(parent v1.ImageIndex, d v1.Descriptor, req Request) (v1.Image, string, error) {
	switch {
	case d.MediaType.IsIndex():
		child, err := parent.ImageIndex(d.Digest)
		if err != nil {
			return nil, "", fmt.Errorf("base %s: opening index %s: %w", req.Ref, d.Digest, err)
		}
		return pickPlatform(child, req)
	case d.MediaType.IsImage():
		img, err := parent.Image(d.Digest)
		if err != nil {
			return nil, "", fmt.Errorf("base %s: opening image %s: %w", req.Ref, d.Digest, err)
		}
		if err := checkPlatform(img, req); err != nil {
			return nil, "", err
		}
		return img, d.Digest.String(), nil
	}
	return nil, "", fmt.Errorf("base %s: %s is a %s, not an image or an index", req.Ref, d.Digest, d.MediaType)
}

// pickPlatform chooses req.Platform's image from an index.
func pickPlatform(idx v1.ImageIndex, req Request) (v1.Image, string, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, "", fmt.Errorf("base %s: reading the index: %w", req.Ref, err)
	}
	return pickFromIndex(idx, im.Manifests, req)
}

func pickFromIndex(idx v1.ImageIndex, ds []v1.Descriptor, req Request) (v1.Image, string, error) {
	var match *v1.Descriptor
	var have []string
	for i, d := range ds {
		if d.Platform == nil || !d.MediaType.IsImage() {
			continue
		}
		if d.Platform.OS == "unknown" {
			continue // attestations
		}
		have = append(have, platformString(*d.Platform))
		if !platformMatches(*d.Platform, req.Platform) {
			continue
		}
		// Prefer an exact variant match over a wildcard one.
		if match == nil || (d.Platform.Variant == req.Platform.Variant && match.Platform.Variant != req.Platform.Variant) {
			match = &ds[i]
		}
	}
	if match == nil {
		slices.Sort(have)
		return nil, "", fmt.Errorf("base %s has no image for %s (it has %s): build for one of those with --platform, or pick another base", req.Ref, platformString(req.Platform), strings.Join(slices.Compact(have), ", "))
	}
	img, err := idx.Image(match.Digest)
	if err != nil {
		return nil, "", fmt.Errorf("base %s: opening the %s image %s: %w", req.Ref, platformString(req.Platform), match.Digest, err)
	}
	return img, match.Digest.String(), nil
}

// platformMatches: OS and architecture equal; the variant equal when asked
// for (arm64's "v8" is its default).
func platformMatches(have, want v1.Platform) bool {
	if have.OS != want.OS || have.Architecture != want.Architecture {
		return false
	}
	if want.Variant == "" {
		return true
	}
	norm := func(p v1.Platform) string {
		if p.Architecture == "arm64" && p.Variant == "" {
			return "v8"
		}
		return p.Variant
	}
	return norm(have) == norm(want)
}

// checkPlatform verifies a single image's config against the platform;
// an image whose config names no platform is accepted.
func checkPlatform(img v1.Image, req Request) error {
	cf, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("base %s: reading the image config: %w", req.Ref, err)
	}
	if cf.OS == "" && cf.Architecture == "" {
		return nil
	}
	have := v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}
	if !platformMatches(have, req.Platform) {
		return fmt.Errorf("base %s is a %s image, not %s: build with --platform %s, or use a base for %s", req.Ref, platformString(have), platformString(req.Platform), platformString(have), platformString(req.Platform))
	}
	return nil
}

func platformString(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

func resolveArchive(req Request) (*Result, error) {
	file := req.path(strings.TrimPrefix(req.Ref, "docker-archive:"))
	if file == "" {
		return nil, fmt.Errorf("base %s: no file given (write docker-archive:FILE)", req.Ref)
	}
	if _, err := os.Stat(file); err != nil {
		return nil, fmt.Errorf("base %s: %w (make it with `docker save IMAGE -o FILE`)", req.Ref, err)
	}
	img, err := tarball.ImageFromPath(file, nil)
	if err != nil {
		return nil, fmt.Errorf("base %s: reading the docker archive %s: %w (it must hold one image, as written by `docker save IMAGE -o FILE`)", req.Ref, file, err)
	}
	if err := checkPlatform(img, req); err != nil {
		return nil, err
	}
	id, err := img.ConfigName()
	if err != nil {
		return nil, fmt.Errorf("base %s: reading the image config: %w", req.Ref, err)
	}
	return &Result{Image: img, Digest: id.String(), Kind: "docker-archive"}, nil
}

func resolveRegistry(ctx context.Context, req Request) (*Result, error) {
	ref, err := registry.ParseReference(req.Ref, req.Registry)
	if err != nil {
		return nil, fmt.Errorf("base %s: %w", req.Ref, err)
	}
	pull := ref
	if req.Locked != "" {
		if _, err := v1.NewHash(req.Locked); err != nil {
			return nil, fmt.Errorf("base %s: strata.lock holds %q, which is not a digest: run `strata lock --update`", req.Ref, req.Locked)
		}
		// The lock wins over wherever the tag points now.
		pull = ref.Context().Digest(req.Locked)
	}
	img, idx, err := registry.Pull(ctx, pull.String(), req.Registry)
	if err != nil {
		if req.Locked != "" {
			return nil, fmt.Errorf("base %s: fetching the locked digest %s: %w (if it was deleted from the registry, run `strata lock --update`)", req.Ref, req.Locked, err)
		}
		return nil, fmt.Errorf("base %s: %w", req.Ref, err)
	}
	if idx != nil {
		img, dig, err := pickPlatform(idx, req)
		if err != nil {
			return nil, err
		}
		return &Result{Image: img, Digest: dig, Kind: "registry"}, nil
	}
	if err := checkPlatform(img, req); err != nil {
		return nil, err
	}
	dig, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("base %s: %w", req.Ref, err)
	}
	return &Result{Image: img, Digest: dig.String(), Kind: "registry"}, nil
}

// PlatformOf converts a build platform to the OCI one Resolve takes.
func PlatformOf(p closure.Platform) v1.Platform {
	return v1.Platform{OS: p.OS, Architecture: p.Arch, Variant: p.Variant}
}
