package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/v1"
	"github.com/stratabuild/strata/baseimage"
	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/closure/deb"
	"github.com/stratabuild/strata/image"
	"github.com/stratabuild/strata/layer"
	"github.com/stratabuild/strata/layering"
	"github.com/stratabuild/strata/lockfile"
	"github.com/stratabuild/strata/registry"
	"github.com/stratabuild/strata/sink"
	"github.com/stratabuild/strata/spec"
	"github.com/stratabuild/strata/store"
)

// Options configure a build.
type Options struct {
	Store       *store.Store
	Compression layer.Compression
	// Tag overrides the spec's tag (just the tag part, or name:tag).
	Tag string
	// Platforms overrides the spec's platforms.
	Platforms []string
	// Log receives progress lines; nil is quiet.
	Log io.Writer
	// Frozen fails when strata.lock is missing or the spec changed since.
	Frozen bool
	// NoLock neither reads nor checks a strata.lock (spec-less builds,
	// whose folder is only where relative paths resolve).
	NoLock bool
	// Getenv and Now default to os.Getenv and time.Now (tests pin them).
	Getenv func(string) string
	Now    func() time.Time
	// ExtraSources are added to the spec's own (e.g. `--nix PATH`).
	ExtraSources []closure.Source
	// Registry configures registry access for base images.
	Registry registry.Options
	// Strategy and Budget override every spec's layering settings.
	Strategy string
	Budget   int
}

func (o *Options) defaults() {
	if o.Compression == "" {
		o.Compression = layer.Gzip
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Image is one platform's result.
type Image struct {
	Platform closure.Platform
	Graph    *closure.Graph
	Plan     *layering.Plan
	Image    v1.Image
	Digest   v1.Hash
	Layers   []image.LayerInfo
}

// Result is a finished build.
type Result struct {
	Spec *spec.Spec
	// Tag is name:tag.
	Tag          string
	Created      time.Time
	Reproducible bool
	Images       []*Image
	// Index is set when the build has several platforms.
	Index  v1.ImageIndex
	Digest v1.Hash
}

// Target is what sinks write.
func (r *Result) Target() sink.Target {
	if r.Index != nil {
		return sink.Target{Tag: r.Tag, Index: r.Index}
	}
	return sink.Target{Tag: r.Tag, Image: r.Images[0].Image}
}

// Resolved is a spec's closure per platform plus the lock that pins it.
type Resolved struct {
	Spec      *spec.Spec
	Platforms []closure.Platform
	Graphs    []*closure.Graph
	// Bases are the base images per platform (nil entries without base).
	Bases []v1.Image
	Lock  *lockfile.File
}

// baseLock is strata.lock's section for a base image.
type baseLock struct {
	Ref    string `json:"ref"`
	Digest string `json:"digest"`
}

// ParsePlatform reads os/arch[/variant].
func ParsePlatform(s string) (closure.Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return closure.Platform{}, fmt.Errorf("platform %q: write os/arch like linux/amd64", s)
	}
	p := closure.Platform{OS: parts[0], Arch: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

// InputsHash hashes what strata.lock pins (platforms and the inputs of
// every source), so --frozen can tell when the spec changed since.
func InputsHash(s *spec.Spec, platforms []string) string {
	in := struct {
		Platforms []string     `json:"platforms"`
		Debian    *spec.Debian `json:"debian,omitempty"`
		Nix       *spec.Nix    `json:"nix,omitempty"`
		Base      string       `json:"base,omitempty"`
	}{platforms, s.Debian, s.Nix, s.Base}
	b, _ := json.Marshal(in)
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// LockPath is where a spec's lock lives.
func LockPath(s *spec.Spec) string { return filepath.Join(s.Dir, lockfile.Name) }

// ResolveOptions say how to treat strata.lock.
type ResolveOptions struct {
	// Update ignores the lock and re-resolves (names limit it).
	Update      bool
	UpdateNames []string
	// LockOnly skips what only a build needs (downloading and unpacking
	// .debs): the graphs of sources that can lock without them are empty.
	LockOnly bool
}

// debLocker is what a Debian source offers to lock without downloading.
type debLocker interface {
	ResolveLock(ctx context.Context, req closure.Request) (*deb.Lock, error)
}

// Resolve runs every source of s for each platform.
func Resolve(ctx context.Context, s *spec.Spec, opt Options, ro ResolveOptions) (*Resolved, error) {
	opt.defaults()
	plats := s.Platforms
	if len(opt.Platforms) > 0 {
		plats = opt.Platforms
	}
	plats = append([]string(nil), plats...)
	sort.Strings(plats)
	var lock *lockfile.File
	if !opt.NoLock {
		var err error
		if lock, err = lockfile.Read(LockPath(s)); err != nil {
			return nil, err
		}
	}
	hash := InputsHash(s, plats)
	if opt.Frozen {
		switch {
		case lock == nil:
			return nil, fmt.Errorf("--frozen: %s has no %s: run `strata lock` first", s.Dir, lockfile.Name)
		case lock.InputsHash != hash:
			return nil, fmt.Errorf("--frozen: the spec's inputs changed since %s was written: run `strata lock --update`", LockPath(s))
		}
	}
	if ro.Update && len(ro.UpdateNames) == 0 {
		lock = nil
	}
	out := &Resolved{Spec: s, Lock: &lockfile.File{InputsHash: hash}}
	sources := append(Sources(s, opt.Store), opt.ExtraSources...)
	for _, ps := range plats {
		p, err := ParsePlatform(ps)
		if err != nil {
			return nil, err
		}
		g := closure.New()
		for _, src := range sources {
			fmt.Fprintf(opt.Log, "resolving %s inputs for %s\n", src.Name(), p)
			req := closure.Request{
				Platform:    p,
				SpecDir:     s.Dir,
				CacheDir:    opt.Store.Root(),
				Locked:      lock.Section(src.Name(), ps),
				Update:      ro.Update,
				UpdateNames: ro.UpdateNames,
				Log:         opt.Log,
			}
			if dl, ok := src.(debLocker); ok && ro.LockOnly {
				l, err := dl.ResolveLock(ctx, req)
				if err != nil {
					return nil, fmt.Errorf("resolving %s inputs for %s: %w", src.Name(), p, err)
				}
				raw, err := l.Marshal()
				if err != nil {
					return nil, err
				}
				out.Lock.Set(src.Name(), ps, raw)
				continue
			}
			res, err := src.Resolve(ctx, req)
			if err != nil {
				return nil, fmt.Errorf("resolving %s inputs for %s: %w", src.Name(), p, err)
			}
			if err := g.Merge(res.Graph); err != nil {
				return nil, err
			}
			if res.Lock != nil {
				out.Lock.Set(src.Name(), ps, res.Lock)
			}
		}
		if err := g.Validate(); err != nil {
			return nil, err
		}
		base, err := resolveBase(ctx, s, p, lock.Section("base", ps), opt)
		if err != nil {
			return nil, err
		}
		if base != nil {
			raw, _ := json.Marshal(baseLock{Ref: s.Base, Digest: base.Digest})
			out.Lock.Set("base", ps, raw)
			out.Bases = append(out.Bases, base.Image)
		} else {
			out.Bases = append(out.Bases, nil)
		}
		out.Platforms = append(out.Platforms, p)
		out.Graphs = append(out.Graphs, g)
	}
	return out, nil
}

// resolveBase finds the spec's base image for p, pinned by the lock.
func resolveBase(ctx context.Context, s *spec.Spec, p closure.Platform, locked json.RawMessage, opt Options) (*baseimage.Result, error) {
	if s.Base == "" {
		return nil, nil
	}
	var bl baseLock
	if locked != nil {
		if err := json.Unmarshal(locked, &bl); err != nil {
			return nil, fmt.Errorf("reading the base section of %s: %w (run `strata lock --update`)", LockPath(s), err)
		}
		if bl.Ref != s.Base {
			bl.Digest = "" // the spec names another base now
		}
	}
	fmt.Fprintf(opt.Log, "resolving base %s for %s\n", s.Base, p)
	res, err := baseimage.Resolve(ctx, baseimage.Request{
		Ref:      s.Base,
		Platform: p.OCI(),
		Locked:   bl.Digest,
		Dir:      s.Dir,
		Registry: opt.Registry,
	})
	if err != nil {
		return nil, fmt.Errorf("resolving base image: %w", err)
	}
	return res, nil
}

// Lock resolves s afresh (or only the named inputs) and writes strata.lock.
func Lock(ctx context.Context, s *spec.Spec, opt Options, ro ResolveOptions) (*lockfile.File, error) {
	ro.LockOnly = true
	r, err := Resolve(ctx, s, opt, ro)
	if err != nil {
		return nil, err
	}
	if err := lockfile.Write(LockPath(s), r.Lock); err != nil {
		return nil, err
	}
	return r.Lock, nil
}

// Build resolves, plans and assembles s.
func Build(ctx context.Context, s *spec.Spec, opt Options) (*Result, error) {
	results, err := BuildFleet(ctx, []*spec.Spec{s}, opt)
	if err != nil {
		return nil, err
	}
	return results[0], nil
}

// BuildFleet builds several specs. With strategy fleet in every spec they
// are planned jointly so shared packages get identical layers.
func BuildFleet(ctx context.Context, specs []*spec.Spec, opt Options) ([]*Result, error) {
	opt.defaults()
	resolved := make([]*Resolved, len(specs))
	for i, s := range specs {
		r, err := Resolve(ctx, s, opt, ResolveOptions{})
		if err != nil {
			return nil, err
		}
		resolved[i] = r
	}
	plans, err := planAll(resolved, opt)
	if err != nil {
		return nil, err
	}
	results := make([]*Result, len(specs))
	for i, r := range resolved {
		res, err := assemble(ctx, r, plans[i], opt)
		if err != nil {
			return nil, err
		}
		results[i] = res
	}
	return results, nil
}

// planAll plans every platform of every spec; specs whose strategy is
// fleet are planned together, per platform, within the smallest budget and
// the largest base among them.
func planAll(rs []*Resolved, opt Options) ([][]*layering.Plan, error) {
	type fleetMember struct{ i, j int }
	plans := make([][]*layering.Plan, len(rs))
	fleet := map[string][]fleetMember{} // platform -> images planned jointly
	var fleetPlats []string
	for i, r := range rs {
		plans[i] = make([]*layering.Plan, len(r.Graphs))
		for j, g := range r.Graphs {
			lo, err := layeringOptions(r, j, opt)
			if err != nil {
				return nil, err
			}
			if lo.Strategy == layering.Fleet && len(rs) > 1 {
				plat := r.Platforms[j].String()
				if fleet[plat] == nil {
					fleetPlats = append(fleetPlats, plat)
				}
				fleet[plat] = append(fleet[plat], fleetMember{i, j})
				continue
			}
			p, err := layering.PlanImage(g, lo)
			if err != nil {
				return nil, fmt.Errorf("planning layers of %s: %w", r.Spec.Name, err)
			}
			plans[i][j] = p
		}
	}
	for _, plat := range fleetPlats {
		members := fleet[plat]
		gs := make([]*closure.Graph, len(members))
		var lo layering.Options
		for k, m := range members {
			gs[k] = rs[m.i].Graphs[m.j]
			mo, err := layeringOptions(rs[m.i], m.j, opt)
			if err != nil {
				return nil, err
			}
			if k == 0 {
				lo = mo
			}
			lo.Budget = min(lo.Budget, mo.Budget)
			lo.Reserved = max(lo.Reserved, mo.Reserved)
		}
		ps, err := layering.PlanFleet(gs, lo)
		if err != nil {
			return nil, fmt.Errorf("planning the fleet's layers for %s: %w", plat, err)
		}
		for k, m := range members {
			plans[m.i][m.j] = ps[k]
		}
	}
	return plans, nil
}

// layeringOptions are the spec's layering settings (overridden by the
// build's), with the base image's layers reserved.
func layeringOptions(r *Resolved, j int, opt Options) (layering.Options, error) {
	lo := layering.Options{Strategy: r.Spec.Layering.Strategy, Budget: r.Spec.Layering.Budget}
	if opt.Strategy != "" {
		lo.Strategy = opt.Strategy
	}
	if opt.Budget != 0 {
		lo.Budget = opt.Budget
	}
	if r.Bases[j] != nil {
		ls, err := r.Bases[j].Layers()
		if err != nil {
			return lo, fmt.Errorf("reading base image layers: %w", err)
		}
		lo.Reserved = len(ls)
	}
	return lo, nil
}

func assemble(ctx context.Context, r *Resolved, plans []*layering.Plan, opt Options) (*Result, error) {
	s := r.Spec
	created, repro, err := s.CreatedTime(opt.Getenv, opt.Now)
	if err != nil {
		return nil, err
	}
	res := &Result{Spec: s, Tag: tagOf(s, opt.Tag), Created: created, Reproducible: repro}
	var pis []image.PlatformImage
	for j, g := range r.Graphs {
		plan := plans[j]
		groups := make([]image.Group, len(plan.Layers))
		for k, l := range plan.Layers {
			nodes := make([]*closure.Node, len(l.Nodes))
			for m, id := range l.Nodes {
				nodes[m] = g.Nodes[id]
			}
			groups[k] = image.Group{Nodes: nodes, Title: l.Title}
		}
		p := r.Platforms[j]
		img, infos, err := image.Assemble(ctx, groups, image.Options{
			Store:       opt.Store,
			Compression: opt.Compression,
			Created:     created,
			Platform:    p,
			Config:      s.Config,
			Name:        s.Name,
			Base:        r.Bases[j],
			Progress: func(done, total int, title string) {
				fmt.Fprintf(opt.Log, "[%s %d/%d] %s\n", p, done, total, title)
			},
		})
		if err != nil {
			return nil, fmt.Errorf("building %s for %s: %w", s.Name, p, err)
		}
		d, err := img.Digest()
		if err != nil {
			return nil, err
		}
		res.Images = append(res.Images, &Image{Platform: p, Graph: g, Plan: plan, Image: img, Digest: d, Layers: infos})
		pis = append(pis, image.PlatformImage{Platform: p, Image: img})
	}
	if len(pis) > 1 {
		idx, err := image.Index(pis, created, s.Name)
		if err != nil {
			return nil, err
		}
		res.Index = idx
		res.Digest, err = idx.Digest()
		if err != nil {
			return nil, err
		}
	} else {
		res.Digest = res.Images[0].Digest
	}
	return res, nil
}

func tagOf(s *spec.Spec, override string) string {
	switch {
	case override == "":
		return s.Name + ":" + s.Tag
	case strings.Contains(override, ":"):
		return override
	}
	return s.Name + ":" + override
}
