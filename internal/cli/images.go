package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stratabuild/strata/build"
	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/imagegraph"
	"github.com/stratabuild/strata/imageref"
	"github.com/stratabuild/strata/spec"
)

// isSpec reports whether arg names a spec (a .yaml file or a folder
// holding strata.yaml) rather than an image reference.
func isSpec(arg string) bool {
	if strings.HasPrefix(arg, "oci:") || strings.HasPrefix(arg, "docker:") || strings.HasPrefix(arg, "docker-archive:") {
		return false
	}
	st, err := os.Stat(arg)
	if err != nil {
		return false
	}
	if st.IsDir() {
		_, err := os.Stat(filepath.Join(arg, spec.FileName))
		return err == nil
	}
	return strings.HasSuffix(arg, ".yaml") || strings.HasSuffix(arg, ".yml")
}

// loadImage reads an image reference, or plans and assembles a spec in
// memory (layers go to the cache; no image is written anywhere).
func (g *globals) loadImage(ctx context.Context, arg, platform string, insecure bool) (*imageref.Ref, *build.Result, error) {
	if !isSpec(arg) {
		r, err := imageref.Load(ctx, arg, imageref.Options{Platform: platform, Insecure: insecure})
		return r, nil, err
	}
	res, err := g.buildSpec(ctx, arg, platform)
	if err != nil {
		return nil, nil, err
	}
	ref := &imageref.Ref{Name: arg, Tag: res.Tag}
	if res.Index != nil && platform == "" {
		ref.Index = res.Index
		ref.RawManifest, err = res.Index.RawManifest()
	} else {
		ref.Image = res.Images[0].Image
		ref.RawManifest, err = ref.Image.RawManifest()
	}
	return ref, res, err
}

// buildSpec resolves, plans and assembles a spec without writing it.
func (g *globals) buildSpec(ctx context.Context, arg, platform string) (*build.Result, error) {
	s, err := g.loadSpec(arg)
	if err != nil {
		return nil, err
	}
	st, err := g.store()
	if err != nil {
		return nil, err
	}
	opt := build.Options{Cache: st, Env: closure.Env{Events: g.events()}}
	if platform != "" {
		opt.Platforms = []string{platform}
	}
	return build.Build(ctx, s, opt)
}

// specGraph resolves a spec's closure for one platform (the first, or the
// one asked for).
func (g *globals) specGraph(ctx context.Context, arg, platform string) (*closure.Graph, *spec.Spec, error) {
	s, err := g.loadSpec(arg)
	if err != nil {
		return nil, nil, err
	}
	st, err := g.store()
	if err != nil {
		return nil, nil, err
	}
	opt := build.Options{Cache: st, Env: closure.Env{Events: g.events()}}
	if platform != "" {
		opt.Platforms = []string{platform}
	}
	r, err := build.Resolve(ctx, s, opt, build.ResolveOptions{})
	if err != nil {
		return nil, nil, err
	}
	return r.Graphs[0], s, nil
}

// graphOf is a spec's resolved closure, or an image's packages read back
// from its dpkg status.d entries and Nix store paths (imagegraph.FromImage).
func (g *globals) graphOf(ctx context.Context, arg, platform string, insecure bool) (*closure.Graph, error) {
	if isSpec(arg) {
		gr, _, err := g.specGraph(ctx, arg, platform)
		return gr, err
	}
	r, err := imageref.Load(ctx, arg, imageref.Options{Platform: platform, Insecure: insecure})
	if err != nil {
		return nil, err
	}
	img, err := r.SingleImage()
	if err != nil {
		return nil, err
	}
	gr, err := imagegraph.FromImage(img)
	if err != nil {
		return nil, fmt.Errorf("reading the packages of %s: %w", arg, err)
	}
	return gr, nil
}

// imageDigestAndCreated reads what an SBOM of an image needs.
func imageFacts(img v1.Image) (v1.Hash, *v1.ConfigFile, error) {
	d, err := img.Digest()
	if err != nil {
		return v1.Hash{}, nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return v1.Hash{}, nil, fmt.Errorf("reading the image config: %w", err)
	}
	return d, cf, nil
}
