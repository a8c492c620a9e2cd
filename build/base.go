package build

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/stratabuild/strata/baseimage"
	"github.com/stratabuild/strata/cache"
	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/lockfile"
	"github.com/stratabuild/strata/registry"
	"github.com/stratabuild/strata/spec"
)

// baseLock is strata.lock's section for a base image.
type baseLock struct {
	Ref    string `json:"ref"`
	Digest string `json:"digest"`
}

// baseSource is the spec's base: image as a source: no nodes, a lock
// section pinning the digest, and the image strata's layers go on.
type baseSource struct {
	ref, dir string
	reg      registry.Options
}

var (
	_ closure.Source     = baseSource{}
	_ closure.InputKeyer = baseSource{}
)

func baseFactory(opt Options) Factory {
	return func(s *spec.Spec, _ cache.Cache) []closure.Source {
		if s.Base == "" {
			return nil
		}
		return []closure.Source{baseSource{ref: s.Base, dir: s.Dir, reg: opt.Registry}}
	}
}

func (b baseSource) Name() string { return "base" }

// InputsKey implements closure.InputKeyer: the reference as written.
func (b baseSource) InputsKey() (json.RawMessage, error) { return json.Marshal(b.ref) }

func (b baseSource) Resolve(ctx context.Context, req closure.Request) (*closure.Result, error) {
	var bl baseLock
	if req.Locked != nil {
		if err := json.Unmarshal(req.Locked, &bl); err != nil {
			return nil, fmt.Errorf("reading the base section of %s: %w (run `strata lock --update`)", lockfile.Name, err)
		}
		if bl.Ref != b.ref {
			bl.Digest = "" // the spec names another base now
		}
	}
	req.Env.Events.Infof("resolving base %s for %s", b.ref, req.Platform)
	p := req.Platform
	res, err := baseimage.Resolve(ctx, baseimage.Request{
		Ref:      b.ref,
		Platform: p.OCI(),
		Locked:   bl.Digest,
		Dir:      b.dir,
		Registry: b.reg,
	})
	if err != nil {
		return nil, fmt.Errorf("resolving base image: %w", err)
	}
	raw, err := json.Marshal(baseLock{Ref: b.ref, Digest: res.Digest})
	if err != nil {
		return nil, err
	}
	return &closure.Result{Graph: closure.New(), Lock: raw, Base: res.Image}, nil
}
