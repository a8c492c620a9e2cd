package baseimage

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/stratabuild/strata/imageref"
	"github.com/stratabuild/strata/registry"
)

// RefNameAnnotation names an image in an OCI layout's index.json.
const RefNameAnnotation = imageref.RefNameAnnotation

// Request is what to resolve.
type Request struct {
	// Ref is the spec's base, any reference imageref reads:
	// "HOST/REPO[:TAG]", "oci:DIR[:TAG]", "docker-archive:FILE", ...
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
	// registry, OCI layout and Docker Engine bases, the image ID (config
	// digest) for docker-archive bases, which hold no manifest digest of
	// their own.
	Digest string
	// Kind is "registry", "oci", "docker-archive" or "docker".
	Kind string
}

// Resolve finds the base image for req.Platform. The reference is read by
// imageref, exactly as inspect, sbom and why read it.
func Resolve(ctx context.Context, req Request) (*Result, error) {
	if req.Platform.OS == "" || req.Platform.Architecture == "" {
		return nil, fmt.Errorf("resolving base %s: no platform given (OS and architecture)", req.Ref)
	}
	kind := imageref.Parse(req.Ref, req.Dir).Kind
	opt := imageref.Options{Platform: imageref.PlatformString(req.Platform), Registry: req.Registry, Dir: req.Dir}
	if req.Locked != "" && kind == imageref.KindRegistry {
		if _, err := v1.NewHash(req.Locked); err != nil {
			return nil, fmt.Errorf("base %s: strata.lock holds %q, which is not a digest: run `strata lock --update`", req.Ref, req.Locked)
		}
		// The lock wins over wherever the tag points now.
		opt.Pin = req.Locked
	}
	r, err := imageref.Load(ctx, req.Ref, opt)
	if err != nil {
		if opt.Pin != "" {
			return nil, fmt.Errorf("base %s: fetching the locked digest %s: %w (if it was deleted from the registry, run `strata lock --update`)", req.Ref, req.Locked, err)
		}
		return nil, fmt.Errorf("base %s: %w", req.Ref, err)
	}
	res := &Result{Image: r.Image, Kind: string(r.Kind)}
	var d v1.Hash
	if r.Kind == imageref.KindArchive {
		d, err = r.Image.ConfigName()
	} else {
		d, err = r.Image.Digest()
	}
	if err != nil {
		return nil, fmt.Errorf("base %s: reading its digest: %w", req.Ref, err)
	}
	res.Digest = d.String()
	if req.Locked != "" && opt.Pin == "" && req.Locked != res.Digest {
		return nil, fmt.Errorf("base %s for %s is %s, but strata.lock has %s: the local base changed; run `strata lock --update` to accept it", req.Ref, imageref.PlatformString(req.Platform), res.Digest, req.Locked)
	}
	return res, nil
}
